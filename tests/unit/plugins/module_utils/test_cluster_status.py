# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""EtcdClient.cluster_status() over answers recorded from real clusters of every etcd version: the
member list and statuses are the recorded ones, re-addressed to three members."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import client, errors
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import (
    RECORDED_VERSIONS,
    VERSIONS_36,
    VERSIONS_BEFORE_36,
    load,
)


class RecordedCluster:
    """A transport that answers for three members from one version's recordings: the first member
    leads (status_leader), the others follow (status_follower), all at the leader's raft index;
    /metrics is metrics_quota. A defragmentation shrinks a member's file to its size in use; a
    leadership transfer moves the leader; a compaction makes the revisions below it unreadable (the
    cluster stays at revision 10); a lease is granted and revoked; ``fail`` names (rpc, endpoint)
    pairs that fail."""

    LEASE_ID = '7587869246391338245'

    def __init__(self, version):
        self.member_list = load(version, 'member_list')['json']
        self.ids = [m['ID'] for m in self.member_list['members'][:3]]
        self.urls = [m['clientURLs'][0] for m in self.member_list['members'][:3]]
        self.statuses = {}
        for index, url in enumerate(self.urls):
            status = copy.deepcopy(load(version, 'status_leader' if index == 0 else 'status_follower')['json'])
            status['header']['member_id'] = self.ids[index]
            status['leader'] = self.ids[0]
            self.statuses[url] = status
        leader = self.statuses[self.urls[0]]
        for status in self.statuses.values():
            status['raftIndex'] = status['raftAppliedIndex'] = leader['raftIndex']
        self.metrics = load(version, 'metrics_quota')['body']
        self.down = set()
        self.fail = set()
        self.calls = []
        self.compacted = 0
        self.leases = []

    def call(self, endpoint, rpc, body=None, timeout=None):
        self.calls.append((endpoint, rpc))
        if endpoint in self.down or (rpc, endpoint) in self.fail:
            raise errors.EtcdConnectionError(endpoint, 'connection refused')
        if rpc == 'maintenance/status':
            return self.statuses[endpoint]
        if rpc == 'cluster/member/list':
            return self.member_list
        if rpc == 'maintenance/defragment':
            status = self.statuses[endpoint]
            status['dbSize'] = status.get('dbSizeInUse', status['dbSize'])
            return {}
        if rpc == 'maintenance/transfer-leadership':
            assert self.statuses[endpoint]['leader'] == self.statuses[endpoint]['header']['member_id']
            for status in self.statuses.values():
                status['leader'] = body['targetID']
            return {}
        if rpc == 'kv/range':
            revision = int((body or {}).get('revision', 0))
            if revision and revision < self.compacted:
                raise errors.EtcdCompactedError(endpoint, 'etcdserver: mvcc: required revision has been compacted')
            return {'header': dict(self.statuses[endpoint]['header'], revision='10')}
        if rpc == 'kv/compaction':
            self.compacted = max(self.compacted, int(body['revision']))
            return {'header': self.statuses[endpoint]['header']}
        if rpc == 'lease/grant':
            self.leases.append(self.LEASE_ID)
            return {'header': self.statuses[endpoint]['header'], 'ID': self.LEASE_ID, 'TTL': body['TTL']}
        if rpc == 'lease/revoke':
            self.leases.remove(body['ID'])
            return {'header': self.statuses[endpoint]['header']}
        raise AssertionError('unexpected call %s %s' % (endpoint, rpc))

    def sent(self, rpc):
        """The endpoints ``rpc`` was sent to, in order."""
        return [endpoint for endpoint, called in self.calls if called == rpc]

    def get_text(self, endpoint, path, timeout=None):
        assert path == '/metrics'
        if endpoint in self.down:
            raise errors.EtcdConnectionError(endpoint, 'connection refused')
        return self.metrics


@pytest.fixture(params=RECORDED_VERSIONS)
def recorded(request):
    return RecordedCluster(request.param)


