# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the maintenance role finds about a cluster before it changes anything (its preflight).

Pure functions over etcd_status results, shared by the role's filter plugins (which run them on the
controller) and their unit tests. Nothing here talks to etcd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.etcdops.etcd.plugins.module_utils.api import compare_hashes, quota_usage
from ansible_collections.etcdops.etcd.plugins.module_utils.leadership import best_successor
from ansible_collections.etcdops.etcd.plugins.module_utils.rules import (
    LEARNER_REASON,
    compact_verdict,
    planned,
    rule_problem,
    verdict,
)
from ansible_collections.etcdops.etcd.plugins.module_utils.stalls import (
    DEFAULT_COPY_RATE_MIB,
    predict_stall,
    stall_message,
    stall_refusal,
)
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import version_problems


def hostvar(hostvars, host, name, default=None):
    """A variable of another host (``hostvars[host][name]``), ``default`` when it has none."""
    try:
        return hostvars[host][name]
    except KeyError:
        return default


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def split_reads(hosts, client_urls, own_reads, whole=None):
    """Each host's read in the shape of one host's own etcd_status run.

    ``own_reads`` maps each host to its own run (member mode, or controller mode without shared
    connection options); with ``whole``, the coordinator's single run over every member (one-read
    mode), the whole run is split per host instead: the host's member alone in ``members``, or
    ``endpoint`` and ``msg`` when it did not answer. A host without a read gets ``{}``.
    """
    reads = {}
    for host in hosts:
        url = client_urls[host].rstrip('/')
        if whole is None:
            read = dict(own_reads.get(host) or {})
        elif 'members' not in whole:
            # The run failed as a whole (no member answered).
            read = dict(whole, endpoint=url)
        else:
            found = [m for m in whole['members'] if m.get('endpoint') == url]
            if found and found[0].get('reachable'):
                read = dict(whole, members=found)
            else:
                read = dict(endpoint=url, msg='; '.join(found[0].get('errors') or []) if found else 'not in the answer')
        reads[host] = read
    return reads


def _unreachable_reason(read):
    """Ansible's reason for an unreachable host, without ansible-core 2.19's "Task failed: " prefix."""
    return re.sub(r'^Task failed: ', '', str(read.get('msg') or 'no reason given'))


def unreached(host, read, during=None):
    """The sentence for a host Ansible could not reach (its task registered ``unreachable``), else
    None. Before anything ran, its member was not asked: the fix is the host's connection, not etcd.
    ``during``: the step the task was (a connection that drops mid-task may leave it done in part)."""
    if not read.get('unreachable'):
        return None
    why = _unreachable_reason(read)
    if during:
        effect = ': %s may have run in part, if the connection dropped during it (the rerun reads every member ' \
                 'first);' % during
    else:
        effect = ', so its member was not asked:'
    return ("Ansible cannot reach host %s (%s)%s fix the host's connection (ansible_host, ansible_port, ssh), or "
            "run with maintenance_run_from=controller, which asks every member from the controller"
            % (host, why, effect))


def _no_answer(host, read):
    """Why a host's read holds no member: Ansible could not reach the host, or etcd did not answer."""
    why = unreached(host, read)
    return ': ' + why if why else ' does not answer: %s' % read.get('msg', 'the host could not be reached')


def _listed_member(member_list, endpoint, address, taken_ids):
    """The member-list entry of a host that did not answer: by its client URL, else by its address."""
    found = None
    for listed in member_list or []:
        if endpoint in listed['client_urls']:
            found = listed
    if found is None:
        pattern = re.compile('//' + re.escape(address) + ':')
        for listed in member_list or []:
            if listed['id'] not in taken_ids and any(pattern.search(url) for url in listed['client_urls']):
                return listed
    return found


