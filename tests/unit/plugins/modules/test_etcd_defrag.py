# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd_defrag's decisions: the order of the turns, where it stops, check mode, a failed compaction,
the leader's hand-over. The real EtcdClient over answers recorded from every etcd version."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import api, client, compaction, errors
from ansible_collections.etcdops.etcd.plugins.module_utils.rules import DEFAULT_RULE
from ansible_collections.etcdops.etcd.plugins.modules.etcd_defrag import Defragmenter
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import RECORDED_VERSIONS
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.test_cluster_status import RecordedCluster


class Module:
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = dict(rule=DEFAULT_RULE, force=True, defrag_timeout=60, wait_timeout=5, move_leader=True,
                           leader_target=None, compact=False, keep_revisions=None, compact_timeout=60,
                           max_stall_seconds=None, copy_rate=32.0, measured_copy_rate=None,
                           require_all_members=True)
        self.params.update(params)
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def defragmenter(recorded, endpoints, check_mode=False, **params):
    return Defragmenter(Module(check_mode, **params), client.EtcdClient(recorded, endpoints, discover=False))


@pytest.fixture(params=RECORDED_VERSIONS)
def recorded(request):
    return RecordedCluster(request.param)


def names(recorded, urls):
    return [m['name'] for url in urls for m in recorded.member_list['members'] if url in m['clientURLs']]


def test_followers_then_the_leader_after_one_hand_over(recorded):
    leader, first, second = recorded.urls
    result = defragmenter(recorded, [first, second, leader]).run()
    assert recorded.sent('maintenance/defragment') == [first, second, leader]
    assert [m['defragmented'] for m in result['members']] == [True, True, True]
    # Leadership went once, to a member already done, before the leader's turn.
    moved = [m['leader_moved_to'] for m in result['members']]
    assert moved[:2] == [None, None] and moved[2] in names(recorded, [first, second])
    assert recorded.sent('maintenance/transfer-leadership') == [leader]
    assert result['changed'] is True and result['stopped_at'] is None
    assert result['reclaimed_bytes'] == sum(m['reclaimed_bytes'] for m in result['members'])


def test_endpoints_in_the_given_order_the_leader_first_moves_leadership_before_its_turn(recorded):
    leader = recorded.urls[0]
    result = defragmenter(recorded, recorded.urls).run()
    assert recorded.sent('maintenance/defragment') == recorded.urls
    first = result['members'][0]
    assert first['is_leader'] is True and first['leader_moved_to'] is not None
    assert recorded.sent('maintenance/transfer-leadership')[0] == leader


def test_stops_at_the_member_that_fails_and_leaves_the_rest(recorded):
    leader, first, second = recorded.urls
    recorded.fail.add(('maintenance/defragment', second))
    runner = defragmenter(recorded, [first, second, leader])
    with pytest.raises(errors.EtcdConnectionError):
        runner.run()
    report = runner.report()
    assert report['stopped_at'] == second
    assert [m['endpoint'] for m in report['members']] == [first, second]
    assert [m['defragmented'] for m in report['members']] == [True, False]
    assert recorded.sent('maintenance/transfer-leadership') == []


def test_check_mode_says_what_it_would_do_and_sends_nothing_that_changes(recorded):
    leader, first, second = recorded.urls
    result = defragmenter(recorded, [first, second, leader], check_mode=True, compact=True).run()
    assert [m['defragmented'] for m in result['members']] == [True, True, True]
    assert result['members'][2]['leader_moved_to'] is not None
    assert result['compaction']['msg'] == 'would compact to revision 10'
    for rpc in ('maintenance/defragment', 'maintenance/transfer-leadership', 'kv/compaction'):
        assert recorded.sent(rpc) == []


def test_a_failed_compaction_defragments_nothing(recorded):
    recorded.fail.update(('kv/compaction', url) for url in recorded.urls)
    runner = defragmenter(recorded, recorded.urls[1:], compact=True)
    with pytest.raises(errors.EtcdConnectionError) as raised:
        runner.run()
    assert raised.value.detail.startswith('the compaction failed, nothing was defragmented: ')
    assert recorded.sent('maintenance/defragment') == []


def test_the_rule_decides_without_force(recorded):
    follower = recorded.urls[1]
    result = defragmenter(recorded, [follower], force=False, rule='db_size_free > `1073741824`').run()
    assert result['members'][0]['defragmented'] is False
    assert result['members'][0]['reason'] == 'rule did not match'
    assert result['changed'] is False and recorded.sent('maintenance/defragment') == []


def test_a_named_successor_takes_leadership(recorded):
    leader, first, second = recorded.urls
    result = defragmenter(recorded, [leader], leader_target=names(recorded, [second])[0]).run()
    assert result['members'][0]['leader_moved_to'] == names(recorded, [second])[0]
    new_leader = recorded.statuses[leader]['leader']
    assert api.member_id_hex(new_leader) == api.member_id_hex(recorded.ids[2])


