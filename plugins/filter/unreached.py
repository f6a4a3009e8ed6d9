# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: unreached
short_description: The sentence for an inventory host Ansible could not reach, from a task's result
version_added: 0.1.0
description:
  - Takes a task result registered with C(ignore_unreachable), and returns the role etcdops.etcd.maintenance's
    sentence for a host Ansible could not reach (its member was not asked; the fix is the host's connection, or
    C(maintenance_run_from=controller)), or an empty string when the host was reached.
  - The role registers its preflight and postflight reads, its snapshot and the members' turns this way, so that
    such a host fails its cluster with the report instead of leaving the play (a block's C(rescue) does not
    catch an unreachable host).
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The registered result.
    type: dict
    required: true
  host:
    description: The inventory host the task ran on (or was delegated to).
    type: str
    required: true
  during:
    description:
      - The step the task was, for example C(its member's turn). The sentence then says that step may have run in
        part (a connection that drops mid-task); without it, that the member was not asked.
    type: str
'''

EXAMPLES = r'''
- name: Stop if Ansible could not reach the member's host
  ansible.builtin.fail:
    msg: >-
      {{ turn | etcdops.etcd.unreached(member_host, "its member's turn") }}
  when: turn.unreachable | default(false)
'''

RETURN = r'''
_value:
  description: The sentence, naming the host and why it could not be reached; empty when it was reached.
  type: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.module_utils.findings import unreached


def _unreached(result, host, during=None):
    if not isinstance(result, dict):
        raise AnsibleFilterError('unreached takes a registered task result, not %s' % type(result).__name__)
    return unreached(str(host), result, during) or ''


class FilterModule(object):
    def filters(self):
        return {'unreached': _unreached}
