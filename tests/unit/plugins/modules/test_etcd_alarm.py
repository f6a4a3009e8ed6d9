# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which alarms etcd_alarm disarms, and why it leaves some alone."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.etcdops.etcd.plugins.module_utils.members import find_member
from ansible_collections.etcdops.etcd.plugins.modules import etcd_alarm

QUOTA = 16 * 1024 * 1024


def member(name, member_id, db_size=QUOTA // 2, reachable=True, is_learner=False):
    return dict(name=name, id=member_id, endpoint='http://127.0.0.1:%d' % (2379 + int(member_id[-1])),
                client_urls=['http://127.0.0.1:%d' % (2379 + int(member_id[-1]))], reachable=reachable,
                is_learner=is_learner, db_size=db_size if reachable else None,
                quota_bytes=QUOTA if reachable else None,
                quota_usage=(db_size / float(QUOTA)) if reachable else None)


def cluster(members, alarms):
    return dict(members=members, alarms=alarms)


NOSPACE = {'member_id': '0000000000000001', 'alarm': 'NOSPACE'}
CORRUPT = {'member_id': '0000000000000002', 'alarm': 'CORRUPT'}
MEMBERS = [member('etcd-1', '0000000000000001'), member('etcd-2', '0000000000000002'),
           member('etcd-3', '0000000000000003')]


def test_find_member_by_name_id_and_url():
    assert find_member(MEMBERS, 'etcd-2')['id'] == '0000000000000002'
    assert find_member(MEMBERS, '2')['name'] == 'etcd-2'
    assert find_member(MEMBERS, 'http://127.0.0.1:2382/')['name'] == 'etcd-3'
    assert find_member(MEMBERS, 'nope') is None


def test_nospace_is_disarmed_when_every_member_is_under_quota():
    to_disarm, kept, warnings = etcd_alarm.plan_disarm(cluster(MEMBERS, [NOSPACE]), 'NOSPACE', None, False)
    assert to_disarm == [NOSPACE]
    assert kept == [] and warnings == []


def test_nospace_is_kept_while_a_member_is_near_its_quota():
    # Measured: NOSPACE raised with the file at 94 % of a 16 MiB quota (a 1 MiB write would cross it).
    members = [member('etcd-1', '0000000000000001', db_size=15773696)] + MEMBERS[1:]
    to_disarm, kept, _warnings = etcd_alarm.plan_disarm(cluster(members, [NOSPACE]), 'NOSPACE', None, False)
    assert to_disarm == []
    assert 'etcd-1 is at 94 % of its quota' in kept[0]['reason']
    to_disarm, kept, _warnings = etcd_alarm.plan_disarm(cluster(members, [NOSPACE]), 'NOSPACE', None, False,
                                                        max_quota_usage=0.95)
    assert to_disarm == [NOSPACE] and kept == []


def test_nospace_is_kept_while_a_member_is_at_its_quota():
    members = [member('etcd-1', '0000000000000001', db_size=QUOTA)] + MEMBERS[1:]
    to_disarm, kept, warnings = etcd_alarm.plan_disarm(cluster(members, [NOSPACE]), 'NOSPACE', None, False)
    assert to_disarm == []
    assert 'etcd-1 is at 100 % of its quota' in kept[0]['reason']
    assert warnings and 'Not disarming NOSPACE' in warnings[0]
    forced, kept, _warnings = etcd_alarm.plan_disarm(cluster(members, [NOSPACE]), 'NOSPACE', None, True)
    assert forced == [NOSPACE] and kept == []


def test_nospace_is_kept_while_a_member_cannot_be_checked():
    members = MEMBERS[:2] + [member('etcd-3', '0000000000000003', reachable=False)]
    to_disarm, kept, _warnings = etcd_alarm.plan_disarm(cluster(members, [NOSPACE]), 'NOSPACE', None, False)
    assert to_disarm == []
    assert 'cannot be reached' in kept[0]['reason']


def test_a_learner_over_quota_does_not_block():
    members = MEMBERS + [member('learner', '0000000000000004', db_size=QUOTA * 2, is_learner=True)]
    to_disarm, _kept, _warnings = etcd_alarm.plan_disarm(cluster(members, [NOSPACE]), 'NOSPACE', None, False)
    assert to_disarm == [NOSPACE]


def test_corrupt_needs_force():
    to_disarm, kept, _warnings = etcd_alarm.plan_disarm(cluster(MEMBERS, [NOSPACE, CORRUPT]), 'all', None, False)
    assert to_disarm == [NOSPACE]
    assert kept[0]['alarm'] == 'CORRUPT' and 'force' in kept[0]['reason']
    to_disarm, kept, _warnings = etcd_alarm.plan_disarm(cluster(MEMBERS, [NOSPACE, CORRUPT]), 'all', None, True)
    assert to_disarm == [NOSPACE, CORRUPT] and kept == []


def test_disarm_restricted_to_one_member_and_one_type():
    other = {'member_id': '0000000000000003', 'alarm': 'NOSPACE'}
    alarms = [NOSPACE, CORRUPT, other]
    to_disarm, _kept, _warnings = etcd_alarm.plan_disarm(cluster(MEMBERS, alarms), 'NOSPACE', MEMBERS[2], False)
    assert to_disarm == [other]
    to_disarm, kept, _warnings = etcd_alarm.plan_disarm(cluster(MEMBERS, alarms), 'CORRUPT', None, False)
    assert to_disarm == [] and len(kept) == 1
