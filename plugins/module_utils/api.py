# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Normalisation of etcd v3 API answers (proto3 JSON) into the shapes the modules return.

Private to the etcdops.etcd collection: not a public API, it may change without notice.

Pure functions, no I/O: unit-tested against answers recorded from real clusters. proto3 JSON
writes int64/uint64 as strings and leaves out every field at its default (no alarms gives
``{}``, ``isLearner`` false and ``memberID`` 0 are absent). Field names come in lowerCamelCase
(``dbSizeInUse``) but the header keeps its proto names (``member_id``), and a gRPC transport's
``MessageToDict(preserving_proto_field_name=True)`` would give snake_case throughout: every
reader here accepts both spellings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible.module_utils.common.text.converters import to_text

DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024
"""etcd's own default for --quota-backend-bytes (2 GiB)."""

# A sample line of the Prometheus text format: ``name{labels} value``, labels optional.
_METRIC_LINE = r'^%s(?:\{[^}]*\})?\s+(\S+)\s*$'
_ALARM_IN_ERRORS = re.compile(r'alarm:\s*([A-Z]+)')
_ALARM_MEMBER_IN_ERRORS = re.compile(r'memberID:\s*(\d+)\s+alarm:\s*([A-Z]+)')


def _snake(name):
    return re.sub(r'([A-Z])', lambda m: '_' + m.group(1).lower(), name)


def field(message, name, default=None):
    """Read ``name`` (lowerCamelCase) from a proto3 JSON object, in either spelling."""
    if not isinstance(message, dict):
        return default
    if name in message:
        return message[name]
    snake = _snake(name)
    if snake in message:
        return message[snake]
    return default


def to_int(value, default=0):
    """int64/uint64 arrive as JSON strings; absent means the proto default."""
    if value is None or value == '':
        return default
    return int(value)


def member_id_hex(value):
    """Member ids the way etcdctl shows them: 16 hexadecimal digits."""
    number = to_int(value, default=0)
    if number == 0:
        return None
    return '%016x' % number


def member_id_int(value):
    """Accept an id as etcdctl prints it (hex), or as the API sends it (decimal string/int)."""
    if isinstance(value, int):
        return value
    text = to_text(value).strip().lower()
    if text.startswith('0x'):
        text = text[2:]
    return int(text, 16)


