# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The etcd client every module of etcdops.etcd uses.

Private to the etcdops.etcd collection: not a public API, it may change without notice.

It knows the cluster (which members there are, at which URL each one answers) and the v3
maintenance RPCs; the transport underneath only knows how to send one RPC to one URL. Calls
that concern one member go to that member's own URL (defragment, status, hash); cluster-wide
calls (compaction, alarms, member list) go to the first endpoint that answers. The shape of a
member in the result and the lookups of members in it are in members.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.six.moves.urllib.parse import urlparse

from ansible_collections.etcdops.etcd.plugins.module_utils import api, errors
from ansible_collections.etcdops.etcd.plugins.module_utils.members import member_entry, same_url

_MAX_WORKERS = 16


def normalize_endpoint(endpoint, tls=False):
    """``host:port`` -> ``scheme://host:port`` like etcdctl; no trailing slash."""
    endpoint = endpoint.strip().rstrip('/')
    if '://' not in endpoint:
        endpoint = ('https://' if tls else 'http://') + endpoint
    return endpoint


def run_concurrently(calls):
    """Run ``{key: zero-argument callable}`` in threads; return ``{key: (result, error)}``.

    Only EtcdError is caught: anything else is a bug and must surface.
    """
    def guarded(call):
        try:
            return call(), None
        except errors.EtcdError as exc:
            return None, exc

    if not calls:
        return {}
    with ThreadPoolExecutor(max_workers=min(_MAX_WORKERS, len(calls))) as pool:
        futures = dict((key, pool.submit(guarded, call)) for key, call in calls.items())
        return dict((key, future.result()) for key, future in futures.items())


