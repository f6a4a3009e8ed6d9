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
    # The default of --snapshot-count depends on the version: unknown here.
    assert (values['snapshot_count'], sources['snapshot_count']) == (None, 'default')
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


# -- versions and names ------------------------------------------------------------------
# The command lines and environments below are what each version starts with (checked against etcd
# 3.4.23, 3.5.30, 3.6.16 and 3.7.3); etcd refuses to start with a flag it does not have.

V3_4, V3_5_10, V3_5, V3_6, V3_7 = (3, 4, 23), (3, 5, 10), (3, 5, 30), (3, 6, 16), (3, 7, 3)
ARGV_3_5 = ['etcd', '--enable-v2', '--experimental-compaction-batch-limit=500',
            '--experimental-initial-corrupt-check', '--experimental-stop-grpc-service-on-defrag=true']
ARGV_3_6_OLD = ['etcd', '--experimental-compaction-batch-limit', '500', '--experimental-snapshot-catchup-entries=1234',
                '--experimental-stop-grpc-service-on-defrag', '--experimental-compact-hash-check-enabled=false']
ARGV_3_6_NEW = ['etcd', '--compaction-batch-limit=500', '--snapshot-catchup-entries=1234',
                '--feature-gates=StopGRPCServiceOnDefrag=true,CompactHashCheck=true,InitialCorruptCheck=true']


def read(argv, environ, version):
    flags = process.parse_flags(argv)
    values, sources = process.resolve(flags, environ, version)
    gates, gates_source = process.feature_gates(flags, environ, version)
    return values, sources, gates, gates_source


@pytest.mark.parametrize('text, expected', [
    ('3.6.16', (3, 6, 16)), ('v3.5.1', (3, 5, 1)), ('3.7.0-rc.0', (3, 7, 0)), ('3.6', None), ('', None), (None, None),
])
def test_parse_version(text, expected):
    assert process.parse_version(text) == expected


def test_env_of_and_flag_of():
    assert process.env_of('experimental-snapshot-catchup-entries') == 'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES'
    assert process.flag_of('ETCD_FEATURE_GATES') == 'feature-gates'


@pytest.mark.parametrize('flag, version, expected', [
    ('compaction-batch-limit', V3_5, False), ('compaction-batch-limit', V3_6, True),
    ('experimental-compaction-batch-limit', V3_4, True), ('experimental-compaction-batch-limit', V3_6, True),
    ('experimental-compaction-batch-limit', V3_7, False),
    # Any --experimental-* flag is gone in 3.7, named here or not.
    ('experimental-watch-progress-notify-interval', V3_6, True),
    ('experimental-watch-progress-notify-interval', V3_7, False),
    ('experimental-stop-grpc-service-on-defrag', V3_5_10, False),
    ('experimental-stop-grpc-service-on-defrag', (3, 5, 14), True),
    ('experimental-snapshot-catchup-entries', V3_4, False),
    ('enable-v2', V3_5, True), ('enable-v2', V3_6, False),
    ('feature-gates', V3_5, False), ('feature-gates', V3_7, True),
    ('snapshot-count', V3_4, True), ('snapshot-count', V3_7, True),
    ('compaction-batch-limit', None, True), ('experimental-compaction-batch-limit', None, True),
])
def test_has_flag(flag, version, expected):
    assert process.has_flag(flag, version) is expected


@pytest.mark.parametrize('text, expected', [
    ('true', True), ('1', True), ('T', True), ('TRUE', True), (' True ', True),
    ('false', False), ('0', False), ('f', False), ('FALSE', False),
    ('yes', None), ('', None), (None, None),
])
def test_parse_bool_as_go_does(text, expected):
    assert process.parse_bool(text) is expected


def test_parse_flags_merges_repeated_feature_gates():
    flags = process.parse_flags(['etcd', '--feature-gates=CompactHashCheck=true', '--feature-gates',
                                 'StopGRPCServiceOnDefrag=true'])
    assert flags['feature-gates'] == 'CompactHashCheck=true,StopGRPCServiceOnDefrag=true'


