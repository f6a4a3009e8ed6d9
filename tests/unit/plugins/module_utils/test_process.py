# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading etcd's settings from its command line and environment, and naming the risky ones."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import process

GIB = 1024 * 1024 * 1024
KUBEADM_ARGV = [
    'etcd', '--advertise-client-urls=https://10.0.0.11:2379', '--cert-file=/etc/kubernetes/pki/etcd/server.crt',
    '--client-cert-auth=true', '--data-dir=/var/lib/etcd', '--experimental-initial-corrupt-check=true',
    '--initial-advertise-peer-urls=https://10.0.0.11:2380', '--initial-cluster=cp1=https://10.0.0.11:2380',
    '--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.11:2379', '--listen-metrics-urls=http://127.0.0.1:2381',
    '--name=cp1', '--snapshot-count=10000',
]


def settings(**overrides):
    base = {'quota_backend_bytes': 2 * GIB, 'auto_compaction_mode': 'periodic', 'auto_compaction_retention': '1h',
            'snapshot_count': 10000}
    base.update(overrides)
    return base


# -- parse_flags -------------------------------------------------------------------------

def test_parse_flags_of_kubeadms_static_pod():
    flags = process.parse_flags(KUBEADM_ARGV)
    assert flags['name'] == 'cp1'
    assert flags['data-dir'] == '/var/lib/etcd'
    assert flags['snapshot-count'] == '10000'
    assert flags['listen-client-urls'] == 'https://127.0.0.1:2379,https://10.0.0.11:2379'
    # A value that holds '=' itself keeps it.
    assert flags['initial-cluster'] == 'cp1=https://10.0.0.11:2380'
    assert 'etcd' not in flags


def test_parse_flags_takes_separate_values_single_dashes_and_bare_booleans():
    argv = ['/usr/bin/etcd', '--name', 'etcd-1', '-data-dir', '/data', '--client-cert-auth', '--quota-backend-bytes',
            '8589934592', '--enable-pprof']
    assert process.parse_flags(argv) == {
        'name': 'etcd-1', 'data-dir': '/data', 'client-cert-auth': 'true', 'quota-backend-bytes': '8589934592',
        'enable-pprof': 'true'}


def test_parse_flags_last_one_wins():
    assert process.parse_flags(['etcd', '--snapshot-count=1', '--snapshot-count=2'])['snapshot-count'] == '2'


def test_parse_flags_of_no_flags():
    assert process.parse_flags(['etcd']) == {}
    assert process.parse_flags([]) == {}


# -- resolve -----------------------------------------------------------------------------

def test_resolve_flags_win_over_environment_over_defaults():
    flags = {'quota-backend-bytes': '8589934592', 'name': 'etcd-1'}
    environ = {'ETCD_QUOTA_BACKEND_BYTES': '1', 'ETCD_AUTO_COMPACTION_RETENTION': '8h', 'PATH': '/bin'}
    values, sources = process.resolve(flags, environ)
    assert (values['quota_backend_bytes'], sources['quota_backend_bytes']) == ('8589934592', 'flag')
    assert (values['auto_compaction_retention'], sources['auto_compaction_retention']) == ('8h', 'env')
    assert (values['auto_compaction_mode'], sources['auto_compaction_mode']) == ('periodic', 'default')
    assert (values['snapshot_count'], sources['snapshot_count']) == ('100000', 'default')
    assert (values['name'], sources['name']) == ('etcd-1', 'flag')
    assert (values['data_dir'], sources['data_dir']) == (None, 'default')
    assert values['config_file'] is None


def test_resolve_defaults_are_etcds():
    values, sources = process.resolve({}, {})
    assert values['quota_backend_bytes'] == '0'       # 0: etcd's 2 GiB default
    assert values['auto_compaction_retention'] == '0'  # 0: off
    assert values['listen_client_urls'] == 'http://localhost:2379'
    assert values['name'] == 'default'
    assert set(sources.values()) == {'default'}


# -- serves_port -------------------------------------------------------------------------

@pytest.mark.parametrize('listen, advertise, port, expected', [
    ('https://127.0.0.1:2379,https://10.0.0.11:2379', '', 2379, True),
    ('https://127.0.0.1:2379', 'https://10.0.0.11:2379', 2380, False),
    ('http://127.0.0.1:12379', '', 2379, False),
    # Only advertised (a proxy or NAT in front): still this member's client port.
    ('', 'https://etcd.example:32379', 32379, True),
    ('http://localhost:2379', '', 2379, True),
    # Broken URLs are skipped, not fatal.
    ('http://[::1, http://127.0.0.1:2379', '', 2379, True),
    ('http://127.0.0.1:99999', '', 99999, False),
    (None, None, 2379, False),
])
def test_serves_port(listen, advertise, port, expected):
    assert process.serves_port({'listen_client_urls': listen, 'advertise_client_urls': advertise},
                               port) is expected