class EtcdClient:
    """Cluster-level operations over a transport (transport.build_transport: the JSON gateway,
    gRPC, or the gateway with gRPC where it cannot serve)."""

    def __init__(self, transport, endpoints, quota_bytes=None, discover=True):
        tls = bool(getattr(transport, 'cacert', None) or getattr(transport, 'cert', None))
        self.transport = transport
        self.endpoints = [normalize_endpoint(e, tls=tls) for e in endpoints]
        self.quota_bytes = quota_bytes
        self.discover = discover

    # -- cluster-wide calls, sent to the first endpoint that answers -----------------------

    def _first_answer(self, rpc, body=None, timeout=None):
        """Try the endpoints in order; return (endpoint, answer). Errors that no other member
        would answer differently (auth, permission, NOSPACE, revision errors) stop at once."""
        last = None
        for endpoint in self.endpoints:
            try:
                return endpoint, self.transport.call(endpoint, rpc, body, timeout=timeout)
            except (errors.EtcdConnectionError, errors.EtcdNotLeaderError, errors.EtcdGatewayDisabledError,
                    errors.EtcdNotEtcdError) as exc:
                last = exc
        raise last

    def alarms(self):
        """The cluster's active alarms, from the alarm RPC (a raft proposal: it needs quorum)."""
        return api.parse_alarms(self._first_answer('maintenance/alarm', {'action': 'GET'})[1])

    def alarm(self, action, member_id, alarm):
        """ACTIVATE or DEACTIVATE one exact (member, alarm) pair; returns the alarms after."""
        body = {'action': action, 'memberID': str(api.member_id_int(member_id)), 'alarm': alarm}
        return api.parse_alarms(self._first_answer('maintenance/alarm', body)[1])

    def compact(self, revision, physical=True, timeout=None):
        body = {'revision': str(revision), 'physical': bool(physical)}
        return self._first_answer('kv/compaction', body, timeout=timeout)[1]

    def commit_once(self):
        """Make every member commit its backend once, without writing a key: a lease granted and
        revoked (a raft proposal each; no revision). A member counts the pages a compaction freed
        in its ``dbSizeInUse`` only at its next commit after the compaction's: on a quiet cluster
        that never comes (measured on etcd 3.4 to 3.7, docs/maintenance.md)."""
        endpoint, lease = self._first_answer('lease/grant', {'TTL': '60'})
        self.transport.call(endpoint, 'lease/revoke', {'ID': api.field(lease, 'ID')})

    def current_revision(self):
        """The cluster's current revision, from a linearizable count-only read."""
        answer = self._first_answer('kv/range', {'key': 'AA==', 'count_only': True})[1]
        return api.parse_header(answer)['revision']

    def revision_available(self, revision):
        """Whether ``revision`` can still be read: False once compacted away. A future
        revision raises EtcdFutureRevisionError, as etcd does."""
        # A count-only read of one key at that revision: the cheapest call etcd checks it with.
        body = {'key': 'AA==', 'revision': str(revision), 'count_only': True}
        try:
            self._first_answer('kv/range', body)
        except errors.EtcdCompactedError:
            return False
        return True

    # -- per-member calls --------------------------------------------------------------------

    def status(self, endpoint):
        """One member's normalised status, with its quota (see _quota)."""
        status = api.parse_status(self.transport.call(endpoint, 'maintenance/status'))
        status['endpoint'] = endpoint
        return status

    def defragment(self, endpoint, timeout):
        self.transport.call(endpoint, 'maintenance/defragment', {}, timeout=timeout)

    def metrics(self, endpoint):
        """One member's Prometheus ``/metrics`` text, or None when it cannot be read: what it
        adds (quota, compacted revision) is reported as unknown then, never as a failure."""
        try:
            return self.transport.get_text(endpoint, '/metrics')
        except errors.EtcdError:
            return None

    def quota(self, status, metrics):
        """(bytes, source): 3.6's dbSizeQuota, else /metrics, else the configured fallback."""
        if status.get('db_size_quota'):
            return status['db_size_quota'], 'status'
        from_metrics = api.quota_from_metrics(metrics) if metrics is not None else None
        if from_metrics:
            return from_metrics, 'metrics'
        if self.quota_bytes:
            return self.quota_bytes, 'option'
        return api.DEFAULT_QUOTA_BYTES, 'default'

    def member_status(self, endpoint):
        """status() plus what the member's /metrics tells: its quota (see quota) and its history
        (``compact_revision``, and ``history``: the revisions a compaction to now would drop) and
        its number of keys (``key_count``)."""
        status = self.status(endpoint)
        metrics = self.metrics(endpoint)
        status['quota_bytes'], status['quota_source'] = self.quota(status, metrics)
        status['quota_usage'] = api.quota_usage(status['db_size'], status['quota_bytes'])
        status['compact_revision'] = api.compact_revision_from_metrics(metrics) if metrics is not None else None
        status['history'] = api.history(status['revision'], status['compact_revision'])
        status['key_count'] = api.keys_from_metrics(metrics) if metrics is not None else None
        return status

    # -- the whole cluster in about one round trip -----------------------------------------

    def cluster_status(self, discover=None):
        """Status of every member of the cluster, fetched concurrently.

        Members named in ``endpoints`` are asked at that URL; the others at their first
        advertised client URL, unless ``discover`` (the argument, else the client's) is off: then
        ``members`` holds only the members the endpoints name (``member_list`` always holds all).
        An unreachable member is data (``reachable: false``), not an error: only when no endpoint
        answers at all is EtcdError raised (the first endpoint's).
        """
        discover = self.discover if discover is None else discover
        calls = dict((('status', e), (lambda e=e: self.member_status(e))) for e in self.endpoints)
        calls[('members',)] = lambda: self._first_answer('cluster/member/list')
        results = run_concurrently(calls)

        answers = {}
        failures = {}
        for endpoint in self.endpoints:
            status, error = results[('status', endpoint)]
            if error is None and status['id'] not in answers:
                answers[status['id']] = status
            elif error is not None:
                failures[endpoint] = error
        if not answers:
            raise failures[self.endpoints[0]]
        members_result, members_error = results[('members',)]
        if members_error is not None:
            raise members_error
        members = api.parse_member_list(members_result[1])

        # Members nobody named: ask them at their advertised client URLs.
        extra = {}
        for member in members:
            if member['id'] in answers or not discover:
                continue
            url = self._pick_client_url(member, failures)
            if url:
                extra[member['id']] = url
        for member_id, (status, error) in run_concurrently(
                dict((mid, (lambda url=url: self.member_status(url))) for mid, url in extra.items())).items():
            if error is None:
                answers[member_id] = status
            else:
                failures[extra[member_id]] = error

        # Alarms from the statuses, not from the alarm RPC: that one is a raft proposal, so it
        # fails without quorum - just when an operator most needs this answer.
        alarms = api.alarms_from_errors([e for status in answers.values() for e in status['errors']])
        return self._assemble(members, answers, failures, extra, alarms, discover)

    def _pick_client_url(self, member, failures):
        """The URL to ask a member at: a given endpoint that failed (so the failure is shown
        against the URL the user gave), else its first client URL with our scheme."""
        for endpoint in failures:
            if any(same_url(endpoint, url) for url in member['client_urls']):
                return endpoint
        scheme = urlparse(self.endpoints[0]).scheme
        for url in member['client_urls']:
            if urlparse(url).scheme == scheme:
                return url.rstrip('/')
        return member['client_urls'][0].rstrip('/') if member['client_urls'] else None

    def _assemble(self, members, answers, failures, extra, alarms, discover):
        leader = None
        for status in answers.values():
            if status['leader']:
                leader = status['leader']
                break
        result_members = []
        for member in members:
            status = answers.get(member['id'])
            member_alarms = [a['alarm'] for a in alarms if a['member_id'] == member['id']]
            if status is not None:
                result_members.append(member_entry(member, status, member_alarms, leader))
                continue
            endpoint = extra.get(member['id']) or self._given_endpoint_of(member, failures)
            if endpoint is None and not discover:
                continue
            entry = member_entry(member, None, member_alarms, leader)
            error = failures.get(endpoint)
            entry['endpoint'] = endpoint
            entry['errors'] = [error.message if error else
                               'member %s has no client URL and no endpoint names it' % member['name']]
            entry['error'] = error.kind if error else 'unreachable'
            result_members.append(entry)
        voting = [m for m in result_members if not m['is_learner']]
        revision = max([m['revision'] or 0 for m in result_members] or [0])
        return {
            'cluster_id': next((s['cluster_id'] for s in answers.values()), None),
            'leader': leader,
            'healthy': bool(leader) and all(m['healthy'] for m in voting) and not alarms,
            'alarms': alarms,
            'revision': revision,
            'members': result_members,
            'member_list': members,
        }

    def _given_endpoint_of(self, member, failures):
        for endpoint in failures:
            if any(same_url(endpoint, url) for url in member['client_urls']):
                return endpoint
        return None

    def move_leader(self, cluster, target_id):
        """Hand leadership to the voting member ``target_id``; the request must reach the leader."""
        leader = self.leader_status(cluster)
        self.transport.call(leader['endpoint'], 'maintenance/transfer-leadership',
                            {'targetID': str(api.member_id_int(target_id))})

    def hashkv(self, endpoint, revision=0):
        """Hash of one member's key-value store up to ``revision`` (0: the current one).

        Raises EtcdUnsupportedError before etcd 3.5.16 (no hashkv in the gateway there)."""
        answer = self.transport.call(endpoint, 'maintenance/hashkv', {'revision': str(revision)})
        return {
            'hash': api.to_int(api.field(answer, 'hash')),
            'compact_revision': api.to_int(api.field(answer, 'compactRevision')),
            'revision': api.parse_header(answer)['revision'],
        }

    def hash_members(self, cluster, revision=0):
        """hashkv of every reachable member of ``cluster`` at one revision, concurrently.

        ``revision`` 0 takes the lowest current revision among them, so that every member can
        answer for it. Fills each member's ``hashkv`` (or ``hashkv_error``) in place and returns
        (revision, consistent): consistent is None with fewer than two hashes to compare.
        """
        reachable = [m for m in cluster['members'] if m['reachable']]
        if not revision:
            revision = min([m['revision'] for m in reachable] or [0])
        results = run_concurrently(dict((m['id'], (lambda m=m: self.hashkv(m['endpoint'], revision)))
                                        for m in reachable))
        for member in cluster['members']:
            answer, error = results.get(member['id'], (None, None))
            member['hashkv'] = answer
            if answer is None and error is not None:
                member['hashkv_error'] = ('unsupported: hashkv needs etcd 3.5.16 or later'
                                          if error.kind == 'unsupported' else error.message)
        # Only hashes over the same range (the same compact revision) are compared.
        compared = api.compare_hashes(dict((m.get('name') or m['id'], m['hashkv']) for m in cluster['members']
                                           if m['hashkv'] is not None))
        return revision, compared['equal']

    def snapshot(self, endpoint, out, timeout=None):
        """Stream one member's snapshot into the binary file object ``out``.

        etcd sends the database file followed by the 32-byte SHA-256 of it. The digest is checked and
        written too, as ``etcdctl snapshot save`` writes it: ``etcdutl snapshot restore`` refuses a file
        without it ("snapshot missing hash") unless told ``--skip-hash-check``. Returns ``{'size'}``
        (the file's bytes, digest included) and ``{'sha256'}`` (of the database, the file's last 32
        bytes); raises EtcdSnapshotError when the digest is missing or does not match.
        """
        digest = hashlib.sha256()
        size = 0
        tail = b''
        for message in self.transport.stream(endpoint, 'maintenance/snapshot', {}, timeout=timeout):
            blob = api.field(message, 'blob') or b''
            try:
                # The gateway sends base64 text, gRPC the bytes themselves.
                chunk = blob if isinstance(blob, bytes) else base64.b64decode(blob, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise errors.EtcdSnapshotError(endpoint, 'the snapshot stream holds invalid base64 (%s)' % exc) from exc
            # Hold back the last 32 bytes seen: they are the digest if the stream ends here.
            data = tail + chunk
            body, tail = data[:-32], data[-32:]
            if body:
                digest.update(body)
                out.write(body)
                size += len(body)
        if len(tail) < 32:
            raise errors.EtcdSnapshotError(endpoint, 'the snapshot stream ended after %d bytes, without its '
                                                     'SHA-256' % (size + len(tail)))
        if tail != digest.digest():
            raise errors.EtcdSnapshotError(endpoint, 'the snapshot does not match its SHA-256 (%d bytes)' % size)
        out.write(tail)
        return {'size': size + len(tail), 'sha256': digest.hexdigest()}

    def leader_status(self, cluster):
        """A fresh status of the current leader, following a leadership change once."""
        by_id = dict((m['id'], m) for m in cluster['members'])
        names = dict((m['id'], m['name']) for m in cluster.get('member_list') or [])
        leader_id = cluster['leader']
        for _attempt in range(2):
            member = by_id.get(leader_id)
            if member is None or not member.get('endpoint'):
                break
            status = self.status(member['endpoint'])
            if status['is_leader']:
                return status
            leader_id = status['leader']
        if leader_id and leader_id in names:
            raise errors.EtcdConnectionError(
                self.endpoints[0], 'the leader is now member %s (%s), which cannot be reached from here (with '
                'discover=false only the members named in endpoints are)' % (names[leader_id], leader_id),
                remedy='Name the leader\'s client URL in endpoints too, or set discover=true')
        raise errors.EtcdNoLeaderError(self.endpoints[0], 'cannot find the current leader (last seen: %s)'
                                       % (leader_id or 'none'))

    def wait_until_caught_up(self, endpoint, target_index, timeout, interval=0.5, first_interval=0.05):
        """Poll one member until it answers, sees a leader and has applied ``target_index``
        (None: the index the member itself reports as committed when it first answers).

        Returns its last status; raises EtcdTimeoutError when ``timeout`` runs out.
        """
        deadline = time.monotonic() + timeout
        last_error = None
        while True:
            try:
                status = self.status(endpoint)
                if target_index is None:
                    target_index = status['raft_index']
                if status['leader'] and status['raft_applied_index'] >= target_index:
                    return status
                last_error = None
            except errors.EtcdError as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                detail = 'did not catch up to raft index %s within %s seconds' % (target_index, timeout)
                if last_error is not None:
                    detail += ' (last error: %s)' % last_error.detail
                raise errors.EtcdTimeoutError(
                    endpoint, detail,
                    remedy='Check the member\'s log and health; raise the wait timeout if it is just slow')
            # Short waits first: a member is usually back within a few tenths of a second.
            time.sleep(first_interval)
            first_interval = min(first_interval * 2, interval)