def preflight_findings(reads, hosts, cluster, client_urls, host_facts, run_from='member',
                       min_free_disk_ratio=1.1, max_raft_lag=1000, defrag_rule=None, compact_rule=None):
    """The preflight of one cluster: its members as read, the problems that forbid any change, the
    warnings, the alarms, the leader, the successor for the leader's turn and the snapshot's host.

    ``reads`` maps each host to its read (split_reads); ``hosts`` are the cluster's hosts in
    inventory order; ``client_urls`` each host's client URL; ``host_facts`` each host's
    ``address`` (ansible_host or its name) and ``data_dir`` (etcd_data_dir, or None). With
    ``defrag_rule``, each member that answered gets ``defrag_due`` and ``defrag_reason`` as
    etcd_status's ``defrag_rule`` gives them (the rule evaluated here, on the controller); with
    ``compact_rule``, ``compact_due`` and ``compact_reason`` likewise (rules.compact_verdict).
    """
    problems, warnings, members, ids, cluster_ids, leaders, alarms = [], [], [], [], [], [], []
    expression = compaction = None
    if defrag_rule is not None:
        expression, why = rule_problem(defrag_rule)
        if why:
            problems.append('maintenance_defrag_rule cannot be used: %s' % why)
    if compact_rule is not None:
        compaction, why = rule_problem(compact_rule)
        if why:
            problems.append('maintenance_compact_rule cannot be used: %s' % why)
    member_list = next((reads[h]['member_list'] for h in hosts if 'member_list' in reads[h]), None)
    for host in hosts:
        status = reads[host]
        facts = host_facts.get(host) or {}
        if len(status.get('members') or []) != 1:
            endpoint = status.get('endpoint', client_urls[host])
            listed = _listed_member(member_list, endpoint, facts.get('address') or host, ids)
            error = status.get('msg', 'the host could not be reached')
            who = 'member %s (host %s, %s)' % (listed['name'], host, endpoint) if listed is not None \
                else 'member host %s (%s)' % (host, endpoint)
            if listed is not None:
                ids.append(listed['id'])
            problems.append(who + _no_answer(host, status))
            unreachable = bool(status.get('unreachable'))
            if unreachable:
                error = _unreachable_reason(status)
            members.append(dict(host=host, reachable=False, healthy=False, endpoint=endpoint, error=error,
                                unreachable=unreachable,
                                name=listed['name'] if listed else None, id=listed['id'] if listed else None))
            continue
        member = dict(status['members'][0], host=host)
        if expression is not None:
            member['defrag_due'], member['defrag_reason'] = verdict(member, expression, defrag_rule)
        if compaction is not None:
            member['compact_due'], member['compact_reason'] = compact_verdict(member, compaction, compact_rule)
        label = '%s (host %s, %s)' % (member['name'], host, member['endpoint'])
        if member['id'] in ids:
            other = next((m['host'] for m in members if m.get('id') == member['id']), None)
            problems.append('hosts %s and %s reach the same member %s (%s): the inventory needs one host per member'
                            % (other, host, member['name'], member['id']))
        members.append(member)
        ids.append(member['id'])
        cluster_ids.append(status.get('cluster_id'))
        leaders.append(status.get('leader'))
        alarms.extend(status.get('alarms') or [])
        if not member['healthy']:
            problems.append('member %s is not healthy: %s' % (label, '; '.join(member.get('errors') or [])
                                                              or 'it sees no leader'))
        problems.extend(_disk_problems(label, member, status.get('local_info') or {}, min_free_disk_ratio))
        warnings.extend(_host_warnings(host, member, status.get('local_info') or {}, facts.get('data_dir'),
                                       run_from))
    answered = [m for m in members if m['reachable']]
    alarms = _unique(alarms)
    if len(_unique(cluster_ids)) > 1:
        problems.append('the hosts reach different etcd clusters (cluster ids %s): set etcd_cluster per cluster'
                        % ', '.join(str(i) for i in _unique(cluster_ids)))
    unique_leaders = _unique(leaders)
    if answered and (len(unique_leaders) != 1 or unique_leaders[0] is None):
        problems.append('the members do not agree on one leader: %s'
                        % ', '.join('%s sees %s' % (m['name'], lead) for m, lead in zip(answered, leaders)))
    # A downgrade in progress, or members on two minor versions: no change until that is over.
    problems.extend(version_problems(answered))
    for listed in member_list or []:
        if listed['id'] not in ids:
            problems.append('member %s (%s, %s) is in the cluster but no host of etcd_cluster=%s in the play reaches '
                            'it: add it to the inventory (or check --limit)'
                            % (listed.get('name') or '(unstarted)', listed['id'], ' '.join(listed['client_urls']),
                               cluster))
    if member_list is not None:
        listed_ids = [listed['id'] for listed in member_list]
        problems.extend("host %s reaches member %s (%s), which is not in the cluster's member list"
                        % (m['host'], m['name'], m['id']) for m in answered if m['id'] not in listed_ids)
    problems.extend('CORRUPT alarm on member %s: the members disagree on the data; replace the corrupt member '
                    'before any maintenance' % alarm['member_id'] for alarm in alarms if alarm['alarm'] == 'CORRUPT')
    problems.extend(_lag_problems(answered, int(max_raft_lag)))
    leader = next((m for m in answered if m.get('is_leader')), None)
    successor = best_successor(answered, leader['id'] if leader else None)
    snapshot_from = successor or (leader if leader and leader['healthy'] else None)
    return dict(
        cluster=cluster,
        cluster_id=cluster_ids[0] if cluster_ids else None,
        problems=_unique(problems),
        warnings=warnings,
        members=members,
        alarms=alarms,
        nospace=any(alarm['alarm'] == 'NOSPACE' for alarm in alarms),
        leader_host=leader['host'] if leader else None,
        leader_name=leader['name'] if leader else None,
        successor_host=successor['host'] if successor else None,
        successor_id=successor['id'] if successor else None,
        successor_name=successor['name'] if successor else None,
        snapshot_host=snapshot_from['host'] if snapshot_from else None,
    )


