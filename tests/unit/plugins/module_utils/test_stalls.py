# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The predicted stall of a member's defragmentation, the rates it is made with, and the refusal."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils.stalls import (
    MIB,
    measured_rate,
    predict_stall,
    slowest,
    stall_message,
    stall_refusal,
)


def test_a_rate_is_measured_only_on_a_member_large_enough_to_time():
    assert measured_rate(300 * MIB, 6.0) == 50.0
    assert measured_rate(64 * MIB, 0.5) == 128.0
    assert measured_rate(63 * MIB, 0.5) is None
    assert measured_rate(None, 1.0) is None
    assert measured_rate(300 * MIB, 0) is None and measured_rate(300 * MIB, None) is None


def test_the_slowest_rate_counts():
    assert slowest([None, 80.0, 50.0]) == 50.0
    assert slowest([None, None]) is None and slowest([]) is None


def test_the_prediction_uses_a_measured_rate_before_the_assumed_one():
    assert predict_stall(320 * MIB, 32.0) == dict(predicted_stall_seconds=10.0, copy_rate=32.0,
                                                  copy_rate_basis='assumed')
    assert predict_stall(320 * MIB, 32.0, 64.0) == dict(predicted_stall_seconds=5.0, copy_rate=64.0,
                                                        copy_rate_basis='measured')
    assert predict_stall(None, 32.0)['predicted_stall_seconds'] == 0.0
    with pytest.raises(ValueError):
        predict_stall(MIB, 0)


def test_a_member_over_the_limit_is_refused_with_its_size_rate_and_what_to_do():
    prediction = predict_stall(400 * MIB, 32.0)
    detail, remedy = stall_refusal('etcd-2', 400 * MIB, prediction, 10)
    assert detail == ('member etcd-2: its defragmentation would block it for about 12.5 s (400 MiB in use at '
                      '32.0 MiB/s, assumed before any was measured), over the limit of 10 s '
                      '(maintenance_max_stall_seconds); its clients (an API server pinned to it, the leader '
                      'elections through that API server) would stall that long. Nothing was done to it')
    assert 'Raise maintenance_max_stall_seconds' in remedy and 'maintenance_copy_rate' in remedy
    measured = stall_refusal('etcd-2', 400 * MIB, predict_stall(400 * MIB, 32.0, 20.0), 10)
    assert 'measured on the earlier members of this run' in measured[0]
    assert stall_message('https://10.0.0.2:2379', (detail, remedy)) == 'https://10.0.0.2:2379: %s. %s' % (
        detail, remedy)


def test_at_or_under_the_limit_or_without_one_nothing_is_refused():
    assert stall_refusal('etcd-2', 320 * MIB, predict_stall(320 * MIB, 32.0), 10) is None
    assert stall_refusal('etcd-2', 4000 * MIB, predict_stall(4000 * MIB, 32.0), 0) is None
    assert stall_refusal('etcd-2', 4000 * MIB, predict_stall(4000 * MIB, 32.0), None) is None
