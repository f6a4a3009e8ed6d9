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
