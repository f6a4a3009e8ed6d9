# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role's plan (filter maintenance_plan) over preflights of recorded statuses."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.filter.maintenance_plan import FilterModule
from ansible_collections.etcdops.etcd.tests.unit.plugins.filter.test_preflight_findings import HOSTS, Cluster
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import RECORDED_VERSIONS

maintenance_plan = FilterModule().filters()['maintenance_plan']


def preflight(cluster, due):
    """The preflight of ``cluster`` where etcd_status's defrag_rule said ``due`` (host -> bool or None)."""
    reads = cluster.reads()
    for host, verdict in due.items():
        member = reads[host]['members'][0]
        if verdict is not None:
            member['defrag_due'] = verdict
            member['defrag_reason'] = 'rule matched' if verdict else 'rule did not match'
    return cluster.findings(reads)


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_followers_first_the_leader_last(version):
    cluster = Cluster(version)
    result = maintenance_plan(preflight(cluster, {'etcd-a': True, 'etcd-b': True, 'etcd-c': True}))
    assert [d['host'] for d in result['plan']] == ['etcd-b', 'etcd-c', 'etcd-a']
    assert result['plan'][-1]['is_leader'] is True
    assert result['errors'] == []
    assert [d['reason'] for d in result['decisions']] == ['rule matched'] * 3
    # A due member carries its predicted stall too.
    assert set(result['decisions'][0]) == {'host', 'name', 'id', 'is_leader', 'due', 'reason',
                                           'predicted_stall_seconds', 'copy_rate', 'copy_rate_basis',
                                           'db_size_in_use', 'stall_upper_bound'}


def test_nothing_due():
    result = maintenance_plan(preflight(Cluster(RECORDED_VERSIONS[-1]), dict((h, False) for h in HOSTS)))
    assert result['plan'] == [] and result['errors'] == []
    assert [d['due'] for d in result['decisions']] == [False, False, False]


def test_nospace_makes_every_voter_due_but_never_a_learner():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    cluster.member_list[2]['is_learner'] = True
    cluster.alarms = [dict(member_id=cluster.leader_id, alarm='NOSPACE')]
    result = maintenance_plan(preflight(cluster, dict((h, False) for h in HOSTS)))
    assert [(d['host'], d['reason']) for d in result['plan']] == [('etcd-b', 'NOSPACE alarm'),
                                                                  ('etcd-a', 'NOSPACE alarm')]
    assert result['decisions'][2]['due'] is False
    assert result['decisions'][2]['reason'] == 'learner: etcd cannot defragment learners'


def test_a_member_the_rule_said_nothing_of_is_an_error():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    result = maintenance_plan(preflight(cluster, {'etcd-a': True, 'etcd-b': None, 'etcd-c': False}))
    assert result['errors'] == ['member %s: no decision' % cluster.member('etcd-b')['name']]
    assert [d['host'] for d in result['plan']] == ['etcd-a']


def test_bad_input_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='takes a cluster preflight'):
        maintenance_plan([])
    with pytest.raises(AnsibleFilterError, match='has no'):
        maintenance_plan({'members': [{'name': 'x'}]})


# -- whether the history is compacted first ------------------------------------------------------

COMPACT_RULE = 'history > key_count'
LEARNER = 'learner: etcd cannot defragment learners'


def compact_preflight(cluster, due, keys, compact_rule=COMPACT_RULE):
    """The preflight of ``cluster`` where the defrag rule said ``due`` (as preflight()) and /metrics
    counted ``keys`` (host -> int, or None: not read), the compaction rule evaluated by preflight_findings.
    The recorded clusters' members all keep a history of 6 revisions."""
    reads = cluster.reads()
    for host, count in keys.items():
        reads[host]['members'][0]['key_count'] = count
    for host, verdict in due.items():
        member = reads[host]['members'][0]
        if verdict is not None:
            member['defrag_due'] = verdict
            member['defrag_reason'] = 'rule matched' if verdict else 'rule did not match'
    return cluster.findings(reads, compact_rule=compact_rule)


NOT_DUE = dict((h, False) for h in HOSTS)
FEW_KEYS = dict((h, 2) for h in HOSTS)      # history 6 > 2 keys: the rule matches everywhere
MANY_KEYS = dict((h, 50) for h in HOSTS)    # the rule matches nowhere


