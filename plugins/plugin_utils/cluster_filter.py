# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the filters over one cluster's reads share: the input check and one sentence for a bad read."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence


def over_reads(name, function, reads, hosts, *args, **kwargs):
    """``function(reads, hosts, ...)`` for the filter ``name``: reads must cover every host, and a read
    that is not an etcd_status result is an AnsibleFilterError naming the filter, not a traceback."""
    if not isinstance(reads, dict) or not is_sequence(hosts) or any(h not in reads for h in hosts):
        raise AnsibleFilterError('%s takes the reads of every host of the cluster (cluster_reads)' % name)
    try:
        return function(reads, hosts, *args, **kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('%s: a read is not an etcd_status result (%s: %s)'
                                 % (name, type(exc).__name__, exc)) from exc
