#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: etcd_alarm
short_description: List, disarm or raise etcd alarms (NOSPACE, CORRUPT)
version_added: 0.1.0
description:
  - Lists the active alarms of the cluster (without O(state)).
  - Disarms alarms (O(state=absent)), each by its exact (member, alarm) pair, as
    C(etcdctl alarm disarm) does.
  - Raises an alarm on a member (O(state=present)), for recovery drills.
  - A NOSPACE alarm is only worth disarming once every member's database file is back well under
    its quota (after compaction and a defragmentation of every member), because etcd raises it
    again at the next write otherwise. While any member is at or above O(max_quota_usage) of its
    quota, or cannot be reached to tell, the NOSPACE disarm is skipped with a warning unless
    O(force=true).
  - A CORRUPT alarm means members disagree on the data; disarming it hides that. It is only
    disarmed with O(force=true).
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.connection
  - etcdops.etcd.connection.quota
  - etcdops.etcd.attributes
  - etcdops.etcd.attributes.check_mode_full
  - etcdops.etcd.attributes.diff_mode_full
options:
  state:
    description:
      - V(absent) disarms the O(alarm) alarms (of O(member) when given).
      - V(present) raises O(alarm) on O(member).
      - Not set, the module only lists the alarms.
    type: str
    choices: [absent, present]
  alarm:
    description:
      - Which alarm. V(all) (with O(state=absent) only) means every alarm.
    type: str
    choices: [NOSPACE, CORRUPT, all]
    default: NOSPACE
  member:
    description:
      - The member, by name, id (hex, as etcdctl prints it) or client URL.
      - With O(state=absent), restricts the disarm to that member's alarms.
      - With O(state=present), the member to raise the alarm on; default is the member at the
        first endpoint that answers.
    type: str
  force:
    description:
      - Disarm NOSPACE even while a member is at or above O(max_quota_usage), and disarm CORRUPT at all.
    type: bool
    default: false
  max_quota_usage:
    description:
      - The share of its quota (database file size divided by quota) that a member must be under
        before NOSPACE is disarmed.
      - Why not 1.0 - etcd raises NOSPACE when a write B(would) take the file over the quota, so a
        cluster stuck on NOSPACE typically sits a little under it (94 % was measured with 1 MiB writes
        and a 16 MiB quota). Disarming there lets the next large write raise the alarm again.
    type: float
    default: 0.9
'''

EXAMPLES = r'''
- name: Disarm NOSPACE once compaction and defragmentation gave the space back
  etcdops.etcd.etcd_alarm:
    endpoints: "{{ etcd_endpoints }}"
    state: absent
    alarm: NOSPACE

- name: List the alarms
  etcdops.etcd.etcd_alarm:
  register: etcd_alarms

- name: Drill - raise NOSPACE on one member (writes are refused until it is disarmed)
  etcdops.etcd.etcd_alarm:
    state: present
    alarm: NOSPACE
    member: etcd-2
'''

RETURN = r'''
alarms:
  description: The active alarms after the module ran (predicted in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"member_id": "8e9e05c52164694d", "alarm": "NOSPACE"}]
  contains:
    member_id:
      description: Id of the member the alarm is on (16 hex digits).
      type: str
    alarm:
      description: V(NOSPACE) or V(CORRUPT).
      type: str
disarmed:
  description: The (member, alarm) pairs disarmed (would be, in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"member_id": "8e9e05c52164694d", "alarm": "NOSPACE"}]
raised:
  description: The (member, alarm) pair raised (would be, in check mode), empty if it was already active.
  returned: success
  type: list
  elements: dict
  sample: []
kept:
  description: >-
    Pairs left active although they matched, each with the reason (a NOSPACE disarm that would
    not hold, a CORRUPT alarm without O(force)). Not named C(skipped): Ansible reserves that key.
  returned: success
  type: list
  elements: dict
  sample: [{"member_id": "8e9e05c52164694d", "alarm": "NOSPACE", "reason": "member etcd-1 is at 101 % of its quota"}]