def with_nospace(cluster):
    cluster.alarms = [dict(member_id=cluster.leader_id, alarm='NOSPACE')]
    return cluster


def with_history(cluster, history):
    """Every member keeps ``history`` revisions (None: its /metrics could not be read)."""
    for status in cluster.statuses.values():
        status['history'] = history
        status['compact_revision'] = None if history is None else status['revision'] - history
    return cluster


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_the_compaction_rule_on_one_member_makes_the_compaction_due(version):
    cluster = Cluster(version)
    result = maintenance_plan(compact_preflight(cluster, NOT_DUE, {'etcd-a': 50, 'etcd-b': 50, 'etcd-c': 3}))
    assert result['compaction'] == dict(
        due=True, history=6,
        reason='maintenance_compact_rule matched (history 6, keys 3) on member %s' % cluster.member('etcd-c')['name'])
    assert result['plan'] == [] and result['errors'] == []


def test_compact_off_is_never_due():
    cluster = with_nospace(Cluster(RECORDED_VERSIONS[-1]))
    preflight = compact_preflight(cluster, dict((h, True) for h in HOSTS), FEW_KEYS)
    result = maintenance_plan(preflight, compact=False)
    assert result['compaction'] == dict(due=False, reason='maintenance_compact is off', history=6)
    assert result['decide_after_compaction'] == []
    assert len(result['plan']) == 3


def test_no_history_is_never_due():
    # Even under NOSPACE, with a rule that holds everywhere and defragmentations due: nothing to drop.
    cluster = with_nospace(with_history(Cluster(RECORDED_VERSIONS[-1]), 0))
    preflight = compact_preflight(cluster, dict((h, True) for h in HOSTS), FEW_KEYS, compact_rule='`true`')
    assert [m['compact_due'] for m in preflight['members']] == [True, True, True]
    result = maintenance_plan(preflight)
    assert result['compaction'] == dict(due=False, reason='no history to compact', history=0)
    assert result['decide_after_compaction'] == []
    assert len(result['plan']) == 3


@pytest.mark.parametrize('keep, due', [(6, False), (7, False), (5, True), ('6', False)])
def test_a_history_within_keep_revisions_is_not_compacted(keep, due):
    cluster = with_nospace(Cluster(RECORDED_VERSIONS[-1]))
    result = maintenance_plan(compact_preflight(cluster, NOT_DUE, FEW_KEYS), keep_revisions=keep)
    assert result['compaction']['due'] is due
    if not due:
        assert result['compaction']['reason'] == (
            'the history (6 revisions) is within maintenance_compact_keep_revisions (%d)' % int(keep))


def test_the_longest_history_is_the_one_compared_with_keep_revisions():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    lagging = cluster.statuses[cluster.member('etcd-b')['id']]
    lagging['history'] = 40
    result = maintenance_plan(compact_preflight(cluster, NOT_DUE, FEW_KEYS), keep_revisions=10)
    assert result['compaction']['history'] == 40
    assert result['compaction']['due'] is True


def test_nospace_makes_the_compaction_due_whatever_the_rule_says():
    cluster = with_nospace(Cluster(RECORDED_VERSIONS[-1]))
    cluster.member_list[2]['is_learner'] = True
    result = maintenance_plan(compact_preflight(cluster, NOT_DUE, MANY_KEYS))
    assert result['compaction'] == dict(due=True, reason='NOSPACE alarm: the recovery starts with a compaction',
                                        history=6)
    # Every voter is due already; the learner is never decided again.
    assert result['decide_after_compaction'] == []
    assert [d['host'] for d in result['plan']] == ['etcd-b', 'etcd-a']


def test_a_defragmentation_due_anyway_makes_the_compaction_due():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    result = maintenance_plan(compact_preflight(cluster, {'etcd-a': False, 'etcd-b': True, 'etcd-c': False},
                                                MANY_KEYS))
    assert result['compaction'] == dict(
        due=True, reason='a defragmentation is due: it gives the pages of the history back too', history=6)
    assert [d['host'] for d in result['plan']] == ['etcd-b']


