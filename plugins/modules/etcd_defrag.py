#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: etcd_defrag
short_description: Defragment etcd members one at a time, each only when it needs it
version_added: 0.1.0
description:
  - Defragments the members named by O(endpoints), strictly one at a time and in the given
    order, as C(etcdctl defrag) does for each endpoint, to give the free pages of the database
    file back to the file system.
  - A member is defragmented only when O(rule) holds for it, evaluated on a status of that
    member taken just before its turn, or always with O(force=true).
  - After each defragmentation the module waits until the member answers again and has
    applied every raft entry the leader had when its defragmentation ended, then goes on. Where
    the leader cannot be reached from the host running the module (O(discover=false)), it waits
    for the member to apply every entry it knows to be committed.
  - Learners are skipped (etcd cannot defragment a learner).
  - Before anything changes, every named member must answer, the cluster must have a leader
    and O(rule) must evaluate on every member; otherwise nothing is defragmented. Before each
    member's turn, every other voting member must be up (O(require_all_members)).
  - With O(compact=true) the key-value history is compacted once, after those checks and
    before the first member's turn, as M(etcdops.etcd.etcd_compact) does (physically, through
    the first member named), so that the defragmentations that follow give the pages of the old
    revisions back too, as C(etcd-defrag --compaction) does. O(rule) is evaluated after it.
  - A failure stops at that member; the members after it are not touched.
author:
  - etcdops maintainers (@etcdops)
requirements:
  - jmespath (on the host that runs the module), for O(rule)
extends_documentation_fragment:
  - etcdops.etcd.connection
  - etcdops.etcd.connection.quota
  - etcdops.etcd.attributes
  - etcdops.etcd.attributes.check_mode_full
  - etcdops.etcd.attributes.diff_mode_none
