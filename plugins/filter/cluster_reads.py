# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: cluster_reads
short_description: Each etcd member host's status read, from its own run or split from one run over all
version_added: 0.1.0
description:
  - Takes the hosts of one etcd cluster and returns, per host, the M(etcdops.etcd.etcd_status) result
    about its member in the shape of a run on that member alone.
  - Without O(coordinator), each host's own registered run (O(register)) is taken. With it, the
    coordinator's single run over every member is split per host, by client URL; a host whose member
    did not answer gets C(endpoint) and C(msg).
  - Used by the role etcdops.etcd.maintenance for its preflight and postflight.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The cluster's hosts, in inventory order.
    type: list
    elements: str
    required: true
  hostvars:
    description: The play's C(hostvars).
    type: dict
    required: true
  register:
    description: The name under which the etcd_status runs were registered.
    type: str
    required: true
  client_urls:
    description: Each host's etcd client URL.
    type: dict
    required: true
  coordinator:
    description: The host whose single run read every member; none when each host read its own.
    type: str
'''

EXAMPLES = r'''
- name: The reads of the preflight, per host
  ansible.builtin.set_fact:
    reads: "{{ cluster_hosts | etcdops.etcd.cluster_reads(hostvars, 'status_run', client_urls) }}"
'''

RETURN = r'''
_value:
  description: Host name -> its read (C(members) with its one member, or C(endpoint) and C(msg)).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

from ansible_collections.etcdops.etcd.plugins.module_utils.findings import hostvar, split_reads


def _cluster_reads(hosts, hostvars, register, client_urls, coordinator=None):
    if not is_sequence(hosts) or not isinstance(client_urls, dict):
        raise AnsibleFilterError('cluster_reads takes the list of a cluster\'s hosts and a dict of their client URLs')
    if coordinator:
        return split_reads(hosts, client_urls, {}, hostvar(hostvars, coordinator, register) or {})
    return split_reads(hosts, client_urls, dict((h, hostvar(hostvars, h, register)) for h in hosts))


class FilterModule(object):
    def filters(self):
        return {'cluster_reads': _cluster_reads}
