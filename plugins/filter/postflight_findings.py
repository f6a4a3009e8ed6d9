# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: postflight_findings
short_description: Whether an etcd cluster is whole after its maintenance, keyspace hashes included
version_added: 0.1.0
description:
  - Takes the reads of one cluster's hosts after the maintenance (P(etcdops.etcd.cluster_reads#filter), of
    M(etcdops.etcd.etcd_status) runs with O(etcdops.etcd.etcd_status#module:hashkv)) and returns the
    postflight of the role etcdops.etcd.maintenance.
  - Problems - a member that does not answer or is not healthy, no single leader, an alarm still active
    (but those in O(expected_alarms)), members whose keyspace hashes at O(hash_revision) differ.
    Members older than etcd 3.5.16 cannot hash at a revision - they are listed in C(hash_skipped).
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: Host name -> its read.
    type: dict
    required: true
  hosts:
    description: The cluster's hosts, in inventory order.
    type: list
    elements: str
    required: true
  hash_revision:
    description: The revision the members hashed their keyspace at.
    type: int
    required: true
  expected_alarms:
    description: Alarm names that may still be active (C(NOSPACE) in check mode, or when it is not disarmed).
    type: list
    elements: str
    default: []
  preflight_alarms:
    description:
      - The alarms the preflight saw (C(member_id), C(alarm)). An alarm active now but not then was raised
        during the maintenance (a writer filling the space quota while the members were defragmented) and
        is said so, with what to do. Without it, every alarm left is "still active".
    type: list
    elements: dict
'''

EXAMPLES = r'''
- name: Check the cluster after the maintenance
  ansible.builtin.set_fact:
    postflight: "{{ reads | etcdops.etcd.postflight_findings(cluster_hosts, 42) }}"
'''

RETURN = r'''
_value:
  description: >-
    C(problems), C(leader) (its name), C(alarms), C(hash_revision), C(hashes_equal) (none with fewer than
    two hashes compared: only hashes with the same compact revision are), C(hashes) (member name -> hash),
    C(hash_skipped), C(hash_errors), C(hash_not_comparable) (one sentence per member whose hash covers
    another range of revisions, as after a restart since the last compaction), C(in_use) (host -> its
    C(db_size_in_use) after, none when it did not answer).
  type: dict
'''

from ansible_collections.etcdops.etcd.plugins.module_utils.findings import postflight_findings
from ansible_collections.etcdops.etcd.plugins.plugin_utils.cluster_filter import over_reads


def _postflight_findings(reads, hosts, hash_revision, expected_alarms=(), preflight_alarms=None):
    return over_reads('postflight_findings', postflight_findings, reads, hosts, int(hash_revision),
                      list(expected_alarms or []), None if preflight_alarms is None else list(preflight_alarms))


class FilterModule(object):
    def filters(self):
        return {'postflight_findings': _postflight_findings}
