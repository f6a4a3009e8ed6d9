# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Snapshot names, which files are ours, and which ones keep removes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar

import pytest

from ansible_collections.etcdops.etcd.plugins.modules import etcd_snapshot

PREFIX = 'etcd-snapshot-'
NOON = calendar.timegm((2026, 11, 23, 12, 0, 0))


def test_name_holds_the_utc_time_and_the_revision():
    assert etcd_snapshot.snapshot_name(PREFIX, 10734, now=NOON) == 'etcd-snapshot-20261123T120000Z-r10734.db'
    assert etcd_snapshot.snapshot_name('x.', 1, now=0) == 'x.19700101T000000Z-r1.db'


def test_a_name_it_makes_is_one_it_finds(tmp_path):
    name = etcd_snapshot.snapshot_name(PREFIX, 42, now=NOON)
    tmp_path.joinpath(name).write_bytes(b'')
    assert etcd_snapshot.existing_snapshots(str(tmp_path), PREFIX) == [(name, 42)]


def test_only_this_prefixs_snapshots_are_found(tmp_path):
    ours = ['etcd-snapshot-20261123T120000Z-r7.db', 'etcd-snapshot-20261122T120000Z-r5.db']
    others = [
        'notes.txt',
        'etcd-snapshot-garbage.db',
        'etcd-snapshot-20261123T120000Z-r7.db.part',
        '.etcd-snapshot-20261123T120000Z-r7.dbk2j4.part',   # the module's own temporary file
        'etcd-snapshot-20261123T120000Z-r7.db.bak',
        'etcd-snapshot-20261123T120000-r7.db',              # no Z
        'etcd-snapshot-2026112T120000Z-r7.db',               # short date
        'etcd-snapshot-20261123T120000Z-rx.db',
        'other-20261123T120000Z-r7.db',
        'xetcd-snapshot-20261123T120000Z-r7.db',
    ]
    for name in ours + others:
        tmp_path.joinpath(name).write_bytes(b'')
    assert etcd_snapshot.existing_snapshots(str(tmp_path), PREFIX) == [
        ('etcd-snapshot-20261122T120000Z-r5.db', 5), ('etcd-snapshot-20261123T120000Z-r7.db', 7)]


def test_prefix_is_taken_literally(tmp_path):
    # A regex metacharacter in the prefix must not match other names.
    tmp_path.joinpath('etcdXsnap20261123T120000Z-r7.db').write_bytes(b'')
    tmp_path.joinpath('etcd.snap20261123T120000Z-r8.db').write_bytes(b'')
    assert etcd_snapshot.existing_snapshots(str(tmp_path), 'etcd.snap') == [('etcd.snap20261123T120000Z-r8.db', 8)]


def test_a_missing_directory_holds_no_snapshots(tmp_path):
    assert etcd_snapshot.existing_snapshots(str(tmp_path / 'missing'), PREFIX) == []


def test_snapshots_are_listed_oldest_first(tmp_path):
    names = ['etcd-snapshot-20261123T120000Z-r30.db', 'etcd-snapshot-20251231T235959Z-r10.db',
             'etcd-snapshot-20261001T000000Z-r20.db']
    for name in names:
        tmp_path.joinpath(name).write_bytes(b'')
    assert [rev for _name, rev in etcd_snapshot.existing_snapshots(str(tmp_path), PREFIX)] == [10, 20, 30]


def test_snapshots_of_one_second_are_ordered_by_revision(tmp_path):
    for revision in (9, 10):
        tmp_path.joinpath(etcd_snapshot.snapshot_name(PREFIX, revision, now=NOON)).write_bytes(b'')
    snapshots = etcd_snapshot.existing_snapshots(str(tmp_path), PREFIX)
    assert [rev for _name, rev in snapshots] == [9, 10]
    assert etcd_snapshot.to_remove(snapshots, 1) == [etcd_snapshot.snapshot_name(PREFIX, 9, now=NOON)]


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