@pytest.mark.parametrize('version, expected', [(V3_4, '100000'), (V3_5, '100000'), ((3, 6, 0), '10000'),
                                               (V3_7, '10000'), (None, None)])
def test_snapshot_count_default_by_version(version, expected):
    values, sources = process.resolve({}, {}, version)
    assert (values['snapshot_count'], sources['snapshot_count']) == (expected, 'default')


def test_defaults_of_the_settings_added_in_3_5_and_3_6():
    values, sources = process.resolve({}, {}, V3_6)
    assert values['snapshot_catchup_entries'] == '5000'
    assert values['compaction_batch_limit'] == '1000'
    assert values['enable_v2'] == 'false'
    assert process.feature_gates({}, {}, V3_6) == ({}, 'default')


def test_3_4_has_no_snapshot_catchup_entries_and_ignores_its_variable():
    environ = {'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES': '1234'}
    argv = ['etcd', '--enable-v2', '--experimental-compaction-batch-limit=500', '--experimental-initial-corrupt-check']
    values, sources, gates, gates_source = read(argv, environ, V3_4)
    assert (values['snapshot_catchup_entries'], sources['snapshot_catchup_entries']) == ('5000', 'default')
    assert (values['compaction_batch_limit'], sources['compaction_batch_limit']) == ('500', 'flag')
    assert (values['enable_v2'], sources['enable_v2']) == ('true', 'flag')
    assert values['snapshot_count'] == '100000'
    # 3.4 has no feature gates: its experimental flag is reported under the gate 3.6 made of it.
    assert (gates, gates_source) == ({'InitialCorruptCheck': True}, 'flag')
    assert process.ignored_environment(environ, V3_4) == ['ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES']


def test_3_5_reads_the_experimental_names():
    environ = {'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES': '1234',
               'ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED': '1'}
    values, sources, gates, gates_source = read(ARGV_3_5, environ, V3_5)
    assert (values['compaction_batch_limit'], sources['compaction_batch_limit']) == ('500', 'flag')
    assert (values['snapshot_catchup_entries'], sources['snapshot_catchup_entries']) == ('1234', 'env')
    assert values['enable_v2'] == 'true'
    assert gates == {'InitialCorruptCheck': True, 'StopGRPCServiceOnDefrag': True, 'CompactHashCheck': True}
    assert gates_source == 'flag'
    assert process.ignored_environment(environ, V3_5) == []


def test_3_5_ignores_the_3_6_names_and_variables_of_later_patch_releases():
    environ = {'ETCD_COMPACTION_BATCH_LIMIT': '500', 'ETCD_FEATURE_GATES': 'CompactHashCheck=true',
               'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES': '1234', 'ETCD_ENABLE_V2': 'true'}
    values, sources, gates, _source = read(['etcd'], environ, V3_5_10)
    assert (values['compaction_batch_limit'], sources['compaction_batch_limit']) == ('1000', 'default')
    # --experimental-snapshot-catchup-entries came with 3.5.14.
    assert (values['snapshot_catchup_entries'], sources['snapshot_catchup_entries']) == ('5000', 'default')
    assert (values['enable_v2'], sources['enable_v2']) == ('true', 'env')
    assert gates == {}
    assert process.ignored_environment(environ, V3_5_10) == [
        'ETCD_COMPACTION_BATCH_LIMIT', 'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES', 'ETCD_FEATURE_GATES']


def test_3_6_reads_the_old_names():
    environ = {'ETCD_QUOTA_BACKEND_BYTES': '4294967296'}
    values, sources, gates, gates_source = read(ARGV_3_6_OLD, environ, V3_6)
    assert (values['compaction_batch_limit'], sources['compaction_batch_limit']) == ('500', 'flag')
    assert (values['snapshot_catchup_entries'], sources['snapshot_catchup_entries']) == ('1234', 'flag')
    assert values['snapshot_count'] == '10000'
    assert (gates, gates_source) == ({'StopGRPCServiceOnDefrag': True, 'CompactHashCheck': False}, 'flag')