options:
  rule:
    description:
      - A JMESPath expression that must give V(true) for a member to be defragmented, over that
        member's fields as M(etcdops.etcd.etcd_status) returns them in RV(etcdops.etcd.etcd_status#module:members)
        (for example C(db_size), C(db_size_free), C(fragmentation_ratio), C(quota_usage),
        C(is_leader), C(alarms)). Numbers are written in backticks.
      - JMESPath is data, not code, so a rule can safely come from a survey.
      - The default defragments a member over 80 % of its quota, or one whose file is more than
        45 % free pages and has more than 100 MiB free (the thresholds of the etcd mixin alert and
        OpenShift's defrag controller).
    type: str
    default: "quota_usage > `0.8` || (fragmentation_ratio > `0.45` && db_size_free > `104857600`)"
  force:
    description:
      - Defragment every named voting member, whatever O(rule) says. Not idempotent by nature.
    type: bool
    default: false
  defrag_timeout:
    description:
      - Seconds to wait for one member's defragmentation. A defragmentation blocks every request
        to that member for its whole run (field reports give 4 to 5 seconds per GB).
    type: int
    default: 600
  wait_timeout:
    description:
      - Seconds to wait, after a member's defragmentation, for it to answer and catch up with the
        leader before going on.
    type: int
    default: 120
  move_leader:
    description:
      - When a member to be defragmented leads the cluster, first hand leadership to
        O(leader_target), or else to the reachable, healthy voting member most caught up, and wait
        until it leads (within O(wait_timeout)). The same as etcdops.etcd.etcd_leader with
        O(etcdops.etcd.etcd_leader#module:avoid), in the same module run.
      - With O(discover=false) only the members named in O(endpoints) are candidates; name the
        successor with O(leader_target) when the leader is the only one.
    type: bool
    default: false
  leader_target:
    description:
      - The member to hand leadership to with O(move_leader=true), by name, id or client URL. It
        must be a voting member; etcd refuses it if it lags.
    type: str
  compact:
    description:
      - Compact the history once before the first member's turn (see the description). When it
        is already compacted that far, nothing is done. A failed compaction stops the run before
        any defragmentation.
      - The compaction call is bounded by O(compact_timeout).
      - Unless O(force=true) without O(max_stall_seconds), a compaction done is followed by two backend
        commits on every member
        (a lease granted and revoked, which writes no key), so that the rule sees the space it freed;
        etcd counts it in a member's C(db_size_in_use) only at that member's next commit.
      - In check mode the rule is evaluated on the members as they are, before the compaction
        that would free pages.
    type: bool
    default: false
  keep_revisions:
    description:
      - With O(compact=true), the number of most recent revisions to keep (the compaction goes to
        the current revision minus this); the default compacts to the current revision.
      - The same option as O(etcdops.etcd.etcd_compact#module:keep_revisions). V(compact_keep) is its old name.
    type: int
    aliases: [compact_keep]
  compact_timeout:
    description:
      - With O(compact=true), seconds to wait for the compaction call, as
        O(etcdops.etcd.etcd_compact#module:compact_timeout). A physical compaction of a large history can
        take much longer than an ordinary request.
    type: int
    default: 300
  max_stall_seconds:
    description:
      - Refuse a member whose defragmentation is predicted to block it for longer than this many
        seconds (its size in use over the copy rate, see O(copy_rate)); the run stops there, before
        anything is done to that member (or to its leadership). V(0) or unset sets no limit.
      - In check mode with O(compact=true) the prediction is made on the size in use before the
        compaction, an upper bound; it is then reported with a warning instead of refused.
    type: float
  copy_rate:
    description:
      - MiB of in-use data a defragmentation copies per second, assumed for a member's prediction
        until this run (or O(measured_copy_rate)) has measured one. The default is under every rate
        measured on the project's test machine and in field reports (docs/performance.md).
      - Once a member of at least 64 MiB in use has been defragmented, the slowest rate measured so
        far is used instead.
    type: float
    default: 32.0
  measured_copy_rate:
    description:
      - The copy rate (MiB/s) measured on members defragmented by earlier runs of the same
        maintenance (the role passes RV(measured_copy_rate) from one member's run to the next).
    type: float
  require_all_members:
    description:
      - Before each member's defragmentation (and before its leadership is moved), every other
        voting member of the cluster must answer and see a leader; while one is down the member is
        refused and the run stops there, because its defragmentation blocks it, so two members would be
        unavailable at once (in a cluster of three, no quorum). Learners are not counted.
      - With V(true) the members not named in O(endpoints) are asked at their advertised client
        URLs, whatever O(discover) says. With V(false) only the members this run sees are checked
        (every member with O(discover=true), only the named ones with O(discover=false)); use it only
        where the other members' advertised client URLs cannot be reached from this host.
    type: bool
    default: true
notes:
  - Defragmenting the leader stalls lease renewals of the whole cluster for the duration; put the
    leader last in O(endpoints), and move leadership away first (O(move_leader=true)). The role
    C(etcdops.etcd.maintenance) does both.
  - A defragmentation needs free disk of about the size of the member's database file.
'''

EXAMPLES = r'''
- name: Defragment the members that need it, the leader last
  etcdops.etcd.etcd_defrag:
    endpoints:
      - https://10.0.0.12:2379
      - https://10.0.0.13:2379
      - https://10.0.0.11:2379
    cacert: /etc/etcd/ca.crt
    cert: /etc/etcd/client.crt
    key: /etc/etcd/client.key
  register: defrag

- name: Defragment members with more than 50 MiB of free pages
  etcdops.etcd.etcd_defrag:
    rule: "db_size_free > `52428800`"

- name: Defragment every member (NOSPACE recovery, after compaction)
  etcdops.etcd.etcd_defrag:
    endpoints: "{{ etcd_endpoints }}"
    force: true

- name: Compact the history, then defragment every member, the leader last and leadership moved first
  etcdops.etcd.etcd_defrag:
    endpoints: "{{ etcd_endpoints }}"
    compact: true
    keep_revisions: 1000
    force: true
    move_leader: true
'''

RETURN = r'''
members:
  description: One item per member named in O(endpoints), in that order.
  returned: success and failure
  type: list
  elements: dict
  contains:
    endpoint:
      description: The endpoint as given.
      type: str
      sample: https://10.0.0.12:2379
    id:
      description: Member id (16 hex digits).
      type: str
      sample: 8e9e05c52164694d
    name:
      description: Member name.
      type: str
      sample: etcd-2
    is_leader:
      description: The member was the leader when its turn came.
      type: bool
      sample: false
    defragmented:
      description: The member was defragmented (would be, in check mode).
      type: bool
      sample: true
    leader_moved_to:
      description: >-
        Name of the member leadership was handed to (would be, in check mode) before this member's
        defragmentation; null when it was not moved.
      type: str
      sample: etcd-3
    reason:
      description: Why the member was or was not defragmented.
      type: str
      sample: rule matched
    db_size_before:
      description: Size of its database file in bytes before.
      type: int
      sample: 157286400
    db_size_after:
      description: Size of its database file in bytes after; null when not defragmented or in check mode.
      type: int
      sample: 52428800
    reclaimed_bytes:
      description: Bytes given back to the file system; null when not defragmented or in check mode.
      type: int
      sample: 104857600
    seconds:
      description: Duration of the defragmentation call plus the wait for the member to catch up.
      type: float
      sample: 1.52
    stall_seconds:
      description: >-
        Duration of the defragmentation call alone, the time the member answered no request; null when
        not defragmented or in check mode.
      type: float
      sample: 1.21
    predicted_stall_seconds:
      description: The stall predicted before its turn (its size in use over RV(members[].copy_rate)).
      type: float
      sample: 1.5
    copy_rate:
      description: The copy rate (MiB/s) the prediction used.
      type: float
      sample: 32.0
    copy_rate_basis:
      description: >-
        V(measured) (the slowest rate measured on earlier members) or V(assumed) (O(copy_rate), before any
        was measured).
      type: str
      sample: assumed
    db_size_in_use_before:
      description: Bytes in use in its database file at its turn (what a defragmentation copies).
      type: int
      sample: 48234496
    fragmentation_ratio:
      description: Share of free pages in its database file before.
      type: float
      sample: 0.6667
    quota_usage:
      description: Database size divided by its quota, before.
      type: float
      sample: 0.0732
measured_copy_rate:
  description: >-
    The slowest copy rate (MiB/s) measured so far, on this run's members of at least 64 MiB in use and
    O(measured_copy_rate); null when none was measured.
  returned: success and failure
  type: float
  sample: 118.4
reclaimed_bytes:
  description: Bytes given back by all members together.
  returned: success
  type: int
  sample: 314572800
stopped_at:
  description: >-
    The endpoint (as given) of the member whose turn failed: it and the members after it were not
    done. Null when the run did not stop at a member (success, or a failure before the first turn).
  returned: success and failure
  type: str
  sample: https://10.0.0.13:2379
compaction:
  description: >-
    The compaction of O(compact=true), as M(etcdops.etcd.etcd_compact) returns it; null without
    O(compact) or when the run stopped before it.
  returned: success and failure
  type: dict
  contains:
    changed:
      description: The history was compacted (would be, in check mode).
      type: bool
      sample: true
    revision:
      description: The revision compacted to; 0 when the history was too short.
      type: int
      sample: 10734
    current_revision:
      description: The cluster's revision when the compaction was decided.
      type: int
      sample: 10734
    physical:
      description: The compaction waited until the member that took it had freed the pages.
      type: bool
      sample: true
    settled:
      description: >-
        Every member was made to commit after the compaction, so that the rule and the stall predictions saw
        the space it freed (not with O(force=true) without O(max_stall_seconds), nor when etcd refused the lease).
      type: bool
      sample: true
    msg:
      description: What was done, or why nothing was.
      type: str
      sample: compacted to revision 10734
'''

import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.compaction import compact_history
from ansible_collections.etcdops.etcd.plugins.module_utils.errors import (
    EtcdConnectionError,
    EtcdError,
    EtcdLeaderTransferError,
    EtcdMemberDownError,
    EtcdNoLeaderError,
    EtcdStallLimitError,
    EtcdTimeoutError,
)
from ansible_collections.etcdops.etcd.plugins.module_utils.leadership import LeaderError, choose, hand_over
from ansible_collections.etcdops.etcd.plugins.module_utils.members import (
    member_by,
    member_down_refusal,
    member_entry,
    voters_down,
)
from ansible_collections.etcdops.etcd.plugins.module_utils.rules import (
    DEFAULT_RULE,
    JMESPATH_IMPORT_ERROR,
    RuleError,
    compile_rule,
    decide,
    rule_holds,
)
from ansible_collections.etcdops.etcd.plugins.module_utils.stalls import (
    DEFAULT_COPY_RATE_MIB,
    measured_rate,
    predict_stall,
    slowest,
    stall_refusal,
)


class Defragmenter:
    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.results = []
        self.compaction = None
        self.stopped_at = None

    def fresh(self, cluster, member):
        """The member's etcd_status entry from a status taken now."""
        status = self.client.member_status(member['endpoint'])
        alarms = [a['alarm'] for a in cluster['alarms'] if a['member_id'] == member['id']]
        entry = member_entry(member, status, alarms, status['leader'])
        entry['endpoint'] = member['endpoint']
        return entry

    def preflight(self, expression):
        """Every named member answers, there is a leader, and the rule evaluates everywhere."""
        cluster = self.client.cluster_status()
        if not cluster['leader']:
            raise EtcdNoLeaderError(self.client.endpoints[0], 'the cluster has no leader; nothing was defragmented')
        targets = []
        for endpoint in self.client.endpoints:
            member = member_by(cluster, endpoint)
            if member is None or not member['reachable']:
                raise EtcdConnectionError(endpoint, 'the member does not answer (%s); nothing was defragmented'
                                          % (member and '; '.join(member['errors']) or 'not a member of this cluster'),
                                          remedy='Bring it back, or leave it out of endpoints')
            member = dict(member, endpoint=endpoint)
            if not member['is_learner'] and not self.params['force']:
                rule_holds(expression, self.params['rule'], member)
            targets.append(member)
        return cluster, targets

    def one(self, cluster, member, expression):
        entry = self.fresh(cluster, member)
        defrag, reason = decide(entry, expression, self.params['rule'], self.params['force'])
        # What its defragmentation copies (etcd < 3.4 reports no size in use: the whole file, an upper bound).
        in_use = entry['db_size_in_use'] if entry['db_size_in_use'] is not None else entry['db_size']
        prediction = predict_stall(in_use, self.params['copy_rate'], self.measured_copy_rate())
        result = dict(endpoint=member['endpoint'], id=entry['id'], name=entry['name'],
                      is_leader=entry['is_leader'], defragmented=defrag, reason=reason, leader_moved_to=None,
                      db_size_before=entry['db_size'], db_size_after=None, reclaimed_bytes=None,
                      seconds=0.0, fragmentation_ratio=entry['fragmentation_ratio'],
                      quota_usage=entry['quota_usage'], db_size_in_use_before=in_use, stall_seconds=None,
                      **prediction)
        self.results.append(result)
        if not defrag:
            return
        self.bound_stall(entry, in_use, prediction, result)
        self.require_others_up(entry, result)
        if entry['is_leader'] and self.params['move_leader']:
            try:
                cluster = self.hand_leadership_away(entry, result)
            except EtcdError:
                result['defragmented'] = False  # stopped before its defragmentation
                raise
        if self.module.check_mode:
            return
        started = time.monotonic()
        # Not defragmented until etcd says so: a refused call (auth, permission) changed nothing.
        result['defragmented'] = False
        try:
            self.client.defragment(member['endpoint'], timeout=self.params['defrag_timeout'])
        except EtcdTimeoutError as exc:
            exc.remedy = ('etcd goes on defragmenting after the client gives up: wait until the member '
                          'answers again, then raise defrag_timeout (about 5 s per GB of db_size)')
            result['defragmented'] = True
            raise
        result['defragmented'] = True
        result['stall_seconds'] = round(time.monotonic() - started, 3)
        after = self.client.wait_until_caught_up(member['endpoint'], self.leader_index(cluster),
                                                 self.params['wait_timeout'])
        result.update(db_size_after=after['db_size'],
                      reclaimed_bytes=max(entry['db_size'] - after['db_size'], 0),
                      seconds=round(time.monotonic() - started, 3))

    def measured_copy_rate(self):
        """The slowest copy rate measured so far: this run's members and the earlier runs'."""
        return slowest([self.params['measured_copy_rate']]
                       + [measured_rate(r['db_size_in_use_before'], r['stall_seconds']) for r in self.results])

    def bound_stall(self, entry, in_use, prediction, result):
        """Refuse the member (before its leadership is touched) when its predicted stall is over the limit."""
        refusal = stall_refusal(entry['name'], in_use, prediction, self.params['max_stall_seconds'])
        if refusal is None:
            return
        if self.module.check_mode and self.compaction and self.compaction['changed']:
            self.module.warn('%s (predicted on its size in use before the compaction, which would free pages: '
                             'an upper bound; a real run predicts again after it)' % refusal[0])
            return
        result['defragmented'] = False
        raise EtcdStallLimitError(entry['endpoint'], refusal[0], remedy=refusal[1])

    def require_others_up(self, entry, result):
        """Refuse the member (before its leadership is touched) while another voting member is down:
        its defragmentation would make two unavailable at once. The others are asked where the
        endpoints name them, else at their advertised client URLs (with require_all_members)."""
        cluster = self.client.cluster_status(discover=True if self.params['require_all_members'] else None)
        down = voters_down(cluster, entry['id'])
        if not down:
            return
        voters = len([m for m in cluster['member_list'] if not m['is_learner']])
        detail, remedy = member_down_refusal(entry['name'], down, voters)
        result['defragmented'] = False
        raise EtcdMemberDownError(entry['endpoint'], detail, remedy=remedy)

    def hand_leadership_away(self, entry, result):
        """Before the leader's defragmentation: leadership to leader_target or the best follower.
        Returns the cluster's status as it was read for the choice."""
        cluster = self.client.cluster_status()
        try:
            if self.params['leader_target']:
                successor = choose(cluster, target=self.params['leader_target'])
            else:
                # Members already done first: leadership then moves once, however the endpoints are ordered.
                done = [r['id'] for r in self.results if r['defragmented']]
                successor = choose(cluster, avoid=entry['id'], prefer=done)
        except LeaderError as exc:
            raise EtcdLeaderTransferError(
                entry['endpoint'], 'cannot hand leadership away before defragmenting the leader %s: %s'
                % (entry['name'], exc),
                remedy='Name the successor with leader_target, or set move_leader=false') from exc
        if successor is None or successor['id'] == entry['id']:
            return cluster
        result['leader_moved_to'] = successor['name']
        if not self.module.check_mode:
            hand_over(self.client, cluster, successor, self.params['wait_timeout'])
        return cluster

    def leader_index(self, cluster):
        """The leader's raft index now, or None where this host cannot reach the leader
        (discover=false): the member then waits for its own committed index instead."""
        try:
            return self.client.leader_status(cluster)['raft_index']
        except EtcdError:
            return None

    def run(self):
        expression = None if self.params['force'] else compile_rule(self.params['rule'])
        cluster, targets = self.preflight(expression)
        if self.params['compact']:
            self.compact()
        for member in targets:
            try:
                self.one(cluster, member, expression)
            except (EtcdError, RuleError):
                self.stopped_at = member['endpoint']
                raise
        return self.report()

    def compact(self):
        # The rule, and the stall predictions, need the freed pages counted.
        settle = not self.params['force'] or bool(self.params['max_stall_seconds'])
        try:
            self.compaction = compact_history(self.client, self.module.check_mode, keep=self.params['keep_revisions'],
                                              timeout=self.params['compact_timeout'], settled=settle)
        except EtcdError as exc:
            exc.detail = 'the compaction failed, nothing was defragmented: %s' % exc.detail
            raise

    def report(self):
        return dict(
            changed=(any(r['defragmented'] or r['leader_moved_to'] for r in self.results)
                     or bool(self.compaction and self.compaction['changed'])),
            members=self.results,
            measured_copy_rate=self.measured_copy_rate(),
            reclaimed_bytes=sum(r['reclaimed_bytes'] or 0 for r in self.results),
            compaction=self.compaction,
            stopped_at=self.stopped_at,
        )


def main():
    module = EtcdModule(
        argument_spec=dict(
            rule=dict(type='str', default=DEFAULT_RULE),
            force=dict(type='bool', default=False),
            defrag_timeout=dict(type='int', default=600),
            wait_timeout=dict(type='int', default=120),
            move_leader=dict(type='bool', default=False),
            leader_target=dict(type='str'),
            compact=dict(type='bool', default=False),
            keep_revisions=dict(type='int', aliases=['compact_keep'], no_log=False),
            compact_timeout=dict(type='int', default=300),
            max_stall_seconds=dict(type='float'),
            copy_rate=dict(type='float', default=DEFAULT_COPY_RATE_MIB),
            measured_copy_rate=dict(type='float'),
            require_all_members=dict(type='bool', default=True),
        ),
        quota=True,
        supports_check_mode=True,
    )
    if JMESPATH_IMPORT_ERROR and not module.params['force']:
        module.fail_json(msg=missing_required_lib('jmespath'), exception=JMESPATH_IMPORT_ERROR)
    for name in ('defrag_timeout', 'wait_timeout', 'compact_timeout'):
        if module.params[name] <= 0:
            module.fail_json(msg='%s must be a positive number of seconds, got %d' % (name, module.params[name]))
    for name in ('copy_rate', 'measured_copy_rate'):
        if module.params[name] is not None and module.params[name] <= 0:
            module.fail_json(msg='%s must be a positive number of MiB per second, got %s' % (name, module.params[name]))
    if module.params['keep_revisions'] is not None and module.params['keep_revisions'] < 0:
        module.fail_json(msg='keep_revisions must not be negative, got %d' % module.params['keep_revisions'])

    defragmenter = Defragmenter(module, module.client)
    try:
        module.exit_json(**defragmenter.run())
    except RuleError as exc:
        module.fail_json(msg=str(exc), **defragmenter.report())
    except EtcdError as exc:
        module.fail_etcd(exc, **defragmenter.report())


if __name__ == '__main__':
    main()
