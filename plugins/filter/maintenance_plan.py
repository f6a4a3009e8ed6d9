# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: maintenance_plan
short_description: Whether to compact an etcd cluster's history, which members to defragment, and in which order
version_added: 0.1.0
description:
  - Takes a cluster's preflight (P(etcdops.etcd.preflight_findings#filter)) whose members carry the
    C(defrag_due) and C(defrag_reason) of M(etcdops.etcd.etcd_status)'s O(etcdops.etcd.etcd_status#module:defrag_rule),
    and returns the plan of the role etcdops.etcd.maintenance.
  - A learner is never due (etcd 3.6 refuses to defragment one); while NOSPACE is active every voter is due;
    otherwise the rule decides. The due members come followers first, the leader last.
  - The history is compacted first (C(compaction.due)) unless O(compact=false) or the history is no longer
    than O(keep_revisions); else when NOSPACE is active, when the compaction rule holds on a member
    (C(compact_due) from the O(etcdops.etcd.preflight_findings#filter:compact_rule) of
    P(etcdops.etcd.preflight_findings#filter)),
    or when a defragmentation is due anyway. Then the voters not due yet (C(decide_after_compaction)) are
    decided again on their status after the compaction - the plan over that status, with O(earlier).
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The preflight of one cluster, or its findings over the members' status after the compaction.
    type: dict
    required: true
  compact:
    description: Whether the history may be compacted at all (the role's C(maintenance_compact)).
    type: bool
    default: true
  keep_revisions:
    description: Revisions of history a compaction keeps (the role's C(maintenance_compact_keep_revisions)).
    type: int
    default: 0
  earlier:
    description:
      - The C(decisions) of the plan before the compaction, when the input is the status after it. A member due
        then stays due (a compaction only frees pages); the others are decided on their status after it.
        No compaction is decided then (C(compaction) is null).
    type: list
    elements: dict
  copy_rate:
    description:
      - MiB of in-use data a defragmentation copies per second, for each turn's predicted stall (the role's
        C(maintenance_copy_rate)).
    type: float
    default: 32.0
  max_stall_seconds:
    description:
      - A turn whose predicted stall exceeds this is refused (C(refusals)), unless a compaction comes first
        (the prediction is then an upper bound, C(stall_upper_bound)). V(0) sets no limit.
    type: float
    default: 0
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
    ones in order, each with its C(predicted_stall_seconds), C(copy_rate), C(copy_rate_basis), C(db_size_in_use)
    and C(stall_upper_bound)), C(errors) (members the rule said nothing of), C(refusals) (turns whose predicted
    stall exceeds O(max_stall_seconds), one sentence each), C(compaction) (C(due), C(reason), and
    C(history), the longest history a member reported) and C(decide_after_compaction) (hosts).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.etcdops.etcd.plugins.module_utils.findings import maintenance_plan


def _maintenance_plan(preflight, compact=True, keep_revisions=0, earlier=None, copy_rate=32.0, max_stall_seconds=0):
    if not isinstance(preflight, dict) or not isinstance(preflight.get('members'), list):
        raise AnsibleFilterError('maintenance_plan takes a cluster preflight (preflight_findings)')
    try:
        compact, keep_revisions = boolean(compact), int(keep_revisions)
        copy_rate, max_stall_seconds = float(copy_rate), float(max_stall_seconds or 0)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError('maintenance_plan: compact must be a boolean, keep_revisions an integer, copy_rate '
                                 'and max_stall_seconds numbers (%s)' % exc) from exc
    if copy_rate <= 0:
        raise AnsibleFilterError('maintenance_plan: copy_rate must be a positive number of MiB per second, got %s'
                                 % copy_rate)
    try:
        return maintenance_plan(preflight, compact=compact, keep_revisions=keep_revisions, earlier=earlier,
                                copy_rate=copy_rate, max_stall_seconds=max_stall_seconds)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError('maintenance_plan: a member of the preflight has no %s' % exc) from exc


class FilterModule(object):
    def filters(self):
        return {'maintenance_plan': _maintenance_plan}
