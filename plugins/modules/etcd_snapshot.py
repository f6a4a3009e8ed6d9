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
  - The file is what C(etcdctl snapshot save) writes - the database followed by its 32-byte SHA-256,
    which C(etcdutl snapshot restore) checks. Files written by earlier development versions of this
    collection lack the digest and need C(etcdutl snapshot restore --skip-hash-check).
  - Files are named C(<prefix><cluster id>-<UTC time>-r<revision>.db), for example
    C(etcd-snapshot-cdf818194e3a8c32-20261123T203000.123Z-r10734.db), with the cluster id as the
    16 hexadecimal digits C(etcdctl) prints, the UTC time to the millisecond when the snapshot began,
    and the revision. Should a file of that name exist already, C(-1), C(-2), ... is added before
    C(.db), so a snapshot never replaces another one.
  - Only snapshots of the same cluster (the cluster id of the member the snapshot is taken from)
    and with the same O(prefix) count, so several clusters can share one O(dest) and one O(prefix).
    When the newest of them already holds the cluster's current revision, nothing new is taken
    (C(changed=false)) unless O(force=true).
  - O(keep_snapshots) retains only the newest N of those snapshots; snapshots of other clusters and
    other files in O(dest) are never touched.
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
      - An existing directory keeps its mode and owner; the module warns when others may read it or
        write to it (see the notes).
    type: path
    required: true
  prefix:
    description:
      - Start of the snapshot file names; the cluster id follows it. Only this cluster's snapshots
        with this prefix count for the unchanged revision and for O(keep_snapshots).
    type: str
    default: etcd-snapshot-
  keep_snapshots:
    description:
      - Keep only the newest N snapshots of this cluster with O(prefix) in O(dest), deleting older
        ones after a successful snapshot. V(0) keeps all.
      - Snapshot files, not revisions (those are O(etcdops.etcd.etcd_compact#module:keep_revisions)).
        V(keep) is its old name.
    type: int
    default: 0
    aliases: [keep]
  force:
    description:
      - Take a snapshot even when the newest one of this cluster already holds the current revision.
    type: bool
    default: false
notes:
  - O(timeout) bounds every read of the stream, so a member that stops sending fails the module
    instead of hanging it; the whole snapshot may take much longer.
  - The revision is the one the member reported right before the snapshot began; the snapshot holds
    that revision or a later one.
  - Restore with C(etcdutl snapshot restore).
  - Before anything is written (in check mode too), the module fails when O(dest) (or the directory
    it would be created in) is not writable, or its file system has less free space than the
    member's database size.
  - A snapshot is a full copy of the keyspace - every key and value, Kubernetes Secrets included -
    so each file is written with mode 0600 and a missing O(dest) is created with mode 0700. The module
    never changes the mode of a directory it did not create; when an existing O(dest) is readable
    or writable by all users (for example mode 0755), it warns and names the fix,
    C(chmod 0700 <dest>). See the collection's C(docs/security.md).
  - Files named C(<prefix><UTC time>-r<revision>.db), without the cluster id (the names of earlier
    development versions), are neither counted nor removed; delete them when they are no longer needed.
  - A file named with the cluster id and a time to the second only,
    C(<prefix><cluster id>-20261123T203000Z-r<revision>.db), counts as a snapshot of that cluster too,
    so a series taken with a O(prefix) that ended in the cluster id continues with the O(prefix) without it.
'''

EXAMPLES = r'''
- name: Snapshot a follower into /var/backups/etcd, keeping the last 7
  etcdops.etcd.etcd_snapshot:
    endpoints: https://10.0.0.12:2379
    cacert: /etc/etcd/ca.crt
    cert: /etc/etcd/client.crt
    key: /etc/etcd/client.key
    dest: /var/backups/etcd
    keep_snapshots: 7
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
  sample: /var/backups/etcd/etcd-snapshot-cdf818194e3a8c32-20261123T203000.123Z-r10734.db
size:
  description:
    - Size of the snapshot file in bytes - the database and the 32-byte SHA-256 after it (null in check mode).
  returned: success
  type: int
  sample: 52428800
revision:
  description: Revision of the store the snapshot holds (at least).
  returned: success
  type: int
  sample: 10734
sha256:
  description:
    - SHA-256 of the database in the snapshot file (all but its last 32 bytes, which hold this digest),
      as etcd sent it and as verified (null in check mode).
  returned: success
  type: str
  sample: 2fef92b78c1b005c93be33b648815ac13c988b6aa961dda812233e2a99bba262
cluster_id:
  description: Id of the cluster the snapshot is of, as in the file name.
  returned: success
  type: str
  sample: cdf818194e3a8c32
member:
  description: The member the snapshot was taken from.
  returned: success
  type: dict
  sample: {"id": "8e9e05c52164694d", "name": "etcd-2", "endpoint": "https://10.0.0.12:2379"}
removed:
  description: Older snapshots deleted because of O(keep_snapshots) (would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: ["/var/backups/etcd/etcd-snapshot-cdf818194e3a8c32-20261116T203000.456Z-r9001.db"]
'''

import datetime
import itertools
import os
import re
import tempfile
import time

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.errors import EtcdConnectionError, EtcdNotEtcdError
from ansible_collections.etcdops.etcd.plugins.module_utils.members import first_reachable_member


def dest_warning(path, mode):
    """The warning for an existing snapshot directory of ``mode`` (st_mode) that every user may list or
    write to; None when others may do neither (search alone, o+x, lists nothing)."""
    if not mode & 0o006:
        return None
    access = ' and '.join(word for bit, word in ((0o004, 'readable'), (0o002, 'writable')) if mode & bit)
    return ('the snapshot directory %s is %s by all users (mode %04o), and the snapshots in it hold every key '
            'of the cluster, Kubernetes Secrets included; the module does not change the mode of a directory it '
            'did not create: restrict it with chmod 0700 %s' % (path, access, mode & 0o7777, path))


def snapshot_name(prefix, cluster_id, revision, now=None, counter=0):
    """``<prefix><cluster id>-<UTC time to the millisecond>-r<revision>[-<counter>].db``."""
    moment = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.timezone.utc)
    stamp = '%s.%03dZ' % (moment.strftime('%Y%m%dT%H%M%S'), moment.microsecond // 1000)
    return '%s%s-%s-r%d%s.db' % (prefix, cluster_id, stamp, revision, '-%d' % counter if counter else '')


def existing_snapshots(directory, prefix, cluster_id):
    """This cluster's snapshots of this prefix in ``directory``, oldest first: (name, revision)."""
    # Milliseconds are optional: names to the second are what a prefix ending in the cluster id got before.
    pattern = re.compile(r'^%s%s-(\d{8}T\d{6})(?:\.(\d{3}))?Z-r(\d+)(?:-(\d+))?\.db$'
                         % (re.escape(prefix), re.escape(cluster_id)))
    found = []
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            match = pattern.match(name)
            if match:
                second, millisecond, revision, counter = match.groups()
                found.append(((second, int(millisecond or 0), int(revision), int(counter or 0)), name))
    # By time, then revision, then counter: numbers as numbers, so r10 sorts after r9.
    return [(name, key[2]) for key, name in sorted(found)]


def to_remove(snapshots, keep):
    """Names beyond the newest ``keep`` (0 keeps all)."""
    if keep <= 0 or len(snapshots) <= keep:
        return []
    return [name for name, _revision in snapshots[:len(snapshots) - keep]]


def free_name(directory, name_for):
    """The first of ``name_for(0)``, ``name_for(1)``, ... that no file in ``directory`` has."""
    for counter in itertools.count():
        if not os.path.lexists(os.path.join(directory, name_for(counter))):
            return name_for(counter)


def publish(partial, directory, name_for):
    """Rename the finished ``partial`` to the first free name; return its path.

    The name is claimed with O_EXCL before the rename, so that a snapshot never replaces another
    one, not even one that a second run wrote in the same millisecond."""
    for counter in itertools.count():
        path = os.path.join(directory, name_for(counter))
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        try:
            os.rename(partial, path)
        except BaseException:
            os.unlink(path)
            raise
        return path


def room_problem(dest, needed, member_name):
    """Why ``dest`` (or, when missing, the directory it would be created in) cannot take a snapshot of about
    ``needed`` bytes: not writable, or too little free space; None when it can. Checked before anything is
    written, in check mode too: a snapshot that cannot fit is not started."""
    existing = dest
    while not os.path.isdir(existing):
        parent = os.path.dirname(existing.rstrip(os.path.sep)) or os.path.curdir
        if parent == existing:
            break
        existing = parent
    if not os.access(existing, os.W_OK | os.X_OK):
        return ('cannot write the snapshot into %s: %s is not writable (a read-only file system, or its '
                'permissions); set dest to a writable directory' % (dest, existing))
    stats = os.statvfs(existing)
    free = stats.f_bavail * stats.f_frsize
    if free < needed:
        return ('cannot write the snapshot into %s: its file system has %d bytes free, the snapshot of member %s '
                'needs about %d (its database size); free space there or set dest to a larger file system'
                % (dest, free, member_name, needed))
    return None


def save(module, client):
    params = module.params
    dest = params['dest']
    cluster = client.cluster_status()
    member = first_reachable_member(cluster, client.endpoints)
    if member is None:
        raise EtcdConnectionError(client.endpoints[0], 'no given endpoint answers',
                                  remedy='Name a member that is up in endpoints')
    # The status cluster_status() just read: the snapshot holds at least that revision.
    revision, cluster_id = member['revision'], cluster['cluster_id']
    if not cluster_id:
        raise EtcdNotEtcdError(member['endpoint'],
                               'the member did not report its cluster id, which names the snapshot',
                               remedy='Point endpoints at an etcd v3 member (3.4 or later)')
    if os.path.isdir(dest):
        warning = dest_warning(dest, os.stat(dest).st_mode)
        if warning:
            module.warn(warning)
    snapshots = existing_snapshots(dest, params['prefix'], cluster_id)
    result = dict(changed=False, member=dict(id=member['id'], name=member['name'], endpoint=member['endpoint']),
                  cluster_id=cluster_id, revision=revision, size=None, sha256=None, removed=[])

    if snapshots and snapshots[-1][1] >= revision and not params['force']:
        path = os.path.join(dest, snapshots[-1][0])
        result.update(path=path, size=os.path.getsize(path), revision=snapshots[-1][1],
                      msg='the newest snapshot of cluster %s already holds revision %d' % (cluster_id, revision))
        return result

    problem = room_problem(dest, member.get('db_size') or 0, member['name'])
    if problem:
        module.fail_json(msg=problem, **result)

    now = time.time()

    def name_for(counter):
        return snapshot_name(params['prefix'], cluster_id, revision, now=now, counter=counter)

    if module.check_mode:
        name = free_name(dest, name_for)
        removed = to_remove(snapshots + [(name, revision)], params['keep_snapshots'])
        result.update(changed=True, path=os.path.join(dest, name), removed=[os.path.join(dest, n) for n in removed])
        return result

    if not os.path.isdir(dest):
        os.makedirs(dest, 0o700)
    handle, partial = tempfile.mkstemp(prefix='.%s' % name_for(0), suffix='.part', dir=dest)
    try:
        with os.fdopen(handle, 'wb') as out:
            os.fchmod(out.fileno(), 0o600)
            saved = client.snapshot(member['endpoint'], out)
            out.flush()
            os.fsync(out.fileno())
        path = publish(partial, dest, name_for)
    except BaseException:
        os.unlink(partial)
        raise
    result.update(changed=True, path=path, size=saved['size'], sha256=saved['sha256'])

    for name in to_remove(existing_snapshots(dest, params['prefix'], cluster_id), params['keep_snapshots']):
        os.unlink(os.path.join(dest, name))
        result['removed'].append(os.path.join(dest, name))
    return result


def main():
    module = EtcdModule(
        argument_spec=dict(
            dest=dict(type='path', required=True),
            prefix=dict(type='str', default='etcd-snapshot-'),
            keep_snapshots=dict(type='int', default=0, aliases=['keep'], no_log=False),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    if module.params['keep_snapshots'] < 0:
        module.fail_json(msg='keep_snapshots must be 0 (keep all) or a positive number, got %d'
                         % module.params['keep_snapshots'])
    if os.path.sep in module.params['prefix'] or not module.params['prefix']:
        module.fail_json(msg='prefix must be a non-empty file name prefix without %r' % os.path.sep)
    try:
        module.run(lambda client: save(module, client))
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot write the snapshot into %s: %s; check that the directory is writable and '
                             'has free space of about the database size' % (module.params['dest'], to_native(exc)))


if __name__ == '__main__':
    main()