def test_every_member_answers(recorded):
    cluster = client.EtcdClient(recorded, recorded.urls).cluster_status()
    assert [m['endpoint'] for m in cluster['members']] == recorded.urls
    assert all(m['reachable'] and m['healthy'] for m in cluster['members'])
    assert [m['is_leader'] for m in cluster['members']] == [True, False, False]
    assert cluster['healthy'] is True and cluster['alarms'] == []
    assert cluster['leader'] == cluster['members'][0]['id']
    assert len(cluster['member_list']) == len(recorded.member_list['members'])
    assert cluster['revision'] == max(m['revision'] for m in cluster['members'])


@pytest.mark.parametrize('version', VERSIONS_BEFORE_36)
def test_the_quota_comes_from_the_metrics_before_3_6(version):
    recorded = RecordedCluster(version)
    member = client.EtcdClient(recorded, recorded.urls[:1]).cluster_status()['members'][0]
    assert (member['quota_bytes'], member['quota_source']) == (2147483648, 'metrics')


@pytest.mark.parametrize('version', VERSIONS_36)
def test_the_quota_comes_from_the_status_from_3_6(version):
    recorded = RecordedCluster(version)
    recorded.metrics = 'etcd_server_quota_backend_bytes 1'  # what /metrics would say: not taken
    member = client.EtcdClient(recorded, recorded.urls[:1]).cluster_status()['members'][0]
    assert (member['quota_bytes'], member['quota_source']) == (2147483648, 'status')
    assert member['storage_version'] is not None


def test_a_member_down_is_data_not_an_error(recorded):
    recorded.down.add(recorded.urls[1])
    cluster = client.EtcdClient(recorded, recorded.urls).cluster_status()
    down = cluster['members'][1]
    assert down['reachable'] is False and down['healthy'] is False
    assert down['endpoint'] == recorded.urls[1] and down['error'] == 'unreachable'
    assert down['errors'][0].startswith('%s: connection refused' % recorded.urls[1])
    assert cluster['healthy'] is False


def test_no_member_answers_raises_the_first_endpoints_error(recorded):
    recorded.down.update(recorded.urls)
    with pytest.raises(errors.EtcdConnectionError) as raised:
        client.EtcdClient(recorded, recorded.urls).cluster_status()
    assert raised.value.endpoint == recorded.urls[0]


def test_discover_asks_the_members_nobody_named(recorded):
    cluster = client.EtcdClient(recorded, recorded.urls[:1]).cluster_status()
    asked = sorted(set(e for e, rpc in recorded.calls if rpc == 'maintenance/status'))
    assert set(recorded.urls) <= set(asked)
    assert len(cluster['members']) == len(recorded.member_list['members'])


def test_without_discover_only_the_named_members_are_read(recorded):
    cluster = client.EtcdClient(recorded, recorded.urls[1:2], discover=False).cluster_status()
    assert [m['endpoint'] for m in cluster['members']] == recorded.urls[1:2]
    assert [e for e, rpc in recorded.calls if rpc == 'maintenance/status'] == recorded.urls[1:2]
    assert len(cluster['member_list']) == len(recorded.member_list['members'])
    assert cluster['leader'] == client.api.member_id_hex(recorded.ids[0])


def test_nospace_in_a_status_is_an_alarm_of_the_cluster(recorded):
    status = recorded.statuses[recorded.urls[2]]
    status['errors'] = ['memberID:%s alarm:NOSPACE ' % recorded.ids[2]]
    cluster = client.EtcdClient(recorded, recorded.urls).cluster_status()
    member_id = client.api.member_id_hex(recorded.ids[2])
    assert cluster['alarms'] == [dict(member_id=member_id, alarm='NOSPACE')]
    assert cluster['members'][2]['alarms'] == ['NOSPACE']
    # NOSPACE is not a fault of the member: it still counts as healthy; the cluster is not.
    assert cluster['members'][2]['healthy'] is True and cluster['healthy'] is False
