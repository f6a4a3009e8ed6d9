# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which member should lead: by target, away from avoid, never a learner."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import leadership
from ansible_collections.etcdops.etcd.plugins.module_utils.members import member_entry

IDS = {'etcd-1': '8e9e05c52164694d', 'etcd-2': '91bc3c398fb3c146', 'etcd-3': 'fd422379fda50e48',
       'etcd-4': '0000000000000abc'}


def listed(name, learner=False):
    """One member as cluster_status()'s member_list holds it (parse_member's shape)."""
    number = name.split('-')[1]
    return {'id': IDS[name], 'name': name, 'client_urls': ['https://10.0.0.%s:2379' % number],
            'peer_urls': ['https://10.0.0.%s:2380' % number], 'is_learner': learner}


def status(name, leader, applied=100, learner=False, errors=()):
    """A member's normalised maintenance/status (api.parse_status's shape)."""
    return {'id': IDS[name], 'endpoint': 'https://10.0.0.%s:2379' % name.split('-')[1], 'version': '3.5.16',
            'db_size': 1 << 20, 'db_size_in_use': 1 << 19, 'db_size_free': 1 << 19, 'fragmentation_ratio': 0.5,
            'quota_bytes': 2 << 30, 'quota_source': 'metrics', 'quota_usage': 0.0005, 'raft_term': 4,
            'raft_index': applied, 'raft_applied_index': applied, 'revision': 50, 'errors': list(errors),
            'leader': IDS[leader] if leader else None, 'is_learner': learner,
            'compact_revision': 10, 'history': 40, 'storage_version': None,
            'downgrade_info': {'enabled': False, 'target_version': None}}


def cluster(leader='etcd-1', applied=None, down=(), learners=(), unhealthy=(), only=None):
    """cluster_status()'s answer for etcd-1..etcd-3 (+ etcd-4 when it is a learner).

    ``only`` keeps just those members in ``members``, as discover=false does."""
    applied = applied or {}
    names = ['etcd-1', 'etcd-2', 'etcd-3'] + [n for n in learners if n == 'etcd-4']
    member_list = [listed(n, learner=n in learners) for n in names]
    members = []
    for item in member_list:
        name = item['name']
        if only is not None and name not in only:
            continue
        if name in down:
            entry = member_entry(item, None, [], IDS[leader])
            entry.update(endpoint=item['client_urls'][0], errors=['connection refused'], error='unreachable')
        else:
            errors = ['raft: not healthy'] if name in unhealthy else []
            entry = member_entry(item, status(name, leader, applied.get(name, 100), name in learners, errors),
                                 [], IDS[leader])
        members.append(entry)
    return {'cluster_id': 'cdf818194e3a8c32', 'leader': IDS[leader], 'healthy': True, 'alarms': [],
            'revision': 50, 'members': members, 'member_list': member_list}


# -- target ------------------------------------------------------------------------------

@pytest.mark.parametrize('target', ['etcd-2', IDS['etcd-2'], IDS['etcd-2'].upper(), 'https://10.0.0.2:2379',
                                    'https://10.0.0.2:2379/'])
def test_target_by_name_id_or_url(target):
    assert leadership.choose(cluster(), target=target)['name'] == 'etcd-2'


def test_ids_compare_as_numbers():
    assert leadership.choose(cluster(), target='0x91bc3c398fb3c146')['name'] == 'etcd-2'
    # etcd-4's id has leading zeros; it matches, then is refused as the learner it is.
    with pytest.raises(leadership.LeaderError, match='etcd-4 is a learner'):
        leadership.choose(cluster(learners=['etcd-4']), target='abc')


def test_target_that_leads_already_changes_nothing():
    assert leadership.choose(cluster(leader='etcd-3'), target='etcd-3') is None


def test_unknown_target_names_every_member():
    with pytest.raises(leadership.LeaderError) as error:
        leadership.choose(cluster(), target='etcd-9')
    message = str(error.value)
    assert "no member 'etcd-9'" in message
    for name in ('etcd-1', 'etcd-2', 'etcd-3'):
        assert '%s (%s)' % (name, IDS[name]) in message


def test_unreachable_target_is_refused():
    with pytest.raises(leadership.LeaderError, match='etcd-2 is not reachable and healthy.*connection refused'):
        leadership.choose(cluster(down=['etcd-2']), target='etcd-2')


