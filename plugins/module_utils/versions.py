# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd versions: whether a cluster is in a state where maintenance may change it.

Private to the etcdops.etcd collection: not a public API, it may change without notice.

A cluster whose members run different minor versions is half way through an upgrade or a
downgrade, and one with a downgrade enabled (etcd 3.6+: ``etcdctl downgrade enable``) is changing
its storage schema: neither is the time to compact, defragment or move leadership. Pure functions
over etcd_status member entries: used by the role's preflight (filter ``version_problems``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_VERSION = re.compile(r'^v?(\d+)\.(\d+)(?:\.(\d+))?')


def parse_version(text):
    """(major, minor, patch) of ``3.6.16`` (or ``v3.6.16``, ``3.6``); None when not a version."""
    match = _VERSION.match(str(text or '').strip())
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


def minor_of(text):
    """``3.6`` for ``3.6.16``; None when not a version."""
    parsed = parse_version(text)
    return None if parsed is None else '%d.%d' % parsed[:2]


def _label(member):
    name = member.get('name') or member.get('id') or member.get('endpoint') or '?'
    if member.get('host') and member.get('host') != name:
        name = '%s (host %s)' % (name, member['host'])
    return '%s %s' % (name, member.get('version') or 'version unknown')


def version_problems(members):
    """Sentences that forbid any change, from the reachable members' status entries (with ``name``,
    ``version``, ``downgrade_info`` and optionally ``host``): a downgrade in progress, or members on
    different minor versions. Empty when the cluster may be maintained. Patch versions may differ:
    a rolling patch upgrade leaves the cluster's behaviour as it is."""
    reachable = [m for m in members if m.get('reachable', True) and m.get('version')]
    problems = []
    downgrading = [m for m in reachable if (m.get('downgrade_info') or {}).get('enabled')]
    if downgrading:
        targets = sorted(set((m.get('downgrade_info') or {}).get('target_version') or '?' for m in downgrading))
        problems.append(
            'a downgrade of the cluster to %s is in progress (etcdctl downgrade enable), reported by %s; members: '
            '%s: finish it or cancel it (etcdctl downgrade cancel) before any maintenance'
            % (' or '.join(targets), ', '.join(m.get('name') or m.get('id') or '?' for m in downgrading),
               ', '.join(_label(m) for m in reachable)))
    minors = sorted(set(minor_of(m['version']) for m in reachable) - set([None]), key=parse_version)
    if len(minors) > 1:
        problems.append(
            'the members run different etcd minor versions (%s), an upgrade or downgrade half done: %s: finish '
            'it (every member on one minor version) before any maintenance'
            % (', '.join(minors), ', '.join(_label(m) for m in reachable)))
    return problems
