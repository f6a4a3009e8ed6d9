# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role's postflight (filter postflight_findings) over statuses recorded from real etcd clusters."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.filter.postflight_findings import FilterModule
from ansible_collections.etcdops.etcd.plugins.module_utils import api
from ansible_collections.etcdops.etcd.tests.unit.plugins.filter.test_preflight_findings import HOSTS, Cluster
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import (
    RECORDED_VERSIONS,
    load,
    versions_with,
)

postflight_findings = FilterModule().filters()['postflight_findings']


def hashed_reads(cluster, hashes, compact_revisions=(0, 0, 0)):
    """The cluster's reads with each member's hashkv (an int, or the hashkv_error text)."""
    reads = cluster.reads()
    for host, value, compact_revision in zip(HOSTS, hashes, compact_revisions):
        member = reads[host]['members'][0]
        if isinstance(value, int):
            member['hashkv'] = dict(hash=value, compact_revision=compact_revision, revision=7)
        else:
            member['hashkv'], member['hashkv_error'] = None, value
    return reads


@pytest.mark.parametrize('version', [v for v in versions_with('hashkv') if load(v, 'hashkv')['status'] == 200])
def test_a_whole_cluster_with_equal_recorded_hashes(version):
    cluster = Cluster(version)
    recorded = api.to_int(load(version, 'hashkv')['json']['hash'])
    found = postflight_findings(hashed_reads(cluster, [recorded] * 3), HOSTS, '7')
    assert found == dict(problems=[], leader=cluster.member_list[0]['name'], alarms=[], hash_revision=7,
                         hashes_equal=True, hashes=dict((m['name'], recorded) for m in cluster.member_list),
                         hash_skipped=None, hash_errors=[], hash_not_comparable=[],
                         in_use=dict((h, cluster.statuses[m['id']]['db_size_in_use'])
                                     for h, m in zip(HOSTS, cluster.member_list)))


def test_different_hashes_are_a_problem():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    found = postflight_findings(hashed_reads(cluster, [1, 1, 2]), HOSTS, 7)
    names = [m['name'] for m in cluster.member_list]
    assert found['problems'] == ['the members hold different data at revision 7: %s hash 1, %s hash 1, %s hash 2'
                                 % tuple(names)]
    assert found['hashes_equal'] is False


def test_a_member_restarted_since_the_compaction_is_not_compared():
    # As measured on 3.6.16 (scenario killed_mid_defrag): at revision 47, compacted to 47, the two
    # members that ran through the compaction answer with its kept hash (compact revision 41), the
    # restarted one hashes after 47: another range, another hash, the same data.
    cluster = Cluster(RECORDED_VERSIONS[-1])
    names = [m['name'] for m in cluster.member_list]
    found = postflight_findings(hashed_reads(cluster, [4006997018, 1923810310, 4006997018], (41, 47, 41)), HOSTS, 47)
    assert found['problems'] == []
    assert found['hashes_equal'] is True
    assert len(found['hash_not_comparable']) == 1
    assert found['hash_not_comparable'][0].startswith(
        "%s (its hash covers the revisions after 47, the others' after 41" % names[1])
    # Two members alike on each side of a split but with different hashes among the compared: a problem.
    found = postflight_findings(hashed_reads(cluster, [1, 2, 3], (41, 47, 41)), HOSTS, 47)
    assert found['problems'] == ['the members hold different data at revision 47: %s hash 1, %s hash 3'
                                 % (names[0], names[2])]
    assert found['hashes_equal'] is False


def test_members_before_3_5_16_are_skipped_and_other_hash_errors_kept():
    cluster = Cluster(RECORDED_VERSIONS[0])
    unsupported = 'unsupported: hashkv needs etcd 3.5.16 or later'
    found = postflight_findings(hashed_reads(cluster, [unsupported, unsupported, 'timed out']), HOSTS, 7)
    names = [m['name'] for m in cluster.member_list]
    version = cluster.statuses[cluster.leader_id]['version']
    assert found['problems'] == []
    assert found['hash_skipped'] == 'etcd < 3.5.16: %s (%s), %s (%s)' % (names[0], version, names[1], version)
    assert found['hash_errors'] == ['%s: timed out' % names[2]]
    assert found['hashes_equal'] is None and found['hashes'] == {}


