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
    assert set(result['decisions'][0]) == {'host', 'name', 'id', 'is_leader', 'due', 'reason'}


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
