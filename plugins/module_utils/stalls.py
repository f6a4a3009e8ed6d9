# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How long a member's defragmentation will block it, predicted before its turn.

Private to the etcdops.etcd collection: not a public API, it may change without notice.

etcd (every release up to 3.7) answers none of a member's requests while it defragments: it copies
the live data (the size in use) into a new file. So the stall is about the size in use over the copy
rate of that member's disk. The rate is the slowest one measured on this run's earlier members, or,
before any, an assumed rate (the role's maintenance_copy_rate), conservative by default. A member too
small to time its copy (under MIN_MEASURED_BYTES: fixed costs dominate) gives no rate.
Pure functions; nothing here talks to etcd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MIB = 1 << 20

# MiB of in-use data copied per second, assumed before a rate is measured. Measured on this project's
# 2-core test machine (docs/performance.md): 125 MiB/s on a quiet cluster, 43 to 60 MiB/s with clients
# writing; field reports (Gardener: 3.8 GB in about 40 s) give 95. The default sits under all of them.
DEFAULT_COPY_RATE_MIB = 32.0

# Below this in-use size a defragmentation's fixed costs (the new file's creation, its fsync) dominate:
# its duration says nothing about the copy rate.
MIN_MEASURED_BYTES = 64 * MIB


def measured_rate(in_use_bytes, stall_seconds):
    """The copy rate (MiB/s) one defragmentation showed, or None when it was too small to tell."""
    if not in_use_bytes or in_use_bytes < MIN_MEASURED_BYTES or not stall_seconds or stall_seconds <= 0:
        return None
    return round(in_use_bytes / float(MIB) / stall_seconds, 1)


def slowest(rates):
    """The slowest of the rates measured (None ignored), or None when there is none."""
    known = [rate for rate in rates if rate]
    return min(known) if known else None


def predict_stall(in_use_bytes, assumed_rate_mib=DEFAULT_COPY_RATE_MIB, measured_rate_mib=None):
    """``predicted_stall_seconds``, ``copy_rate`` (MiB/s) and ``copy_rate_basis`` (``measured``: on this
    run's earlier members; ``assumed``: maintenance_copy_rate) of a member with that size in use."""
    if measured_rate_mib:
        rate, basis = float(measured_rate_mib), 'measured'
    else:
        rate, basis = float(assumed_rate_mib), 'assumed'
    if rate <= 0:
        raise ValueError('the copy rate must be a positive number of MiB per second, got %s' % rate)
    return dict(predicted_stall_seconds=round((in_use_bytes or 0) / float(MIB) / rate, 1), copy_rate=rate,
                copy_rate_basis=basis)


def _mib(size):
    return '%.0f MiB' % ((size or 0) / float(MIB))


def stall_refusal(name, in_use_bytes, prediction, max_stall_seconds):
    """Why a member whose predicted stall exceeds ``max_stall_seconds`` is refused, and what to do:
    ``(detail, remedy)``; None when it does not exceed it (or there is no limit: None or 0)."""
    if not max_stall_seconds or prediction['predicted_stall_seconds'] <= float(max_stall_seconds):
        return None
    basis = ('measured on the earlier members of this run' if prediction['copy_rate_basis'] == 'measured'
             else 'assumed before any was measured')
    detail = ('member %s: its defragmentation would block it for about %.1f s (%s in use at %.1f MiB/s, %s), over '
              'the limit of %s s (maintenance_max_stall_seconds); its clients (an API server pinned to it, the '
              'leader elections through that API server) would stall that long. Nothing was done to it'
              % (name, prediction['predicted_stall_seconds'], _mib(in_use_bytes), prediction['copy_rate'], basis,
                 max_stall_seconds))
    remedy = ('Raise maintenance_max_stall_seconds (max_stall_seconds) if its clients can bear it, run it when its '
              'clients are drained, or set maintenance_copy_rate (copy_rate) to the rate its disk is known to copy at')
    return detail, remedy


def stall_message(endpoint, refusal):
    """The refusal as one sentence, as EtcdError words it: endpoint, detail, remedy."""
    return '%s: %s. %s' % (endpoint, refusal[0], refusal[1])
