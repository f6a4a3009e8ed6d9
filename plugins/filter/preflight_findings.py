# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: preflight_findings
short_description: What is wrong with an etcd cluster before its maintenance, and who leads, follows, gives the snapshot
version_added: 0.1.0
description:
  - Takes the reads of one cluster's hosts (P(etcdops.etcd.cluster_reads#filter)) and returns the
    preflight of the role etcdops.etcd.maintenance - its members as read, the problems that forbid
    any change, the warnings, the alarms, the leader, the successor for the leader's turn and the host
    that gives the snapshot.
  - Problems - a member that does not answer (named from the member list), two hosts on one member,
    a member that is not healthy, a data directory without room for a defragmentation, hosts in
    different clusters, no single leader, a downgrade or two minor versions
    (P(etcdops.etcd.version_problems#filter)), a member of the cluster no host reaches, a host on a
    member outside the member list, a CORRUPT alarm, a member whose applied raft index lags.
    NOSPACE is not a problem - it is what the maintenance repairs.
requirements:
  - jmespath (on the controller), for O(defrag_rule) and O(compact_rule)
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: Host name -> its read.
    type: dict
    required: true
  hostvars:
    description: The play's C(hostvars) (each host's C(ansible_host) and C(etcd_data_dir) are read).
    type: dict
    required: true
  hosts:
    description: The cluster's hosts, in inventory order.
    type: list
    elements: str
    required: true
  cluster:
    description: The cluster's name (C(etcd_cluster)).
    type: str
    required: true
  client_urls:
    description: Each host's etcd client URL.
    type: dict
    required: true
  run_from:
    description: The role's C(maintenance_run_from).
    type: str
    default: member
  min_free_disk_ratio:
    description: Free disk needed in the data directory, in times the database size.
    type: float
    default: 1.1
  max_raft_lag:
    description: Largest allowed difference of the members' applied raft indexes.
    type: int
    default: 1000
  defrag_rule:
    description:
      - The defragmentation rule (JMESPath, as M(etcdops.etcd.etcd_defrag)'s O(etcdops.etcd.etcd_defrag#module:rule)),
        evaluated here, on the controller, on each member that answered; it then has C(defrag_due) and
        C(defrag_reason) as M(etcdops.etcd.etcd_status)'s O(etcdops.etcd.etcd_status#module:defrag_rule) gives them.
        A rule that is not valid JMESPath, or jmespath missing on the controller, is a problem.
    type: str
  compact_rule:
    description:
      - The compaction rule (JMESPath over the same fields, the role's C(maintenance_compact_rule)), evaluated
        likewise; each member that answered then has C(compact_due) (true, false, or null where the rule gives
        no true or false) and C(compact_reason). Learners count (they hold the same history).
      - P(etcdops.etcd.maintenance_plan#filter) decides from them whether the history is compacted first.
    type: str
'''

EXAMPLES = r'''
- name: Check the cluster as a whole
  ansible.builtin.set_fact:
    preflight: >-
      {{ reads | etcdops.etcd.preflight_findings(hostvars, cluster_hosts, 'default', client_urls) }}
'''

RETURN = r'''
_value:
  description: >-
    C(cluster), C(cluster_id), C(problems), C(warnings), C(members), C(alarms), C(nospace),
    C(leader_host), C(leader_name), C(successor_host), C(successor_id), C(successor_name), C(snapshot_host).
  type: dict
'''

from ansible.module_utils.common.collections import is_sequence

from ansible_collections.etcdops.etcd.plugins.module_utils.findings import hostvar, preflight_findings
from ansible_collections.etcdops.etcd.plugins.plugin_utils.cluster_filter import over_reads


def _preflight_findings(reads, hostvars, hosts, cluster, client_urls, run_from='member', min_free_disk_ratio=1.1,
                        max_raft_lag=1000, defrag_rule=None, compact_rule=None):
    facts = dict((h, dict(address=hostvar(hostvars, h, 'ansible_host', h),
                          data_dir=hostvar(hostvars, h, 'etcd_data_dir')))
                 for h in (hosts if is_sequence(hosts) else []))
    return over_reads('preflight_findings', preflight_findings, reads, hosts, str(cluster), client_urls, facts,
                      run_from=run_from, min_free_disk_ratio=float(min_free_disk_ratio),
                      max_raft_lag=int(max_raft_lag), defrag_rule=defrag_rule, compact_rule=compact_rule)


class FilterModule(object):
    def filters(self):
        return {'preflight_findings': _preflight_findings}