def _disk_problems(label, member, info, min_free_disk_ratio):
    """A defragmentation rewrites the whole file: its data directory needs about that much free."""
    free = info.get('data_dir_free_bytes')
    if not info.get('found') or free is None:
        return []
    needed = int(member['db_size'] * float(min_free_disk_ratio))
    if free >= needed:
        return []
    return ['member %s: its data directory %s has %d bytes free, a defragmentation needs about %d (db size x '
            'maintenance_min_free_disk_ratio)' % (label, info['data_dir'], free, needed)]


def _host_warnings(host, member, info, data_dir, run_from):
    """What the member's own host said about its etcd process (member mode)."""
    if not info.get('found'):
        if run_from != 'member':
            return []
        return ['%s: the etcd process serving %s was not found on this host (%s): its settings and free disk were '
                'not checked (it needs become to read /proc of etcd)' % (host, member['endpoint'],
                                                                         info.get('msg', 'no answer'))]
    warnings = []
    if info.get('data_dir_free_bytes') is None:
        warnings.append('%s: free disk of %s could not be read' % (host, info['data_dir']))
    warnings.extend('%s: %s' % (host, risk) for risk in info.get('risks') or [])
    if data_dir is not None and data_dir != info['data_dir']:
        warnings.append('%s: etcd_data_dir is %s but the etcd process uses %s' % (host, data_dir, info['data_dir']))
    return warnings


def _lag_problems(answered, max_raft_lag):
    applied = [m['raft_applied_index'] for m in answered]
    if not applied:
        return []
    newest = max(applied)
    return ['member %s (host %s) lags: applied raft index %s vs %s (maintenance_max_raft_lag %s)'
            % (m['name'], m['host'], m['raft_applied_index'], newest, max_raft_lag)
            for m in answered if m['raft_applied_index'] < newest - max_raft_lag]


# What to do about an alarm that a member raised while the maintenance ran.
_RAISED_REMEDY = {
    'NOSPACE': ('a writer filled the space quota while the maintenance ran; stop or slow it, then run the '
                'maintenance again: it compacts the history, defragments every member and disarms NOSPACE'),
    'CORRUPT': ('etcd found members whose data differ; read etcd\'s guide on data corruption before any '
                'other maintenance'),
}


