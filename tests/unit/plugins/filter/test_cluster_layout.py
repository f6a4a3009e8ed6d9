# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The play's clusters (filter cluster_layout): grouping by etcd_cluster, coordinators, client URLs,
shared connection options, and one read of each host's variables however large the inventory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.filter.cluster_layout import FilterModule

cluster_layout = FilterModule().filters()['cluster_layout']


class CountingHostvars(dict):
    """hostvars that count how often each host's variables are looked up."""

    def __init__(self, *args, **kwargs):
        super(CountingHostvars, self).__init__(*args, **kwargs)
        self.lookups = {}

    def __getitem__(self, host):
        self.lookups[host] = self.lookups.get(host, 0) + 1
        return dict.__getitem__(self, host)


def test_hosts_grouped_by_cluster_in_inventory_order():
    hostvars = {
        'a1': {'etcd_cluster': 'a', 'etcd_client_url': 'https://10.0.0.1:2379'},
        'b1': {'etcd_cluster': 'b', 'ansible_host': '10.0.1.1'},
        'a2': {'etcd_cluster': 'a', 'etcd_client_url': 'https://10.0.0.2:2379'},
        'b2': {'etcd_cluster': 'b'},
        'lone': {},
    }
    layout = cluster_layout(list(hostvars), hostvars)
    assert sorted(layout) == ['a', 'b', 'default']
    assert layout['a'] == dict(hosts=['a1', 'a2'], coordinator='a1', shared_connection=True,
                               client_urls={'a1': 'https://10.0.0.1:2379', 'a2': 'https://10.0.0.2:2379'})
    # Without etcd_client_url: https on ansible_host, else on the inventory name, port 2379.
    assert layout['b']['client_urls'] == {'b1': 'https://10.0.1.1:2379', 'b2': 'https://b2:2379'}
    assert layout['b']['coordinator'] == 'b1'
    assert layout['default']['hosts'] == ['lone']


def test_cluster_names_are_strings():
    layout = cluster_layout(['x', 'y'], {'x': {'etcd_cluster': 7}, 'y': {'etcd_cluster': '7'}})
    assert list(layout) == ['7'] and layout['7']['hosts'] == ['x', 'y']


@pytest.mark.parametrize('differs', ['etcd_cacert', 'etcd_cert', 'etcd_key', 'etcd_user', 'etcd_password'])
def test_connection_options_shared_or_not(differs):
    same = {'etcd_cacert': '/ca', 'etcd_cert': '/c', 'etcd_key': '/k', 'etcd_user': 'root', 'etcd_password': 's'}
    hostvars = {'m1': dict(same), 'm2': dict(same), 'n1': dict(same, etcd_cluster='n'),
                'n2': dict(same, etcd_cluster='n', **{differs: 'other'})}
    layout = cluster_layout(list(hostvars), hostvars)
    assert layout['default']['shared_connection'] is True
    assert layout['n']['shared_connection'] is False
    # The options themselves are not in the result: no password in a fact.
    assert "'s'" not in repr(layout) and '/ca' not in repr(layout)


def test_each_host_read_once_in_a_large_inventory():
    hosts = ['c%03d-m%d' % (c, m) for c in range(100) for m in range(3)]
    hostvars = CountingHostvars((h, {'etcd_cluster': h.split('-')[0]}) for h in hosts)
    layout = cluster_layout(hosts, hostvars)
    assert len(layout) == 100
    assert all(len(c['hosts']) == 3 for c in layout.values())
    assert set(hostvars.lookups.values()) == {1}


@pytest.mark.parametrize('hosts, hostvars, match', [
    ('etcd-1', {}, "list of the play's hosts"),
    ([1, 2], {}, "list of the play's hosts"),
    (['ghost'], {}, 'no variables for host ghost'),
])
def test_bad_input_is_a_filter_error(hosts, hostvars, match):
    with pytest.raises(AnsibleFilterError, match=match):
        cluster_layout(hosts, hostvars)
