# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sentence for a host Ansible could not reach (filter unreached), from results ansible-core registers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.filter.unreached import FilterModule

unreached = FilterModule().filters()['unreached']


def test_an_unreachable_result_names_the_host_the_cause_and_the_fix():
    # ansible-core 2.19, ignore_unreachable, ssh to a closed port (scenario unreachable_mid_run).
    result = dict(changed=False, unreachable=True, msg='Task failed: Failed to connect to the host via ssh: '
                  'ssh: connect to host 127.0.0.1 port 40021: Connection refused')
    assert unreached(result, 'cp2') == (
        "Ansible cannot reach host cp2 (Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 "
        "port 40021: Connection refused), so its member was not asked: fix the host's connection (ansible_host, "
        "ansible_port, ssh), or run with maintenance_run_from=controller, which asks every member from the controller")
    # ansible-core 2.17 has no "Task failed: " prefix; a result without msg still gives a sentence.
    sentence = unreached(dict(unreachable=True, msg='timed out'), 'cp2')
    assert sentence.startswith('Ansible cannot reach host cp2 (timed out)')
    assert '(no reason given)' in unreached(dict(unreachable=True), 'cp2')
    # In a step that may have begun: not "not asked".
    assert unreached(dict(unreachable=True, msg='Shared connection to cp2 closed.'), 'cp2', "its member's turn") == (
        "Ansible cannot reach host cp2 (Shared connection to cp2 closed.): its member's turn may have run in part, "
        "if the connection dropped during it (the rerun reads every member first); fix the host's connection "
        "(ansible_host, ansible_port, ssh), or run with maintenance_run_from=controller, which asks every member "
        "from the controller")


@pytest.mark.parametrize('result', [{}, dict(changed=True, members=[]), dict(unreachable=False, failed=True)])
def test_a_reached_host_gives_nothing(result):
    assert unreached(result, 'cp2') == ''


def test_not_a_result_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='registered task result'):
        unreached(['x'], 'cp2')
