#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: etcd_status
short_description: Read the health, size, quota and alarms of every member of an etcd cluster
version_added: 0.1.0
description:
  - Discovers every member of the cluster from its member list and reads each member's status
    at its own URL, all members at once, so a cluster costs about two round trips (status, then metrics).
  - Reports per member what C(etcdctl endpoint status) shows (size, raft indexes, leader) and
    what an operator decides maintenance with (free pages, fragmentation, quota usage, history kept
    since the last compaction, alarms).
  - Besides its status, each member's C(/metrics) page is read, for its quota (before etcd 3.6) and
    its compacted revision.
  - Read-only. An unreachable member is reported as data (RV(members[].reachable=false)); the
    module fails only when no endpoint answers at all.
author:
  - etcdops maintainers (@etcdops)
requirements:
  - jmespath (on the host that runs the module), for O(defrag_rule)
extends_documentation_fragment:
  - etcdops.etcd.connection
  - etcdops.etcd.connection.quota
  - etcdops.etcd.attributes
  - etcdops.etcd.attributes.check_mode_full
  - etcdops.etcd.attributes.diff_mode_none
options:
  hashkv:
    description:
      - Also hash every reached member's key-value store at one revision (C(maintenance/hashkv)), to
        show that the members hold the same data. Needs etcd 3.5.16 or later; older members report
        RV(members[].hashkv_error).
    type: bool
    default: false
  hashkv_revision:
    description:
      - The revision to hash at with O(hashkv). V(0) takes the lowest current revision of the reached
        members. Compare hashes taken at the same revision only.
    type: int
    default: 0
  defrag_rule:
    description:
      - A JMESPath expression over a member's fields in RV(members) (as O(etcdops.etcd.etcd_defrag#module:rule)
        takes it); each reached voting member then says in RV(members[].defrag_due) whether
        etcdops.etcd.etcd_defrag would defragment it. Nothing is defragmented.
      - A rule that is not valid JMESPath fails the module (RV(rule_error)); one that does not
        give true or false for a member makes that member's RV(members[].defrag_due) null, with
        the reason.
    type: str
  local_info:
    description:
      - Also read the settings and free disk of the etcd process on the host that runs the module
        which serves the port of the first of O(endpoints), as etcdops.etcd.etcd_member_info does,
        into RV(local_info). Usually needs C(become). Linux only.
      - Saves a second module run where both are needed (the role's preflight).
    type: bool
    default: false
notes:
  - A member is RV(members[].healthy) when it answers, sees a leader, and reports no error other
    than an active alarm. Alarms are reported apart, so a cluster stuck on NOSPACE (the thing
    maintenance repairs) is told apart from a member that is down or cut off.
'''

EXAMPLES = r'''
- name: Read the cluster's status over TLS
  etcdops.etcd.etcd_status:
    endpoints:
      - https://10.0.0.11:2379
      - https://10.0.0.12:2379
      - https://10.0.0.13:2379
    cacert: /etc/kubernetes/pki/etcd/ca.crt
    cert: /etc/kubernetes/pki/etcd/healthcheck-client.crt
    key: /etc/kubernetes/pki/etcd/healthcheck-client.key
  register: etcd

- name: Stop unless the cluster is healthy
  ansible.builtin.assert:
    that: etcd.healthy
    fail_msg: "Unhealthy members: {{ etcd.members | rejectattr('healthy') | map(attribute='name') | list }}"

- name: Members whose db is more than 80 % of its quota
  ansible.builtin.debug:
    msg: "{{ etcd.members | selectattr('quota_usage', 'gt', 0.8) | map(attribute='name') | list }}"
'''

RETURN = r'''
healthy:
  description: >-
    Every voting member in RV(members) is healthy, the cluster has a leader and no alarm is active.
  returned: success
  type: bool
  sample: true
leader:
  description: Id of the leader (16 hex digits as etcdctl prints), null when no member sees one.
  returned: success
  type: str
  sample: 8e9e05c52164694d
cluster_id:
  description: Id of the cluster.
  returned: success
  type: str
  sample: cdf818194e3a8c32
revision:
  description: The highest key-value store revision any member reports.
  returned: success
  type: int
  sample: 10734
alarms:
  description: Active alarms of the cluster, one item per (member, alarm) pair.
  returned: success
  type: list
  elements: dict
  sample: [{"member_id": "8e9e05c52164694d", "alarm": "NOSPACE"}]
  contains:
    member_id:
      description: Id of the member that raised the alarm.
      type: str
    alarm:
      description: V(NOSPACE) or V(CORRUPT).
      type: str
hashkv_revision:
  description: The revision the members were hashed at.
  returned: when O(hashkv=true)
  type: int
  sample: 10734
hashkv_consistent:
  description: >-
    The hashed members have the same hash; null when fewer than two members could be hashed
    (old etcd, or O(discover=false) with one endpoint). Only hashes over the same range of revisions
    (the same RV(members[].hashkv.compact_revision)) are compared, the largest group of them: a member
    restarted since the last compaction hashes another range than the others at that compaction's
    revision (etcd keeps the hash it takes at a compaction in memory only).
  returned: when O(hashkv=true)
  type: bool
  sample: true
member_list:
  description: Every member of the cluster as its member list has it, whatever O(discover) says.
  returned: success
  type: list
  elements: dict
  sample: [{"id": "8e9e05c52164694d", "name": "etcd-1", "client_urls": ["https://10.0.0.11:2379"],
            "peer_urls": ["https://10.0.0.11:2380"], "is_learner": false}]
  contains:
    id:
      description: Member id, 16 hex digits.
      type: str
    name:
      description: Member name.
      type: str
    client_urls:
      description: Client URLs the member advertises.
      type: list
      elements: str
    peer_urls:
      description: Peer URLs of the member.
      type: list
      elements: str
    is_learner:
      description: The member is a learner.
      type: bool
members:
  description: >-
    Every member of the cluster, in the order of etcd's member list; with O(discover=false) only
    the members that O(endpoints) name.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Member id, 16 hex digits.
      type: str
      sample: 8e9e05c52164694d
    name:
      description: Member name (C(--name)); empty for a member added but never started.
      type: str
      sample: etcd-1
    endpoint:
      description: The client URL this module used for the member; null if it has none.
      type: str
      sample: https://10.0.0.11:2379
    client_urls:
      description: Client URLs the member advertises.
      type: list
      elements: str
      sample: ["https://10.0.0.11:2379"]
    peer_urls:
      description: Peer URLs of the member.
      type: list
      elements: str
      sample: ["https://10.0.0.11:2380"]
    is_learner:
      description: The member is a non-voting learner.
      type: bool
      sample: false
    reachable:
      description: The member answered its status request.
      type: bool
      sample: true
    healthy:
      description: Reachable, sees a leader, and reports no error other than an active alarm.
      type: bool
      sample: true
    is_leader:
      description: The member is the leader.
      type: bool
      sample: false
    version:
      description: etcd version of the member; null when unreachable.
      type: str
      sample: 3.5.16
    db_size:
      description: Size of the member's backend database file in bytes (C(etcdctl endpoint status) DB SIZE).
      type: int
      sample: 157286400
    db_size_in_use:
      description: Bytes of the database file in use; the rest are free pages a defrag gives back.
      type: int
      sample: 52428800
    db_size_free:
      description: Free bytes in the database file, RV(members[].db_size) minus RV(members[].db_size_in_use).
      type: int
      sample: 104857600
    fragmentation_ratio:
      description: Share of the database file that is free, from 0 to 1.
      type: float
      sample: 0.6667
    quota_bytes:
      description: The member's space quota in bytes.
      type: int
      sample: 2147483648
    quota_source:
      description: >-
        Where RV(members[].quota_bytes) comes from: V(status) (etcd 3.6), V(metrics) (the member's
        C(/metrics)), V(option) (O(quota_bytes)) or V(default) (etcd's default of 2 GiB).
      type: str
      sample: metrics
    quota_usage:
      description: RV(members[].db_size) divided by RV(members[].quota_bytes); at 1 etcd raises NOSPACE.
      type: float
      sample: 0.0732
    raft_term:
      description: Raft term the member is in.
      type: int
      sample: 2
    raft_index:
      description: Raft index the member has committed.
      type: int
      sample: 10780
    raft_applied_index:
      description: Raft index the member has applied.
      type: int
      sample: 10780
    revision:
      description: Key-value store revision the member reports.
      type: int
      sample: 10734
    compact_revision:
      description: >-
        The revision the member's history was last compacted to (C(etcd_debugging_mvcc_compact_revision)
        on its C(/metrics), which etcd 3.4 to 3.7 have); V(-1) when it was never compacted; null when
        unreachable or when C(/metrics) cannot be read or lacks it.
      type: int
      sample: 10001
    history:
      description: >-
        Revisions of history the member keeps, which a compaction to the current revision would drop:
        RV(members[].revision) minus RV(members[].compact_revision), counted from revision 1 when never
        compacted; null when RV(members[].compact_revision) is.
      type: int
      sample: 733
    key_count:
      description: >-
        How many keys the member holds (C(etcd_debugging_mvcc_keys_total) on its C(/metrics), which etcd 3.4
        to 3.7 have); null when unreachable or when C(/metrics) cannot be read or lacks it. The default
        compaction rule of the role etcdops.etcd.maintenance compares RV(members[].history) with it
        (C(history > key_count)).
      type: int
      sample: 1204
    storage_version:
      description: >-
        The schema version of the member's data file (etcd 3.6 and later, for example V(3.6.0));
        null before 3.6 and when unreachable.
      type: str
      sample: 3.6.0
    downgrade_info:
      description: >-
        A cluster downgrade in progress as the member reports it (etcd 3.6 and later:
        C(etcdctl downgrade enable)); C(enabled=false) before 3.6; null when unreachable.
      type: dict
      sample: {"enabled": true, "target_version": "3.5.0"}
      contains:
        enabled:
          description: A downgrade is enabled.
          type: bool
        target_version:
          description: The version the cluster is being downgraded to; null when none.
          type: str
    alarms:
      description: Alarms active on this member.
      type: list
      elements: str
      sample: ["NOSPACE"]
    errors:
      description: >-
        Errors the member reports in its status (such as an active alarm), or why it could not
        be reached.
      type: list
      elements: str
      sample: ["memberID:10276657743932975437 alarm:NOSPACE"]
    hashkv:
      description: The member's hash of its key-value store at RV(hashkv_revision); null if unavailable.
      type: dict
      returned: when O(hashkv=true)
      sample: {"hash": 1727417644, "revision": 10734, "compact_revision": 10001}
      contains:
        hash:
          description: The hash.
          type: int
        revision:
          description: The member's current revision when it answered.
          type: int
        compact_revision:
          description: The member's compacted revision (-1 if never compacted).
          type: int
    hashkv_error:
      description: Why RV(members[].hashkv) is null.
      type: str
      returned: when O(hashkv=true) and the member could not be hashed
      sample: "unsupported: hashkv needs etcd 3.5.16 or later"
    error:
      description: Kind of failure when the member is unreachable (for example V(unreachable), V(tls), V(auth)).
      type: str
      returned: when the member is unreachable
      sample: unreachable
    defrag_due:
      description: >-
        O(defrag_rule) holds for this member, so etcdops.etcd.etcd_defrag would defragment it;
        V(false) for learners; null when unreachable or when the rule gives no true or false.
      type: bool
      returned: when O(defrag_rule) is set
      sample: true
    defrag_reason:
      description: Why RV(members[].defrag_due) is what it is.
      type: str
      returned: when O(defrag_rule) is set
      sample: rule matched
local_info:
  description: >-
    The etcd process on this host serving the first endpoint's port, with the keys that
    etcdops.etcd.etcd_member_info returns (RV(local_info.found), C(pid), C(name), C(data_dir),
    C(config_file), C(version), C(settings), C(sources), C(deprecated_flags), C(data_dir_free_bytes),
    C(db_size), C(risks)); C(found=false) and C(msg) when there is none. The version and db size
    are those of the member's status read here.
  returned: when O(local_info=true)
  type: dict
  sample: {"found": true, "pid": 2471, "name": "cp1", "data_dir": "/var/lib/etcd",
           "data_dir_free_bytes": 42949672960, "risks": []}
  contains:
    found:
      description: Such a process runs on this host.
      type: bool
    risks:
      description: Sentences naming risky settings, empty when none.
      type: list
      elements: str
rule_error:
  description: Why O(defrag_rule) could not be used (the module failed).
  returned: when O(defrag_rule) is not valid JMESPath
  type: str
  sample: "rule 'db_size >' is not a valid JMESPath expression: ..."
'''

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.members import member_by
from ansible_collections.etcdops.etcd.plugins.module_utils.process import ProcessError, local_member_info
from ansible_collections.etcdops.etcd.plugins.module_utils.rules import (
    JMESPATH_IMPORT_ERROR,
    RuleError,
    compile_rule,
    verdict,
)


def status(module, client, expression):
    params = module.params
    cluster = client.cluster_status()
    if params['hashkv']:
        cluster['hashkv_revision'], cluster['hashkv_consistent'] = client.hash_members(
            cluster, params['hashkv_revision'])
    if expression is not None:
        for member in cluster['members']:
            member['defrag_due'], member['defrag_reason'] = verdict(member, expression, params['defrag_rule'])
    if params['local_info']:
        endpoint = client.endpoints[0]
        member = member_by(cluster, endpoint)
        try:
            cluster['local_info'] = local_member_info(
                endpoint, lambda: member if member and member['reachable'] else None, module.run_bounded)
        except ProcessError as exc:
            cluster['local_info'] = dict(found=False, risks=[], msg=str(exc))
    return dict(changed=False, **cluster)


def main():
    module = EtcdModule(
        argument_spec=dict(
            hashkv=dict(type='bool', default=False),
            hashkv_revision=dict(type='int', default=0),
            defrag_rule=dict(type='str'),
            local_info=dict(type='bool', default=False),
        ),
        quota=True,
        supports_check_mode=True,
    )
    expression = None
    if module.params['defrag_rule'] is not None:
        if JMESPATH_IMPORT_ERROR:
            module.fail_json(msg=missing_required_lib('jmespath'), exception=JMESPATH_IMPORT_ERROR)
        try:
            expression = compile_rule(module.params['defrag_rule'])
        except RuleError as exc:
            module.fail_json(msg=str(exc), rule_error=str(exc))
    module.run(lambda client: status(module, client, expression))


if __name__ == '__main__':
    main()