def error_message(body):
    """(message, grpc code) from an error body of 3.4/3.5.1 (``error``, ``message``, ``code``)
    or 3.5.16+ (``code``, ``message``); (None, None) when the body is not an etcd error."""
    try:
        data = json.loads(to_text(body))
    except (ValueError, TypeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    message = data.get('message') or data.get('error')
    if not message:
        return None, None
    return to_text(message), to_int(data.get('code'), default=None)


def parse_header(message):
    header = field(message, 'header', {}) or {}
    return {
        'cluster_id': member_id_hex(field(header, 'clusterId')),
        'member_id': member_id_hex(field(header, 'memberId')),
        'revision': to_int(field(header, 'revision')),
        'raft_term': to_int(field(header, 'raftTerm')),
    }


def parse_status(message):
    """One member's StatusResponse, normalised (sizes in bytes, ids in hex)."""
    header = parse_header(message)
    db_size = to_int(field(message, 'dbSize'))
    in_use_raw = field(message, 'dbSizeInUse')
    # etcd < 3.4 had no dbSizeInUse; treat "unknown" as "all in use" rather than "all free".
    db_size_in_use = db_size if in_use_raw is None else to_int(in_use_raw)
    errors = [to_text(e).strip() for e in (field(message, 'errors') or [])]
    leader = member_id_hex(field(message, 'leader'))
    status = {
        'id': header['member_id'],
        'cluster_id': header['cluster_id'],
        'version': field(message, 'version'),
        'db_size': db_size,
        'db_size_in_use': db_size_in_use,
        'db_size_free': max(db_size - db_size_in_use, 0),
        'fragmentation_ratio': fragmentation_ratio(db_size, db_size_in_use),
        'leader': leader,
        'is_leader': leader is not None and leader == header['member_id'],
        'is_learner': bool(field(message, 'isLearner', False)),
        'raft_term': to_int(field(message, 'raftTerm')),
        'raft_index': to_int(field(message, 'raftIndex')),
        'raft_applied_index': to_int(field(message, 'raftAppliedIndex')),
        'revision': header['revision'],
        'errors': errors,
        # etcd 3.6: the quota in force; 0 (so absent) before 3.6.6 when it was never set.
        'db_size_quota': to_int(field(message, 'dbSizeQuota')),
        # etcd 3.6: the schema version of the member's data file, and a downgrade in progress.
        'storage_version': field(message, 'storageVersion') or None,
        'downgrade_info': parse_downgrade_info(field(message, 'downgradeInfo')),
    }
    return status


def parse_downgrade_info(message):
    """3.6's DowngradeInfo (``enabled``, ``targetVersion``), false and empty when absent: protojson
    leaves out a false ``enabled``, and etcd before 3.6 has no such field at all."""
    return {
        'enabled': bool(field(message, 'enabled', False)),
        'target_version': field(message, 'targetVersion') or None,
    }


def fragmentation_ratio(db_size, db_size_in_use):
    """Share of the db file that is free pages (0..1): what a defrag would give back."""
    if db_size <= 0:
        return 0.0
    return round(max(db_size - db_size_in_use, 0) / float(db_size), 6)


def alarms_from_errors(errors):
    """The cluster's active alarms as a member's status ``errors`` lists them
    (``memberID:10276657743932975437 alarm:NOSPACE``), in parse_alarms' shape.

    Every member lists every active alarm of the cluster there: reading them costs no extra call
    and, unlike the alarm RPC (a raft proposal), works without quorum."""
    alarms = []
    for text in errors:
        for member_id, alarm in _ALARM_MEMBER_IN_ERRORS.findall(text):
            pair = {'member_id': member_id_hex(member_id) or '0000000000000000', 'alarm': alarm}
            if pair not in alarms:
                alarms.append(pair)
    return sorted(alarms, key=lambda a: (a['member_id'], a['alarm']))


def non_alarm_errors(errors):
    """The errors of a status that are not just the report of an active alarm."""
    return [text for text in errors if not _ALARM_IN_ERRORS.search(text)]


def parse_member(message):
    return {
        'id': member_id_hex(field(message, 'ID')),
        'name': field(message, 'name') or '',
        'peer_urls': list(field(message, 'peerURLs') or field(message, 'peerUrls') or []),
        'client_urls': list(field(message, 'clientURLs') or field(message, 'clientUrls') or []),
        'is_learner': bool(field(message, 'isLearner', False)),
    }


def parse_member_list(message):
    """MemberListResponse -> list of members, in etcd's order."""
    return [parse_member(m) for m in (field(message, 'members') or [])]


def parse_alarms(message):
    """AlarmResponse -> [{'member_id': hex, 'alarm': 'NOSPACE'}], sorted for stable output."""
    alarms = []
    for item in field(message, 'alarms') or []:
        alarm = field(item, 'alarm') or 'NONE'
        if alarm == 'NONE':
            continue
        alarms.append({'member_id': member_id_hex(field(item, 'memberID')) or '0000000000000000',
                       'alarm': alarm})
    return sorted(alarms, key=lambda a: (a['member_id'], a['alarm']))


def metric_value(text, name):
    """The value of the metric ``name`` (its first sample) on a Prometheus ``/metrics`` page, as an
    int; None when the page lacks it or the value is not a finite number."""
    match = re.search(_METRIC_LINE % re.escape(name), to_text(text), re.MULTILINE)
    if not match:
        return None
    try:
        return int(float(match.group(1)))
    except (ValueError, OverflowError):
        # NaN, +Inf: not a number of bytes or revisions.
        return None


def quota_from_metrics(text):
    """The quota in force from a member's Prometheus ``/metrics`` page, or None."""
    return metric_value(text, 'etcd_server_quota_backend_bytes')


def compact_revision_from_metrics(text):
    """The revision of the member's last compaction (``etcd_debugging_mvcc_compact_revision``; -1
    before the first one, as etcd reports it), or None when the page lacks it."""
    return metric_value(text, 'etcd_debugging_mvcc_compact_revision')


def keys_from_metrics(text):
    """How many keys the member holds (``etcd_debugging_mvcc_keys_total``, etcd 3.4 to 3.7), or None
    when the page lacks it."""
    return metric_value(text, 'etcd_debugging_mvcc_keys_total')


def history(revision, compact_revision):
    """How many revisions of history a member keeps: what a compaction to ``revision`` would drop.

    ``revision`` minus ``compact_revision``; never compacted (-1), the history starts at revision 1,
    the empty store. None when the compacted revision is unknown."""
    if compact_revision is None or revision is None:
        return None
    return max(revision - max(compact_revision, 1), 0)


def quota_usage(db_size, quota_bytes):
    if not quota_bytes:
        return None
    return round(db_size / float(quota_bytes), 6)


def compare_hashes(hashes):
    """Compare members' ``hashkv`` answers taken at one revision: ``hashes`` maps a member's name to
    its answer (``hash``, ``compact_revision``).

    A hash covers the revisions after the compact revision the member answers with, so only hashes
    with the same compact revision say anything about each other (etcd's own corruption check
    compares those only). They differ after a restart: at a compaction etcd 3.5.5+ hashes the
    revisions it compacted and keeps that hash in memory, answering with the previous compact
    revision for the compaction's own revision; a member restarted since hashes after the
    compaction instead (measured on 3.6.16, docs/faults.md). The largest group of equal compact
    revisions (the newest on a tie) is compared; the other members are ``not_comparable``.

    Returns ``equal`` (True, False, or None with fewer than two hashes compared), ``compared``
    (names), ``compact_revision`` (the group's) and ``not_comparable`` (name -> compact revision).
    """
    groups = {}
    for name in sorted(hashes):
        groups.setdefault(hashes[name].get('compact_revision'), []).append(name)
    if not groups:
        return dict(equal=None, compared=[], compact_revision=None, not_comparable={})
    revision = max(groups, key=lambda rev: (len(groups[rev]), rev if rev is not None else -1))
    compared = groups[revision]
    distinct = set(hashes[name]['hash'] for name in compared)
    return dict(
        equal=(len(distinct) == 1) if len(compared) > 1 else None,
        compared=compared,
        compact_revision=revision,
        not_comparable=dict((name, hashes[name].get('compact_revision'))
                            for name in sorted(hashes) if name not in compared),
    )
