# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd_compact as a module run: its options down to the calls it sends, settle among them. The real
EtcdModule and EtcdClient over answers recorded from every etcd version (RecordedCluster stands in for
the JSON gateway's transport)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.etcdops.etcd.plugins.module_utils import common, compaction
from ansible_collections.etcdops.etcd.plugins.modules import etcd_compact
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import RECORDED_VERSIONS
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.test_cluster_status import RecordedCluster


@pytest.fixture(params=RECORDED_VERSIONS)
def recorded(request, monkeypatch):
    """The transport every EtcdModule of the test builds; compaction.py's sleeps recorded in its calls."""
    cluster = RecordedCluster(request.param)
    monkeypatch.setattr(common, 'build_transport', lambda _kind, **_options: cluster)

    class Time:
        @staticmethod
        def sleep(seconds):
            cluster.calls.append((None, 'sleep %s' % seconds))

    monkeypatch.setattr(compaction, 'time', Time)
    return cluster


def run(recorded, capsys, check_mode=False, **params):
    """etcd_compact's result (it exits), with ``params`` on the recorded cluster's endpoints."""
    args = dict(endpoints=recorded.urls, **params)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args), pytest.raises(SystemExit):
        etcd_compact.main()
    return json.loads(capsys.readouterr().out)


def sent(recorded):
    return [rpc for _endpoint, rpc in recorded.calls if rpc != 'maintenance/status']


def test_a_compaction_is_settled_by_default(recorded, capsys):
    result = run(recorded, capsys)
    assert (result['changed'], result['revision'], result['settled']) == (True, 10, True)
    assert result['msg'] == 'compacted to revision 10'
    assert sent(recorded) == ['kv/range', 'kv/range', 'kv/compaction', 'lease/grant', 'lease/revoke',
                              'sleep %s' % compaction.SETTLE_INTERVAL, 'lease/grant', 'lease/revoke']
    # Both go through the first endpoint, and no lease is left behind.
    assert set(recorded.sent('lease/grant') + recorded.sent('lease/revoke')) == {recorded.urls[0]}
    assert recorded.leases == []


def test_settle_false_only_compacts(recorded, capsys):
    result = run(recorded, capsys, settle=False, keep_revisions=3)
    assert (result['changed'], result['revision'], result['settled']) == (True, 7, False)
    assert sent(recorded) == ['kv/range', 'kv/range', 'kv/compaction']


def test_nothing_is_settled_when_already_compacted(recorded, capsys):
    assert run(recorded, capsys)['changed'] is True
    del recorded.calls[:]
    result = run(recorded, capsys)
    assert (result['changed'], result['settled']) == (False, False)
    assert result['msg'] == 'already compacted to revision 10 or later'
    assert sent(recorded) == ['kv/range', 'kv/range']


def test_nothing_is_settled_in_check_mode(recorded, capsys):
    result = run(recorded, capsys, check_mode=True)
    assert (result['changed'], result['settled'], result['msg']) == (True, False, 'would compact to revision 10')
    assert sent(recorded) == ['kv/range', 'kv/range']


def test_nothing_is_settled_when_there_is_nothing_to_compact(recorded, capsys):
    result = run(recorded, capsys, keep_revisions=10)
    assert (result['changed'], result['revision'], result['settled']) == (False, 0, False)
    assert sent(recorded) == ['kv/range']


def test_a_settle_that_cannot_reach_any_member_never_says_settled(recorded, capsys):
    recorded.fail.update(('lease/grant', url) for url in recorded.urls)
    result = run(recorded, capsys)
    assert result.get('settled') is not True
    # The compaction was done once; the commits were tried on every endpoint.
    assert recorded.sent('kv/compaction') == [recorded.urls[0]]
    assert recorded.sent('lease/grant') == recorded.urls