def test_3_6_reads_the_new_names():
    values, sources, gates, gates_source = read(ARGV_3_6_NEW, {}, V3_6)
    assert (values['compaction_batch_limit'], sources['compaction_batch_limit']) == ('500', 'flag')
    assert (values['snapshot_catchup_entries'], sources['snapshot_catchup_entries']) == ('1234', 'flag')
    assert gates == {'StopGRPCServiceOnDefrag': True, 'CompactHashCheck': True, 'InitialCorruptCheck': True}
    assert gates_source == 'flag'


def test_3_6_reads_old_and_new_variables():
    environ = {'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES': '1234', 'ETCD_COMPACTION_BATCH_LIMIT': '500',
               'ETCD_FEATURE_GATES': ' InitialCorruptCheck=true, CompactHashCheck=1,',
               'ETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG': 'true', 'ETCD_ENABLE_V2': 'true'}
    values, sources, gates, gates_source = read(['etcd'], environ, V3_6)
    assert (values['snapshot_catchup_entries'], sources['snapshot_catchup_entries']) == ('1234', 'env')
    assert (values['compaction_batch_limit'], sources['compaction_batch_limit']) == ('500', 'env')
    assert (values['enable_v2'], sources['enable_v2']) == ('false', 'default')
    assert gates == {'InitialCorruptCheck': True, 'CompactHashCheck': True, 'StopGRPCServiceOnDefrag': True}
    assert gates_source == 'env'
    assert process.ignored_environment(environ, V3_6) == ['ETCD_ENABLE_V2']


def test_3_7_ignores_every_experimental_variable():
    environ = {'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES': '1234', 'ETCD_COMPACTION_BATCH_LIMIT': '500',
               'ETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG': 'true',
               'ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL': '5m'}
    argv = ['etcd', '--feature-gates=CompactHashCheck=true', '--snapshot-count=50000']
    values, sources, gates, gates_source = read(argv, environ, V3_7)
    assert (values['snapshot_catchup_entries'], sources['snapshot_catchup_entries']) == ('5000', 'default')
    assert (values['compaction_batch_limit'], sources['compaction_batch_limit']) == ('500', 'env')
    assert (values['snapshot_count'], sources['snapshot_count']) == ('50000', 'flag')
    assert (gates, gates_source) == ({'CompactHashCheck': True}, 'flag')
    assert process.ignored_environment(environ, V3_7) == [
        'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES', 'ETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG',
        'ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL']


def test_unknown_version_reads_every_name_and_ignores_nothing():
    environ = {'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES': '1234', 'ETCD_FEATURE_GATES': 'CompactHashCheck=true'}
    values, sources, gates, _source = read(['etcd', '--compaction-batch-limit=7'], environ, None)
    assert values['snapshot_catchup_entries'] == '1234'
    assert values['compaction_batch_limit'] == '7'
    assert gates == {'CompactHashCheck': True}
    assert process.ignored_environment(environ, None) == []
    assert process.deprecated_names({'experimental-compaction-batch-limit': '5'}, environ, None) == []


@pytest.mark.parametrize('version, alpha', [
    (V3_6, {'CompactHashCheck', 'InitialCorruptCheck', 'LeaseCheckpoint', 'LeaseCheckpointPersist',
            'SetMemberLocalAddr', 'StopGRPCServiceOnDefrag'}),
    (V3_7, {'CompactHashCheck', 'InitialCorruptCheck', 'LeaseCheckpoint', 'LeaseCheckpointPersist',
            'SetMemberLocalAddr', 'StopGRPCServiceOnDefrag', 'PriorityRequest'}),
    ((3, 8, 0), {'CompactHashCheck', 'InitialCorruptCheck', 'LeaseCheckpoint', 'LeaseCheckpointPersist',
                 'SetMemberLocalAddr', 'StopGRPCServiceOnDefrag', 'PriorityRequest'}),
])
def test_all_alpha_switches_the_alpha_gates_not_set_on_their_own(version, alpha):
    flags = {'feature-gates': 'AllAlpha=true,InitialCorruptCheck=false'}
    gates, _source = process.feature_gates(flags, {}, version)
    assert gates.pop('AllAlpha') is True
    assert gates.pop('InitialCorruptCheck') is False
    assert set(gates) == alpha - {'InitialCorruptCheck'}
    assert all(gates.values())