def test_a_member_down_unhealthy_or_without_leader():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    member_id = cluster.member('etcd-c')['id']
    cluster.statuses[member_id]['leader'] = None
    cluster.statuses[member_id]['errors'] = ['raft: no leader']
    reads = hashed_reads(cluster, [1, 1, 1])
    reads['etcd-b'] = dict(endpoint=cluster.urls['etcd-b'], msg='connection refused')
    found = postflight_findings(reads, HOSTS, 7)
    problems = found['problems']
    # The report shows no size after for the member that did not answer.
    assert found['in_use']['etcd-b'] is None and found['in_use']['etcd-a'] is not None
    assert problems == ['member host etcd-b does not answer: connection refused',
                        'member %s (host etcd-c) is not healthy: raft: no leader' % cluster.member('etcd-c')['name'],
                        'the members do not agree on one leader: %s, None' % cluster.leader_id]


def test_a_host_ansible_cannot_reach_after_the_run():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    reads = hashed_reads(cluster, [1, 1, 1])
    reads['etcd-c'] = dict(unreachable=True, msg='Task failed: Failed to connect to the host via ssh: timed out')
    problems = postflight_findings(reads, HOSTS, 7)['problems']
    assert problems[0].startswith('member host etcd-c: Ansible cannot reach host etcd-c (Failed to connect to the '
                                  'host via ssh: timed out), so its member was not asked')


def test_alarms_left_unless_expected():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    cluster.alarms = [dict(member_id=cluster.leader_id, alarm='NOSPACE')]
    reads = hashed_reads(cluster, [1, 1, 1])
    assert postflight_findings(reads, HOSTS, 7)['problems'] == [
        'alarms still active: NOSPACE on member %s' % cluster.member_list[0]['name']]
    # Check mode, or maintenance_disarm_nospace false: NOSPACE is expected to stay.
    found = postflight_findings(reads, HOSTS, 7, ['NOSPACE'])
    assert found['problems'] == [] and found['alarms'] == cluster.alarms


def test_an_alarm_raised_during_the_run_is_named_with_its_remedy():
    # As on 3.6.16 (scenario nospace_mid_run): a writer fills the quota after the first member's turn;
    # every member raises NOSPACE; the preflight had none.
    cluster = Cluster(RECORDED_VERSIONS[-1])
    members = cluster.member_list
    cluster.alarms = [dict(member_id=m['id'], alarm='NOSPACE') for m in members]
    reads = hashed_reads(cluster, [1, 1, 1])
    problems = postflight_findings(reads, HOSTS, 7, [], [])['problems']
    assert problems == [
        'NOSPACE raised during the maintenance on member %s, member %s, member %s (the preflight saw no such '
        'alarm): a writer filled the space quota while the maintenance ran; stop or slow it, then run the '
        'maintenance again: it compacts the history, defragments every member and disarms NOSPACE'
        % tuple(m['name'] for m in members)]
    # Seen at the preflight on the leader: that one is still active, the others were raised since.
    before = [dict(member_id=cluster.leader_id, alarm='NOSPACE')]
    problems = postflight_findings(reads, HOSTS, 7, [], before)['problems']
    assert problems[0] == 'alarms still active: NOSPACE on member %s' % cluster.member_list[0]['name']
    assert problems[1].startswith('NOSPACE raised during the maintenance on member %s, member %s ('
                                  % tuple(m['name'] for m in members[1:]))
    # Another kind, on a member whose name no read gave (its host did not answer): its ID, a generic remedy.
    cluster.alarms = [dict(member_id='00000000000000ff', alarm='CORRUPT')]
    assert postflight_findings(hashed_reads(cluster, [1, 1, 1]), HOSTS, 7, [], [])['problems'] == [
        "CORRUPT raised during the maintenance on member 00000000000000ff (the preflight saw no such alarm): "
        "etcd found members whose data differ; read etcd's guide on data corruption before any other maintenance"]


def test_bad_input_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='reads of every host'):
        postflight_findings({}, HOSTS, 7)
    with pytest.raises(AnsibleFilterError, match='not an etcd_status result'):
        postflight_findings(dict((h, {'members': [{}]}) for h in HOSTS), HOSTS, 7)
