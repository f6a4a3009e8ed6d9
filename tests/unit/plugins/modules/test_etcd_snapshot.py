# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Snapshot names, which files are this cluster's, which ones keep removes, and the decision to take one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import hashlib
import os

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import errors
from ansible_collections.etcdops.etcd.plugins.modules import etcd_snapshot

PREFIX = 'etcd-snapshot-'
CLUSTER = 'cdf818194e3a8c32'
OTHER = '8e9e05c52164694d'
NOON = calendar.timegm((2026, 11, 23, 12, 0, 0))


def touch(directory, *names):
    for name in names:
        directory.joinpath(name).write_bytes(b'')


def listed(directory):
    return sorted(os.listdir(str(directory)))


def test_name_holds_the_cluster_id_the_utc_time_to_the_millisecond_and_the_revision():
    assert (etcd_snapshot.snapshot_name(PREFIX, CLUSTER, 10734, now=NOON + 0.1234)
            == 'etcd-snapshot-cdf818194e3a8c32-20261123T120000.123Z-r10734.db')
    assert etcd_snapshot.snapshot_name('x.', CLUSTER, 1, now=0) == 'x.cdf818194e3a8c32-19700101T000000.000Z-r1.db'


def test_a_counter_tells_names_of_one_millisecond_apart():
    assert (etcd_snapshot.snapshot_name(PREFIX, CLUSTER, 7, now=NOON, counter=2)
            == 'etcd-snapshot-cdf818194e3a8c32-20261123T120000.000Z-r7-2.db')


def test_a_name_it_makes_is_one_it_finds(tmp_path):
    names = [etcd_snapshot.snapshot_name(PREFIX, CLUSTER, 42, now=NOON, counter=counter) for counter in (0, 1)]
    touch(tmp_path, *names)
    assert etcd_snapshot.existing_snapshots(str(tmp_path), PREFIX, CLUSTER) == [(names[0], 42), (names[1], 42)]


def test_only_this_clusters_snapshots_of_this_prefix_are_found(tmp_path):
    ours = ['etcd-snapshot-cdf818194e3a8c32-20261123T120000.000Z-r7.db',
            'etcd-snapshot-cdf818194e3a8c32-20261122T120000.500Z-r5.db']
    others = [
        'notes.txt',
        'etcd-snapshot-garbage.db',
        'etcd-snapshot-8e9e05c52164694d-20261124T120000.000Z-r9.db',     # another cluster
        'etcd-snapshot-20261124T120000Z-r9.db',                          # no cluster id: cluster unknown
        'etcd-snapshot-cdf818194e3a8c32-20261123T120000.000Z-r7.db.part',
        '.etcd-snapshot-cdf818194e3a8c32-20261123T120000.000Z-r7.dbk2j4.part',   # the module's temporary file
        'etcd-snapshot-cdf818194e3a8c32-20261123T120000.000Z-r7.db.bak',
        'etcd-snapshot-cdf818194e3a8c32-20261123T120000.000-r7.db',      # no Z
        'etcd-snapshot-cdf818194e3a8c32-20261123T120000.12Z-r7.db',      # two digits of a second
        'etcd-snapshot-cdf818194e3a8c32-2026112T120000.000Z-r7.db',      # short date
        'etcd-snapshot-cdf818194e3a8c32-20261123T120000.000Z-rx.db',
        'etcd-snapshot-cdf818194e3a8c32-20261123T120000.000Z-r7-x.db',
        'etcd-snapshot-CDF818194E3A8C32-20261123T120000.000Z-r7.db',      # etcd's ids are lower case
        'etcd-snapshot-cdf818194e3a8c3-20261123T120000.000Z-r7.db',       # a digit short
        'other-cdf818194e3a8c32-20261123T120000.000Z-r7.db',
        'xetcd-snapshot-cdf818194e3a8c32-20261123T120000.000Z-r7.db',
        'etcd-snapshot-prod-cdf818194e3a8c32-20261123T120000.000Z-r7.db',  # a longer prefix
    ]
    touch(tmp_path, *(ours + others))
    assert etcd_snapshot.existing_snapshots(str(tmp_path), PREFIX, CLUSTER) == [(ours[1], 5), (ours[0], 7)]


def test_a_prefix_that_ended_in_the_cluster_id_continues_without_it(tmp_path):
    # What the maintenance role's prefix etcd-snapshot-<cluster>-<cluster id>- used to make.
    old = 'etcd-snapshot-prod-cdf818194e3a8c32-20261123T120000Z-r7.db'
    new = etcd_snapshot.snapshot_name('etcd-snapshot-prod-', CLUSTER, 8, now=NOON + 60)
    touch(tmp_path, new, old)
    assert etcd_snapshot.existing_snapshots(str(tmp_path), 'etcd-snapshot-prod-', CLUSTER) == [(old, 7), (new, 8)]


