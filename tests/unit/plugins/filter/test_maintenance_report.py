# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report (filter maintenance_report, laid out by the role's templates/report.md.j2) over
preflights of recorded statuses: status, nothing due, maintained, stopped, refused, check mode,
snapshot runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:
    from ansible.template import trust_as_template  # ansible-core 2.19: only trusted text is a template
except ImportError:
    def trust_as_template(text):
        return text

from ansible_collections.etcdops.etcd.plugins.filter.maintenance_plan import FilterModule as PlanFilters
from ansible_collections.etcdops.etcd.plugins.filter.maintenance_report import FilterModule
from ansible_collections.etcdops.etcd.plugins.filter.postflight_findings import FilterModule as PostflightFilters
from ansible_collections.etcdops.etcd.plugins.filter.turns_done import FilterModule as TurnsFilters
from ansible_collections.etcdops.etcd.tests.unit.plugins.filter.test_preflight_findings import HOSTS, Cluster
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import RECORDED_VERSIONS

maintenance_report = FilterModule().filters()['maintenance_report']
maintenance_plan = PlanFilters().filters()['maintenance_plan']
postflight_findings = PostflightFilters().filters()['postflight_findings']
turns_done = TurnsFilters().filters()['turns_done']

TEMPLATE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'maintenance', 'templates',
                        'report.md.j2')
RULE = 'db_size > `0`'


def render(report):
    """The report's Markdown lines, as the role renders them."""
    with open(TEMPLATE) as handle:
        text = Templar(loader=DataLoader(), variables={'r': report}).template(trust_as_template(handle.read()))
    return text.strip().split('\n')