def _alarm_sentences(alarms, preflight_alarms, names):
    """The problems of the alarms left: those the preflight saw ("still active"), and, when the
    preflight's alarms are known, those raised during the run, each with what to do."""
    def member(alarm):
        name = names.get(alarm['member_id'])
        return 'member %s' % name if name else 'member %s' % alarm['member_id']

    if preflight_alarms is None:
        raised, kept = [], alarms
    else:
        before = [(a['member_id'], a['alarm']) for a in preflight_alarms]
        raised = [a for a in alarms if (a['member_id'], a['alarm']) not in before]
        kept = [a for a in alarms if a not in raised]
    sentences = []
    if kept:
        sentences.append('alarms still active: %s' % ', '.join('%s on %s' % (a['alarm'], member(a)) for a in kept))
    for kind in _unique([a['alarm'] for a in raised]):
        on = [member(a) for a in raised if a['alarm'] == kind]
        sentences.append('%s raised during the maintenance on %s (the preflight saw no such alarm): %s' % (
            kind, ', '.join(on), _RAISED_REMEDY.get(kind, "read the member's log before the next maintenance")))
    return sentences


def postflight_findings(reads, hosts, hash_revision, expected_alarms=(), preflight_alarms=None):
    """The postflight of one cluster after its maintenance: every member healthy, one leader, no
    alarm left but ``expected_alarms`` (names: NOSPACE in check mode, or when it is not to be
    disarmed), and the same keyspace hash at ``hash_revision`` on every member that can give one
    (etcd 3.5.16 and later; the others are reported as skipped). ``preflight_alarms``: the alarms
    the preflight saw, to tell an alarm raised during the run from one left active. ``in_use``:
    each host's db_size_in_use after (null for a member that did not answer), for the report."""
    problems, hashes, unsupported, hash_errors, leaders, alarms = [], [], [], [], [], []
    names = {}
    leader_name = None
    in_use = dict((host, None) for host in hosts)
    for host in hosts:
        status = reads[host]
        if len(status.get('members') or []) != 1:
            problems.append('member host %s%s' % (host, _no_answer(host, status)))
            continue
        member = status['members'][0]
        in_use[host] = member.get('db_size_in_use')
        names[member.get('id')] = member.get('name')
        leaders.append(status.get('leader'))
        if member.get('is_leader'):
            leader_name = member['name']
        alarms.extend(status.get('alarms') or [])
        if not member['healthy']:
            problems.append('member %s (host %s) is not healthy: %s' % (member['name'], host,
                                                                        '; '.join(member.get('errors') or [])))
        if member.get('hashkv') is not None:
            hashes.append((member['name'], member['hashkv']))
        elif (member.get('hashkv_error') or '').startswith('unsupported'):
            unsupported.append('%s (%s)' % (member['name'], member.get('version')))
        else:
            hash_errors.append('%s: %s' % (member['name'], member.get('hashkv_error') or 'no hash'))
    if len(_unique(leaders)) != 1 or leaders[0] is None:
        problems.append('the members do not agree on one leader: %s' % ', '.join(str(lead) for lead in leaders))
    alarms = _unique(alarms)
    left = [alarm for alarm in alarms if alarm['alarm'] not in expected_alarms]
    problems.extend(_alarm_sentences(left, preflight_alarms, names))
    compared = compare_hashes(dict(hashes))
    if compared['equal'] is False:
        problems.append('the members hold different data at revision %s: %s'
                        % (hash_revision, ', '.join('%s hash %s' % (name, answer['hash'])
                                                    for name, answer in hashes if name in compared['compared'])))
    # A member whose hash covers another range (restarted since the last compaction) is not compared.
    reason = ('etcd keeps the hash it takes at a compaction in memory only, so a member restarted since hashes '
              'another range; the next compaction makes them comparable again')
    not_comparable = ['%s (its hash covers the revisions after %s, the others\' after %s: %s)'
                      % (name, revision, compared['compact_revision'], reason)
                      for name, revision in sorted(compared['not_comparable'].items())]
    return dict(
        problems=problems,
        leader=leader_name,
        alarms=alarms,
        hash_revision=int(hash_revision),
        hashes_equal=compared['equal'],
        hashes=dict((name, answer['hash']) for name, answer in hashes),
        hash_skipped='etcd < 3.5.16: %s' % ', '.join(unsupported) if unsupported else None,
        hash_errors=hash_errors,
        hash_not_comparable=not_comparable,
        in_use=in_use,
    )


