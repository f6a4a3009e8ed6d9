# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report of one cluster's run of the role etcdops.etcd.maintenance (filter maintenance_report):
what the run found, decided and did, with one row per member. The role's template
(templates/report.md.j2) lays it out; this decides what it says."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _result(mode, check_mode, failure, refused, plan, snapshot, compacted):
    if mode == 'status':
        return 'problems found' if failure else 'ok'
    if failure:
        return 'failed' if mode == 'snapshot' else 'refused' if refused else 'stopped'
    if mode == 'snapshot':
        if snapshot.get('changed'):
            return 'would take a snapshot' if check_mode else 'snapshot taken'
        return 'snapshot already up to date'
    if not plan and not compacted:
        return 'nothing due'
    return 'would maintain' if check_mode else 'maintained'


def _role(row, check_mode):
    if not row['reachable']:
        return '?'
    if row['is_leader'] or row.get('was_leader'):
        moved = row.get('leader_moved_to')
        return 'leader' + (', leadership %smoved to %s' % ('would be ' if check_mode else '', moved) if moved else '')
    return 'learner' if row['is_learner'] else 'follower'


def _action(row, check_mode, failure, stopped_at):
    if 'defragmented' in row:
        return '%s (%s)' % ('would defragment' if check_mode else 'defragmented', row['reason'])
    if row['host'] == stopped_at:
        return 'FAILED, the maintenance stopped here'
    if row['due']:
        return 'not reached'
    if row['reachable']:
        if failure:
            return 'not touched'
        return 'left alone' + (' (%s)' % row['reason'] if row['reason'] else '')
    return '%s: %s' % ('HOST UNREACHABLE' if row.get('unreachable') else 'DOWN', row['error'])


def _postflight_summary(postflight):
    if not postflight:
        return None
    if postflight['hashes_equal']:
        hashes = 'equal on %d members' % (len(postflight['hashes']) - len(postflight.get('hash_not_comparable') or []))
        if postflight.get('hash_not_comparable'):
            hashes += '; not comparable: ' + '; '.join(postflight['hash_not_comparable'])
    elif postflight['hashes_equal'] is False:
        hashes = 'DIFFERENT'
    else:
        hashes = 'skipped (%s)' % (postflight.get('hash_skipped') or '; '.join(postflight.get('hash_errors') or [])
                                   or '; '.join('not comparable: ' + text
                                                for text in postflight.get('hash_not_comparable') or [])
                                   or 'fewer than two members')
    return '%s, hashes of the keyspace at revision %s: %s' % (
        'OK' if not postflight['problems'] else 'FAILED: ' + '; '.join(postflight['problems']),
        postflight['hash_revision'], hashes)


def maintenance_report(preflight, cluster, mode, check_mode=False, decisions=None, plan=None, results=None,
                       snapshot=None, compaction=None, disarm=None, failure=None, stopped_at=None, postflight=None,
                       defrag_rule=None, compact_decision=None, decide_after_compaction=None, compact_rule=None):
    """One cluster's report: the run's ``result`` (ok, problems found, refused, stopped, nothing due,
    maintained, ... and their check-mode forms), what it found and did, and ``members``: one row per
    member, those maintained first in the order they were, then the others in inventory order, each
    with its state before, the decision, what was done (``action``, ``role``) and its sizes after.

    ``compaction`` is etcd_compact's result, ``compact_decision`` the plan's (maintenance_plan), and
    ``decide_after_compaction`` the hosts whose defragmentation was decided again after it."""
    results = results or []
    decisions = dict((d['host'], d) for d in decisions or [])
    snapshot = snapshot or {}
    compaction = compaction or {}
    compact_decision = compact_decision or {}
    compacted_to = compaction.get('revision') if compaction.get('changed') else None
    names = dict((m['host'], m.get('name') or m['host']) for m in preflight['members'])
    in_use_after = (postflight or {}).get('in_use') or {}
    done = dict((r['host'], r) for r in results)
    order = [r['host'] for r in results]
    before = preflight['members']
    members = ([m for host in order for m in before if m['host'] == host]
               + [m for m in before if m['host'] not in order])
    rows = []
    for member in members:
        decision = decisions.get(member['host']) or {}
        row = dict(
            host=member['host'], name=member.get('name'), id=member.get('id'), reachable=member['reachable'],
            healthy=member['healthy'], error=member.get('error'), unreachable=member.get('unreachable', False),
            is_leader=member.get('is_leader', False),
            is_learner=member.get('is_learner', False), version=member.get('version'),
            storage_version=member.get('storage_version'), db_size=member.get('db_size'),
            db_size_in_use=member.get('db_size_in_use'), fragmentation_ratio=member.get('fragmentation_ratio'),
            quota_usage=member.get('quota_usage'), alarms=member.get('alarms') or [],
            due=decision.get('due'), reason=decision.get('reason'),
            # The plan's prediction; a member's turn predicts again and says how long it was blocked.
            predicted_stall_seconds=decision.get('predicted_stall_seconds'), stall_seconds=None,
            stall_upper_bound=decision.get('stall_upper_bound'))
        if member['host'] in done:
            row.update(done[member['host']])
            row['db_size_in_use_after'] = None if check_mode else in_use_after.get(member['host'])
        row['role'] = _role(row, check_mode)
        row['action'] = _action(row, check_mode, failure, stopped_at)
        rows.append(row)
    return dict(
        cluster=cluster,
        mode=mode,
        check_mode=bool(check_mode),
        # Refused: it failed before anything changed (the preflight's problems, or the plan's refusals).
        result=_result(mode, check_mode, failure,
                       not results and compacted_to is None and not snapshot.get('changed'), plan, snapshot,
                       compacted_to is not None),
        failure=failure,
        problems=preflight['problems'],
        warnings=preflight['warnings'],
        leader_before=preflight.get('leader_name'),
        nospace=preflight.get('nospace', False),
        defrag_rule=defrag_rule,
        compact_rule=compact_rule,
        snapshot=dict(path=snapshot['path'], size=snapshot.get('size'), revision=snapshot.get('revision'),
                      member=(snapshot.get('member') or {}).get('name'), new=snapshot.get('changed'))
        if snapshot.get('path') else None,
        compacted_to=compacted_to,
        compaction_reason=compact_decision.get('reason'),
        compaction_due=bool(compact_decision.get('due')),
        compaction_msg=compaction.get('msg') if compaction.get('changed') is False and not compaction.get('skipped')
        else None,
        decided_after_compaction=[names.get(h, h) for h in decide_after_compaction or []],
        members=rows,
        reclaimed_bytes=sum(r['reclaimed_bytes'] for r in results if isinstance(r.get('reclaimed_bytes'), int)),
        nospace_disarmed=len((disarm or {}).get('disarmed') or []) > 0,
        postflight=postflight or None,
        postflight_summary=_postflight_summary(postflight),
    )
