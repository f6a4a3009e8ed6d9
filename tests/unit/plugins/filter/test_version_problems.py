# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.filter.version_problems import FilterModule
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import minor_of, parse_version

version_problems = FilterModule().filters()['version_problems']


def member(name, version, downgrade=None, reachable=True, host=None):
    entry = {'name': name, 'version': version, 'reachable': reachable,
             'downgrade_info': {'enabled': bool(downgrade), 'target_version': downgrade}}
    if host:
        entry['host'] = host
    return entry


def test_one_minor_is_fine_even_with_patches_apart():
    assert version_problems([member('a', '3.6.15'), member('b', '3.6.16'), member('c', '3.6.16')]) == []


def test_members_on_two_minors_are_named_with_their_versions():
    problems = version_problems([member('a', '3.5.30', host='cp1'), member('b', '3.6.16', host='cp2'),
                                 member('c', '3.5.30', host='cp3')])
    assert len(problems) == 1
    assert 'different etcd minor versions (3.5, 3.6)' in problems[0]
    assert 'a (host cp1) 3.5.30' in problems[0] and 'b (host cp2) 3.6.16' in problems[0]


def test_minors_sorted_as_versions_not_as_text():
    problems = version_problems([member('a', '3.10.0'), member('b', '3.9.1')])
    assert '(3.9, 3.10)' in problems[0]


def test_downgrade_in_progress_names_target_and_reporters():
    problems = version_problems([member('a', '3.6.16', downgrade='3.5.0'), member('b', '3.6.16'),
                                 member('c', '3.6.16', downgrade='3.5.0')])
    assert len(problems) == 1
    assert 'downgrade of the cluster to 3.5.0 is in progress' in problems[0]
    assert 'reported by a, c' in problems[0]
    assert 'etcdctl downgrade cancel' in problems[0]


def test_downgrade_half_done_gives_both_problems():
    problems = version_problems([member('a', '3.6.16', downgrade='3.5.0'), member('b', '3.5.30', downgrade='3.5.0')])
    assert len(problems) == 2


def test_unreachable_and_unknown_versions_are_left_out():
    members = [member('a', '3.6.16'), member('b', None, reachable=False), member('c', '3.5.30', reachable=False),
               {'name': 'd', 'version': None}]
    assert version_problems(members) == []


def test_statuses_before_3_6_have_no_downgrade_info():
    assert version_problems([{'name': 'a', 'version': '3.4.23'}, {'name': 'b', 'version': '3.4.23'}]) == []


def test_not_a_list_of_members_is_refused():
    with pytest.raises(AnsibleFilterError):
        version_problems('3.6.16')
    with pytest.raises(AnsibleFilterError):
        version_problems(['3.6.16'])


@pytest.mark.parametrize('text, parsed, minor', [
    ('3.6.16', (3, 6, 16), '3.6'), ('v3.7.3', (3, 7, 3), '3.7'), ('3.5', (3, 5, 0), '3.5'),
    ('not a version', None, None), (None, None, None),
])
def test_parse_version(text, parsed, minor):
    assert parse_version(text) == parsed
    assert minor_of(text) == minor
