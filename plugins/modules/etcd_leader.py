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

from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.errors import EtcdNoLeaderError
from ansible_collections.etcdops.etcd.plugins.module_utils.leadership import LeaderError, choose, hand_over


def move(module, client):
    params = module.params
    cluster = client.cluster_status()
    if not cluster['leader']:
        raise EtcdNoLeaderError(client.endpoints[0], 'the cluster has no leader; leadership was not moved')
    names = dict((m['id'], m['name']) for m in cluster['member_list'])
    successor = choose(cluster, params['target'], params['avoid'])
    result = dict(changed=False, previous_leader=cluster['leader'], leader=cluster['leader'],
                  leader_name=names.get(cluster['leader']))
    if successor is None:
        return result
    result.update(changed=True, leader=successor['id'], leader_name=successor['name'])
    if not module.check_mode:
        hand_over(client, cluster, successor, params['wait_timeout'])
    return result


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
