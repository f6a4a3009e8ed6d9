# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd process on the host that runs a module: its settings from /proc and its free disk.

Used by etcd_member_info, and by etcd_status with ``local_info`` (so that the role's preflight
reads a member's status and its process in one module run).

Settings are read the way the running version names them (seen in the ``--help`` and behaviour
of etcd 3.4.23, 3.5.30, 3.6.16 and 3.7.3, and in etcd's sources): 3.6 renamed most
``--experimental-*`` flags (``--experimental-compaction-batch-limit`` is ``--compaction-batch-limit``)
or turned them into feature gates (``--feature-gates=StopGRPCServiceOnDefrag=true``), accepting
the old name with a warning, and refusing the old and the new name together; 3.7 removed every
``--experimental-*`` flag. Every flag has its ``ETCD_*`` variable; etcd ignores, with a warning,
a variable of a flag that its version does not have.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible.module_utils.six.moves.urllib.parse import urlparse

from ansible_collections.etcdops.etcd.plugins.module_utils.api import DEFAULT_QUOTA_BYTES

# etcd's recommended maximum quota (its docs: "8 GiB is a suggested maximum").
MAX_RECOMMENDED_QUOTA = 8 * 1024 * 1024 * 1024
# --snapshot-count's default: 10,000 from etcd 3.6 on, 100,000 before.
DEFAULT_SNAPSHOT_COUNT = 10000
DEFAULT_SNAPSHOT_COUNT_BEFORE_3_6 = 100000
V3_6 = (3, 6, 0)
V3_7 = (3, 7, 0)

# setting -> (flag, the --experimental-* flag it was before etcd 3.6 or None, etcd's default).
# Each flag's environment variable is env_of(flag). snapshot_count's default depends on the version.
SETTINGS = {
    'quota_backend_bytes': ('quota-backend-bytes', None, '0'),
    'auto_compaction_mode': ('auto-compaction-mode', None, 'periodic'),
    'auto_compaction_retention': ('auto-compaction-retention', None, '0'),
    'snapshot_count': ('snapshot-count', None, None),
    'snapshot_catchup_entries': ('snapshot-catchup-entries', 'experimental-snapshot-catchup-entries', '5000'),
    'compaction_batch_limit': ('compaction-batch-limit', 'experimental-compaction-batch-limit', '1000'),
    'enable_v2': ('enable-v2', None, 'false'),
    'name': ('name', None, 'default'),
    'data_dir': ('data-dir', None, None),
    'listen_client_urls': ('listen-client-urls', None, 'http://localhost:2379'),
    'advertise_client_urls': ('advertise-client-urls', None, ''),
    'config_file': ('config-file', None, None),
}
# The settings etcd_member_info returns; 0 means etcd's default for the numbers.
PUBLIC_SETTINGS = ('quota_backend_bytes', 'auto_compaction_mode', 'auto_compaction_retention', 'snapshot_count',
                   'snapshot_catchup_entries', 'compaction_batch_limit', 'enable_v2')

# Flags that only some versions have: flag -> (first version with it, first version without it).
# Any other --experimental-* flag is gone from 3.7 on; any other flag is taken to be everywhere.
FLAG_VERSIONS = {
    'snapshot-catchup-entries': (V3_6, None),
    'compaction-batch-limit': (V3_6, None),
    'feature-gates': (V3_6, None),
    'experimental-snapshot-catchup-entries': ((3, 5, 14), V3_7),
    'experimental-stop-grpc-service-on-defrag': ((3, 5, 14), V3_7),
    'experimental-compact-hash-check-enabled': ((3, 5, 5), V3_7),
    'enable-v2': (None, V3_6),
    'experimental-enable-v2v3': (None, V3_6),
}

# The boolean --experimental-* flags that etcd 3.6 turned into feature gates (its
# ExperimentalFlagToFeatureMap); the other --experimental-* flags lost their prefix.
EXPERIMENTAL_GATES = {
    'experimental-stop-grpc-service-on-defrag': 'StopGRPCServiceOnDefrag',
    'experimental-initial-corrupt-check': 'InitialCorruptCheck',
    'experimental-compact-hash-check-enabled': 'CompactHashCheck',
    'experimental-txn-mode-write-with-shared-buffer': 'TxnModeWriteWithSharedBuffer',
    'experimental-enable-lease-checkpoint': 'LeaseCheckpoint',
    'experimental-enable-lease-checkpoint-persist': 'LeaseCheckpointPersist',
}
# The gates that AllAlpha and AllBeta switch, by minor version (etcd --help of 3.6.16 and 3.7.3).
_ALPHA_3_6 = ('CompactHashCheck', 'InitialCorruptCheck', 'LeaseCheckpoint', 'LeaseCheckpointPersist',
              'SetMemberLocalAddr', 'StopGRPCServiceOnDefrag')
GROUP_GATES = {
    'AllAlpha': {(3, 6): _ALPHA_3_6, (3, 7): _ALPHA_3_6 + ('PriorityRequest',)},
    'AllBeta': {(3, 6): ('TxnModeWriteWithSharedBuffer',),
                (3, 7): ('FastLeaseKeepAlive', 'TxnModeWriteWithSharedBuffer')},
}

_VERSION = re.compile(r'^v?(\d+)\.(\d+)\.(\d+)')


def parse_version(text):
    """(major, minor, patch) of ``3.6.16``; None when not a version."""
    match = _VERSION.match(str(text or '').strip())
    return tuple(int(part) for part in match.groups()) if match else None


def _text(version):
    return '%d.%d.%d' % version


def env_of(flag):
    """etcd's environment variable for a flag: ETCD_ and the flag in capitals, dashes as underscores."""
    return 'ETCD_' + flag.upper().replace('-', '_')


def flag_of(env):
    """The flag of an ETCD_* variable (env_of's inverse)."""
    return env[len('ETCD_'):].lower().replace('_', '-')


def _window(flag):
    return FLAG_VERSIONS.get(flag, (None, V3_7 if flag.startswith('experimental-') else None))


def has_flag(flag, version):
    """Whether etcd ``version`` (a tuple; None: unknown, taken to have them all) has the flag."""
    if version is None:
        return True
    since, until = _window(flag)
    return (since is None or version >= since) and (until is None or version < until)


def parse_bool(text):
    """A boolean as etcd (Go's strconv.ParseBool) reads it; None when it is not one."""
    text = (text or '').strip()
    if text in ('1', 't', 'T', 'TRUE', 'true', 'True'):
        return True
    if text in ('0', 'f', 'F', 'FALSE', 'false', 'False'):
        return False
    return None


def parse_flags(argv):
    """``--a=b`` and ``--a b`` (and single-dash) flags of a command line -> dict."""
    flags = {}
    index = 1
    while index < len(argv):
        arg = argv[index]
        index += 1
        if not arg.startswith('-'):
            continue
        name = arg.lstrip('-')
        if '=' in name:
            name, value = name.split('=', 1)
        elif index < len(argv) and not argv[index].startswith('-'):
            value = argv[index]
            index += 1
        else:
            value = 'true'
        if name == 'feature-gates' and name in flags:
            # etcd merges repeated --feature-gates (3.6.16 enables the gates of both).
            value = flags[name] + ',' + value
        flags[name] = value
    return flags


def _lookup(flags, environ, flag, version):
    """(value, source) of one flag: the command line's, else its variable's where etcd reads it."""
    if flag in flags:
        return flags[flag], 'flag'
    if env_of(flag) in environ and has_flag(flag, version):
        return environ[env_of(flag)], 'env'
    return None, None


def default_snapshot_count(version):
    """--snapshot-count's default for etcd ``version`` (a tuple), None when the version is unknown."""
    if version is None:
        return None
    return DEFAULT_SNAPSHOT_COUNT if version >= V3_6 else DEFAULT_SNAPSHOT_COUNT_BEFORE_3_6


def resolve(flags, environ, version=None):
    """(settings, sources): flags win over ETCD_* variables, which win over etcd's defaults. A setting
    that 3.6 renamed is read by either name (3.6 refuses both at once), by its old name before 3.6,
    by its new one from 3.7 on. Values are strings as given; snapshot_count's default is None
    when the version is unknown."""
    settings, sources = {}, {}
    for key, (flag, old, default) in SETTINGS.items():
        value, source = _lookup(flags, environ, flag, version)
        if value is None and old:
            value, source = _lookup(flags, environ, old, version)
        if value is None:
            if key == 'snapshot_count':
                default = default_snapshot_count(version)
                default = None if default is None else str(default)
            value, source = default, 'default'
        settings[key], sources[key] = value, source
    return settings, sources


def _group_members(group, version):
    if version is not None and version < V3_6:
        return ()
    table = GROUP_GATES[group]
    if version is not None and version[:2] in table:
        return table[version[:2]]
    return table[max(table)]


def feature_gates(flags, environ, version=None):
    """(gates, source): the feature gates that are set, {name: bool}, from --feature-gates (or
    ETCD_FEATURE_GATES) and from the boolean --experimental-* flags that etcd 3.6 turned into gates,
    under the gate's name also before 3.6; AllAlpha and AllBeta switch the gates they cover that
    are not set on their own. ``source`` is ``flag`` when any came from the command line."""
    gates, origins = {}, set()
    value, source = _lookup(flags, environ, 'feature-gates', version)
    if value is not None:
        origins.add(source)
        for item in value.split(','):
            name, separator, text = item.partition('=')
            enabled = parse_bool(text)
            if name.strip() and separator and enabled is not None:
                gates[name.strip()] = enabled
    for flag, gate in EXPERIMENTAL_GATES.items():
        text, source = _lookup(flags, environ, flag, version)
        enabled = parse_bool(text)
        if enabled is not None:
            gates[gate] = enabled
            origins.add(source)
    for group in ('AllAlpha', 'AllBeta'):
        if group in gates:
            for gate in _group_members(group, version):
                gates.setdefault(gate, gates[group])
    source = 'flag' if 'flag' in origins else 'env' if origins else 'default'
    return gates, source


def deprecated_names(flags, environ, version):
    """The flags and ETCD_* variables in use that the next minor version of etcd removes: on 3.5
    --enable-v2 and --experimental-enable-v2v3, on 3.6 every --experimental-* one. Empty when the
    version is unknown."""
    if version is None:
        return []
    next_minor = (version[0], version[1] + 1, 0)
    names = ['--' + flag for flag in sorted(flags) if _window(flag)[1] == next_minor]
    for env in sorted(environ):
        flag = flag_of(env)
        # ETCD_ENABLE_V2=false changes nothing: 3.6 only warns about it.
        if (env.startswith('ETCD_') and _window(flag)[1] == next_minor
                and not (flag == 'enable-v2' and parse_bool(environ[env]) is False)):
            names.append(env)
    return names


def ignored_environment(environ, version):
    """The ETCD_* variables of flags that etcd ``version`` does not have: it warns and ignores them."""
    if version is None:
        return []
    return [env for env in sorted(environ) if env.startswith('ETCD_') and not has_flag(flag_of(env), version)]


def _new_name(flag, value):
    """What etcd 3.6 and later call an --experimental-* flag, as ``name=value`` for a feature gate."""
    gate = EXPERIMENTAL_GATES.get(flag)
    if gate:
        return 'feature-gates=%s=%s' % (gate, 'false' if parse_bool(value) is False else 'true')
    return flag[len('experimental-'):]


def _as_env(name):
    flag, separator, value = name.partition('=')
    return env_of(flag) + separator + value


def _enable_v2_risk(name, is_env, value):
    if parse_bool(value) is False:
        return ('%s blocks the upgrade to etcd 3.6, which removed the v2 API and does not start with this flag: '
                'drop it before the upgrade' % name)
    refusal = ('removed it (it ignores ETCD_ENABLE_V2) and does not start' if is_env
               else 'removed it, does not start with --enable-v2, nor')
    return ('%s: the v2 API is on, which blocks the upgrade to etcd 3.6: 3.6 %s on a data directory whose v2 store '
            'holds data written through the v2 API ("detected disallowed custom content in v2store"): move the v2 '
            'clients to v3, turn the v2 API off, and check the data directory with etcdutl check v2store before the '
            'upgrade' % ('%s=%s' % (name, value) if is_env else name, refusal))


def naming_risks(flags, environ, version):
    """Sentences about the flags and variables that the next minor version removes (deprecated_names)
    and the variables that the running version ignores (ignored_environment)."""
    if version is None:
        return []
    risks = []
    for name in deprecated_names(flags, environ, version):
        is_env = not name.startswith('--')
        flag = flag_of(name) if is_env else name[2:]
        value = environ[name] if is_env else flags[flag]
        if flag == 'enable-v2':
            risks.append(_enable_v2_risk(name, is_env, value))
        elif flag == 'experimental-enable-v2v3':
            risks.append('%s blocks the upgrade to etcd 3.6, which removed the v2 API and %s: move the v2 clients to '
                         'v3 and drop it before the upgrade' % (name, 'ignores it' if is_env else 'does not start '
                                                                'with this flag'))
        elif is_env:
            risks.append('%s is deprecated in etcd 3.6 and gone in 3.7, which ignores it (the setting falls back to '
                         'its default): use %s instead' % (name, _as_env(_new_name(flag, value))))
        else:
            risks.append('%s is deprecated in etcd 3.6 and gone in 3.7, which does not start with it: use --%s '
                         'instead' % (name, _new_name(flag, value)))
    for env in ignored_environment(environ, version):
        flag = flag_of(env)
        since, until = _window(flag)
        if until is not None and version >= until:
            why = 'etcd %d.%d removed --%s' % (until[0], until[1], flag)
            if flag.startswith('experimental-'):
                why += '; use %s' % _as_env(_new_name(flag, environ[env]))
        else:
            why = '--%s came with etcd %s' % (flag, _text(since))
            old = [entry[1] for entry in SETTINGS.values() if entry[0] == flag and entry[1]]
            if old and has_flag(old[0], version):
                why += '; before 3.6 it is %s' % env_of(old[0])
        risks.append('%s is set, but etcd %s ignores it (%s)' % (env, _text(version), why))
    return risks


def serves_port(settings, port):
    urls = ','.join([settings['listen_client_urls'] or '', settings['advertise_client_urls'] or ''])
    for url in urls.split(','):
        url = url.strip()
        if url:
            try:
                if urlparse(url).port == port:
                    return True
            except ValueError:
                continue
    return False


def _read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def etcd_processes(proc='/proc'):
    """(pid, argv, environ) of every process whose program is named etcd."""
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            argv = [a.decode('utf-8', 'replace') for a in _read(os.path.join(proc, entry, 'cmdline')).split(b'\0') if a]
            if not argv or os.path.basename(argv[0]) != 'etcd':
                continue
            try:
                raw_env = _read(os.path.join(proc, entry, 'environ')).split(b'\0')
            except (IOError, OSError):
                raw_env = []
            environ = dict(item.decode('utf-8', 'replace').split('=', 1) for item in raw_env if b'=' in item)
        except (IOError, OSError):
            continue  # gone, or not ours to read
        yield int(entry), argv, environ


def risks_of(settings, db_size, free_bytes, version=None):
    """Sentences naming risky settings (of PUBLIC_SETTINGS, typed) for etcd ``version`` (a tuple or None)."""
    risks = []
    if settings['auto_compaction_retention'] in ('0', '0s', '0m', '0h', ''):
        risks.append('auto-compaction is off (--auto-compaction-retention=0): the history grows until something '
                     'compacts it (Kubernetes\' API server does every 5 minutes; other clients must)')
    quota = settings['quota_backend_bytes']
    if quota > MAX_RECOMMENDED_QUOTA:
        risks.append('--quota-backend-bytes is %d bytes, above the 8 GiB etcd suggests as a maximum' % quota)
    if db_size is not None and quota and db_size >= 0.8 * quota:
        risks.append('the database (%d bytes) is at %d %% of its quota (%d bytes): defragment, or raise '
                     '--quota-backend-bytes' % (db_size, int(100.0 * db_size / quota), quota))
    # An unknown version is held to the higher default, so that it raises no false alarm.
    default = default_snapshot_count(version) or DEFAULT_SNAPSHOT_COUNT_BEFORE_3_6
    if settings['snapshot_count'] is not None and settings['snapshot_count'] > default:
        risks.append('--snapshot-count is %d, above the default of %d%s: more raft entries held in memory and a '
                     'slower catch-up of a restarted follower'
                     % (settings['snapshot_count'], default,
                        ' of etcd %d.%d' % version[:2] if version else ' (10000 from etcd 3.6 on)'))
    if db_size is not None and free_bytes is not None and free_bytes < db_size:
        risks.append('the data directory has %d bytes free, less than the database size (%d): a defragmentation '
                     'needs about that much' % (free_bytes, db_size))
    if version is not None and (3, 5, 0) <= version < (3, 5, 26):
        risks.append('etcd %s: upgrade to 3.5.26 or later before 3.6, whose upgrade from older 3.5 members can fail '
                     'or bring removed members back ("zombie members", etcd blog, December 2025)' % _text(version))
    return risks


def free_bytes_of(pid, data_dir):
    # Through the process's root, so that a containerised etcd's data dir is found on the host.
    for path in (os.path.join('/proc/%d/root' % pid, data_dir.lstrip('/')), data_dir):
        try:
            stats = os.statvfs(path)
            return stats.f_bavail * stats.f_frsize
        except (IOError, OSError):
            continue
    return None


def binary_version(pid, run):
    """The version the process's own binary gives (``etcd --version``), None when it cannot be had.

    ``run(argv)`` runs a command with a time limit and gives its output (text), or None when it could
    not run; the module passes EtcdModule.run_bounded.
    """
    output = run(['/proc/%d/exe' % pid, '--version'])
    match = re.search(r'etcd Version:\s*(\S+)', output or '')
    return match.group(1) if match else None


class ProcessError(Exception):
    """The etcd process was found but its settings cannot be read."""


def typed_settings(pid, settings, version=None):
    """PUBLIC_SETTINGS of resolve() as numbers and booleans; a number that is 0 means etcd's default."""
    public = dict((key, settings[key]) for key in PUBLIC_SETTINGS)
    defaults = dict(quota_backend_bytes=DEFAULT_QUOTA_BYTES, snapshot_count=default_snapshot_count(version),
                    snapshot_catchup_entries=int(SETTINGS['snapshot_catchup_entries'][2]),
                    compaction_batch_limit=int(SETTINGS['compaction_batch_limit'][2]))
    try:
        for key, default in defaults.items():
            if public[key] is not None:
                public[key] = int(public[key]) or default
    except ValueError as exc:
        raise ProcessError('cannot read the settings of etcd (pid %d): %s' % (pid, exc)) from exc
    public['enable_v2'] = bool(parse_bool(public['enable_v2']))
    return public


def local_member_info(endpoint, read_status, run):
    """The etcd process on this host serving ``endpoint``'s port: its settings, free disk and
    risks, as etcd_member_info returns them (``found=false`` and ``msg`` when there is none).

    ``read_status()`` gives the member's status (its ``db_size`` and ``version``), or None when it
    cannot be read; it is only called when the process is found. Without a version from the
    status, the process's binary is asked (``--version``, through ``run``: see binary_version);
    without either, version-dependent defaults are unknown (null) and no version-dependent risk
    is named.
    """
    port = urlparse(endpoint).port or 2379
    found = None
    for pid, argv, environ in etcd_processes():
        flags = parse_flags(argv)
        settings, _sources = resolve(flags, environ)
        if serves_port(settings, port):
            found = (pid, flags, environ)
            break
    if found is None:
        return dict(found=False, risks=[], msg='no etcd process on this host serves client port %d' % port)
    pid, flags, environ = found
    status = read_status() or {}
    version_text = status.get('version') if parse_version(status.get('version')) else binary_version(pid, run)
    version = parse_version(version_text)
    settings, sources = resolve(flags, environ, version)
    public = typed_settings(pid, settings, version)
    public['feature_gates'], gates_source = feature_gates(flags, environ, version)
    data_dir = settings['data_dir'] or '%s.etcd' % settings['name']
    if not os.path.isabs(data_dir):
        # etcd resolves a relative data dir against its own working directory, not ours.
        try:
            data_dir = os.path.join(os.readlink('/proc/%d/cwd' % pid), data_dir)
        except (IOError, OSError):
            pass
    db_size = status.get('db_size')
    free = free_bytes_of(pid, data_dir)
    sources = dict((key, sources[key]) for key in PUBLIC_SETTINGS)
    sources['feature_gates'] = gates_source
    return dict(found=True, pid=pid, name=settings['name'], data_dir=data_dir, config_file=settings['config_file'],
                version=version_text if version else None, settings=public, sources=sources,
                deprecated_flags=deprecated_names(flags, environ, version), data_dir_free_bytes=free,
                db_size=db_size, risks=risks_of(public, db_size, free, version)
                + naming_risks(flags, environ, version))