'''

from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.members import (
    describe_members,
    find_member,
    first_reachable_member,
)


def nospace_blockers(members, max_quota_usage):
    """Why a NOSPACE disarm would not hold: members too close to their quota, or of unknown size."""
    reasons = []
    for member in members:
        if member['is_learner']:
            continue
        if not member['reachable']:
            reasons.append('member %s cannot be reached to check its size' % (member['name'] or member['id']))
        elif member['quota_usage'] >= max_quota_usage:
            reasons.append('member %s is at %d %% of its quota (%d of %d bytes, max_quota_usage is %g): '
                           'compact and defragment every member first, or raise its --quota-backend-bytes'
                           % (member['name'], int(100 * member['quota_usage']), member['db_size'],
                              member['quota_bytes'], max_quota_usage))
    return reasons


def plan_disarm(cluster, alarm, member, force, max_quota_usage=0.9):
    """(to_disarm, kept, warnings) for state=absent."""
    wanted = [a for a in cluster['alarms']
              if (alarm == 'all' or a['alarm'] == alarm) and (member is None or a['member_id'] == member['id'])]
    to_disarm, kept, warnings = [], [], []
    blockers = nospace_blockers(cluster['members'], max_quota_usage)
    for pair in wanted:
        reason = None
        if pair['alarm'] == 'CORRUPT' and not force:
            reason = ('CORRUPT means members disagree on the data; find and replace the corrupt member '
                      'before disarming, or set force=true')
        elif pair['alarm'] == 'NOSPACE' and blockers and not force:
            reason = '; '.join(blockers)
        if reason:
            kept.append(dict(pair, reason=reason))
            warnings.append('Not disarming %s on member %s: %s' % (pair['alarm'], pair['member_id'], reason))
        else:
            to_disarm.append(pair)
    return to_disarm, kept, warnings


def manage(module, client):
    params = module.params
    cluster = client.cluster_status()
    before = cluster['alarms']
    member = None
    if params['member']:
        member = find_member(cluster['members'], params['member'])
        if member is None:
            module.fail_json(msg='no member named %r in the cluster; members: %s'
                             % (params['member'], describe_members(cluster['members'])))
    result = dict(changed=False, alarms=before, disarmed=[], raised=[], kept=[])

    if params['state'] == 'absent':
        to_disarm, result['kept'], warnings = plan_disarm(cluster, params['alarm'], member, params['force'],
                                                          params['max_quota_usage'])
        for warning in warnings:
            module.warn(warning)
        result['disarmed'] = to_disarm
        if to_disarm and not module.check_mode:
            for pair in to_disarm:
                client.alarm('DEACTIVATE', pair['member_id'], pair['alarm'])
        after = [a for a in before if a not in to_disarm]
    elif params['state'] == 'present':
        if params['alarm'] == 'all':
            module.fail_json(msg='alarm=all only goes with state=absent: name NOSPACE or CORRUPT to raise')
        if member is None:
            member = default_member(client, cluster)
        pair = {'member_id': member.get('id'), 'alarm': params['alarm']}
        if pair not in before:
            result['raised'] = [pair]
            if not module.check_mode:
                client.alarm('ACTIVATE', pair['member_id'], pair['alarm'])
        after = sorted(before + result['raised'], key=lambda a: (a['member_id'], a['alarm']))
    else:
        after = before

    result['changed'] = bool(result['disarmed'] or result['raised'])
    if result['changed'] and not module.check_mode:
        after = client.alarms()
    result['alarms'] = after
    if module._diff:
        result['diff'] = dict(before=dict(alarms=before), after=dict(alarms=after))
    return result


def default_member(client, cluster):
    """The member at the first given endpoint that answered, else any that answered."""
    return first_reachable_member(cluster, client.endpoints) or next(m for m in cluster['members'] if m['reachable'])


def main():
    module = EtcdModule(
        argument_spec=dict(
            state=dict(type='str', choices=['absent', 'present']),
            alarm=dict(type='str', default='NOSPACE', choices=['NOSPACE', 'CORRUPT', 'all']),
            member=dict(type='str'),
            force=dict(type='bool', default=False),
            max_quota_usage=dict(type='float', default=0.9),
        ),
        quota=True,
        supports_check_mode=True,
    )
    if not 0 < module.params['max_quota_usage'] <= 1:
        module.fail_json(msg='max_quota_usage is a share of the quota, above 0 and at most 1; got %s'
                         % module.params['max_quota_usage'])
    module.run(lambda client: manage(module, client))


if __name__ == '__main__':
    main()
