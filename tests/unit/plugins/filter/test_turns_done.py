# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What one etcd_defrag run over a batch of the plan did (filter turns_done), over preflights of
recorded statuses: a run over the whole plan, a batch per member, a stop in the middle, a stop
before the first turn, check mode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.filter.maintenance_plan import FilterModule as PlanFilters
from ansible_collections.etcdops.etcd.plugins.filter.turns_done import FilterModule
from ansible_collections.etcdops.etcd.tests.unit.plugins.filter.test_preflight_findings import Cluster
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import RECORDED_VERSIONS

turns_done = FilterModule().filters()['turns_done']
maintenance_plan = PlanFilters().filters()['maintenance_plan']


def planned(version):
    """A cluster of ``version`` whose every member is due: its preflight and plan (followers, then the leader)."""
    cluster = Cluster(version)
    reads = cluster.reads()
    for read in reads.values():
        read['members'][0].update(defrag_due=True, defrag_reason='rule matched')
    preflight = cluster.findings(reads)
    return cluster, preflight, maintenance_plan(preflight)['plan']


def defragged(cluster, turns, moved_to=None):
    """etcd_defrag's member results for ``turns``, each member halved."""
    members = []
    for turn in turns:
        before = next(m for m in cluster.findings()['members'] if m['host'] == turn['host'])['db_size']
        members.append(dict(endpoint=cluster.urls[turn['host']], id=turn['id'], name=turn['name'],
                            is_leader=turn['is_leader'], defragmented=True, reason='forced',
                            leader_moved_to=moved_to if turn['is_leader'] else None, db_size_before=before,
                            db_size_after=before // 2, reclaimed_bytes=before - before // 2, seconds=0.25))
    return members


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_one_run_over_the_whole_plan(version):
    cluster, preflight, plan = planned(version)
    result = dict(changed=True, members=defragged(cluster, plan, moved_to=plan[0]['name']), stopped_at=None)
    done = turns_done(plan, plan, result, preflight, cluster.urls)
    assert done['stopped'] is None
    assert [r['host'] for r in done['records']] == [t['host'] for t in plan]
    leader = done['records'][-1]
    assert leader['was_leader'] is True and leader['leader_moved_to'] == plan[0]['name']
    for record, member in zip(done['records'], result['members']):
        before = next(m for m in preflight['members'] if m['host'] == record['host'])
        assert record['defragmented'] is True
        assert record['db_size_before'] == before['db_size']
        assert record['db_size_in_use_before'] == before['db_size_in_use']
        assert record['db_size_after'] == member['db_size_after']
        assert record['reclaimed_bytes'] == member['reclaimed_bytes']
        assert record['quota_usage_after'] == pytest.approx(member['db_size_after'] / before['quota_bytes'], abs=1e-6)


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_a_batch_per_member(version):
    cluster, preflight, plan = planned(version)
    records = []
    for turn in plan:
        done = turns_done(plan, [turn], dict(members=defragged(cluster, [turn])), preflight, cluster.urls)
        assert done['stopped'] is None
        records += done['records']
    assert [r['name'] for r in records] == [t['name'] for t in plan]


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_a_run_stopped_at_the_second_member(version):
    cluster, preflight, plan = planned(version)
    # etcd_defrag's failed result: the first turn done, the second failed, the third never started.
    members = defragged(cluster, plan[:2])
    members[1].update(db_size_after=None, reclaimed_bytes=None)
    failed = dict(failed=True, msg='connection refused', members=members,
                  stopped_at=cluster.urls[plan[1]['host']] + '/')
    done = turns_done(plan, plan, failed, preflight, cluster.urls)
    assert [r['host'] for r in done['records']] == [plan[0]['host']]
    assert done['stopped'] == dict(host=plan[1]['host'], name=plan[1]['name'], done=[plan[0]['name']],
                                   not_touched=[plan[2]['name']])


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_a_member_turn_failing_in_member_mode(version):
    cluster, preflight, plan = planned(version)
    failed = dict(failed=True, msg='timed out', members=[], stopped_at=cluster.urls[plan[1]['host']])
    done = turns_done(plan, [plan[1]], failed, preflight, cluster.urls)
    assert done['records'] == []
    assert done['stopped'] == dict(host=plan[1]['host'], name=plan[1]['name'], done=[plan[0]['name']],
                                   not_touched=[plan[2]['name']])


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_a_run_that_failed_before_its_first_turn(version):
    cluster, preflight, plan = planned(version)
    failed = dict(failed=True, msg='the compaction failed, nothing was defragmented', members=[], stopped_at=None,
                  compaction=None)
    done = turns_done(plan, plan, failed, preflight, cluster.urls)
    assert done['records'] == []
    assert done['stopped'] == dict(host=plan[0]['host'], name=plan[0]['name'], done=[],
                                   not_touched=[t['name'] for t in plan[1:]])


def test_check_mode_records_nothing_defragmented():
    cluster, preflight, plan = planned(RECORDED_VERSIONS[0])
    members = defragged(cluster, plan)
    for member in members:
        member.update(db_size_after=None, reclaimed_bytes=None, seconds=0.0)
    done = turns_done(plan, plan, dict(members=members), preflight, cluster.urls, True)
    assert [r['defragmented'] for r in done['records']] == [False] * len(plan)
    assert [r['quota_usage_after'] for r in done['records']] == [None] * len(plan)


@pytest.mark.parametrize('args', [
    ('not a plan', [], {}, {}, {}),
    ([], [], {}, {}, {}),
    ([{'host': 'a'}], [{'host': 'b'}], {}, {}, {}),
    ([{'host': 'a'}], [{'host': 'a'}], 'not a result', {}, {}),
])
def test_bad_input_is_a_filter_error(args):
    with pytest.raises(AnsibleFilterError, match='turns_done'):
        turns_done(*args)


def test_a_result_that_is_not_etcd_defrag_is_a_filter_error():
    cluster, preflight, plan = planned(RECORDED_VERSIONS[0])
    with pytest.raises(AnsibleFilterError, match='turns_done: not a plan'):
        turns_done(plan, plan, dict(members=[{'no': 'fields'}] * 3), {'no': 'members'}, cluster.urls)