def test_prefix_is_taken_literally(tmp_path):
    # A regex metacharacter in the prefix must not match other names.
    touch(tmp_path, 'etcdXsnapcdf818194e3a8c32-20261123T120000.000Z-r7.db',
          'etcd.snapcdf818194e3a8c32-20261123T120000.000Z-r8.db')
    assert etcd_snapshot.existing_snapshots(str(tmp_path), 'etcd.snap', CLUSTER) == [
        ('etcd.snapcdf818194e3a8c32-20261123T120000.000Z-r8.db', 8)]


def test_a_missing_directory_holds_no_snapshots(tmp_path):
    assert etcd_snapshot.existing_snapshots(str(tmp_path / 'missing'), PREFIX, CLUSTER) == []


def test_snapshots_are_listed_oldest_first(tmp_path):
    moments = [NOON + 3600, NOON - 86400 * 365, NOON, NOON + 0.5, NOON + 0.25]
    touch(tmp_path, *(etcd_snapshot.snapshot_name(PREFIX, CLUSTER, index, now=moment)
                      for index, moment in enumerate(moments)))
    assert [rev for _name, rev in etcd_snapshot.existing_snapshots(str(tmp_path), PREFIX, CLUSTER)] == [1, 2, 4, 3, 0]


def test_snapshots_of_one_millisecond_are_ordered_by_revision_then_counter(tmp_path):
    names = [etcd_snapshot.snapshot_name(PREFIX, CLUSTER, revision, now=NOON, counter=counter)
             for revision, counter in ((9, 0), (9, 2), (9, 10), (10, 0), (10, 1))]
    touch(tmp_path, *reversed(names))
    snapshots = etcd_snapshot.existing_snapshots(str(tmp_path), PREFIX, CLUSTER)
    assert [name for name, _rev in snapshots] == names
    assert etcd_snapshot.to_remove(snapshots, 1) == names[:-1]


def test_snapshots_of_one_second_without_milliseconds_are_ordered_by_revision(tmp_path):
    names = ['etcd-snapshot-cdf818194e3a8c32-20261123T120000Z-r9.db',
             'etcd-snapshot-cdf818194e3a8c32-20261123T120000Z-r10.db']
    touch(tmp_path, *names)
    assert etcd_snapshot.existing_snapshots(str(tmp_path), PREFIX, CLUSTER) == [(names[0], 9), (names[1], 10)]


SNAPSHOTS = [('a-r1.db', 1), ('b-r2.db', 2), ('c-r3.db', 3), ('d-r4.db', 4)]


@pytest.mark.parametrize('keep, expected', [
    (0, []),                                   # 0 keeps all
    (1, ['a-r1.db', 'b-r2.db', 'c-r3.db']),
    (2, ['a-r1.db', 'b-r2.db']),
    (3, ['a-r1.db']),
    (4, []),
    (10, []),
])
def test_to_remove_drops_the_oldest_beyond_keep(keep, expected):
    assert etcd_snapshot.to_remove(SNAPSHOTS, keep) == expected


def test_to_remove_of_nothing_is_nothing():
    assert etcd_snapshot.to_remove([], 3) == []


def name_for(counter):
    return etcd_snapshot.snapshot_name(PREFIX, CLUSTER, 5, now=NOON, counter=counter)


def test_free_name_counts_past_taken_names(tmp_path):
    assert etcd_snapshot.free_name(str(tmp_path), name_for) == name_for(0)
    touch(tmp_path, name_for(0), name_for(1))
    assert etcd_snapshot.free_name(str(tmp_path), name_for) == name_for(2)


def test_publish_never_replaces_a_snapshot(tmp_path):
    tmp_path.joinpath(name_for(0)).write_bytes(b'first')
    tmp_path.joinpath('.partial').write_bytes(b'second')
    path = etcd_snapshot.publish(str(tmp_path / '.partial'), str(tmp_path), name_for)
    assert path == str(tmp_path / name_for(1))
    assert tmp_path.joinpath(name_for(0)).read_bytes() == b'first'
    assert tmp_path.joinpath(name_for(1)).read_bytes() == b'second'
    assert listed(tmp_path) == sorted([name_for(0), name_for(1)])