def run(version, due=('etcd-a', 'etcd-b', 'etcd-c'), down=(), stop_at=None, check_mode=False, mode='maintenance'):
    """A cluster of ``version`` through preflight, plan and (maintenance) one etcd_defrag run over the plan,
    stopped at host ``stop_at``; returns the report's arguments."""
    cluster = Cluster(version)
    reads = cluster.reads(down=down)
    for host, read in reads.items():
        if 'members' in read:
            read['members'][0].update(defrag_due=host in due, defrag_reason='rule matched' if host in due
                                      else 'rule did not match')
    preflight = cluster.findings(reads)
    planned = maintenance_plan(preflight) if not preflight['problems'] else dict(decisions=[], plan=[])
    kwargs = dict(cluster='main', mode=mode, check_mode=check_mode, decisions=planned['decisions'],
                  plan=planned['plan'], defrag_rule=RULE)
    if preflight['problems']:
        kwargs['failure'] = ('etcd cluster main: preflight failed, nothing was changed: '
                             + '; '.join(preflight['problems']))
    elif mode == 'maintenance' and planned['plan']:
        plan = planned['plan']
        members = []
        for turn in plan:
            if turn['host'] == stop_at:
                break
            size = next(m for m in preflight['members'] if m['host'] == turn['host'])['db_size']
            members.append(dict(endpoint=cluster.urls[turn['host']], name=turn['name'], defragmented=not check_mode,
                                leader_moved_to=plan[0]['name'] if turn['is_leader'] else None,
                                db_size_after=None if check_mode else size // 2,
                                reclaimed_bytes=None if check_mode else size - size // 2, seconds=0.5))
        result = dict(members=members)
        if stop_at:
            result.update(failed=True, msg='connection refused', stopped_at=cluster.urls[stop_at])
        done = turns_done(plan, plan, result, preflight, cluster.urls, check_mode)
        kwargs['results'] = done['records']
        if done['stopped']:
            kwargs.update(stopped_at=done['stopped']['host'], failure='etcd cluster main: stopped at member %s'
                          % done['stopped']['name'])
        else:
            after = cluster.reads()
            for read in after.values():
                read['members'][0]['hashkv'] = {'hash': 42, 'revision': 5}
            kwargs['postflight'] = postflight_findings(after, HOSTS, 5)
    return preflight, kwargs


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_status_of_a_healthy_cluster(version):
    preflight, kwargs = run(version, mode='status', due=('etcd-b',))
    report = maintenance_report(preflight, **kwargs)
    assert report['result'] == 'ok' and report['failure'] is None
    assert [m['host'] for m in report['members']] == HOSTS
    assert [m['role'] for m in report['members']] == ['leader', 'follower', 'follower']
    assert [m['due'] for m in report['members']] == [False, True, False]
    lines = render(report)
    assert lines[0] == '# etcd cluster main: ok'
    assert lines[-5].startswith('| member | host | role | health |')
    assert lines[-2].startswith('| %s | etcd-b | follower | healthy |' % report['members'][1]['name'])
    assert lines[-2].endswith('| yes: rule matched |')


def test_status_with_a_member_down():
    preflight, kwargs = run(RECORDED_VERSIONS[-1], mode='status', down=('etcd-c',))
    report = maintenance_report(preflight, **kwargs)
    assert report['result'] == 'problems found'
    down = report['members'][-1]
    assert down['host'] == 'etcd-c' and down['reachable'] is False and down['role'] == '?'
    assert down['action'] == 'DOWN: %s' % down['error']
    lines = render(report)
    assert lines[2].startswith('**etcd cluster main: preflight failed')
    assert lines[-1].startswith('| %s | etcd-c | ? | DOWN: ' % (down['name'] or '?'))


def test_a_host_ansible_cannot_reach():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    reads = cluster.reads()
    reads['etcd-a'] = dict(unreachable=True, msg='Task failed: Failed to connect to the host via ssh: refused')
    preflight = cluster.findings(reads)
    report = maintenance_report(preflight, cluster='main', mode='status', check_mode=False, decisions=[], plan=[],
                                defrag_rule=RULE, failure='etcd cluster main: preflight failed')
    row = report['members'][0]
    assert row['action'] == 'HOST UNREACHABLE: Failed to connect to the host via ssh: refused'
    assert render(report)[-3].startswith('| %s | etcd-a | ? | HOST UNREACHABLE: Failed to connect' % row['name'])


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_maintained_members_come_first_in_their_order(version):
    preflight, kwargs = run(version)
    report = maintenance_report(preflight, **kwargs)
    assert report['result'] == 'maintained'
    assert [m['host'] for m in report['members']] == ['etcd-b', 'etcd-c', 'etcd-a']
    leader = report['members'][-1]
    assert leader['role'] == 'leader, leadership moved to %s' % report['members'][0]['name']
    assert [m['action'] for m in report['members']] == ['defragmented (rule matched)'] * 3
    assert report['reclaimed_bytes'] == sum(m['reclaimed_bytes'] for m in report['members'])
    assert report['postflight_summary'] == 'OK, hashes of the keyspace at revision 5: equal on 3 members'
    assert [m['db_size_in_use_after'] for m in report['members']] == [
        m['db_size_in_use'] for m in report['members']]
    lines = render(report)
    assert lines[0] == '# etcd cluster main: maintained'
    assert '- postflight: OK, hashes of the keyspace at revision 5: equal on 3 members' in lines
    assert any(line.startswith('- reclaimed in total: ') for line in lines)


def test_nothing_due():
    preflight, kwargs = run(RECORDED_VERSIONS[0], due=())
    report = maintenance_report(preflight, **kwargs)
    assert report['result'] == 'nothing due'
    assert {m['action'] for m in report['members']} == {'left alone (rule did not match)'}
    assert ('- no compaction due (no history to compact) and no member needs a defragmentation '
            '(rule: %s): nothing was changed' % RULE) in render(report)


def test_stopped_at_a_member():
    preflight, kwargs = run(RECORDED_VERSIONS[0], stop_at='etcd-c')
    report = maintenance_report(preflight, **kwargs)
    assert report['result'] == 'stopped'
    assert [(m['host'], m['action']) for m in report['members']] == [
        ('etcd-b', 'defragmented (rule matched)'), ('etcd-a', 'not reached'),
        ('etcd-c', 'FAILED, the maintenance stopped here')]


def test_stopped_leaves_members_not_due_untouched():
    preflight, kwargs = run(RECORDED_VERSIONS[0], due=('etcd-b', 'etcd-c'), stop_at='etcd-c')
    report = maintenance_report(preflight, **kwargs)
    actions = dict((m['host'], m['action']) for m in report['members'])
    assert actions == {'etcd-b': 'defragmented (rule matched)', 'etcd-c': 'FAILED, the maintenance stopped here',
                       'etcd-a': 'not touched'}


def test_refused_by_the_preflight():
    preflight, kwargs = run(RECORDED_VERSIONS[0], down=('etcd-b',))
    report = maintenance_report(preflight, **kwargs)
    assert report['result'] == 'refused'


def test_check_mode():
    preflight, kwargs = run(RECORDED_VERSIONS[0], check_mode=True)
    report = maintenance_report(preflight, **kwargs)
    assert report['result'] == 'would maintain' and report['check_mode'] is True
    assert {m['action'] for m in report['members']} == {'would defragment (rule matched)'}
    assert report['members'][-1]['role'].startswith('leader, leadership would be moved to ')
    assert {m['db_size_in_use_after'] for m in report['members']} == {None}
    lines = render(report)
    assert lines[0] == '# etcd cluster main: would maintain (check mode: nothing was changed)'
    assert all(line.endswith('| - | - | - |') for line in lines if 'would defragment' in line)


SNAPSHOT_LINE = ': /b/s.db (revision 9, from member etcd-2, 1.00 KB)'


@pytest.mark.parametrize('changed, check_mode, result, line', [
    (True, False, 'snapshot taken', '- snapshot' + SNAPSHOT_LINE),
    (True, True, 'would take a snapshot', '- snapshot that would be taken' + SNAPSHOT_LINE),
    (False, False, 'snapshot already up to date', '- snapshot (already up to date)' + SNAPSHOT_LINE),
])
def test_snapshot_runs(changed, check_mode, result, line):
    preflight, kwargs = run(RECORDED_VERSIONS[0], mode='snapshot', check_mode=check_mode)
    snapshot = dict(changed=changed, path='/b/s.db', size=1024, revision=9, member={'name': 'etcd-2'})
    report = maintenance_report(preflight, **dict(kwargs, snapshot=snapshot))
    assert report['result'] == result
    assert report['snapshot'] == dict(path='/b/s.db', size=1024, revision=9, member='etcd-2', new=changed)
    assert [text for text in render(report) if text.startswith('- snapshot')] == [line]


@pytest.mark.parametrize('postflight, summary', [
    (dict(problems=[], hash_revision=5, hashes_equal=None, hashes={}, hash_skipped='etcd < 3.5.16: a (3.5.1)',
          hash_errors=[]), 'OK, hashes of the keyspace at revision 5: skipped (etcd < 3.5.16: a (3.5.1))'),
    (dict(problems=['x'], hash_revision=5, hashes_equal=False, hashes={'a': 1, 'b': 2}, hash_skipped=None,
          hash_errors=[]), 'FAILED: x, hashes of the keyspace at revision 5: DIFFERENT'),
    (dict(problems=[], hash_revision=5, hashes_equal=None, hashes={}, hash_skipped=None, hash_errors=[]),
     'OK, hashes of the keyspace at revision 5: skipped (fewer than two members)'),
    (dict(problems=[], hash_revision=5, hashes_equal=True, hashes={'a': 1, 'b': 1, 'c': 2}, hash_skipped=None,
          hash_errors=[], hash_not_comparable=['c (restarted)']),
     'OK, hashes of the keyspace at revision 5: equal on 2 members; not comparable: c (restarted)'),
    (dict(problems=[], hash_revision=5, hashes_equal=None, hashes={'a': 1, 'c': 2}, hash_skipped=None,
          hash_errors=[], hash_not_comparable=['c (restarted)']),
     'OK, hashes of the keyspace at revision 5: skipped (not comparable: c (restarted))'),
])
def test_postflight_summary(postflight, summary):
    preflight, kwargs = run(RECORDED_VERSIONS[0])
    assert maintenance_report(preflight, **dict(kwargs, postflight=postflight))['postflight_summary'] == summary


def test_compaction_and_nospace_lines():
    preflight, kwargs = run(RECORDED_VERSIONS[0])
    preflight = dict(preflight, nospace=True)
    report = maintenance_report(preflight, **dict(kwargs, compaction={'changed': True, 'revision': 77},
                                                  disarm={'disarmed': [{'alarm': 'NOSPACE'}]}))
    assert report['compacted_to'] == 77 and report['nospace_disarmed'] is True
    lines = render(report)
    assert '- history compacted to revision 77' in lines and '- NOSPACE alarm disarmed' in lines


@pytest.mark.parametrize('preflight', ['x', {}, {'members': 'x'}])
def test_not_a_preflight_is_a_filter_error(preflight):
    with pytest.raises(AnsibleFilterError, match='maintenance_report'):
        maintenance_report(preflight, 'main', 'status')


def test_a_preflight_member_without_state_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='maintenance_report: not a preflight'):
        maintenance_report({'members': [{'host': 'a'}], 'problems': [], 'warnings': []}, 'main', 'status')
