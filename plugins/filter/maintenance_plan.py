# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: maintenance_plan
short_description: Which etcd members to defragment, and in which order
version_added: 0.1.0
description:
  - Takes a cluster's preflight (P(etcdops.etcd.preflight_findings#filter)) whose members carry the
    C(defrag_due) and C(defrag_reason) of M(etcdops.etcd.etcd_status)'s O(etcdops.etcd.etcd_status#module:defrag_rule),
    and returns the plan of the role etcdops.etcd.maintenance.
  - A learner is never due (etcd 3.6 refuses to defragment one); while NOSPACE is active every voter is due;
    otherwise the rule decides. The due members come followers first, the leader last.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The preflight of one cluster.
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Plan the defragmentations
  ansible.builtin.set_fact:
    plan: "{{ (preflight | etcdops.etcd.maintenance_plan).plan }}"
'''

RETURN = r'''
_value:
  description: >-
    C(decisions) (each member's C(host), C(name), C(id), C(is_leader), C(due), C(reason)), C(plan) (the due
    ones in order) and C(errors) (members the rule said nothing of).
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.module_utils.findings import maintenance_plan


def _maintenance_plan(preflight):
    if not isinstance(preflight, dict) or not isinstance(preflight.get('members'), list):
        raise AnsibleFilterError('maintenance_plan takes a cluster preflight (preflight_findings)')
    try:
        return maintenance_plan(preflight)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError('maintenance_plan: a member of the preflight has no %s' % exc) from exc


class FilterModule(object):
    def filters(self):
        return {'maintenance_plan': _maintenance_plan}