def test_all_beta_false_and_an_experimental_flag_beside_all_alpha():
    flags = {'feature-gates': 'AllBeta=false,AllAlpha=true', 'experimental-stop-grpc-service-on-defrag': 'false'}
    gates, _source = process.feature_gates(flags, {}, V3_6)
    assert gates['TxnModeWriteWithSharedBuffer'] is False
    # etcd 3.6 sets the gate of an experimental flag after --feature-gates: it wins over AllAlpha.
    assert gates['StopGRPCServiceOnDefrag'] is False
    assert gates['CompactHashCheck'] is True


def test_feature_gates_skip_what_is_not_key_equals_bool():
    gates, _source = process.feature_gates({'feature-gates': 'CompactHashCheck,=true,X=maybe,,Y=0'}, {}, V3_6)
    assert gates == {'Y': False}


# -- deprecated and ignored names --------------------------------------------------------

def test_deprecated_on_3_6_are_every_experimental_flag_and_variable():
    flags = process.parse_flags(ARGV_3_6_OLD + ['--experimental-watch-progress-notify-interval=5m'])
    environ = {'ETCD_EXPERIMENTAL_MEMORY_MLOCK': 'true', 'ETCD_SNAPSHOT_COUNT': '5000'}
    assert process.deprecated_names(flags, environ, V3_6) == [
        '--experimental-compact-hash-check-enabled', '--experimental-compaction-batch-limit',
        '--experimental-snapshot-catchup-entries', '--experimental-stop-grpc-service-on-defrag',
        '--experimental-watch-progress-notify-interval', 'ETCD_EXPERIMENTAL_MEMORY_MLOCK']
    assert process.deprecated_names(process.parse_flags(ARGV_3_6_NEW), {}, V3_6) == []


def test_deprecated_on_3_5_are_the_v2_flags():
    flags = process.parse_flags(ARGV_3_5 + ['--experimental-enable-v2v3=/v2/'])
    assert process.deprecated_names(flags, {}, V3_5) == ['--enable-v2', '--experimental-enable-v2v3']
    assert process.deprecated_names({'enable-v2': 'false'}, {}, V3_5) == ['--enable-v2']  # 3.6 refuses the flag
    assert process.deprecated_names({}, {'ETCD_ENABLE_V2': 'true'}, V3_5) == ['ETCD_ENABLE_V2']
    assert process.deprecated_names({}, {'ETCD_ENABLE_V2': 'false'}, V3_5) == []  # 3.6 only warns


@pytest.mark.parametrize('version', [V3_4, V3_7])
def test_nothing_deprecated_for_the_next_minor(version):
    # 3.4's --enable-v2 still works in 3.5; 3.7 has no --experimental-* flag left.
    flags = process.parse_flags(['etcd', '--enable-v2', '--experimental-compaction-batch-limit=5'])
    environ = {'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES': '5'}
    assert process.deprecated_names(flags if version == V3_4 else {}, environ, version) == []


