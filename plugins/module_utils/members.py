# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shape of a member in a cluster's status, and finding members in it.

Private to the etcdops.etcd collection: not a public API, it may change without notice.

Pure functions, no I/O: ``member_entry`` builds one member as etcd_status reports it (etcd_defrag
evaluates its rule on exactly that shape), and the lookups find a member of such a status by
name, id, client URL or the endpoint it was reached at. The client (client.py) makes the calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.six.moves.urllib.parse import urlparse

from ansible_collections.etcdops.etcd.plugins.module_utils import api

# What a member that did not answer reports: every key of a reachable member, unknown.
UNREACHABLE = {
    'reachable': False,
    'healthy': False,
    'version': None,
    'db_size': None,
    'db_size_in_use': None,
    'db_size_free': None,
    'fragmentation_ratio': None,
    'quota_bytes': None,
    'quota_source': None,
    'quota_usage': None,
    'raft_term': None,
    'raft_index': None,
    'raft_applied_index': None,
    'revision': None,
    'compact_revision': None,
    'history': None,
    'key_count': None,
    'storage_version': None,
    'downgrade_info': None,
}

# The keys of a member's status (EtcdClient.member_status) that its entry carries.
STATUS_FIELDS = ('endpoint', 'version', 'db_size', 'db_size_in_use', 'db_size_free', 'fragmentation_ratio',
                 'quota_bytes', 'quota_source', 'quota_usage', 'raft_term', 'raft_index',
                 'raft_applied_index', 'revision', 'compact_revision', 'history', 'key_count', 'errors',
                 'storage_version', 'downgrade_info')


def member_entry(member, status, alarms, leader):
    """One member as etcd_status reports it: member-list facts plus its status (None when
    unreachable). etcd_defrag evaluates its rule on exactly this shape."""
    entry = {
        'id': member['id'],
        'name': member['name'],
        'client_urls': member['client_urls'],
        'peer_urls': member['peer_urls'],
        'is_learner': member['is_learner'],
        'is_leader': member['id'] == leader,
        'alarms': sorted(alarms),
    }
    if status is None:
        entry.update(UNREACHABLE)
        return entry
    # A status from before the history fields (a stand-in in a test) reports them unknown.
    entry.update((name, status.get(name, UNREACHABLE.get(name))) for name in STATUS_FIELDS)
    entry['reachable'] = True
    entry['is_learner'] = status['is_learner'] or member['is_learner']
    entry['healthy'] = bool(status['leader']) and not api.non_alarm_errors(status['errors'])
    return entry


def same_url(a, b):
    """Two URLs name the same member: same scheme, host and port (paths and slashes aside)."""
    pa, pb = urlparse(a), urlparse(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def find_member(members, wanted):
    """A member of cluster_status()'s members by name, hex id or client URL; None if none matches."""
    wanted = wanted.strip().rstrip('/')
    for member in members:
        if wanted in (member['name'], member.get('endpoint')) or wanted in member['client_urls']:
            return member
        try:
            if member['id'] and int(wanted, 16) == int(member['id'], 16):
                return member
        except ValueError:
            pass
    return None


def describe_members(members):
    """``etcd-1 (8e9e05c52164694d), ...`` for messages that must say what would have matched."""
    return ', '.join('%s (%s)' % (m['name'], m['id']) for m in members)


def member_by(cluster, endpoint):
    """The member of a cluster_status() answer reached at ``endpoint``, or None."""
    for member in cluster['members']:
        if member['endpoint'] and same_url(member['endpoint'], endpoint):
            return member
    return None


def first_reachable_member(cluster, endpoints):
    """The member at the first of ``endpoints`` (in order) that answered, or None."""
    for endpoint in endpoints:
        member = member_by(cluster, endpoint)
        if member and member['reachable']:
            return member
    return None


def voters_down(cluster, but):
    """The voting members of a cluster_status() answer, other than the one with id ``but``, that are
    down: not answering, without a leader, or with an error other than an alarm. Members the answer
    does not hold (discover=false, not named) are not known and not counted."""
    return [m for m in cluster['members'] if not m['is_learner'] and m['id'] != but and not m['healthy']]


def _why_down(member):
    """The first error of a member down, without the endpoint it starts with and the remedy after it
    (the refusal says both once), or 'no leader'."""
    errors = member.get('errors') or []
    if not errors:
        return 'no leader'
    text = errors[0]
    prefix = '%s: ' % member.get('endpoint')
    if text.startswith(prefix):
        text = text[len(prefix):]
    return text.split('. ', 1)[0].rstrip('.')


def member_down_refusal(name, down, voters):
    """Why member ``name`` is not defragmented while the members ``down`` (voters_down) are down, in a
    cluster of ``voters`` voting members, and what to do: ``(detail, remedy)``."""
    quorum = voters // 2 + 1
    left = voters - len(down) - 1
    consequence = ('the cluster would lose its quorum (%d of %d voting members would answer, %d are needed)'
                   % (left, voters, quorum) if left < quorum
                   else 'one more failure would then lose the quorum')
    which = ', '.join('%s (%s: %s)' % (m['name'], m.get('endpoint') or 'no client URL', _why_down(m)) for m in down)
    detail = ('member %s is not defragmented while %s %s down: its defragmentation blocks it for its whole run, '
              'so %d of the %d voting members would be unavailable at once and %s. Nothing was done to it'
              % (name, which, 'is' if len(down) == 1 else 'are', len(down) + 1, voters, consequence))
    remedy = ('Bring %s back (etcdops.etcd.etcd_status shows why), or remove it from the cluster (etcdctl '
              'member remove) if it is gone for good, then run this again' % ', '.join(m['name'] for m in down))
    return detail, remedy
