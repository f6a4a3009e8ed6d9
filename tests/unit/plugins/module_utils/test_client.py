# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Client helpers that need no etcd: endpoint spelling, the member shape, concurrency."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import io
import threading

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import api, client, errors
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import (
    RECORDED_VERSIONS,
    VERSIONS_36,
    VERSIONS_BEFORE_36,
    load,
    versions_with,
)


@pytest.mark.parametrize('given, tls, expected', [
    ('127.0.0.1:2379', False, 'http://127.0.0.1:2379'),
    ('127.0.0.1:2379', True, 'https://127.0.0.1:2379'),
    (' https://etcd-1:2379/ ', False, 'https://etcd-1:2379'),
])
def test_normalize_endpoint(given, tls, expected):
    assert client.normalize_endpoint(given, tls=tls) == expected


def test_run_concurrently_runs_in_parallel_and_keeps_etcd_errors_as_data():
    barrier = threading.Barrier(3, timeout=10)

    def waits():
        # Deadlocks (and times out) unless all three calls run at the same time.
        barrier.wait()
        return 'ok'

    def fails():
        barrier.wait()
        raise errors.EtcdConnectionError('http://x:2379', 'connection refused')

    results = client.run_concurrently({'a': waits, 'b': waits, 'c': fails})
    assert results['a'] == ('ok', None) and results['b'] == ('ok', None)
    assert results['c'][0] is None and results['c'][1].kind == 'unreachable'


def test_run_concurrently_lets_bugs_surface():
    def bug():
        raise KeyError('not an etcd error')

    with pytest.raises(KeyError):
        client.run_concurrently({'a': bug})


class _Stream:
    """Stands in for the transport's stream(): the gateway's snapshot messages, nothing else."""

    def __init__(self, messages):
        self.messages = messages

    def stream(self, endpoint, rpc, body=None, timeout=None):
        assert rpc == 'maintenance/snapshot'
        return iter(self.messages)


def _snapshot_messages(payload, digest, chunk=7):
    data = payload + digest
    return [{'remaining_bytes': str(len(data) - i - chunk), 'blob': base64.b64encode(data[i:i + chunk]).decode()}
            for i in range(0, len(data), chunk)]


def _snapshot(messages):
    out = io.BytesIO()
    etcd = client.EtcdClient(_Stream(messages), ['http://a:2379'])
    return etcd.snapshot('http://a:2379', out), out.getvalue()


@pytest.mark.parametrize('chunk', [1, 5, 31, 32, 33, 4096])
def test_snapshot_writes_the_db_and_its_digest_as_etcdctl_does_and_checks_it(chunk):
    payload = bytes(range(256)) * 3
    digest = hashlib.sha256(payload).digest()
    result, written = _snapshot(_snapshot_messages(payload, digest, chunk))
    assert written == payload + digest
    assert result == {'size': len(payload) + 32, 'sha256': hashlib.sha256(payload).hexdigest()}


def test_snapshot_over_grpc_takes_the_blobs_as_bytes():
    payload = b'bolt' * 100
    data = payload + hashlib.sha256(payload).digest()
    result, written = _snapshot([{'blob': data[i:i + 64]} for i in range(0, len(data), 64)])
    assert written == data and result['size'] == len(data)


def test_snapshot_with_a_wrong_digest_is_refused():
    payload = b'x' * 100
    with pytest.raises(errors.EtcdSnapshotError, match='does not match its SHA-256'):
        _snapshot(_snapshot_messages(payload, hashlib.sha256(b'other').digest()))


def test_truncated_snapshot_is_refused():
    with pytest.raises(errors.EtcdSnapshotError, match='without its SHA-256'):
        _snapshot(_snapshot_messages(b'short', b''))


def test_snapshot_with_invalid_base64_is_refused():
    with pytest.raises(errors.EtcdSnapshotError, match='invalid base64'):
        _snapshot([{'blob': 'not base64!'}])


# -- the quota and its source, over recorded answers ----------------------------------------------

E = 'http://a:2379'
MIB16 = 16 * 1024 * 1024


class _Recorded:
    """A transport that answers with recorded bodies: ``answers`` {rpc: decoded JSON}, ``metrics``
    the /metrics text (None: /metrics fails as an unreachable member's would). Records what was asked."""

    def __init__(self, answers=None, metrics=None):
        self.answers = answers or {}
        self.metrics = metrics
        self.asked = []

    def call(self, endpoint, rpc, body=None, timeout=None):
        self.asked.append(rpc)
        return self.answers[rpc]

    def get_text(self, endpoint, path, timeout=None):
        self.asked.append(path)
        if self.metrics is None:
            raise errors.EtcdConnectionError(endpoint, 'connection refused')
        return self.metrics


