# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The connection options' checks, made when a module starts, before any call to etcd."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import common


def params(**changes):
    result = dict(endpoints=['http://127.0.0.1:2379'], cacert=None, cert=None, key=None, user=None, password=None,
                  validate_certs=True, timeout=10, discover=True)
    result.update(changes)
    return result


def test_good_options_have_no_problem():
    assert common.connection_problems(params()) == []
    assert common.connection_problems(params(cacert='/ca', cert='/c', key='/k'), readable=lambda path: None) == []


@pytest.mark.parametrize('changes, problem', [
    (dict(timeout=0), 'timeout must be a positive number of seconds, got 0'),
    (dict(endpoints=[]), 'endpoints is empty: '),
    (dict(cert='/c'), 'cert and key go together'),
    (dict(key='/k'), 'cert and key go together'),
])
def test_each_bad_option_is_named(changes, problem):
    found = common.connection_problems(params(**changes), readable=lambda path: None)
    assert len(found) == 1 and found[0].startswith(problem)


def test_unreadable_files_are_named_with_the_reason():
    found = common.connection_problems(params(cacert='/ca', cert='/c', key='/k'),
                                       readable=lambda path: 'missing' if path == '/ca' else None)
    assert found == ['cacert /ca cannot be read on this host (missing): check the path, and become a user '
                     'that may read it']


def test_every_problem_at_once():
    found = common.connection_problems(params(timeout=-1, endpoints=[], cert='/c'), readable=lambda path: None)
    assert len(found) == 3


def test_a_file_this_host_cannot_read(tmp_path):
    missing = str(tmp_path / 'nope.pem')
    assert common.connection_problems(params(cacert=missing)) == [
        'cacert %s cannot be read on this host (missing): check the path, and become a user that may read it'
        % missing]
