# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: maintenance_report
short_description: The report of one etcd cluster's maintenance, status or snapshot run
version_added: 0.1.0
description:
  - Takes a cluster's preflight (P(etcdops.etcd.preflight_findings#filter)) and what the role etcdops.etcd.maintenance
    decided and did, and returns the report the role shows, hands to AWX (C(set_stats)) and writes as JSON and
    Markdown.
  - C(result) says how the run ended; C(members) has one row per member, those maintained first in the order they
    were, then the others in inventory order, each with its state before, the decision (C(due), C(reason)), what
    was done (C(action)), its role (C(role)) and its sizes after.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The cluster's preflight.
    type: dict
    required: true
  cluster:
    description: The cluster's name (C(etcd_cluster)).
    type: str
    required: true
  mode:
    description: The role's entry point.
    type: str
    choices: [maintenance, status, snapshot]
    required: true
  check_mode:
    description: The run was in check mode.
    type: bool
    default: false
  decisions:
    description: The plan's decisions (P(etcdops.etcd.maintenance_plan#filter)).
    type: list
    elements: dict
  plan:
    description: The plan's turns.
    type: list
    elements: dict
  results:
    description: The records of the turns done (P(etcdops.etcd.turns_done#filter)).
    type: list
    elements: dict
  snapshot:
    description: The M(etcdops.etcd.etcd_snapshot) result, when one was taken.
    type: dict
  compaction:
    description: The compaction, as M(etcdops.etcd.etcd_compact) returns it.
    type: dict
  compact_decision:
    description:
      - Whether and why the history was to be compacted (C(compaction) of P(etcdops.etcd.maintenance_plan#filter)).
    type: dict
  decide_after_compaction:
    description: The hosts whose defragmentation was decided again after the compaction.
    type: list
    elements: str
  disarm:
    description: The M(etcdops.etcd.etcd_alarm) result of the NOSPACE disarm.
    type: dict
  failure:
    description: Why the cluster was refused or stopped.
    type: str
  stopped_at:
    description: The host whose member the maintenance stopped at.
    type: str
  postflight:
    description: The cluster's postflight (P(etcdops.etcd.postflight_findings#filter)).
    type: dict
  defrag_rule:
    description: The rule that decided which members were due.
    type: str
  compact_rule:
    description: The rule that decided whether the history was compacted.
    type: str
'''

EXAMPLES = r'''
- name: The cluster's report
  ansible.builtin.set_fact:
    report: "{{ preflight | etcdops.etcd.maintenance_report(cluster='main', mode='status', decisions=decisions) }}"
'''

RETURN = r'''
_value:
  description: >-
    C(cluster), C(mode), C(check_mode), C(result), C(failure), C(problems), C(warnings), C(leader_before),
    C(nospace), C(defrag_rule), C(compact_rule), C(snapshot), C(compacted_to), C(compaction_due),
    C(compaction_reason), C(compaction_msg), C(decided_after_compaction), C(members), C(reclaimed_bytes),
    C(nospace_disarmed), C(postflight), C(postflight_summary).
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.plugin_utils.report import maintenance_report


def _maintenance_report(preflight, cluster, mode, **kwargs):
    if not isinstance(preflight, dict) or not isinstance(preflight.get('members'), list):
        raise AnsibleFilterError('maintenance_report takes a cluster preflight (preflight_findings)')
    try:
        return maintenance_report(preflight, cluster, mode, **kwargs)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError('maintenance_report: not a preflight, plan or result of the role (%s: %s)'
                                 % (type(exc).__name__, exc)) from exc


class FilterModule(object):
    def filters(self):
        return {'maintenance_report': _maintenance_report}
