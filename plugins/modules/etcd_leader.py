#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: etcd_leader
short_description: Move etcd leadership to a member, or away from one
version_added: 0.1.0
description:
  - Hands raft leadership to the voting member O(target), or away from the member O(avoid) to the
    healthiest caught-up voting follower, as C(etcdctl move-leader) does.
  - Already so (O(target) leads, or O(avoid) does not) reports C(changed=false).
  - Learners are never chosen. A target that is unreachable, unhealthy or a learner is refused.
  - Waits until the new leader is in place, at most O(wait_timeout) seconds.
  - Typical use is to move leadership off a member before defragmenting it, since defragmenting
    the leader stalls lease renewals of the whole cluster.
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.connection
  - etcdops.etcd.attributes
  - etcdops.etcd.attributes.check_mode_full
  - etcdops.etcd.attributes.diff_mode_none
options:
  target:
    description:
      - The member to make leader, by name, id (hex, as etcdctl prints it) or client URL.
      - Mutually exclusive with O(avoid); one of them is required.
    type: str
  avoid:
    description:
      - The member that must not lead, by name, id or client URL. If it leads, leadership goes to
        the reachable, healthy voting follower with the highest applied raft index.
    type: str
  wait_timeout:
    description:
      - Seconds to wait for the new leader to be in place.
    type: int
    default: 30
'''

EXAMPLES = r'''
- name: Make sure etcd-1 does not lead before its defragmentation
  etcdops.etcd.etcd_leader:
    endpoints: "{{ etcd_endpoints }}"
    avoid: etcd-1

- name: Hand leadership to etcd-3
  etcdops.etcd.etcd_leader:
    target: etcd-3
'''

RETURN = r'''
leader:
  description: Id of the leader after the module ran (the predicted one in check mode).
  returned: success
  type: str
  sample: 8e9e05c52164694d
leader_name:
  description: Name of that leader.
  returned: success
  type: str
  sample: etcd-3
previous_leader:
  description: Id of the leader before.
  returned: success
  type: str
  sample: 91bc3c398fb3c146
'''

import time

from ansible_collections.etcdops.etcd.plugins.module_utils.client import describe_members, find_member
from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.errors import EtcdError


class LeaderError(Exception):
    pass


def best_successor(members, avoid_id):
    """The reachable, healthy voting member other than ``avoid_id`` that is most caught up."""
    candidates = [m for m in members
                  if m['id'] != avoid_id and m['reachable'] and m['healthy'] and not m['is_learner']]
    if not candidates:
        return None
    return max(candidates, key=lambda m: (m['raft_applied_index'], m['name']))


def choose(cluster, target=None, avoid=None):
    """The member that should lead (None: leave leadership where it is)."""
    members = cluster['members']
    leader = cluster['leader']
    if target is not None:
        member = find_member(members, target)
        if member is None:
            # With discover=false the target may be out of reach from here: its health is
            # then unknown, and etcd itself refuses a transfer to a member that lags.
            member = find_member(cluster['member_list'], target)
            if member is None:
                raise LeaderError('no member %r in the cluster; members: %s'
                                  % (target, describe_members(cluster['member_list'])))
        elif not (member['reachable'] and member['healthy']):
            raise LeaderError('member %s is not reachable and healthy, so it cannot take over leadership: %s'
                              % (member['name'], '; '.join(member['errors'])))
        if member['is_learner']:
            raise LeaderError('member %s is a learner: learners cannot lead; promote it first' % member['name'])
        return None if member['id'] == leader else member
    member = find_member(cluster['member_list'], avoid)
    if member is None:
        raise LeaderError('no member %r in the cluster; members: %s'
                          % (avoid, describe_members(cluster['member_list'])))
    if member['id'] != leader:
        return None
    successor = best_successor(members, member['id'])
    if successor is None:
        raise LeaderError('no reachable, healthy voting member can take over leadership from %s (with '
                          'discover=false only the members named in endpoints are candidates: name one '
                          'with target)' % member['name'])
    return successor


def move(module, client):
    params = module.params
    cluster = client.cluster_status()
    if not cluster['leader']:
        raise EtcdError(client.endpoints[0], 'the cluster has no leader',
                        remedy='Restore quorum first (etcdops.etcd.etcd_status shows the members)')
    names = dict((m['id'], m['name']) for m in cluster['member_list'])
    successor = choose(cluster, params['target'], params['avoid'])
    result = dict(changed=False, previous_leader=cluster['leader'], leader=cluster['leader'],
                  leader_name=names.get(cluster['leader']))
    if successor is None:
        return result
    result.update(changed=True, leader=successor['id'], leader_name=successor['name'])
    if module.check_mode:
        return result
    client.move_leader(cluster, successor['id'])
    # Ask a member we can reach who leads now: the new leader itself may be out of reach.
    probe = client.first_reachable_member(cluster)['endpoint']
    deadline = time.monotonic() + params['wait_timeout']
    while True:
        status = client.member_status(probe)
        if status['leader'] == successor['id']:
            return result
        if time.monotonic() >= deadline:
            raise EtcdError(probe, 'leadership was handed to %s, but after %d seconds the leader is %s'
                            % (successor['name'], params['wait_timeout'], status['leader']),
                            remedy='Check the cluster with etcdops.etcd.etcd_status; raise wait_timeout')
        time.sleep(0.2)


def main():
    module = EtcdModule(
        argument_spec=dict(
            target=dict(type='str'),
            avoid=dict(type='str'),
            wait_timeout=dict(type='int', default=30),
        ),
        mutually_exclusive=[('target', 'avoid')],
        required_one_of=[('target', 'avoid')],
        supports_check_mode=True,
    )
    try:
        module.run(lambda client: move(module, client))
    except LeaderError as exc:
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()