def test_unhealthy_target_is_refused():
    with pytest.raises(leadership.LeaderError, match='etcd-3 is not reachable and healthy'):
        leadership.choose(cluster(unhealthy=['etcd-3']), target='etcd-3')


def test_learner_target_is_refused():
    with pytest.raises(leadership.LeaderError, match='etcd-4 is a learner'):
        leadership.choose(cluster(learners=['etcd-4']), target='etcd-4')


def test_target_outside_the_given_endpoints_comes_from_the_member_list():
    # discover=false with only the leader's URL: the follower is known from the member list only.
    chosen = leadership.choose(cluster(only=['etcd-1']), target=IDS['etcd-3'])
    assert chosen['id'] == IDS['etcd-3']
    assert chosen['name'] == 'etcd-3'


def test_learner_outside_the_given_endpoints_is_refused():
    with pytest.raises(leadership.LeaderError, match='etcd-4 is a learner'):
        leadership.choose(cluster(learners=['etcd-4'], only=['etcd-1']), target='etcd-4')


# -- avoid -------------------------------------------------------------------------------

def test_avoid_a_follower_changes_nothing():
    assert leadership.choose(cluster(leader='etcd-1'), avoid='etcd-2') is None


def test_avoid_the_leader_picks_the_most_caught_up_follower():
    chosen = leadership.choose(cluster(applied={'etcd-1': 120, 'etcd-2': 118, 'etcd-3': 119}), avoid='etcd-1')
    assert chosen['name'] == 'etcd-3'


def test_avoid_by_id_and_by_url():
    assert leadership.choose(cluster(), avoid=IDS['etcd-1'])['name'] in ('etcd-2', 'etcd-3')
    assert leadership.choose(cluster(), avoid='https://10.0.0.1:2379')['name'] in ('etcd-2', 'etcd-3')


def test_avoid_skips_down_unhealthy_and_learner_members():
    chosen = leadership.choose(cluster(learners=['etcd-4'], down=['etcd-2'],
                                       applied={'etcd-3': 90, 'etcd-4': 500}), avoid='etcd-1')
    assert chosen['name'] == 'etcd-3'


def test_avoid_with_no_successor_fails():
    with pytest.raises(leadership.LeaderError, match='no reachable, healthy voting member can take over'):
        leadership.choose(cluster(down=['etcd-2'], unhealthy=['etcd-3']), avoid='etcd-1')


def test_avoid_with_only_the_leader_given_asks_for_a_target():
    with pytest.raises(leadership.LeaderError, match='name one with target'):
        leadership.choose(cluster(only=['etcd-1']), avoid='etcd-1')


def test_unknown_avoid_names_every_member():
    with pytest.raises(leadership.LeaderError, match=r"no member 'etcd-9'.*etcd-3 \(%s\)" % IDS['etcd-3']):
        leadership.choose(cluster(), avoid='etcd-9')


# -- best_successor ----------------------------------------------------------------------

def test_best_successor_breaks_ties_by_name():
    assert leadership.best_successor(cluster()['members'], IDS['etcd-1'])['name'] == 'etcd-3'


def test_best_successor_of_nobody_else_is_none():
    assert leadership.best_successor(cluster(only=['etcd-1'])['members'], IDS['etcd-1']) is None


def test_best_successor_never_picks_a_learner_even_if_ahead():
    members = cluster(learners=['etcd-4'], applied={'etcd-4': 10 ** 6})['members']
    assert leadership.best_successor(members, IDS['etcd-1'])['name'] != 'etcd-4'


def test_best_successor_prefers_members_already_done():
    # etcd-3 is the most caught up by name order, but etcd-2 was already defragmented: leadership goes
    # there, so that it does not move a second time when etcd-3's own turn comes.
    members = cluster()['members']
    assert leadership.best_successor(members, IDS['etcd-1'], prefer=[IDS['etcd-2']])['name'] == 'etcd-2'
    assert leadership.best_successor(members, IDS['etcd-1'], prefer=[])['name'] == 'etcd-3'


def test_choose_passes_the_preference_on():
    data = cluster()
    successor = leadership.choose(data, avoid=IDS['etcd-1'], prefer=[IDS['etcd-2']])
    assert successor['name'] == 'etcd-2'
