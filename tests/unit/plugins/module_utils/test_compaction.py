# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils.compaction import target_revision


@pytest.mark.parametrize('revision, keep, expected', [
    (None, None, 500),   # default: the current revision
    (120, None, 120),    # explicit
    (None, 100, 400),    # keep the last 100 revisions
    (None, 1000, 0),     # history shorter than asked to keep
    (None, 0, 500),
])
def test_target_revision(revision, keep, expected):
    assert target_revision(500, revision, keep) == expected