def _member_status(status_json, metrics=None, quota_bytes=None):
    transport = _Recorded({'maintenance/status': status_json}, metrics)
    return client.EtcdClient(transport, [E], quota_bytes=quota_bytes).member_status(E), transport.asked


@pytest.mark.parametrize('version', VERSIONS_36)
@pytest.mark.parametrize('name, quota', [('status_leader', 2 * 1024 ** 3), ('status_quota', MIB16),
                                         ('status_nospace', MIB16)])
def test_quota_comes_from_the_status_on_36_not_from_the_metrics(version, name, quota):
    # /metrics is still read, for the compacted revision; its quota line is not taken.
    status, asked = _member_status(load(version, name)['json'], metrics='etcd_server_quota_backend_bytes 1\n')
    assert (status['quota_bytes'], status['quota_source']) == (quota, 'status')
    assert asked == ['maintenance/status', '/metrics']
    assert status['quota_usage'] == round(status['db_size'] / float(quota), 6)


@pytest.mark.parametrize('version', VERSIONS_36)
def test_quota_falls_back_to_metrics_when_the_status_omits_db_size_quota(version):
    # etcd 3.6.0 to 3.6.5 leave dbSizeQuota out (protojson: 0) when --quota-backend-bytes is unset.
    # No such release was recorded: this takes the recorded status of a member without the flag and
    # deletes the field, with that member version's recorded /metrics quota (the 2 GiB default).
    answer = load(version, 'status_leader')['json']
    del answer['dbSizeQuota']
    status, asked = _member_status(answer, metrics=load(version, 'metrics_quota')['body'])
    assert (status['quota_bytes'], status['quota_source']) == (api.DEFAULT_QUOTA_BYTES, 'metrics')
    assert asked == ['maintenance/status', '/metrics']


@pytest.mark.parametrize('version', VERSIONS_36)
def test_quota_of_a_flagged_member_without_db_size_quota_comes_from_metrics(version):
    # Same deletion on the member started with --quota-backend-bytes 16 MiB: /metrics still has it.
    answer = load(version, 'status_quota')['json']
    del answer['dbSizeQuota']
    status, _asked = _member_status(answer, metrics=load(version, 'metrics_quota_nospace')['body'])
    assert (status['quota_bytes'], status['quota_source']) == (MIB16, 'metrics')


@pytest.mark.parametrize('version', VERSIONS_BEFORE_36)
def test_quota_before_36_comes_from_metrics(version):
    status, asked = _member_status(load(version, 'status_nospace')['json'],
                                   metrics=load(version, 'metrics_quota_nospace')['body'])
    assert (status['quota_bytes'], status['quota_source']) == (MIB16, 'metrics')
    assert asked == ['maintenance/status', '/metrics']


@pytest.mark.parametrize('quota_bytes, expected', [(MIB16, (MIB16, 'option')),
                                                   (None, (api.DEFAULT_QUOTA_BYTES, 'default'))])
def test_quota_without_db_size_quota_and_without_metrics(quota_bytes, expected):
    answer = load(VERSIONS_36[0], 'status_quota')['json']
    del answer['dbSizeQuota']
    status, _asked = _member_status(answer, metrics=None, quota_bytes=quota_bytes)
    assert (status['quota_bytes'], status['quota_source']) == expected


@pytest.mark.parametrize('version', [v for v in RECORDED_VERSIONS if load(v, 'hashkv')['status'] == 200])
def test_hashkv_reads_the_recorded_answers(version):
    answer = load(version, 'hashkv')['json']
    result = client.EtcdClient(_Recorded({'maintenance/hashkv': answer}), [E]).hashkv(E)
    # hash is a uint32 (a JSON number); compact_revision an int64 (a string, snake_case; -1: never compacted);
    # 3.6 adds hash_revision, which is not read.
    assert result == {'hash': answer['hash'], 'compact_revision': -1,
                      'revision': int(answer['header']['revision'])}
    trimmed = dict(answer)
    del trimmed['compact_revision'], trimmed['hash']
    result = client.EtcdClient(_Recorded({'maintenance/hashkv': trimmed}), [E]).hashkv(E)
    assert (result['hash'], result['compact_revision']) == (0, 0)


# -- the history a member keeps, from its status and its /metrics ---------------------------------

