# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The defragmentation and compaction rules: JMESPath expressions over one member's etcd_status fields.

JMESPath is data, not code: a rule taken from an AWX survey cannot run anything. Used by
etcd_defrag (which defragments where it holds), by etcd_status with ``defrag_rule`` (which only
says where it holds) and, on the controller, by the role's preflight (filter preflight_findings),
so that the members' hosts need no jmespath.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

try:
    import jmespath
except ImportError:
    JMESPATH_IMPORT_ERROR = traceback.format_exc()
else:
    JMESPATH_IMPORT_ERROR = None

DEFAULT_RULE = "quota_usage > `0.8` || (fragmentation_ratio > `0.45` && db_size_free > `104857600`)"

# The role's default maintenance_compact_rule: the history holds more revisions than the keyspace has
# keys (docs/maintenance.md says why).
DEFAULT_COMPACT_RULE = "history > key_count"


LEARNER_REASON = 'learner: etcd cannot defragment learners'
NOSPACE_REASON = 'NOSPACE alarm'


class RuleError(Exception):
    pass


def compile_rule(rule):
    try:
        return jmespath.compile(rule)
    except jmespath.exceptions.JMESPathError as exc:
        raise RuleError('rule %r is not a valid JMESPath expression: %s' % (rule, exc)) from exc


def rule_holds(expression, rule, member):
    try:
        value = expression.search(member)
    except jmespath.exceptions.JMESPathError as exc:
        raise RuleError('rule %r cannot be evaluated on member %s: %s' % (rule, member['name'], exc)) from exc
    if not isinstance(value, bool):
        raise RuleError('rule %r must give true or false, but gives %r for member %s: compare with a value, '
                        'for example fragmentation_ratio > `0.45`' % (rule, value, member['name']))
    return value


def decide(member, expression, rule, force):
    """(defragment?, reason) for one member's fresh status."""
    if member['is_learner']:
        return False, LEARNER_REASON
    if force:
        return True, 'force'
    if rule_holds(expression, rule, member):
        return True, 'rule matched'
    return False, 'rule did not match'


def verdict(member, expression, rule):
    """(defrag_due, defrag_reason) of one member as etcd_status reports it: None and why for a member
    that did not answer or where the rule gives no true or false."""
    if not member['reachable']:
        return None, 'unreachable'
    try:
        return decide(member, expression, rule, False)
    except RuleError as exc:
        return None, str(exc)


def compact_verdict(member, expression, rule):
    """(compact_due, compact_reason) of one member under the compaction rule: None and why for a
    member that did not answer or where the rule gives no true or false (its /metrics could not be
    read, for example). Learners count: they hold the same history."""
    if not member['reachable']:
        return None, 'unreachable'
    figures = '(history %s, keys %s)' % (member.get('history'), member.get('key_count'))
    try:
        if rule_holds(expression, rule, member):
            return True, 'maintenance_compact_rule matched %s' % figures
        return False, 'maintenance_compact_rule did not match %s' % figures
    except RuleError as exc:
        return None, str(exc)


def rule_problem(rule):
    """(compiled rule, None), or (None, why it cannot be used) where it is not valid JMESPath or
    jmespath is missing here."""
    if JMESPATH_IMPORT_ERROR:
        return None, ('the Python package jmespath is missing on the controller, which evaluates the rule '
                      '(pip install jmespath, as json_query needs it too)')
    try:
        return compile_rule(rule), None
    except RuleError as exc:
        return None, str(exc)


def planned(member, nospace):
    """(due, reason) of one member in the maintenance role's plan: never a learner; every voter while
    NOSPACE is active (the space comes back only once each member's file is rewritten); else what
    etcd_status's ``defrag_rule`` said of it (``defrag_due``, ``defrag_reason``), None when it said
    nothing."""
    if member.get('is_learner'):
        return False, LEARNER_REASON
    if nospace:
        return True, NOSPACE_REASON
    return member.get('defrag_due'), member.get('defrag_reason', 'no decision')
