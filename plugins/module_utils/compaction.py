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

from ansible_collections.etcdops.etcd.plugins.module_utils.errors import (
    EtcdCompactedError,
    EtcdFutureRevisionError,
)


def target_revision(current, revision=None, keep=None):
    """The revision to compact to; 0 when nothing is due."""
    if revision is not None:
        return revision
    if keep is not None:
        return max(current - keep, 0)
    return current


def compact_history(client, check_mode, revision=None, keep=None, physical=True, timeout=None):
    """Compact the cluster's history to ``revision``, or to the current revision minus ``keep``,
    or to the current revision. Idempotent: a history already compacted that far is left alone.

    Returns dict(changed, revision, current_revision, physical, msg); revision is 0 when the
    history is too short to compact. Raises EtcdError (EtcdFutureRevisionError for a revision
    that does not exist yet)."""
    current = client.current_revision()
    target = target_revision(current, revision, keep)
    result = dict(changed=False, revision=target, current_revision=current, physical=physical)
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