def test_a_defragmentation_due_makes_the_compaction_due_where_the_rule_says_nothing():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    result = maintenance_plan(compact_preflight(cluster, {'etcd-a': True, 'etcd-b': False, 'etcd-c': False},
                                                dict((h, None) for h in HOSTS)))
    assert result['compaction']['due'] is True
    assert result['compaction']['reason'].startswith('a defragmentation is due')


def test_the_rule_matched_on_a_learner_makes_the_compaction_due():
    # A learner is never defragmented, but holds the history the compaction drops.
    cluster = Cluster(RECORDED_VERSIONS[-1])
    cluster.member_list[2]['is_learner'] = True
    result = maintenance_plan(compact_preflight(cluster, NOT_DUE, {'etcd-a': 50, 'etcd-b': 50, 'etcd-c': 1}))
    assert result['compaction']['due'] is True
    assert result['compaction']['reason'].endswith('on member %s' % cluster.member('etcd-c')['name'])
    assert result['decide_after_compaction'] == ['etcd-a', 'etcd-b']


def test_the_rule_matched_on_one_member_wins_over_the_silence_of_another():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    result = maintenance_plan(compact_preflight(cluster, NOT_DUE, {'etcd-a': None, 'etcd-b': 50, 'etcd-c': 1}))
    assert result['compaction']['due'] is True
    assert result['compaction']['reason'] == 'maintenance_compact_rule matched (history 6, keys 1) on member %s' % (
        cluster.member('etcd-c')['name'])


def test_a_rule_silent_for_lack_of_metrics_compacts_nothing_and_says_why():
    # keys (and history) null: a member whose /metrics could not be read.
    cluster = Cluster(RECORDED_VERSIONS[-1])
    unread = cluster.statuses[cluster.member('etcd-b')['id']]
    unread['history'] = unread['compact_revision'] = None
    result = maintenance_plan(compact_preflight(cluster, NOT_DUE, {'etcd-a': 50, 'etcd-b': None, 'etcd-c': 50}))
    assert result['compaction'] == dict(
        due=False, history=6,
        reason="maintenance_compact_rule gave no answer: rule 'history > key_count' must give true or false, but gives "
               "None for member %s: compare with a value, for example fragmentation_ratio > `0.45`"
               % cluster.member('etcd-b')['name'])
    assert result['decide_after_compaction'] == []
    # The defragmentation is decided without it: no error for the compaction rule's silence.
    assert result['errors'] == []


def test_no_history_known_anywhere_is_not_taken_for_no_history():
    cluster = with_history(Cluster(RECORDED_VERSIONS[-1]), None)
    result = maintenance_plan(compact_preflight(cluster, NOT_DUE, dict((h, None) for h in HOSTS)), keep_revisions=5)
    assert result['compaction']['history'] is None
    assert result['compaction']['due'] is False
    assert result['compaction']['reason'].startswith('maintenance_compact_rule gave no answer: ')
    # Under NOSPACE it is compacted all the same.
    result = maintenance_plan(compact_preflight(with_nospace(cluster), NOT_DUE, dict((h, None) for h in HOSTS)))
    assert result['compaction']['due'] is True


def test_a_rule_that_did_not_match_compacts_nothing():
    result = maintenance_plan(compact_preflight(Cluster(RECORDED_VERSIONS[-1]), NOT_DUE, MANY_KEYS))
    assert result['compaction'] == dict(due=False, reason='maintenance_compact_rule did not match (history 6, '
                                                          'keys 50)', history=6)
    assert result['decide_after_compaction'] == []
    assert [d['reason'] for d in result['decisions']] == ['rule did not match'] * 3


def test_without_a_compaction_rule_only_nospace_or_a_defragmentation_compacts():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    result = maintenance_plan(compact_preflight(cluster, NOT_DUE, FEW_KEYS, compact_rule=None))
    assert result['compaction'] == dict(due=False, reason='no maintenance_compact_rule', history=6)
    result = maintenance_plan(compact_preflight(cluster, {'etcd-a': True}, FEW_KEYS, compact_rule=None))
    assert result['compaction']['due'] is True


# -- the members decided again after the compaction --------------------------------------------------

