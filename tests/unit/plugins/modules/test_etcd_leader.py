# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd_leader's move(): the real EtcdClient over answers recorded from every etcd version."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import client, errors
from ansible_collections.etcdops.etcd.plugins.modules.etcd_leader import move
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import RECORDED_VERSIONS
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.test_cluster_status import RecordedCluster


class Module:
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = dict(target=None, avoid=None, wait_timeout=5)
        self.params.update(params)


@pytest.fixture(params=RECORDED_VERSIONS)
def recorded(request):
    return RecordedCluster(request.param)


def test_leadership_moves_away_from_the_leader(recorded):
    leader_name = [m['name'] for m in recorded.member_list['members'] if recorded.urls[0] in m['clientURLs']][0]
    result = move(Module(avoid=leader_name), client.EtcdClient(recorded, recorded.urls))
    assert result['changed'] is True and result['leader'] != result['previous_leader']
    assert recorded.sent('maintenance/transfer-leadership') == [recorded.urls[0]]


def test_a_cluster_without_a_leader_is_a_no_leader_error(recorded):
    for status in recorded.statuses.values():
        status.pop('leader', None)
    with pytest.raises(errors.EtcdNoLeaderError) as raised:
        move(Module(avoid='anything'), client.EtcdClient(recorded, recorded.urls))
    assert raised.value.kind == 'no_leader' and raised.value.endpoint == recorded.urls[0]
    assert 'leadership was not moved' in raised.value.message and 'quorum' in raised.value.message
    assert recorded.sent('maintenance/transfer-leadership') == []
