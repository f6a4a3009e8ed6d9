#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: etcd_member_info
short_description: Read the settings of the etcd process on this host, and its free disk
version_added: 0.1.0
description:
  - Finds the running etcd process on the host that runs the module whose client URLs use the
    port of the first of O(endpoints), and reads its settings from its command line and
    C(ETCD_*) environment (C(/proc)) - the ones etcd's maintenance guide is about - the space
    quota, auto-compaction mode and retention, and C(--snapshot-count).
  - Reports the free space of the file system that holds its data directory (seen through the
    process's own root, so it also works for etcd in a container, such as kubeadm's static pod),
    since a defragmentation needs free disk of about the database size.
  - Names risky settings in RV(risks), also as warnings, for example auto-compaction off, or a
    database close to its quota. When the member answers at O(endpoints), its database size is taken into account.
  - Read-only. A host without such an etcd process gives RV(found=false), not a failure.
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.connection
  - etcdops.etcd.attributes
  - etcdops.etcd.attributes.check_mode_full
  - etcdops.etcd.attributes.diff_mode_none
options: {}
notes:
  - Needs to read other processes' C(/proc/<pid>/cmdline) and C(environ), so it usually needs
    C(become). Settings from a C(--config-file) are not read; RV(config_file) names the file.
  - Linux only.
'''

EXAMPLES = r'''
- name: Read the settings of the local etcd member (kubeadm)
  etcdops.etcd.etcd_member_info:
    endpoints: https://127.0.0.1:2379
    cacert: /etc/kubernetes/pki/etcd/ca.crt
    cert: /etc/kubernetes/pki/etcd/healthcheck-client.crt
    key: /etc/kubernetes/pki/etcd/healthcheck-client.key
  become: true
  register: member

- name: Warn about risky settings
  ansible.builtin.debug:
    msg: "{{ member.risks }}"
  when: member.risks | length > 0
'''

RETURN = r'''
found:
  description: An etcd process serving that client port runs on this host.
  returned: always
  type: bool
  sample: true
pid:
  description: Its process id.
  returned: when found
  type: int
  sample: 2471
name:
  description: Its member name (C(--name)).
  returned: when found
  type: str
  sample: cp1
data_dir:
  description: Its data directory as the process sees it.
  returned: when found
  type: str
  sample: /var/lib/etcd
config_file:
  description: Its C(--config-file), whose settings this module does not read; null when none.
  returned: when found
  type: str
  sample: null
settings:
  description: The settings in force, with etcd's defaults filled in.
  returned: when found
  type: dict
  sample: {"quota_backend_bytes": 2147483648, "auto_compaction_mode": "periodic",
           "auto_compaction_retention": "0", "snapshot_count": 100000}
  contains:
    quota_backend_bytes:
      description: The space quota in bytes (etcd's default, 2 GiB, when unset or 0).
      type: int
    auto_compaction_mode:
      description: V(periodic) or V(revision).
      type: str
    auto_compaction_retention:
      description: The retention; V(0) means auto-compaction is off.
      type: str
    snapshot_count:
      description: Raft entries between snapshots.
      type: int
sources:
  description: Where each setting comes from, V(flag), V(env) or V(default).
  returned: when found
  type: dict
  sample: {"quota_backend_bytes": "flag", "auto_compaction_mode": "default"}
data_dir_free_bytes:
  description: Free bytes (for unprivileged users) on the file system of the data directory; null if unreadable.
  returned: when found
  type: int
  sample: 42949672960
db_size:
  description: The member's database size in bytes, when it answered at O(endpoints); else null.
  returned: when found
  type: int
  sample: 157286400
risks:
  description: Sentences naming risky settings, empty when none.
  returned: always
  type: list
  elements: str
  sample: ["auto-compaction is off (--auto-compaction-retention=0): history grows until something compacts it"]
'''

import os

from ansible.module_utils.six.moves.urllib.parse import urlparse

from ansible_collections.etcdops.etcd.plugins.module_utils.api import DEFAULT_QUOTA_BYTES
from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.errors import EtcdError

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


def info(module):
    endpoint = module.client.endpoints[0]
    port = urlparse(endpoint).port or 2379
    found = None
    for pid, argv, environ in etcd_processes():
        settings, sources = resolve(parse_flags(argv), environ)
        if serves_port(settings, port):
            found = (pid, settings, sources)
            break
    if found is None:
        return dict(changed=False, found=False, risks=[],
                    msg='no etcd process on this host serves client port %d' % port)
    pid, settings, sources = found
    try:
        settings['quota_backend_bytes'] = int(settings['quota_backend_bytes']) or DEFAULT_QUOTA_BYTES
        settings['snapshot_count'] = int(settings['snapshot_count'])
    except ValueError as exc:
        module.fail_json(msg='cannot read the settings of etcd (pid %d): %s' % (pid, exc))
    data_dir = settings['data_dir'] or '%s.etcd' % settings['name']
    if not os.path.isabs(data_dir):
        # etcd resolves a relative data dir against its own working directory, not ours.
        try:
            data_dir = os.path.join(os.readlink('/proc/%d/cwd' % pid), data_dir)
        except (IOError, OSError):
            pass
    try:
        db_size = module.client.member_status(endpoint)['db_size']
    except EtcdError:
        db_size = None
    free = free_bytes_of(pid, data_dir)
    public = dict((key, settings[key]) for key in ('quota_backend_bytes', 'auto_compaction_mode',
                                                   'auto_compaction_retention', 'snapshot_count'))
    return dict(changed=False, found=True, pid=pid, name=settings['name'], data_dir=data_dir,
                config_file=settings['config_file'], settings=public,
                sources=dict((key, sources[key]) for key in public), data_dir_free_bytes=free,
                db_size=db_size, risks=risks_of(public, db_size, free))


def main():
    module = EtcdModule(supports_check_mode=True)
    result = info(module)
    for risk in result['risks']:
        module.warn(risk)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
