#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: etcd_snapshot
short_description: Save a verified snapshot of an etcd member's database
version_added: 0.1.0
description:
  - Streams a snapshot from one member (the first of O(endpoints) that answers) into the
    directory O(dest) on the host that runs the module, as C(etcdctl snapshot save) does.
  - The snapshot is written to a temporary file next to its final name, checked against the
    SHA-256 that etcd appends to the stream, synced to disk, made mode 0600, and only then renamed
    into place. A snapshot that fails the check is deleted, never left under a snapshot's name.
  - Files are named C(<prefix><UTC time>-r<revision>.db). When the newest snapshot in O(dest) already
    holds the cluster's current revision, nothing new is taken (C(changed=false)) unless O(force=true).
  - O(keep) retains only the newest N snapshots of that prefix in O(dest).
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.connection
  - etcdops.etcd.attributes
  - etcdops.etcd.attributes.check_mode_full
  - etcdops.etcd.attributes.diff_mode_none
options:
  dest:
    description:
      - Directory to write the snapshot into; created with mode 0700 if missing.
    type: path
    required: true
  prefix:
    description:
      - File name prefix of the snapshots, also what O(keep) counts.
    type: str
    default: etcd-snapshot-
  keep:
    description:
      - Keep only the newest N snapshots with O(prefix) in O(dest), deleting older ones after a
        successful snapshot. V(0) keeps all.
    type: int
    default: 0
  force:
    description:
      - Take a snapshot even when the newest one already holds the current revision.
    type: bool
    default: false
notes:
  - O(timeout) bounds every read of the stream, so a member that stops sending fails the module
    instead of hanging it; the whole snapshot may take much longer.
  - The revision is the one the member reported right before the snapshot began; the snapshot holds
    that revision or a later one.
  - Restore with C(etcdutl snapshot restore).
'''

EXAMPLES = r'''
- name: Snapshot a follower into /var/backups/etcd, keeping the last 7
  etcdops.etcd.etcd_snapshot:
    endpoints: https://10.0.0.12:2379
    cacert: /etc/etcd/ca.crt
    cert: /etc/etcd/client.crt
    key: /etc/etcd/client.key
    dest: /var/backups/etcd
    keep: 7
  register: snapshot

- name: Show where it went
  ansible.builtin.debug:
    msg: "{{ snapshot.path }} ({{ snapshot.size }} bytes, revision {{ snapshot.revision }})"
'''

RETURN = r'''
path:
  description: The snapshot file (the newest existing one when C(changed=false); the would-be path in check mode).
  returned: success
  type: str
  sample: /var/backups/etcd/etcd-snapshot-20261123T203000Z-r10734.db
size:
  description: Size of the snapshot file in bytes (null in check mode).
  returned: success
  type: int
  sample: 52428800
revision:
  description: Revision of the store the snapshot holds (at least).
  returned: success
  type: int
  sample: 10734
sha256:
  description: SHA-256 of the snapshot file, as etcd sent it and as verified (null in check mode).
  returned: success
  type: str
  sample: 2fef92b78c1b005c93be33b648815ac13c988b6aa961dda812233e2a99bba262
member:
  description: The member the snapshot was taken from.
  returned: success
  type: dict
  sample: {"id": "8e9e05c52164694d", "name": "etcd-2", "endpoint": "https://10.0.0.12:2379"}
removed:
  description: Older snapshots deleted because of O(keep) (would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: ["/var/backups/etcd/etcd-snapshot-20261116T203000Z-r9001.db"]
'''

import os
import re
import tempfile
import time

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.errors import EtcdError


def snapshot_name(prefix, revision, now=None):
    stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))
    return '%s%s-r%d.db' % (prefix, stamp, revision)


def existing_snapshots(directory, prefix):
    """Our snapshots in ``directory``, oldest first: (name, revision)."""
    pattern = re.compile(r'^%s(\d{8}T\d{6}Z)-r(\d+)\.db$' % re.escape(prefix))
    found = []
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            match = pattern.match(name)
            if match:
                found.append((match.group(1), int(match.group(2)), name))
    # By time, then revision: two snapshots of one second must not sort r10 before r9.
    return [(name, revision) for _stamp, revision, name in sorted(found)]


def to_remove(snapshots, keep):
    """Names beyond the newest ``keep`` (0 keeps all)."""
    if keep <= 0 or len(snapshots) <= keep:
        return []
    return [name for name, _revision in snapshots[:len(snapshots) - keep]]


def save(module, client):
    params = module.params
    dest = params['dest']
    cluster = client.cluster_status()
    member = client.first_reachable_member(cluster)
    if member is None:
        raise EtcdError(client.endpoints[0], 'no given endpoint answers',
                        remedy='Name a member that is up in endpoints')
    status = client.member_status(member['endpoint'])
    revision = status['revision']
    snapshots = existing_snapshots(dest, params['prefix'])
    result = dict(changed=False, member=dict(id=member['id'], name=member['name'], endpoint=member['endpoint']),
                  revision=revision, size=None, sha256=None, removed=[])

    if snapshots and snapshots[-1][1] >= revision and not params['force']:
        path = os.path.join(dest, snapshots[-1][0])
        result.update(path=path, size=os.path.getsize(path), revision=snapshots[-1][1],
                      msg='the newest snapshot already holds revision %d' % revision)
        return result

    path = os.path.join(dest, snapshot_name(params['prefix'], revision))
    result.update(changed=True, path=path)
    if module.check_mode:
        result['removed'] = [os.path.join(dest, n) for n in to_remove(snapshots + [(os.path.basename(path), revision)],
                                                                      params['keep'])]
        return result

    if not os.path.isdir(dest):
        os.makedirs(dest, 0o700)
    handle, partial = tempfile.mkstemp(prefix='.%s' % os.path.basename(path), suffix='.part', dir=dest)
    try:
        with os.fdopen(handle, 'wb') as out:
            os.fchmod(out.fileno(), 0o600)
            saved = client.snapshot(member['endpoint'], out)
            out.flush()
            os.fsync(out.fileno())
        os.rename(partial, path)
    except BaseException:
        os.unlink(partial)
        raise
    result.update(size=saved['size'], sha256=saved['sha256'])

    for name in to_remove(existing_snapshots(dest, params['prefix']), params['keep']):
        os.unlink(os.path.join(dest, name))
        result['removed'].append(os.path.join(dest, name))
    return result


def main():
    module = EtcdModule(
        argument_spec=dict(
            dest=dict(type='path', required=True),
            prefix=dict(type='str', default='etcd-snapshot-'),
            keep=dict(type='int', default=0, no_log=False),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    if module.params['keep'] < 0:
        module.fail_json(msg='keep must be 0 (keep all) or a positive number, got %d' % module.params['keep'])
    if os.path.sep in module.params['prefix'] or not module.params['prefix']:
        module.fail_json(msg='prefix must be a non-empty file name prefix without %r' % os.path.sep)
    try:
        module.run(lambda client: save(module, client))
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot write the snapshot into %s: %s; check that the directory is writable and '
                             'has free space of about the database size' % (module.params['dest'], to_native(exc)))


if __name__ == '__main__':
    main()