def test_publish_gives_the_name_back_when_the_rename_fails(tmp_path):
    with pytest.raises(OSError):
        etcd_snapshot.publish(str(tmp_path / '.missing'), str(tmp_path), name_for)
    assert listed(tmp_path) == []


# save(): the decision and the files, with a stand-in for the client and the module.

class Module(object):
    def __init__(self, dest, check_mode=False, **params):
        self.params = dict(dest=str(dest), prefix=PREFIX, keep_snapshots=0, force=False)
        self.params.update(params)
        self.check_mode = check_mode


class Client(object):
    endpoints = ['http://127.0.0.1:2379']
    member = {'id': 'aaaaaaaaaaaaaaaa', 'name': 'm1', 'endpoint': 'http://127.0.0.1:2379', 'reachable': True}

    def __init__(self, cluster_id=CLUSTER, revision=5, data=b'db file'):
        self.cluster_id, self.revision, self.data = cluster_id, revision, data
        self.snapshots = 0

    def cluster_status(self):
        return {'cluster_id': self.cluster_id, 'members': [dict(self.member, revision=self.revision)]}

    def snapshot(self, endpoint, out):
        self.snapshots += 1
        out.write(self.data)
        return {'size': len(self.data), 'sha256': hashlib.sha256(self.data).hexdigest()}


@pytest.fixture
def frozen(monkeypatch):
    """Every call of the module sees the same millisecond."""
    monkeypatch.setattr(etcd_snapshot.time, 'time', lambda: NOON)


def test_a_snapshot_of_another_cluster_at_the_revision_does_not_stop_this_one(tmp_path, frozen):
    other = etcd_snapshot.save(Module(tmp_path), Client(cluster_id=OTHER, revision=5))
    ours = etcd_snapshot.save(Module(tmp_path), Client(revision=5))
    assert other['changed'] and ours['changed']
    assert other['cluster_id'] == OTHER and ours['cluster_id'] == CLUSTER
    assert listed(tmp_path) == sorted([os.path.basename(other['path']), os.path.basename(ours['path'])])
    assert os.path.basename(ours['path']) == name_for(0)


def test_the_newest_snapshot_of_this_cluster_at_the_revision_stops_a_new_one(tmp_path, frozen):
    first = etcd_snapshot.save(Module(tmp_path), Client())
    client = Client()
    for check_mode in (True, False):
        again = etcd_snapshot.save(Module(tmp_path, check_mode=check_mode), client)
        assert not again['changed']
        assert again['path'] == first['path'] and again['revision'] == 5 and again['size'] == len(b'db file')
        assert again['removed'] == []
        assert 'cdf818194e3a8c32 already holds revision 5' in again['msg']
    assert client.snapshots == 0
    assert listed(tmp_path) == [name_for(0)]


def test_check_mode_predicts_the_name_and_writes_nothing(tmp_path, frozen):
    dest = tmp_path / 'new'
    client = Client()
    result = etcd_snapshot.save(Module(dest, check_mode=True), client)
    assert result['changed'] and result['path'] == str(dest / name_for(0))
    assert result['size'] is None and result['sha256'] is None
    assert client.snapshots == 0
    assert not dest.exists()


def test_forced_snapshots_of_one_revision_in_one_millisecond_get_a_file_each(tmp_path, frozen):
    results = [etcd_snapshot.save(Module(tmp_path, force=True), Client(data=data)) for data in (b'one', b'two')]
    check = etcd_snapshot.save(Module(tmp_path, force=True, check_mode=True), Client())
    assert [r['changed'] for r in results] == [True, True]
    assert [os.path.basename(r['path']) for r in results] == [name_for(0), name_for(1)]
    assert check['path'] == str(tmp_path / name_for(2))
    assert listed(tmp_path) == sorted([name_for(0), name_for(1)])
    assert [tmp_path.joinpath(name).read_bytes() for name in (name_for(0), name_for(1))] == [b'one', b'two']


def test_keep_removes_only_this_clusters_oldest(tmp_path, frozen):
    theirs = ['etcd-snapshot-8e9e05c52164694d-20200101T000000.000Z-r1.db', 'etcd-snapshot-20200101T000000Z-r1.db']
    ours = ['etcd-snapshot-cdf818194e3a8c32-20200101T000000.000Z-r1.db',
            'etcd-snapshot-cdf818194e3a8c32-20200101T000001.000Z-r2.db']
    touch(tmp_path, *(theirs + ours))
    check = etcd_snapshot.save(Module(tmp_path, keep_snapshots=2, check_mode=True), Client())
    assert listed(tmp_path) == sorted(theirs + ours)
    result = etcd_snapshot.save(Module(tmp_path, keep_snapshots=2), Client())
    assert check['removed'] == result['removed'] == [str(tmp_path / ours[0])]
    assert listed(tmp_path) == sorted(theirs + [ours[1], name_for(0)])


