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
