# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""History compaction: to which revision, whether it is already done, and doing it.

Used by etcd_compact, and by etcd_defrag with ``compact`` (the history compacted once before the
first defragmentation, in the same module run, as etcd-defrag's ``--compaction`` does).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.etcdops.etcd.plugins.module_utils.errors import (
    EtcdCompactedError,
    EtcdError,
    EtcdFutureRevisionError,
)


def target_revision(current, revision=None, keep=None):
    """The revision to compact to; 0 when nothing is due."""
    if revision is not None:
        return revision
    if keep is not None:
        return max(current - keep, 0)
    return current


# Seconds between the two commits of settle(): longer than etcd's backend batch interval (100 ms by
# default), so that the second commit comes after the one that holds the compaction's last deletes.
SETTLE_INTERVAL = 0.25


def settle(client):
    """Make every member's ``dbSizeInUse`` show what a compaction freed: two backend commits
    (EtcdClient.commit_once), SETTLE_INTERVAL apart. Measured on etcd 3.4.23 to 3.7.3: after a
    compaction of a few large revisions, the followers (and on 3.4 the member that took the call)
    go on reporting the size in use before it until they commit again; one commit right after
    the compaction was not always enough on 3.4, two were.

    Returns None, or why it could not: under NOSPACE etcd refuses a lease grant too, a user
    without the right to grant leases cannot, a member may have gone. The compaction is done by
    then: a failure here is reported with it, not as a failed compaction."""
    try:
        client.commit_once()
        time.sleep(SETTLE_INTERVAL)
        client.commit_once()
    except EtcdError as exc:
        return 'the members were not made to commit (%s): their db_size_in_use may not show the compaction ' \
               'until they next commit' % exc.detail
    return None


def compact_history(client, check_mode, revision=None, keep=None, physical=True, timeout=None, settled=False):
    """Compact the cluster's history to ``revision``, or to the current revision minus ``keep``,
    or to the current revision. Idempotent: a history already compacted that far is left alone.
    With ``settled``, a compaction done is followed by settle(), so that the members' status
    shows the space it freed (``settled`` in the result).

    Returns dict(changed, revision, current_revision, physical, settled, msg); revision is 0 when the
    history is too short to compact. Raises EtcdError (EtcdFutureRevisionError for a revision
    that does not exist yet)."""
    current = client.current_revision()
    target = target_revision(current, revision, keep)
    result = dict(changed=False, revision=target, current_revision=current, physical=physical, settled=False)
    if target <= 1:
        # Revision 1 is the empty store: there is no history before it.
        result.update(revision=0, msg='nothing to compact: the history is shorter than asked to keep')
        return result
    if target > current:
        raise EtcdFutureRevisionError(
            client.endpoints[0], 'revision %d is in the future: the current revision is %d' % (target, current))
    # Compacting to R discards revisions below R, so R is done once R - 1 can no longer be read.
    if not client.revision_available(target - 1):
        result['msg'] = 'already compacted to revision %d or later' % target
        return result
    result.update(changed=True, msg='compacted to revision %d' % target)
    if check_mode:
        result['msg'] = 'would compact to revision %d' % target
        return result
    try:
        client.compact(target, physical=physical, timeout=timeout)
    except EtcdCompactedError:
        # Someone (auto-compaction, another run) compacted between our check and our call.
        result.update(changed=False, msg='already compacted to revision %d or later' % target)
        return result
    if settled:
        why_not = settle(client)
        result['settled'] = why_not is None
        if why_not:
            result['msg'] = '%s; %s' % (result['msg'], why_not)
    return result