def test_a_failed_snapshot_leaves_no_file(tmp_path, frozen):
    class Failing(Client):
        def snapshot(self, endpoint, out):
            out.write(b'half')
            raise errors.EtcdSnapshotError(endpoint, 'the snapshot does not match its SHA-256')

    with pytest.raises(errors.EtcdSnapshotError):
        etcd_snapshot.save(Module(tmp_path), Failing())
    assert listed(tmp_path) == []


def test_a_member_without_a_cluster_id_is_an_error_naming_it(tmp_path):
    with pytest.raises(errors.EtcdNotEtcdError) as raised:
        etcd_snapshot.save(Module(tmp_path), Client(cluster_id=None))
    assert raised.value.endpoint == Client.member['endpoint']
    assert 'cluster id' in raised.value.message
    assert listed(tmp_path) == []


def test_room_for_the_snapshot_in_an_existing_or_a_missing_directory(tmp_path):
    assert etcd_snapshot.room_problem(str(tmp_path), 1024, 'etcd-1') is None
    # Missing: the directory it would be created in is checked.
    assert etcd_snapshot.room_problem(str(tmp_path / 'a' / 'b'), 1024, 'etcd-1') is None


def test_too_little_free_space_names_the_member_and_the_sizes(tmp_path):
    stats = os.statvfs(str(tmp_path))
    free = stats.f_bavail * stats.f_frsize
    problem = etcd_snapshot.room_problem(str(tmp_path / 'new'), free + (1 << 30), 'etcd-2')
    assert problem.startswith('cannot write the snapshot into %s: its file system has ' % (tmp_path / 'new'))
    assert 'the snapshot of member etcd-2 needs about %d' % (free + (1 << 30)) in problem


def test_a_directory_that_is_not_writable_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(etcd_snapshot.os, 'access', lambda path, mode: False)
    problem = etcd_snapshot.room_problem(str(tmp_path), 1, 'etcd-1')
    assert problem == ('cannot write the snapshot into %s: %s is not writable (a read-only file system, or its '
                       'permissions); set dest to a writable directory' % (tmp_path, tmp_path))


# The snapshot directory: created private, never widened or narrowed, a warning when others may read it.

@pytest.mark.parametrize('mode', [0o700, 0o750, 0o711, 0o2750])
def test_a_directory_others_cannot_list_or_write_needs_no_warning(mode):
    assert etcd_snapshot.dest_warning('/var/backups/etcd', 0o040000 | mode) is None


@pytest.mark.parametrize('mode, access', [(0o755, 'readable'), (0o704, 'readable'), (0o703, 'writable'),
                                          (0o777, 'readable and writable'), (0o1777, 'readable and writable')])
def test_a_directory_others_may_list_or_write_is_a_warning_with_the_fix(mode, access):
    warning = etcd_snapshot.dest_warning('/var/backups', 0o040000 | mode)
    assert 'is %s by all users (mode %04o)' % (access, mode) in warning
    assert 'Kubernetes Secrets' in warning
    assert warning.endswith('chmod 0700 /var/backups')


class Warned(Module):
    def __init__(self, dest, **params):
        super(Warned, self).__init__(dest, **params)
        self.warnings = []

    def warn(self, warning):
        self.warnings.append(warning)


def test_a_missing_directory_is_made_0700_and_the_file_0600(tmp_path, frozen):
    module = Warned(tmp_path / 'new')
    result = etcd_snapshot.save(module, Client())
    assert oct(os.stat(str(tmp_path / 'new')).st_mode & 0o7777) == oct(0o700)
    assert oct(os.stat(result['path']).st_mode & 0o7777) == oct(0o600)
    assert module.warnings == []


@pytest.mark.parametrize('mode, warned', [(0o700, False), (0o750, False), (0o755, True), (0o777, True)])
def test_an_existing_directory_keeps_its_mode_and_warns_when_others_may_list_it(tmp_path, frozen, mode, warned):
    dest = tmp_path / 'existing'
    dest.mkdir()
    os.chmod(str(dest), mode)
    for check_mode in (True, False):
        module = Warned(dest, check_mode=check_mode)
        etcd_snapshot.save(module, Client())
        assert oct(os.stat(str(dest)).st_mode & 0o7777) == oct(mode)
        assert len(module.warnings) == (1 if warned else 0)
        assert all('chmod 0700 %s' % dest in warning for warning in module.warnings)