def test_naming_risks_of_3_6_old_names():
    flags = process.parse_flags(ARGV_3_6_OLD)
    environ = {'ETCD_EXPERIMENTAL_WARNING_APPLY_DURATION': '200ms',
               'ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK': 'true'}
    risks = process.naming_risks(flags, environ, V3_6)
    assert risks == [
        '--experimental-compact-hash-check-enabled is deprecated in etcd 3.6 and gone in 3.7, which does not start '
        'with it: use --feature-gates=CompactHashCheck=false instead',
        '--experimental-compaction-batch-limit is deprecated in etcd 3.6 and gone in 3.7, which does not start with '
        'it: use --compaction-batch-limit instead',
        '--experimental-snapshot-catchup-entries is deprecated in etcd 3.6 and gone in 3.7, which does not start '
        'with it: use --snapshot-catchup-entries instead',
        '--experimental-stop-grpc-service-on-defrag is deprecated in etcd 3.6 and gone in 3.7, which does not start '
        'with it: use --feature-gates=StopGRPCServiceOnDefrag=true instead',
        'ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK is deprecated in etcd 3.6 and gone in 3.7, which ignores it (the '
        'setting falls back to its default): use ETCD_FEATURE_GATES=InitialCorruptCheck=true instead',
        'ETCD_EXPERIMENTAL_WARNING_APPLY_DURATION is deprecated in etcd 3.6 and gone in 3.7, which ignores it (the '
        'setting falls back to its default): use ETCD_WARNING_APPLY_DURATION instead',
    ]


def test_naming_risks_of_enable_v2_on_3_5():
    flag_risks = process.naming_risks({'enable-v2': 'true'}, {}, V3_5)
    assert len(flag_risks) == 1
    assert flag_risks[0].startswith('--enable-v2: the v2 API is on, which blocks the upgrade to etcd 3.6')
    assert 'does not start with --enable-v2' in flag_risks[0]
    assert 'etcdutl check v2store' in flag_risks[0]
    env_risks = process.naming_risks({}, {'ETCD_ENABLE_V2': '1'}, V3_5)
    assert env_risks[0].startswith('ETCD_ENABLE_V2=1: the v2 API is on, which blocks the upgrade to etcd 3.6')
    assert 'ignores ETCD_ENABLE_V2' in env_risks[0]
    assert process.naming_risks({'enable-v2': 'false'}, {}, V3_5) == [
        '--enable-v2 blocks the upgrade to etcd 3.6, which removed the v2 API and does not start with this flag: '
        'drop it before the upgrade']
    v2v3 = process.naming_risks({'experimental-enable-v2v3': '/v2/'}, {}, V3_5)
    assert v2v3[0].startswith('--experimental-enable-v2v3 blocks the upgrade to etcd 3.6')


def test_naming_risks_of_ignored_variables():
    assert process.naming_risks({}, {'ETCD_EXPERIMENTAL_COMPACTION_BATCH_LIMIT': '5'}, V3_7) == [
        'ETCD_EXPERIMENTAL_COMPACTION_BATCH_LIMIT is set, but etcd 3.7.3 ignores it (etcd 3.7 removed '
        '--experimental-compaction-batch-limit; use ETCD_COMPACTION_BATCH_LIMIT)']
    assert process.naming_risks({}, {'ETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG': 'true'}, V3_7) == [
        'ETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG is set, but etcd 3.7.3 ignores it (etcd 3.7 removed '
        '--experimental-stop-grpc-service-on-defrag; use ETCD_FEATURE_GATES=StopGRPCServiceOnDefrag=true)']
    assert process.naming_risks({}, {'ETCD_ENABLE_V2': 'true'}, V3_6) == [
        'ETCD_ENABLE_V2 is set, but etcd 3.6.16 ignores it (etcd 3.6 removed --enable-v2)']
    assert process.naming_risks({}, {'ETCD_COMPACTION_BATCH_LIMIT': '5', 'ETCD_FEATURE_GATES': 'X=true'}, V3_5) == [
        'ETCD_COMPACTION_BATCH_LIMIT is set, but etcd 3.5.30 ignores it (--compaction-batch-limit came with etcd '
        '3.6.0; before 3.6 it is ETCD_EXPERIMENTAL_COMPACTION_BATCH_LIMIT)',
        'ETCD_FEATURE_GATES is set, but etcd 3.5.30 ignores it (--feature-gates came with etcd 3.6.0)']
    assert process.naming_risks({}, {'ETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG': 'true'}, V3_5_10) == [
        'ETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG is set, but etcd 3.5.10 ignores it '
        '(--experimental-stop-grpc-service-on-defrag came with etcd 3.5.14)']
    assert process.naming_risks({}, {'ETCD_SNAPSHOT_CATCHUP_ENTRIES': '5'}, V3_4) == [
        'ETCD_SNAPSHOT_CATCHUP_ENTRIES is set, but etcd 3.4.23 ignores it (--snapshot-catchup-entries came with '
        'etcd 3.6.0)']