def test_serves_port_of_the_defaults():
    values, _sources = process.resolve({}, {})
    assert process.serves_port(values, 2379)
    assert not process.serves_port(values, 2380)


# -- risks_of ----------------------------------------------------------------------------

def test_no_risk_in_sane_settings():
    assert process.risks_of(settings(), 100 << 20, 50 * GIB) == []


@pytest.mark.parametrize('retention', ['0', '0s', '0m', '0h', ''])
def test_auto_compaction_off(retention):
    risks = process.risks_of(settings(auto_compaction_retention=retention), None, None)
    assert len(risks) == 1
    assert 'auto-compaction is off' in risks[0]


@pytest.mark.parametrize('mode, retention', [('periodic', '1h'), ('periodic', '30m'), ('revision', '1000')])
def test_auto_compaction_on(mode, retention):
    assert process.risks_of(settings(auto_compaction_mode=mode, auto_compaction_retention=retention),
                            None, None) == []


def test_quota_above_8_gib():
    risks = process.risks_of(settings(quota_backend_bytes=16 * GIB), None, None)
    assert risks == ['--quota-backend-bytes is %d bytes, above the 8 GiB etcd suggests as a maximum' % (16 * GIB)]
    assert process.risks_of(settings(quota_backend_bytes=8 * GIB), None, None) == []


def test_database_near_its_quota():
    near = settings(quota_backend_bytes=10 ** 9)
    risks = process.risks_of(near, 85 * 10 ** 7, 50 * GIB)
    assert risks == ['the database (850000000 bytes) is at 85 % of its quota (1000000000 bytes): defragment, or '
                     'raise --quota-backend-bytes']
    assert process.risks_of(near, 79 * 10 ** 7, 50 * GIB) == []
    assert len(process.risks_of(near, 80 * 10 ** 7, 50 * GIB)) == 1


def test_snapshot_count_above_the_default():
    risks = process.risks_of(settings(snapshot_count=500000), None, None)
    assert len(risks) == 1
    assert '--snapshot-count is 500000' in risks[0]
    assert process.risks_of(settings(snapshot_count=100000), None, None) == []


def test_not_enough_disk_for_a_defragmentation():
    risks = process.risks_of(settings(), 300 << 20, 200 << 20)
    assert len(risks) == 1
    assert 'less than the database size' in risks[0]


def test_unknown_db_size_or_free_space_is_no_risk():
    assert process.risks_of(settings(), None, 0) == []
    assert process.risks_of(settings(), 300 << 20, None) == []


def test_every_risk_at_once():
    risky = settings(quota_backend_bytes=10 * GIB, auto_compaction_retention='0', snapshot_count=200000)
    assert len(process.risks_of(risky, 9 * GIB, GIB)) == 5


# -- etcd_processes ----------------------------------------------------------------------

def write_process(proc, pid, argv, environ=None):
    directory = proc / str(pid)
    directory.mkdir()
    directory.joinpath('cmdline').write_bytes(b'\0'.join(a.encode() for a in argv) + b'\0')
    if environ is not None:
        directory.joinpath('environ').write_bytes(b''.join(('%s=%s' % kv).encode() + b'\0' for kv in environ.items()))


def test_etcd_processes_finds_only_etcd(tmp_path):
    write_process(tmp_path, 10, ['/usr/local/bin/etcd', '--name', 'a'], {'ETCD_SNAPSHOT_COUNT': '5', 'HOME': '/'})
    write_process(tmp_path, 11, ['/usr/bin/etcdctl', 'get', 'x'], {})
    write_process(tmp_path, 12, ['sh', '-c', 'etcd'], {})
    write_process(tmp_path, 13, ['etcd', '--name', 'b'])        # environ unreadable
    write_process(tmp_path, 14, [])                              # a kernel thread
    tmp_path.joinpath('self').mkdir()
    found = sorted(process.etcd_processes(str(tmp_path)))
    assert found == [
        (10, ['/usr/local/bin/etcd', '--name', 'a'], {'ETCD_SNAPSHOT_COUNT': '5', 'HOME': '/'}),
        (13, ['etcd', '--name', 'b'], {}),
    ]
