# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Leadership transfer: which member should lead, and handing leadership to it.

Used by etcd_leader, and by etcd_defrag with ``move_leader`` (leadership handed away before the
leader's own defragmentation, in the same module run).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.etcdops.etcd.plugins.module_utils.errors import EtcdLeaderTransferTimeoutError
from ansible_collections.etcdops.etcd.plugins.module_utils.members import (
    describe_members,
    find_member,
    first_reachable_member,
)


class LeaderError(Exception):
    pass


def best_successor(members, avoid_id, prefer=()):
    """The reachable, healthy voting member other than ``avoid_id`` that is most caught up; among them
    first those whose ids are in ``prefer`` (in a rolling defragmentation: the members already done,
    so that leadership does not have to move a second time when the successor's own turn comes)."""
    prefer = set(prefer)
    candidates = [m for m in members
                  if m['id'] != avoid_id and m['reachable'] and m['healthy'] and not m['is_learner']]
    if not candidates:
        return None
    return max(candidates, key=lambda m: (m['id'] in prefer, m['raft_applied_index'], m['name']))


def choose(cluster, target=None, avoid=None, prefer=()):
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
    successor = best_successor(members, member['id'], prefer)
    if successor is None:
        raise LeaderError('no reachable, healthy voting member can take over leadership from %s (with '
                          'discover=false only the members named in endpoints are candidates: name one '
                          'with target)' % member['name'])
    return successor


def hand_over(client, cluster, successor, wait_timeout):
    """Hand leadership to ``successor`` (a member of ``cluster``) and wait until it leads."""
    client.move_leader(cluster, successor['id'])
    # Ask a member we can reach who leads now: the new leader itself may be out of reach.
    probe = first_reachable_member(cluster, client.endpoints)['endpoint']
    deadline = time.monotonic() + wait_timeout
    while True:
        status = client.status(probe)
        if status['leader'] == successor['id']:
            return
        if time.monotonic() >= deadline:
            raise EtcdLeaderTransferTimeoutError(
                probe, 'leadership was handed to %s, but after %d seconds the leader is %s'
                % (successor['name'], wait_timeout, status['leader'] or 'none'))
        time.sleep(0.1)