def test_no_naming_risk_for_the_new_names_or_an_unknown_version():
    assert process.naming_risks(process.parse_flags(ARGV_3_6_NEW), {'ETCD_SNAPSHOT_CATCHUP_ENTRIES': '5'}, V3_7) == []
    assert process.naming_risks(process.parse_flags(ARGV_3_5), {'ETCD_ENABLE_V2': 'true'}, None) == []


# -- version-dependent risks -------------------------------------------------------------

@pytest.mark.parametrize('version, count, expected', [
    (V3_6, 10000, None), (V3_6, 50000, '--snapshot-count is 50000, above the default of 10000 of etcd 3.6'),
    (V3_7, 100000, '--snapshot-count is 100000, above the default of 10000 of etcd 3.7'),
    (V3_5, 100000, None), (V3_5, 200000, '--snapshot-count is 200000, above the default of 100000 of etcd 3.5'),
    (None, 50000, None),
    (None, 200000, '--snapshot-count is 200000, above the default of 100000 (10000 from etcd 3.6 on)'),
])
def test_snapshot_count_above_the_versions_default(version, count, expected):
    risks = process.risks_of(settings(snapshot_count=count), None, None, version)
    assert [r.split(':')[0] for r in risks] == ([expected] if expected else [])


def test_unknown_snapshot_count_is_no_risk():
    assert process.risks_of(settings(snapshot_count=None), None, None) == []


@pytest.mark.parametrize('version, expected', [((3, 5, 1), 1), ((3, 5, 25), 1), ((3, 5, 26), 0), (V3_5, 0),
                                               (V3_4, 0), (V3_6, 0)])
def test_3_5_before_3_5_26_must_be_upgraded_within_3_5_first(version, expected):
    risks = process.risks_of(settings(), None, None, version)
    assert len(risks) == expected
    assert all('upgrade to 3.5.26 or later before 3.6' in r for r in risks)


# -- typed settings, the binary's version, the whole answer ------------------------------

def test_typed_settings_fill_in_the_defaults_of_zero():
    values, _sources = process.resolve({'snapshot-count': '0', 'compaction-batch-limit': '0'}, {}, V3_6)
    typed = process.typed_settings(1, values, V3_6)
    assert typed == {'quota_backend_bytes': 2 * GIB, 'auto_compaction_mode': 'periodic',
                     'auto_compaction_retention': '0', 'snapshot_count': 10000, 'snapshot_catchup_entries': 5000,
                     'compaction_batch_limit': 1000, 'enable_v2': False}
    unknown, _sources = process.resolve({}, {'ETCD_ENABLE_V2': 'true'}, None)
    assert process.typed_settings(1, unknown)['snapshot_count'] is None
    assert process.typed_settings(1, unknown)['enable_v2'] is True


def test_typed_settings_refuse_what_etcd_would_not_start_with():
    values, _sources = process.resolve({'compaction-batch-limit': 'lots'}, {}, V3_6)
    with pytest.raises(process.ProcessError, match=r'cannot read the settings of etcd \(pid 7\)'):
        process.typed_settings(7, values, V3_6)


def test_binary_version():
    calls = []

    def run(argv):
        calls.append(argv)
        return 'etcd Version: 3.6.16\nGit SHA: abc\n'

    assert process.binary_version(42, run) == '3.6.16'
    assert calls == [['/proc/42/exe', '--version']]


def test_binary_version_never_fails():
    # Not an etcd binary, or it could not run (EtcdModule.run_bounded gives None then).
    assert process.binary_version(42, lambda argv: 'Python 3.11.7\n') is None
    assert process.binary_version(42, lambda argv: None) is None


