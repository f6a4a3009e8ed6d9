# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: version_problems
short_description: Why an etcd cluster's versions forbid any maintenance now
version_added: 0.1.0
description:
  - Takes the members of an etcd cluster as M(etcdops.etcd.etcd_status) returns them
    (RV(etcdops.etcd.etcd_status#module:members)) and returns the sentences that forbid any change
    to the cluster, empty when there are none.
  - A downgrade in progress (etcd 3.6 and later, C(etcdctl downgrade enable)) on any member, or
    members on different minor versions (an upgrade or downgrade half done). Each sentence names
    the members and their versions. Different patch versions of one minor are fine.
  - Unreachable members and members without a version are left out.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: >-
      The members, each with at least C(name), C(version) and C(downgrade_info); C(host) is named too
      when present.
    type: list
    elements: dict
    required: true
'''

EXAMPLES = r'''
- name: Refuse to maintain a cluster in the middle of an upgrade
  ansible.builtin.assert:
    that: status.members | etcdops.etcd.version_problems | length == 0
    fail_msg: "{{ status.members | etcdops.etcd.version_problems | join('; ') }}"
'''

RETURN = r'''
_value:
  description: Sentences, one per problem; empty when the versions allow a maintenance.
  type: list
  elements: str
  sample:
    - "the members run different etcd minor versions (3.5, 3.6), an upgrade or downgrade half done: etcd-1 3.5.30,
      etcd-2 3.6.16, etcd-3 3.5.30: finish it (every member on one minor version) before any maintenance"
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

from ansible_collections.etcdops.etcd.plugins.module_utils.versions import version_problems


def _version_problems(members):
    if not is_sequence(members) or not all(isinstance(m, dict) for m in members):
        raise AnsibleFilterError('version_problems takes a list of member dicts (etcd_status members), got %r'
                                 % type(members).__name__)
    return version_problems(members)


class FilterModule(object):
    def filters(self):
        return {'version_problems': _version_problems}