def test_the_voters_not_due_are_decided_again_after_the_compaction():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    cluster.member_list[2]['is_learner'] = True
    result = maintenance_plan(compact_preflight(cluster, {'etcd-a': False, 'etcd-b': True, 'etcd-c': False},
                                                FEW_KEYS))
    assert result['compaction']['due'] is True
    # Not the due one, not the learner.
    assert result['decide_after_compaction'] == ['etcd-a']
    assert [(d['host'], d['due'], d['reason']) for d in result['decisions']] == [
        ('etcd-a', False, 'rule did not match before the compaction; decided again after it'),
        ('etcd-b', True, 'rule matched'),
        ('etcd-c', False, LEARNER)]
    assert [d['host'] for d in result['plan']] == ['etcd-b']


def test_nothing_is_decided_again_without_a_compaction():
    result = maintenance_plan(compact_preflight(Cluster(RECORDED_VERSIONS[-1]), NOT_DUE, FEW_KEYS), compact=False)
    assert result['decide_after_compaction'] == []
    assert [d['reason'] for d in result['decisions']] == ['rule did not match'] * 3


def test_a_member_without_a_decision_is_not_decided_again_but_an_error():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    result = maintenance_plan(compact_preflight(cluster, {'etcd-a': False, 'etcd-b': None, 'etcd-c': False},
                                                FEW_KEYS))
    assert result['decide_after_compaction'] == ['etcd-a', 'etcd-c']
    assert result['errors'] == ['member %s: no decision' % cluster.member('etcd-b')['name']]


# -- the plan over the status after the compaction (earlier=) ---------------------------------------

def test_after_the_compaction_the_members_due_before_stay_due_and_the_others_are_decided_again():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    cluster.member_list[2]['is_learner'] = True
    before = maintenance_plan(compact_preflight(cluster, {'etcd-a': False, 'etcd-b': True, 'etcd-c': False},
                                                FEW_KEYS))
    assert before['decide_after_compaction'] == ['etcd-a']
    # After the compaction: the leader has free pages now; the member due before no longer looks it
    # (its status after the compaction), and stays due.
    after = compact_preflight(cluster, {'etcd-a': True, 'etcd-b': False, 'etcd-c': True}, MANY_KEYS)
    result = maintenance_plan(after, earlier=before['decisions'])
    assert [(d['host'], d['due'], d['reason']) for d in result['decisions']] == [
        ('etcd-a', True, 'rule matched, after the compaction'),
        ('etcd-b', True, 'rule matched'),
        ('etcd-c', False, LEARNER)]
    # The same decision; its stall predicted again on the status after the compaction (no longer a bound).
    stall = ('predicted_stall_seconds', 'copy_rate', 'copy_rate_basis', 'db_size_in_use', 'stall_upper_bound')
    assert (dict((k, v) for k, v in result['decisions'][1].items() if k not in stall)
            == dict((k, v) for k, v in before['decisions'][1].items() if k not in stall))
    assert before['decisions'][1]['stall_upper_bound'] is True and result['decisions'][1]['stall_upper_bound'] is False
    assert [d['host'] for d in result['plan']] == ['etcd-b', 'etcd-a']
    assert result['compaction'] is None and result['decide_after_compaction'] == []
    assert result['errors'] == []


def test_after_the_compaction_a_member_still_not_due_says_so():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    before = maintenance_plan(compact_preflight(cluster, NOT_DUE, FEW_KEYS))
    assert before['decide_after_compaction'] == HOSTS
    result = maintenance_plan(compact_preflight(cluster, {'etcd-a': False, 'etcd-b': True, 'etcd-c': None},
                                                FEW_KEYS), earlier=before['decisions'])
    assert [(d['due'], d['reason']) for d in result['decisions']] == [
        (False, 'rule did not match, after the compaction'),
        (True, 'rule matched, after the compaction'),
        (None, 'no decision')]
    assert result['errors'] == ['member %s: no decision' % cluster.member('etcd-c')['name']]
    # Still under the rule after the compaction: not compacted again, not decided a third time.
    assert result['compaction'] is None and result['decide_after_compaction'] == []