class FakeHost:
    """etcd_processes, free_bytes_of and binary_version of a host with one etcd process."""

    def __init__(self, monkeypatch, argv, environ=None, binary=None):
        self.binary_calls = []
        monkeypatch.setattr(process, 'etcd_processes', lambda: iter([(4321, argv, environ or {})]))
        monkeypatch.setattr(process, 'free_bytes_of', lambda pid, data_dir: 50 * GIB)

        def binary_version(pid, run):
            self.binary_calls.append(pid)
            return binary

        monkeypatch.setattr(process, 'binary_version', binary_version)


MEMBER_ARGV = ['/usr/local/bin/etcd', '--name=m1', '--data-dir=/var/lib/etcd',
               '--listen-client-urls=http://127.0.0.1:2379', '--auto-compaction-retention=1h']


def test_local_member_info_takes_the_version_and_db_size_from_the_status(monkeypatch):
    host = FakeHost(monkeypatch, MEMBER_ARGV + ARGV_3_6_OLD[1:])
    info = process.local_member_info('http://127.0.0.1:2379', lambda: {'version': '3.6.16', 'db_size': 1 << 20}, None)
    assert host.binary_calls == []
    assert info['version'] == '3.6.16'
    assert info['db_size'] == 1 << 20
    assert info['settings'] == {
        'quota_backend_bytes': 2 * GIB, 'auto_compaction_mode': 'periodic', 'auto_compaction_retention': '1h',
        'snapshot_count': 10000, 'snapshot_catchup_entries': 1234, 'compaction_batch_limit': 500,
        'enable_v2': False, 'feature_gates': {'StopGRPCServiceOnDefrag': True, 'CompactHashCheck': False}}
    assert info['sources'] == {
        'quota_backend_bytes': 'default', 'auto_compaction_mode': 'default', 'auto_compaction_retention': 'flag',
        'snapshot_count': 'default', 'snapshot_catchup_entries': 'flag', 'compaction_batch_limit': 'flag',
        'enable_v2': 'default', 'feature_gates': 'flag'}
    assert info['deprecated_flags'] == [
        '--experimental-compact-hash-check-enabled', '--experimental-compaction-batch-limit',
        '--experimental-snapshot-catchup-entries', '--experimental-stop-grpc-service-on-defrag']
    assert len(info['risks']) == 4
    assert all('deprecated in etcd 3.6 and gone in 3.7' in r for r in info['risks'])


def test_local_member_info_asks_the_binary_when_the_member_does_not_answer(monkeypatch):
    host = FakeHost(monkeypatch, MEMBER_ARGV + ['--enable-v2'], binary='3.5.30')
    info = process.local_member_info('http://127.0.0.1:2379', lambda: None, None)
    assert host.binary_calls == [4321]
    assert info['version'] == '3.5.30'
    assert info['db_size'] is None
    assert info['settings']['snapshot_count'] == 100000
    assert info['settings']['enable_v2'] is True
    assert info['deprecated_flags'] == ['--enable-v2']
    assert [r.split(':')[0] for r in info['risks']] == ['--enable-v2']


def test_local_member_info_without_any_version(monkeypatch):
    FakeHost(monkeypatch, MEMBER_ARGV + ['--snapshot-count=200000'], {'ETCD_ENABLE_V2': 'true'}, binary=None)
    info = process.local_member_info('http://127.0.0.1:2379', lambda: {'version': None, 'db_size': 5}, None)
    assert info['version'] is None
    assert info['db_size'] == 5
    assert info['settings']['snapshot_count'] == 200000
    assert info['settings']['enable_v2'] is True
    assert info['deprecated_flags'] == []
    assert [r.split(':')[0] for r in info['risks']] == [
        '--snapshot-count is 200000, above the default of 100000 (10000 from etcd 3.6 on)']


def test_local_member_info_of_another_port(monkeypatch):
    host = FakeHost(monkeypatch, MEMBER_ARGV)
    called = []
    info = process.local_member_info('http://127.0.0.1:2380', lambda: called.append(1), None)
    assert info == {'found': False, 'risks': [], 'msg': 'no etcd process on this host serves client port 2380'}
    assert called == [] and host.binary_calls == []