def compaction_decision(preflight, plan, compact=True, keep_revisions=0):
    """Whether the maintenance compacts the history first: ``due``, ``reason`` and ``history`` (the
    longest history a member reported, None when none did). Not when maintenance_compact is off or
    the history is no longer than ``keep_revisions``; else when NOSPACE is active (the recovery
    starts with it), when maintenance_compact_rule holds on a member (``compact_due``), or when a
    defragmentation is due anyway (it gives the history's pages back with the rest)."""
    answered = [m for m in preflight['members'] if m.get('reachable')]
    histories = [m['history'] for m in answered if m.get('history') is not None]
    history = max(histories) if histories else None

    def decision(due, reason):
        return dict(due=due, reason=reason, history=history)

    if not compact:
        return decision(False, 'maintenance_compact is off')
    if history == 0:
        return decision(False, 'no history to compact')
    if history is not None and history <= int(keep_revisions):
        return decision(False, 'the history (%d revisions) is within maintenance_compact_keep_revisions (%d)'
                        % (history, int(keep_revisions)))
    if preflight.get('nospace'):
        return decision(True, 'NOSPACE alarm: the recovery starts with a compaction')
    matched = [m for m in answered if m.get('compact_due')]
    if matched:
        return decision(True, '%s on member %s' % (matched[0]['compact_reason'], matched[0]['name']))
    if plan:
        return decision(True, 'a defragmentation is due: it gives the pages of the history back too')
    silent = [m for m in answered if 'compact_due' in m and m['compact_due'] is None]
    if silent:
        return decision(False, 'maintenance_compact_rule gave no answer: %s' % silent[0]['compact_reason'])
    told = [m['compact_reason'] for m in answered if m.get('compact_reason')]
    return decision(False, told[0] if told else 'no maintenance_compact_rule')


def maintenance_plan(preflight, compact=True, keep_revisions=0, earlier=None, copy_rate=DEFAULT_COPY_RATE_MIB,
                     max_stall_seconds=None):
    """What the maintenance will do to a cluster whose preflight passed: ``decisions``, each member's
    (``host``, ``name``, ``id``, ``is_leader``, ``due``, ``reason``); ``plan``, the due ones in their
    order (followers first, the leader last); ``errors``, the members nothing was decided for;
    ``compaction`` (compaction_decision); ``decide_after_compaction``: the voters not due, which are
    decided again on their status after the compaction, when one is due.

    ``earlier``: the decisions of the plan before the compaction, when ``preflight`` is the members'
    status after it. A member due then stays due (a compaction only frees pages); the others are
    decided on their status now.

    Each turn of the plan gets its predicted stall (stalls.predict_stall, at ``copy_rate`` MiB/s) and
    ``stall_upper_bound``: true when a compaction comes first (its size in use will shrink; etcd_defrag
    predicts again at its turn). ``refusals``: the turns whose prediction, not an upper bound, exceeds
    ``max_stall_seconds`` (one sentence each); the maintenance stops before any change then.
    """
    was_due = dict((d['host'], d) for d in earlier or [] if d['due'])
    decisions = []
    for member in preflight['members']:
        if member['host'] in was_due:
            decisions.append(dict(was_due[member['host']]))
            continue
        due, reason = planned(member, preflight.get('nospace'))
        if earlier is not None and due is not None and not member.get('is_learner'):
            reason = '%s, after the compaction' % reason
        decisions.append(dict(host=member['host'], name=member.get('name'), id=member.get('id'),
                              is_leader=bool(member.get('is_leader')), due=due, reason=reason))
    due = [d for d in decisions if d['due']]
    plan = [d for d in due if not d['is_leader']] + [d for d in due if d['is_leader']]
    compaction = compaction_decision(preflight, plan, compact, keep_revisions) if earlier is None else None
    later = []
    if compaction and compaction['due']:
        later = [d['host'] for d in decisions if d['due'] is False and d['reason'] != LEARNER_REASON]
        for d in decisions:
            if d['host'] in later:
                d['reason'] = '%s before the compaction; decided again after it' % d['reason']
    refusals = _predict_stalls(preflight, plan, bool(compaction and compaction['due']), copy_rate, max_stall_seconds)
    return dict(decisions=decisions, plan=plan, compaction=compaction, decide_after_compaction=later,
                refusals=refusals,
                errors=['member %s: %s' % (d['name'], d['reason']) for d in decisions if d['due'] is None])