def test_after_the_compaction_under_nospace_every_voter_is_due():
    cluster = with_nospace(Cluster(RECORDED_VERSIONS[-1]))
    before = maintenance_plan(compact_preflight(cluster, NOT_DUE, FEW_KEYS))
    result = maintenance_plan(compact_preflight(cluster, NOT_DUE, FEW_KEYS), earlier=before['decisions'])
    # Due before (NOSPACE) and so kept as they were.
    assert [d['reason'] for d in result['decisions']] == ['NOSPACE alarm'] * 3


def test_an_empty_earlier_plan_is_still_the_plan_after_the_compaction():
    result = maintenance_plan(compact_preflight(Cluster(RECORDED_VERSIONS[-1]), {'etcd-a': True}, FEW_KEYS),
                              earlier=[])
    assert result['decisions'][0]['reason'] == 'rule matched, after the compaction'
    assert result['compaction'] is None


def test_the_plan_has_its_new_keys():
    result = maintenance_plan(compact_preflight(Cluster(RECORDED_VERSIONS[-1]), NOT_DUE, FEW_KEYS))
    assert set(result) == {'decisions', 'plan', 'errors', 'compaction', 'decide_after_compaction', 'refusals'}
    assert set(result['compaction']) == {'due', 'reason', 'history'}


def _in_use(cluster, sizes):
    """The preflight with each host's db_size_in_use set (host -> bytes), every member due."""
    found = preflight(cluster, dict((h, True) for h in HOSTS))
    for member in found['members']:
        member['db_size_in_use'] = sizes[member['host']]
    return found


def test_each_turn_of_the_plan_has_its_predicted_stall():
    mib = 1 << 20
    cluster = Cluster(RECORDED_VERSIONS[-1])
    result = maintenance_plan(_in_use(cluster, {'etcd-a': 64 * mib, 'etcd-b': 32 * mib, 'etcd-c': 16 * mib}),
                              compact=False, copy_rate=16, max_stall_seconds=10)
    assert [(d['host'], d['predicted_stall_seconds'], d['copy_rate'], d['copy_rate_basis'], d['stall_upper_bound'])
            for d in result['plan']] == [('etcd-b', 2.0, 16.0, 'assumed', False),
                                         ('etcd-c', 1.0, 16.0, 'assumed', False),
                                         ('etcd-a', 4.0, 16.0, 'assumed', False)]
    assert result['refusals'] == []


def test_a_turn_over_the_stall_limit_is_refused_naming_the_member():
    mib = 1 << 20
    cluster = Cluster(RECORDED_VERSIONS[-1])
    found = _in_use(cluster, {'etcd-a': 64 * mib, 'etcd-b': 480 * mib, 'etcd-c': 16 * mib})
    result = maintenance_plan(found, compact=False, copy_rate=32, max_stall_seconds=10)
    member = cluster.member('etcd-b')
    endpoint = [m for m in found['members'] if m['host'] == 'etcd-b'][0]['endpoint']
    assert len(result['refusals']) == 1
    assert result['refusals'][0].startswith('%s: member %s: its defragmentation would block it for about 15.0 s '
                                            '(480 MiB in use at 32.0 MiB/s' % (endpoint, member['name']))
    # No limit: nothing refused.
    assert maintenance_plan(found, compact=False, max_stall_seconds=0)['refusals'] == []


def test_before_a_compaction_the_prediction_is_an_upper_bound_and_refuses_nothing():
    mib = 1 << 20
    cluster = Cluster(RECORDED_VERSIONS[-1])
    found = _in_use(cluster, {'etcd-a': 4000 * mib, 'etcd-b': 4000 * mib, 'etcd-c': 4000 * mib})
    result = maintenance_plan(found, copy_rate=32, max_stall_seconds=10)
    assert result['compaction']['due'] is True
    assert [d['stall_upper_bound'] for d in result['plan']] == [True, True, True]
    assert result['refusals'] == []
    # After the compaction (earlier given) the prediction is no longer a bound: refused.
    again = maintenance_plan(found, earlier=result['decisions'], copy_rate=32, max_stall_seconds=10)
    assert len(again['refusals']) == 3 and not any(d['stall_upper_bound'] for d in again['plan'])


def test_a_copy_rate_that_is_not_positive_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='copy_rate must be a positive'):
        maintenance_plan(preflight(Cluster(RECORDED_VERSIONS[-1]), {}), copy_rate=0)