# -- typed errors: no leader, and a hand-over that cannot happen or does not complete ---------------

def without_leader(recorded):
    for status in recorded.statuses.values():
        status.pop('leader', None)
    return recorded


def test_a_cluster_without_a_leader_is_refused_before_any_change(recorded):
    runner = defragmenter(without_leader(recorded), recorded.urls, compact=True)
    with pytest.raises(errors.EtcdNoLeaderError) as raised:
        runner.run()
    assert raised.value.kind == 'no_leader' and raised.value.endpoint == recorded.urls[0]
    assert raised.value.message.startswith(recorded.urls[0] + ': the cluster has no leader')
    assert 'Restore quorum' in raised.value.message
    for rpc in ('maintenance/defragment', 'maintenance/transfer-leadership', 'kv/compaction'):
        assert recorded.sent(rpc) == []


def test_a_leader_without_a_successor_in_reach_is_a_leader_transfer_error(recorded):
    leader = recorded.urls[0]
    runner = defragmenter(recorded, [leader])
    with pytest.raises(errors.EtcdLeaderTransferError) as raised:
        runner.run()
    assert raised.value.kind == 'leader_transfer' and raised.value.endpoint == leader
    assert 'leader_target' in raised.value.message
    assert runner.report()['members'][0]['defragmented'] is False
    assert recorded.sent('maintenance/defragment') == []


class StuckLeadership(RecordedCluster):
    """Accepts the leadership transfer, but the leader never changes."""

    def call(self, endpoint, rpc, body=None, timeout=None):
        if rpc == 'maintenance/transfer-leadership':
            self.calls.append((endpoint, rpc))
            return {}
        return super(StuckLeadership, self).call(endpoint, rpc, body, timeout)


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_a_hand_over_that_does_not_complete_is_a_timeout_and_the_leader_is_left_alone(version):
    recorded = StuckLeadership(version)
    leader, first, second = recorded.urls
    runner = defragmenter(recorded, [leader, first], wait_timeout=0)
    with pytest.raises(errors.EtcdLeaderTransferTimeoutError) as raised:
        runner.run()
    assert raised.value.kind == 'leader_transfer_timeout'
    assert 'raise wait_timeout' in raised.value.message
    assert recorded.sent('maintenance/transfer-leadership') == [leader]
    assert recorded.sent('maintenance/defragment') == []
    assert runner.report()['stopped_at'] == leader


# -- the compaction settled before the rule looks at the members (settled=not force) ----------------

@pytest.fixture
def slept(monkeypatch):
    """compaction.py's sleeps, recorded instead of slept."""
    seconds = []

    class Time:
        @staticmethod
        def sleep(value):
            seconds.append(value)

    monkeypatch.setattr(compaction, 'time', Time)
    return seconds


def rpcs(recorded):
    return [rpc for _endpoint, rpc in recorded.calls if rpc not in ('maintenance/status', 'cluster/member/list')]


def test_with_the_rule_the_compaction_is_settled_before_the_first_turn(recorded, slept):
    follower = recorded.urls[1]
    result = defragmenter(recorded, [follower], force=False, compact=True, rule='db_size > `0`').run()
    assert result['compaction']['changed'] is True and result['compaction']['settled'] is True
    assert rpcs(recorded) == ['kv/range', 'kv/range', 'kv/compaction', 'lease/grant', 'lease/revoke',
                              'lease/grant', 'lease/revoke', 'maintenance/defragment']
    assert slept == [compaction.SETTLE_INTERVAL]
    assert result['members'][0]['defragmented'] is True and recorded.leases == []


def test_with_force_the_compaction_is_not_settled(recorded, slept):
    follower = recorded.urls[1]
    result = defragmenter(recorded, [follower], force=True, compact=True).run()
    assert result['compaction']['changed'] is True and result['compaction']['settled'] is False
    assert rpcs(recorded) == ['kv/range', 'kv/range', 'kv/compaction', 'maintenance/defragment']
    assert slept == []


def test_in_check_mode_nothing_is_compacted_nor_settled(recorded, slept):
    result = defragmenter(recorded, recorded.urls[1:], check_mode=True, force=False, compact=True,
                          rule='db_size > `0`').run()
    assert result['compaction']['settled'] is False
    assert recorded.sent('lease/grant') == [] and recorded.sent('kv/compaction') == [] and slept == []


