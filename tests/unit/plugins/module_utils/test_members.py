# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The member shape etcd_status reports, and finding members in a cluster's status."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import members

MEMBER = dict(id='0000000000000001', name='etcd-1', client_urls=['http://a:2379'], peer_urls=['http://a:2380'],
              is_learner=False)


def status(**changes):
    """A member's status as EtcdClient.member_status() returns it."""
    result = dict(endpoint='http://a:2379', version='3.5.16', db_size=100, db_size_in_use=60, db_size_free=40,
                  fragmentation_ratio=0.4, quota_bytes=1000, quota_source='metrics', quota_usage=0.1,
                  raft_term=2, raft_index=10, raft_applied_index=10, revision=50, compact_revision=40, history=10,
                  errors=[], leader='0000000000000001', is_learner=False, storage_version=None,
                  downgrade_info=dict(enabled=False, target_version=None))
    result.update(changes)
    return result


def test_member_entry_of_an_unreachable_member_has_every_key_of_a_reachable_one():
    reachable = members.member_entry(MEMBER, status(), ['NOSPACE'], '0000000000000001')
    unreachable = members.member_entry(MEMBER, None, [], '0000000000000002')
    assert reachable['reachable'] is True and reachable['healthy'] is True and reachable['is_leader'] is True
    assert reachable['alarms'] == ['NOSPACE']
    assert (reachable['compact_revision'], reachable['history']) == (40, 10)
    assert unreachable['reachable'] is False and unreachable['healthy'] is False
    assert unreachable['compact_revision'] is None and unreachable['history'] is None
    assert set(reachable) - {'endpoint', 'errors'} <= set(unreachable)


def test_member_entry_reports_unknown_history_as_null():
    entry = members.member_entry(MEMBER, status(compact_revision=None, history=None), [], '0000000000000001')
    assert entry['reachable'] is True and entry['compact_revision'] is None and entry['history'] is None


def test_member_with_a_non_alarm_error_is_unhealthy():
    member = dict(MEMBER, id='1')
    entry = members.member_entry(member, status(errors=['memberID:1 alarm:NOSPACE', 'raft: something broke'],
                                                leader='1'), [], '1')
    assert entry['healthy'] is False
    assert members.member_entry(member, status(errors=['memberID:1 alarm:NOSPACE'], leader='1'), [], '1')['healthy']


def test_a_learner_is_a_learner_whichever_source_says_so():
    assert members.member_entry(MEMBER, status(is_learner=True), [], None)['is_learner'] is True
    assert members.member_entry(dict(MEMBER, is_learner=True), status(), [], None)['is_learner'] is True


@pytest.mark.parametrize('a, b, same', [
    ('http://a:2379', 'http://a:2379/', True),
    ('http://a:2379', 'https://a:2379', False),
    ('http://a:2379', 'http://a:2380', False),
    ('http://A:2379', 'http://a:2379', True),
])
def test_same_url_compares_scheme_host_and_port(a, b, same):
    assert members.same_url(a, b) is same


CLUSTER = {'members': [
    dict(MEMBER, id='0000000000000001', name='etcd-1', endpoint='http://a:2379', reachable=False),
    dict(MEMBER, id='0000000000000002', name='etcd-2', endpoint='http://b:2379', reachable=True,
         client_urls=['http://b:2379']),
    dict(MEMBER, id='0000000000000003', name='etcd-3', endpoint=None, reachable=False, client_urls=[]),
]}


def test_member_by_the_endpoint_it_was_reached_at():
    assert members.member_by(CLUSTER, 'http://b:2379/')['name'] == 'etcd-2'
    assert members.member_by(CLUSTER, 'http://c:2379') is None


def test_first_reachable_member_follows_the_order_of_the_endpoints():
    assert members.first_reachable_member(CLUSTER, ['http://a:2379', 'http://b:2379'])['name'] == 'etcd-2'
    assert members.first_reachable_member(CLUSTER, ['http://a:2379']) is None
    assert members.first_reachable_member(CLUSTER, []) is None


def test_find_member_by_name_id_or_url_and_describe_them():
    assert members.find_member(CLUSTER['members'], 'etcd-3')['id'] == '0000000000000003'
    assert members.find_member(CLUSTER['members'], '2')['name'] == 'etcd-2'
    assert members.find_member(CLUSTER['members'], 'http://b:2379/')['name'] == 'etcd-2'
    assert members.find_member(CLUSTER['members'], 'etcd-9') is None
    assert members.describe_members(CLUSTER['members'][:2]) == 'etcd-1 (0000000000000001), etcd-2 (0000000000000002)'


def voter(name, healthy=True, learner=False):
    return {'id': name, 'name': name, 'is_learner': learner, 'healthy': healthy, 'endpoint': 'http://%s:2379' % name,
            'errors': [] if healthy else ['http://%s:2379: connection refused. Check that etcd runs there' % name]}


def test_voters_down_leaves_out_the_member_itself_learners_and_those_up():
    cluster = {'members': [voter('a', healthy=False), voter('b', healthy=False), voter('c'),
                           voter('d', healthy=False, learner=True)]}
    assert [m['name'] for m in members.voters_down(cluster, 'a')] == ['b']
    assert members.voters_down({'members': [voter('a'), voter('b')]}, 'a') == []


def test_member_down_refusal_names_the_members_down_and_the_quorum_it_would_cost():
    detail, remedy = members.member_down_refusal('a', [voter('b', healthy=False)], 3)
    assert detail.startswith('member a is not defragmented while b (http://b:2379: connection refused) is down')
    assert '2 of the 3 voting members would be unavailable at once and the cluster would lose its quorum ' \
           '(1 of 3 voting members would answer, 2 are needed)' in detail
    assert remedy.startswith('Bring b back')
    # Five voters, one down: the quorum holds while one is defragmented, one more failure would not.
    detail, _remedy = members.member_down_refusal('a', [voter('b', healthy=False)], 5)
    assert 'one more failure would then lose the quorum' in detail
    detail, _remedy = members.member_down_refusal('a', [voter('b', healthy=False), voter('c', healthy=False)], 5)
    assert 'while b (http://b:2379: connection refused), c (http://c:2379: connection refused) are down' in detail


def test_member_down_refusal_says_why_without_the_remedy_of_the_error_or_its_endpoint_twice():
    no_leader = dict(voter('b', healthy=False), errors=[])
    detail, _remedy = members.member_down_refusal('a', [no_leader], 3)
    assert 'while b (http://b:2379: no leader) is down' in detail
    timed_out = dict(voter('b', healthy=False), errors=['http://b:2379: no answer within 5 seconds (timed out). '
                                                        'The member did not answer in time'])
    detail, _remedy = members.member_down_refusal('a', [timed_out], 3)
    assert 'while b (http://b:2379: no answer within 5 seconds (timed out)) is down' in detail
    assert 'did not answer in time' not in detail