def _predict_stalls(preflight, plan, upper_bound, copy_rate, max_stall_seconds):
    """Each turn's predicted stall, in place; the refusals of those over ``max_stall_seconds``."""
    members = dict((m['host'], m) for m in preflight['members'])
    refusals = []
    for turn in plan:
        member = members[turn['host']]
        in_use = member.get('db_size_in_use')
        if in_use is None:
            in_use = member.get('db_size')
        prediction = predict_stall(in_use, copy_rate)
        turn.update(prediction, db_size_in_use=in_use, stall_upper_bound=upper_bound)
        refusal = None if upper_bound else stall_refusal(turn['name'], in_use, prediction, max_stall_seconds)
        if refusal is not None:
            refusals.append(stall_message(member.get('endpoint'), refusal))
    return refusals


def turns_done(plan, batch, result, preflight, client_urls, check_mode=False):
    """What one etcd_defrag run over ``batch`` (consecutive turns of ``plan``) did: ``records``, one
    per turn it did, in the plan's order, with the preflight's view of the member before; and
    ``stopped``, when the run failed: the turn it stopped at (``host``, ``name``), the members done
    before it and those not touched (``done``, ``not_touched``: names, over the whole plan).

    ``result`` is the run's registered result, or the failed result in a rescue. A run that failed
    without ``stopped_at`` stopped before its first turn (its checks or the compaction).
    """
    defragged = list(result.get('members') or [])
    stopped_url = result.get('stopped_at')
    urls = [client_urls[turn['host']].rstrip('/') for turn in batch]
    if result.get('failed'):
        stop = urls.index(stopped_url.rstrip('/')) if stopped_url and stopped_url.rstrip('/') in urls else 0
    else:
        stop = len(batch)
    before = dict((m['host'], m) for m in preflight['members'])
    records = []
    for turn, defrag in zip(batch[:stop], defragged):
        member = before.get(turn['host']) or {}
        after = defrag.get('db_size_after')
        records.append(dict(
            host=turn['host'], name=turn['name'], id=turn['id'], was_leader=turn['is_leader'], reason=turn['reason'],
            leader_moved_to=defrag.get('leader_moved_to'), defragmented=not check_mode,
            db_size_before=member.get('db_size'), db_size_in_use_before=member.get('db_size_in_use'),
            db_size_after=after, reclaimed_bytes=defrag.get('reclaimed_bytes'), seconds=defrag.get('seconds'),
            predicted_stall_seconds=defrag.get('predicted_stall_seconds'),
            stall_seconds=defrag.get('stall_seconds'),
            copy_rate=defrag.get('copy_rate'), copy_rate_basis=defrag.get('copy_rate_basis'),
            quota_usage_after=quota_usage(after, member.get('quota_bytes')) if after is not None else None))
    stopped = None
    if result.get('failed'):
        names = [turn['name'] for turn in plan]
        at = plan.index(batch[stop]) if stop < len(batch) else len(plan)
        stopped = dict(host=batch[stop]['host'], name=batch[stop]['name'], done=names[:at], not_touched=names[at + 1:])
    return dict(records=records, stopped=stopped)
