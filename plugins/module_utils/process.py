# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd process on the host that runs a module: its settings from /proc and its free disk.

Used by etcd_member_info, and by etcd_status with ``local_info`` (so that the role's preflight
reads a member's status and its process in one module run).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.module_utils.six.moves.urllib.parse import urlparse

from ansible_collections.etcdops.etcd.plugins.module_utils.api import DEFAULT_QUOTA_BYTES

# etcd's recommended maximum quota (its docs: "8 GiB is a suggested maximum").
MAX_RECOMMENDED_QUOTA = 8 * 1024 * 1024 * 1024
DEFAULT_SNAPSHOT_COUNT = 100000

# setting -> (flag, environment variable, default)
SETTINGS = {
    'quota_backend_bytes': ('quota-backend-bytes', 'ETCD_QUOTA_BACKEND_BYTES', '0'),
    'auto_compaction_mode': ('auto-compaction-mode', 'ETCD_AUTO_COMPACTION_MODE', 'periodic'),
    'auto_compaction_retention': ('auto-compaction-retention', 'ETCD_AUTO_COMPACTION_RETENTION', '0'),
    'snapshot_count': ('snapshot-count', 'ETCD_SNAPSHOT_COUNT', str(DEFAULT_SNAPSHOT_COUNT)),
    'name': ('name', 'ETCD_NAME', 'default'),
    'data_dir': ('data-dir', 'ETCD_DATA_DIR', None),
    'listen_client_urls': ('listen-client-urls', 'ETCD_LISTEN_CLIENT_URLS', 'http://localhost:2379'),
    'advertise_client_urls': ('advertise-client-urls', 'ETCD_ADVERTISE_CLIENT_URLS', ''),
    'config_file': ('config-file', 'ETCD_CONFIG_FILE', None),
}


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
        flags[name] = value
    return flags


def resolve(flags, environ):
    """(settings, sources): flags win over ETCD_* variables, which win over etcd's defaults."""
    settings, sources = {}, {}
    for key, (flag, env, default) in SETTINGS.items():
        if flag in flags:
            settings[key], sources[key] = flags[flag], 'flag'
        elif env in environ:
            settings[key], sources[key] = environ[env], 'env'
        else:
            settings[key], sources[key] = default, 'default'
    return settings, sources


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


def risks_of(settings, db_size, free_bytes):
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
    if settings['snapshot_count'] > DEFAULT_SNAPSHOT_COUNT:
        risks.append('--snapshot-count is %d, above the default of %d: more raft entries held in memory and a '
                     'slower catch-up of a restarted follower' % (settings['snapshot_count'], DEFAULT_SNAPSHOT_COUNT))
    if db_size is not None and free_bytes is not None and free_bytes < db_size:
        risks.append('the data directory has %d bytes free, less than the database size (%d): a defragmentation '
                     'needs about that much' % (free_bytes, db_size))
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


class ProcessError(Exception):
    """The etcd process was found but its settings cannot be read."""


def local_member_info(endpoint, read_db_size):
    """The etcd process on this host serving ``endpoint``'s port: its settings, free disk and
    risks, as etcd_member_info returns them (``found=false`` and ``msg`` when there is none).

    ``read_db_size()`` gives the member's database size, or None when it cannot be read; it is
    only called when the process is found.
    """
    port = urlparse(endpoint).port or 2379
    found = None
    for pid, argv, environ in etcd_processes():
        settings, sources = resolve(parse_flags(argv), environ)
        if serves_port(settings, port):
            found = (pid, settings, sources)
            break
    if found is None:
        return dict(found=False, risks=[], msg='no etcd process on this host serves client port %d' % port)
    pid, settings, sources = found
    try:
        settings['quota_backend_bytes'] = int(settings['quota_backend_bytes']) or DEFAULT_QUOTA_BYTES
        settings['snapshot_count'] = int(settings['snapshot_count'])
    except ValueError as exc:
        raise ProcessError('cannot read the settings of etcd (pid %d): %s' % (pid, exc)) from exc
    data_dir = settings['data_dir'] or '%s.etcd' % settings['name']
    if not os.path.isabs(data_dir):
        # etcd resolves a relative data dir against its own working directory, not ours.
        try:
            data_dir = os.path.join(os.readlink('/proc/%d/cwd' % pid), data_dir)
        except (IOError, OSError):
            pass
    db_size = read_db_size()
    free = free_bytes_of(pid, data_dir)
    public = dict((key, settings[key]) for key in ('quota_backend_bytes', 'auto_compaction_mode',
                                                   'auto_compaction_retention', 'snapshot_count'))
    return dict(found=True, pid=pid, name=settings['name'], data_dir=data_dir,
                config_file=settings['config_file'], settings=public,
                sources=dict((key, sources[key]) for key in public), data_dir_free_bytes=free,
                db_size=db_size, risks=risks_of(public, db_size, free))