@pytest.mark.parametrize('version', versions_with('metrics_revisions_compacted'))
def test_history_is_the_revision_minus_the_compacted_revision(version):
    metrics = load(version, 'metrics_revisions_compacted')['body']
    # The recorded status, at the revision the recorded /metrics page was read at.
    answer = load(version, 'status_leader')['json']
    current = api.metric_value(metrics, 'etcd_debugging_mvcc_current_revision')
    answer['header']['revision'] = str(current)
    status, asked = _member_status(answer, metrics=metrics)
    compacted = api.compact_revision_from_metrics(metrics)
    assert 0 < compacted < current
    assert (status['revision'], status['compact_revision']) == (current, compacted)
    assert status['history'] == current - compacted
    assert asked == ['maintenance/status', '/metrics']


@pytest.mark.parametrize('version', versions_with('metrics_revisions'))
def test_history_of_a_member_never_compacted_starts_at_revision_1(version):
    answer = load(version, 'status_leader')['json']
    status, _asked = _member_status(answer, metrics=load(version, 'metrics_revisions')['body'])
    assert status['compact_revision'] == -1
    assert status['history'] == status['revision'] - 1


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_history_is_null_when_the_metrics_lack_it_or_cannot_be_read(version):
    answer = load(version, 'status_leader')['json']
    # metrics_quota holds only the quota lines; None makes /metrics fail like an unreachable page.
    for metrics in (load(version, 'metrics_quota')['body'], None):
        status, _asked = _member_status(answer, metrics=metrics)
        assert status['compact_revision'] is None and status['history'] is None
        assert status['revision'] > 0


# -- cluster-wide calls go to the first endpoint that answers --------------------------------------

class _Failover:
    """Endpoints in ``down`` refuse the connection; every other one answers ``answer`` to anything."""

    def __init__(self, down, answer):
        self.down, self.answer, self.asked = set(down), answer, []

    def call(self, endpoint, rpc, body=None, timeout=None):
        self.asked.append((endpoint, rpc, timeout))
        if endpoint in self.down:
            raise errors.EtcdConnectionError(endpoint, 'connection refused')
        return self.answer


URLS = ['http://a:2379', 'http://b:2379', 'http://c:2379']


def test_compact_fails_over_to_the_next_endpoint_with_its_timeout():
    transport = _Failover(URLS[:2], load(RECORDED_VERSIONS[-1], 'compaction')['json'])
    client.EtcdClient(transport, URLS).compact(5, timeout=300)
    assert transport.asked == [(url, 'kv/compaction', 300) for url in URLS]


def test_compact_stops_at_an_answer_no_other_member_would_change():
    class Compacted(_Failover):
        def call(self, endpoint, rpc, body=None, timeout=None):
            self.asked.append((endpoint, rpc, timeout))
            raise errors.EtcdCompactedError(endpoint, 'required revision has been compacted')

    transport = Compacted((), None)
    with pytest.raises(errors.EtcdCompactedError):
        client.EtcdClient(transport, URLS).compact(5)
    assert [endpoint for endpoint, _rpc, _timeout in transport.asked] == URLS[:1]


def test_compact_raises_the_last_error_when_no_endpoint_answers():
    with pytest.raises(errors.EtcdConnectionError) as raised:
        client.EtcdClient(_Failover(URLS, None), URLS).compact(5)
    assert raised.value.endpoint == URLS[-1]


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_alarms_come_from_the_first_endpoint_that_answers(version):
    transport = _Failover(URLS[:1], load(version, 'alarm_list_nospace')['json'])
    alarms = client.EtcdClient(transport, URLS).alarms()
    assert alarms and {alarm['alarm'] for alarm in alarms} == {'NOSPACE'}
    assert [endpoint for endpoint, _rpc, _timeout in transport.asked] == URLS[:2]


# -- typed errors where no member answers the question ---------------------------------------------

def _cluster(leader):
    member = dict(id='0000000000000001', name='etcd-1', endpoint=URLS[0], reachable=True)
    return dict(leader=leader, members=[member], member_list=[dict(member)])


def test_leader_status_without_a_leader_is_a_no_leader_error():
    status = dict(load(RECORDED_VERSIONS[-1], 'status_follower')['json'])
    status.pop('leader', None)
    transport = _Recorded({'maintenance/status': status})
    with pytest.raises(errors.EtcdNoLeaderError) as raised:
        client.EtcdClient(transport, URLS[:1]).leader_status(_cluster(None))
    assert raised.value.kind == 'no_leader'
    assert raised.value.message.startswith(URLS[0] + ': ')
    assert 'quorum' in raised.value.message


# -- the number of keys a member holds, from its /metrics ------------------------------------------