def test_each_turn_predicts_its_stall_and_times_it(recorded):
    leader, first, second = recorded.urls
    result = defragmenter(recorded, [first, second, leader], max_stall_seconds=10).run()
    for member in result['members']:
        assert member['copy_rate'] == 32.0 and member['copy_rate_basis'] == 'assumed'
        assert member['predicted_stall_seconds'] == round(member['db_size_in_use_before'] / 2.0 ** 20 / 32, 1)
        assert member['stall_seconds'] is not None and 0 <= member['stall_seconds'] <= member['seconds']
    # The recorded members are small (under 64 MiB in use): no rate measured on them.
    assert result['measured_copy_rate'] is None


def test_a_rate_measured_by_an_earlier_run_is_used_and_passed_on(recorded):
    follower = recorded.urls[1]
    result = defragmenter(recorded, [follower], measured_copy_rate=80.0).run()
    member = result['members'][0]
    assert member['copy_rate'] == 80.0 and member['copy_rate_basis'] == 'measured'
    assert result['measured_copy_rate'] == 80.0


def test_a_member_over_the_stall_limit_is_refused_before_its_turn_and_its_leadership_is_left(recorded):
    leader, first, second = recorded.urls
    # A rate so slow that every recorded member is predicted far over a 1 s limit.
    runner = defragmenter(recorded, [leader, first], max_stall_seconds=1, copy_rate=0.0001)
    with pytest.raises(errors.EtcdStallLimitError) as caught:
        runner.run()
    report = runner.report()
    assert report['stopped_at'] == leader
    assert [m['defragmented'] for m in report['members']] == [False]
    assert recorded.sent('maintenance/defragment') == [] and recorded.sent('maintenance/transfer-leadership') == []
    message = str(caught.value)
    name = names(recorded, [leader])[0]
    assert message.startswith(leader + ': member %s: its defragmentation would block it for about' % name)
    assert 'at 0.0 MiB/s, assumed before any was measured' in message
    assert 'maintenance_max_stall_seconds' in message and caught.value.kind == 'stall_limit'


def test_in_check_mode_after_a_compaction_an_over_limit_prediction_is_a_warning(recorded, slept):
    runner = defragmenter(recorded, recorded.urls[1:], check_mode=True, compact=True, max_stall_seconds=1,
                          copy_rate=0.0001)
    result = runner.run()
    assert [m['defragmented'] for m in result['members']] == [True, True]
    assert len(runner.module.warnings) == 2 and 'an upper bound' in runner.module.warnings[0]


def test_with_a_stall_limit_a_forced_compaction_is_settled_for_the_predictions(recorded, slept):
    result = defragmenter(recorded, [recorded.urls[1]], force=True, compact=True, max_stall_seconds=10).run()
    assert result['compaction']['settled'] is True


# -- another voting member down: no member is defragmented while one is down --------------------------

@pytest.mark.parametrize('require_all_members', [True, False])
def test_a_member_is_refused_while_another_is_down_even_one_not_named(recorded, require_all_members):
    leader, first, second = recorded.urls
    recorded.down.add(second)
    runner = defragmenter(recorded, [first, leader], require_all_members=require_all_members)
    if not require_all_members:
        # Only the named members are seen (discover=false): the one down is not known.
        runner.run()
        assert recorded.sent('maintenance/defragment') == [first, leader]
        return
    with pytest.raises(errors.EtcdMemberDownError) as raised:
        runner.run()
    down_name = names(recorded, [second])[0]
    assert raised.value.kind == 'member_down' and raised.value.endpoint == first
    message = raised.value.message
    assert message.startswith(first + ': member %s is not defragmented while %s (%s: ' % (
        names(recorded, [first])[0], down_name, second)), message
    assert 'connection refused' in message and 'lose its quorum (1 of 3' in message
    assert 'Bring %s back' % down_name in message
    assert recorded.sent('maintenance/defragment') == []
    assert recorded.sent('maintenance/transfer-leadership') == []
    report = runner.report()
    assert report['stopped_at'] == first and report['members'][0]['defragmented'] is False
    assert report['changed'] is False


def test_a_member_down_after_the_first_turn_stops_the_run_before_the_next_one(recorded):
    leader, first, second = recorded.urls

    def call(endpoint, rpc, body=None, timeout=None, _call=recorded.call):
        answer = _call(endpoint, rpc, body, timeout)
        if rpc == 'maintenance/defragment':
            recorded.down.add(leader)  # the leader dies right after the first member's defragmentation
        return answer

    recorded.call = call
    runner = defragmenter(recorded, [first, second, leader])
    with pytest.raises(errors.EtcdMemberDownError):
        runner.run()
    assert recorded.sent('maintenance/defragment') == [first]
    assert [m['defragmented'] for m in runner.report()['members']] == [True, False]
    assert runner.report()['stopped_at'] == second


def test_in_check_mode_a_member_down_is_refused_too(recorded):
    leader, first, second = recorded.urls
    recorded.down.add(leader)
    with pytest.raises(errors.EtcdMemberDownError):
        defragmenter(recorded, [first], check_mode=True).run()
