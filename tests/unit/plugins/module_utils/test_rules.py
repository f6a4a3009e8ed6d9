# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The defrag decision: the rule language, its errors, learners and force."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import rules

DEFAULT_RULE = "quota_usage > `0.8` || (fragmentation_ratio > `0.45` && db_size_free > `104857600`)"
MIB = 1024 * 1024


def member(**fields):
    base = dict(name='etcd-1', is_learner=False, is_leader=False, quota_usage=0.1, fragmentation_ratio=0.1,
                db_size=200 * MIB, db_size_free=20 * MIB, alarms=[])
    base.update(fields)
    return base


@pytest.mark.parametrize('fields, expected', [
    (dict(), False),
    (dict(quota_usage=0.81), True),
    (dict(fragmentation_ratio=0.5, db_size_free=150 * MIB), True),
    # Fragmented but small: not worth stalling the member for.
    (dict(fragmentation_ratio=0.9, db_size_free=50 * MIB), False),
    (dict(fragmentation_ratio=0.3, db_size_free=150 * MIB), False),
])
def test_default_rule(fields, expected):
    expression = rules.compile_rule(DEFAULT_RULE)
    assert rules.decide(member(**fields), expression, DEFAULT_RULE, False) == (
        expected, 'rule matched' if expected else 'rule did not match')


def test_rule_can_look_at_alarms():
    rule = "contains(alarms, 'NOSPACE')"
    expression = rules.compile_rule(rule)
    assert rules.rule_holds(expression, rule, member(alarms=['NOSPACE'])) is True
    assert rules.rule_holds(expression, rule, member()) is False


def test_learners_are_never_defragmented_even_with_force():
    expression = rules.compile_rule(DEFAULT_RULE)
    defrag, reason = rules.decide(member(is_learner=True, quota_usage=0.99), expression, DEFAULT_RULE, True)
    assert defrag is False
    assert 'learner' in reason


def test_force_skips_the_rule():
    assert rules.decide(member(), None, DEFAULT_RULE, True) == (True, 'force')


def test_invalid_rule_is_a_clear_error():
    with pytest.raises(rules.RuleError, match='not a valid JMESPath expression'):
        rules.compile_rule('db_size >')


def test_rule_must_give_a_boolean():
    expression = rules.compile_rule('db_size_free')
    with pytest.raises(rules.RuleError, match='must give true or false'):
        rules.rule_holds(expression, 'db_size_free', member())


def test_rule_type_errors_name_the_member():
    rule = "abs(name) > `1`"
    expression = rules.compile_rule(rule)
    with pytest.raises(rules.RuleError, match='cannot be evaluated on member etcd-1'):
        rules.rule_holds(expression, rule, member())


def test_the_modules_default_is_the_documented_one():
    assert rules.DEFAULT_RULE == DEFAULT_RULE


def test_the_verdict_of_status_and_preflight_on_each_member_without_failing_the_others():
    rule = 'db_size > `100`'
    expression = rules.compile_rule(rule)
    assert rules.verdict(member(reachable=True), expression, rule) == (True, 'rule matched')
    assert rules.verdict(member(reachable=True, db_size=1), expression, rule) == (False, 'rule did not match')
    assert rules.verdict(member(reachable=True, is_learner=True), expression, rule) == (
        False, 'learner: etcd cannot defragment learners')
    assert rules.verdict(member(reachable=False), expression, rule) == (None, 'unreachable')
    due, reason = rules.verdict(member(reachable=True), rules.compile_rule('db_size'), 'db_size')
    assert due is None
    assert 'must give true or false' in reason


# -- the compaction rule -------------------------------------------------------------------------

DEFAULT_COMPACT_RULE = 'history > key_count'


def test_the_roles_default_compaction_rule_is_the_documented_one():
    assert rules.DEFAULT_COMPACT_RULE == DEFAULT_COMPACT_RULE


@pytest.mark.parametrize('history, keys, expected', [
    (1205, 1204, True),
    (1204, 1204, False),   # as many revisions as keys: not yet
    (3, 1204, False),
    (1, 0, True),          # every key deleted, the history of them kept
    (0, 0, False),
])
def test_the_default_compaction_rule(history, keys, expected):
    expression = rules.compile_rule(rules.DEFAULT_COMPACT_RULE)
    due, reason = rules.compact_verdict(member(reachable=True, history=history, key_count=keys), expression,
                                        rules.DEFAULT_COMPACT_RULE)
    assert due is expected
    assert reason == 'maintenance_compact_rule %s (history %d, keys %d)' % (
        'matched' if expected else 'did not match', history, keys)


def test_the_compaction_verdict_of_a_member_that_did_not_answer():
    expression = rules.compile_rule(DEFAULT_COMPACT_RULE)
    # Not evaluated at all: an unreachable member has no history to compare.
    assert rules.compact_verdict(member(reachable=False, history=None, key_count=None), expression,
                                 DEFAULT_COMPACT_RULE) == (None, 'unreachable')
    assert rules.compact_verdict(member(reachable=False, history=10, key_count=1), expression,
                                 DEFAULT_COMPACT_RULE) == (None, 'unreachable')


@pytest.mark.parametrize('history, keys', [(1205, None), (None, 1204), (None, None)])
def test_the_compaction_rule_says_nothing_where_the_metrics_were_not_read(history, keys):
    # keys and history come from /metrics: null where it could not be read, and null > null is no boolean.
    expression = rules.compile_rule(DEFAULT_COMPACT_RULE)
    due, reason = rules.compact_verdict(member(reachable=True, history=history, key_count=keys), expression,
                                        DEFAULT_COMPACT_RULE)
    assert due is None
    assert reason == ("rule 'history > key_count' must give true or false, but gives None for member etcd-1: compare "
                      "with a value, for example fragmentation_ratio > `0.45`")


def test_a_compaction_rule_that_gives_no_boolean_says_nothing():
    expression = rules.compile_rule('history')
    due, reason = rules.compact_verdict(member(reachable=True, history=7, key_count=1), expression, 'history')
    assert due is None
    assert "rule 'history' must give true or false, but gives 7 for member etcd-1" in reason


def test_a_compaction_rule_that_cannot_be_evaluated_says_nothing_and_names_the_member():
    rule = 'abs(name) > `1`'
    due, reason = rules.compact_verdict(member(reachable=True, history=7, key_count=1), rules.compile_rule(rule), rule)
    assert due is None
    assert 'cannot be evaluated on member etcd-1' in reason


def test_learners_count_for_the_compaction():
    # Unlike the defragmentation: a learner holds the same history, and the compaction is cluster-wide.
    expression = rules.compile_rule(DEFAULT_COMPACT_RULE)
    assert rules.compact_verdict(member(reachable=True, is_learner=True, history=9, key_count=2), expression,
                                 DEFAULT_COMPACT_RULE) == (True, 'maintenance_compact_rule matched (history 9, keys 2)')


def test_a_compaction_rule_over_other_fields():
    rule = 'history > `1000` && quota_usage > `0.5`'
    expression = rules.compile_rule(rule)
    assert rules.compact_verdict(member(reachable=True, history=1001, quota_usage=0.6), expression, rule) == (
        True, 'maintenance_compact_rule matched (history 1001, keys None)')
    assert rules.compact_verdict(member(reachable=True, history=1001, quota_usage=0.4), expression, rule)[0] is False
