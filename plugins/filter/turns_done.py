# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: turns_done
short_description: What one etcd_defrag run over a batch of a maintenance plan did, member by member
version_added: 0.1.0
description:
  - Takes the plan of the role etcdops.etcd.maintenance (P(etcdops.etcd.maintenance_plan#filter)), the batch of
    consecutive turns one M(etcdops.etcd.etcd_defrag) run was given, and that run's result (registered, or
    C(ansible_failed_result) in a rescue), and returns the record of each turn done and, when the run failed,
    where it stopped.
  - A failed run with C(stopped_at) stopped at that member (it and the members after it were not done); without
    it, before its first turn (its checks or the compaction).
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The cluster's whole plan (its turns in order).
    type: list
    elements: dict
    required: true
  batch:
    description: The turns the run was given, consecutive in the plan.
    type: list
    elements: dict
    required: true
  result:
    description: The etcd_defrag run's result.
    type: dict
    required: true
  preflight:
    description: The cluster's preflight (P(etcdops.etcd.preflight_findings#filter)), for each member's sizes before.
    type: dict
    required: true
  client_urls:
    description: Each host's etcd client URL, as the run's O(etcdops.etcd.etcd_defrag#module:endpoints) named them.
    type: dict
    required: true
  check_mode:
    description: The run was in check mode (nothing was defragmented).
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Record the members' turns
  ansible.builtin.set_fact:
    turns: "{{ plan | etcdops.etcd.turns_done(batch, defrag_run, preflight, client_urls, ansible_check_mode) }}"
'''

RETURN = r'''
_value:
  description: The turns done and where the run stopped.
  type: dict
  contains:
    records:
      description: >-
        One per turn done: C(host), C(name), C(id), C(was_leader), C(reason), C(leader_moved_to), C(defragmented),
        C(db_size_before), C(db_size_in_use_before), C(db_size_after), C(reclaimed_bytes), C(seconds),
        C(quota_usage_after).
      type: list
      elements: dict
    stopped:
      description: >-
        Null when the run succeeded; else the turn it stopped at (C(host), C(name)) and, over the whole plan, the
        names of the members C(done) before it and C(not_touched) after it.
      type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

from ansible_collections.etcdops.etcd.plugins.module_utils.findings import turns_done


def _turns_done(plan, batch, result, preflight, client_urls, check_mode=False):
    if (not is_sequence(plan) or not is_sequence(batch) or not batch or any(t not in plan for t in batch)
            or not isinstance(result, dict) or not isinstance(preflight, dict) or not isinstance(client_urls, dict)):
        raise AnsibleFilterError('turns_done takes the plan, a non-empty batch of its turns, the etcd_defrag result, '
                                 'the preflight and the client URLs')
    try:
        return turns_done(list(plan), list(batch), result, preflight, client_urls, bool(check_mode))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('turns_done: not a plan, preflight or etcd_defrag result (%s: %s)'
                                 % (type(exc).__name__, exc)) from exc


class FilterModule(object):
    def filters(self):
        return {'turns_done': _turns_done}