KEYS_LINES = ("# HELP etcd_debugging_mvcc_keys_total Total number of keys.\n"
              "# TYPE etcd_debugging_mvcc_keys_total gauge\n"
              "etcd_debugging_mvcc_keys_total 4\n")


@pytest.mark.parametrize('version', versions_with('metrics_revisions_compacted'))
def test_keys_and_history_come_from_one_metrics_page(version):
    metrics = load(version, 'metrics_revisions_compacted')['body'] + KEYS_LINES
    answer = load(version, 'status_leader')['json']
    answer['header']['revision'] = str(api.metric_value(metrics, 'etcd_debugging_mvcc_current_revision'))
    status, asked = _member_status(answer, metrics=metrics)
    assert status['key_count'] == 4
    assert status['history'] == status['revision'] - api.compact_revision_from_metrics(metrics)
    # Still one read of /metrics per member.
    assert asked == ['maintenance/status', '/metrics']


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_keys_are_null_when_the_metrics_lack_them_or_cannot_be_read(version):
    answer = load(version, 'status_leader')['json']
    for metrics in (load(version, 'metrics_quota')['body'], None):
        status, _asked = _member_status(answer, metrics=metrics)
        assert 'key_count' in status and status['key_count'] is None


# -- commit_once: a lease granted and revoked through the first endpoint that answers ---------------

LEASE_ID = '7587869246391338245'


class _Leases(_Failover):
    """Endpoints in ``down`` refuse the connection; the others grant LEASE_ID and revoke anything.
    ``refuse`` raises that error (instead of an answer) for a grant."""

    def __init__(self, down, header, refuse=None):
        super(_Leases, self).__init__(down, None)
        self.header, self.refuse, self.bodies = header, refuse, []

    def call(self, endpoint, rpc, body=None, timeout=None):
        self.asked.append((endpoint, rpc, timeout))
        self.bodies.append(body)
        if endpoint in self.down:
            raise errors.EtcdConnectionError(endpoint, 'connection refused')
        if rpc == 'lease/grant':
            if self.refuse is not None:
                raise self.refuse(endpoint, 'etcdserver: mvcc: database space exceeded')
            # The gateway's answer: int64 as strings.
            return {'header': self.header, 'ID': LEASE_ID, 'TTL': body['TTL']}
        if rpc == 'lease/revoke':
            return {'header': self.header}
        raise AssertionError('unexpected call %s %s' % (endpoint, rpc))


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_commit_once_grants_a_lease_and_revokes_it_where_it_was_granted(version):
    transport = _Leases(URLS[:1], load(version, 'status_leader')['json']['header'])
    assert client.EtcdClient(transport, URLS).commit_once() is None
    assert [(endpoint, rpc) for endpoint, rpc, _timeout in transport.asked] == [
        (URLS[0], 'lease/grant'), (URLS[1], 'lease/grant'), (URLS[1], 'lease/revoke')]
    grant, revoke = transport.bodies[1], transport.bodies[2]
    assert grant == {'TTL': '60'}
    # The lease granted is the one revoked: none is left to expire on its own.
    assert revoke == {'ID': LEASE_ID}


def test_commit_once_revokes_a_lease_id_given_as_a_number_too():
    class NumberID(_Leases):
        def call(self, endpoint, rpc, body=None, timeout=None):
            answer = super(NumberID, self).call(endpoint, rpc, body, timeout)
            return dict(answer, ID=int(LEASE_ID)) if rpc == 'lease/grant' else answer

    transport = NumberID((), {})
    client.EtcdClient(transport, URLS).commit_once()
    assert transport.bodies[-1] == {'ID': int(LEASE_ID)}


@pytest.mark.parametrize('refuse', [errors.EtcdNoSpaceError, errors.EtcdPermissionError])
def test_commit_once_stops_at_a_refusal_no_other_member_would_change(refuse):
    transport = _Leases((), {}, refuse=refuse)
    with pytest.raises(refuse):
        client.EtcdClient(transport, URLS).commit_once()
    assert [(endpoint, rpc) for endpoint, rpc, _timeout in transport.asked] == [(URLS[0], 'lease/grant')]


def test_commit_once_raises_the_last_error_when_no_endpoint_answers():
    transport = _Leases(URLS, {})
    with pytest.raises(errors.EtcdConnectionError) as raised:
        client.EtcdClient(transport, URLS).commit_once()
    assert raised.value.endpoint == URLS[-1]
    assert [rpc for _endpoint, rpc, _timeout in transport.asked] == ['lease/grant'] * 3
