#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: etcd_compact
short_description: Compact the key-value history of an etcd cluster
version_added: 0.1.0
description:
  - Discards the history of every key older than a revision, as C(etcdctl compaction), so that
    a following defragmentation (M(etcdops.etcd.etcd_defrag)) can give the space back.
  - Compacts to O(revision), or to the current revision minus O(keep_revisions) revisions, or, when
    neither is given, to the current revision.
  - Compaction is cluster-wide, so it is sent once, to the first endpoint that answers (the next
    one when a member cannot be reached).
  - Already compacted to that revision or beyond reports C(changed=false).
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.connection
  - etcdops.etcd.attributes
  - etcdops.etcd.attributes.check_mode_full
  - etcdops.etcd.attributes.diff_mode_none
options:
  revision:
    description:
      - Revision to compact to; all history older than it is discarded.
      - A revision that does not exist yet fails, naming the current revision.
      - Mutually exclusive with O(keep_revisions).
    type: int
  keep_revisions:
    description:
      - Keep this many revisions of history, compacting to the current revision minus O(keep_revisions).
      - When the history is shorter than that, nothing is compacted.
      - Mutually exclusive with O(revision).
      - The same option as O(etcdops.etcd.etcd_defrag#module:keep_revisions). V(keep) is its old name.
    type: int
    aliases: [keep]
  physical:
    description:
      - Wait until the compaction is physically applied to the backend of the member that took
        the call, as C(etcdctl compaction --physical), so that a defragmentation right after it
        gives the space back.
    type: bool
    default: true
  settle:
    description:
      - After a compaction, make every member commit its backend twice, a quarter of a second apart
        (a lease granted and revoked each time, which writes no key and leaves the revision as it is), so
        that each member's C(db_size_in_use) (M(etcdops.etcd.etcd_status)) shows the space the
        compaction freed.
      - etcd counts those pages in a member's size in use only at its next commit after the
        compaction's. On a quiet cluster that commit does not come, and the followers go on
        reporting the size before the compaction (measured on etcd 3.4 to 3.7), so a defragmentation
        rule evaluated on them would see no free pages.
    type: bool
    default: true
  compact_timeout:
    description:
      - Seconds to wait for the compaction call. A physical compaction of a large history can
        take much longer than an ordinary request.
    type: int
    default: 300
notes:
  - Compaction is allowed while the NOSPACE alarm is active; it is the first step of the
    recovery (compact, defragment every member, then disarm the alarm).
  - Compaction reaches the followers asynchronously; right after it only the member that took
    the call shows the lower in-use size (see O(settle)).
'''

EXAMPLES = r'''
- name: Compact to the current revision
  etcdops.etcd.etcd_compact:
    endpoints: https://10.0.0.11:2379
    cacert: /etc/etcd/ca.crt
    cert: /etc/etcd/client.crt
    key: /etc/etcd/client.key

- name: Keep the last 10000 revisions of history, like --auto-compaction-mode=revision
  etcdops.etcd.etcd_compact:
    keep_revisions: 10000

- name: Compact to a revision read earlier
  etcdops.etcd.etcd_compact:
    revision: "{{ etcd.revision }}"
'''

RETURN = r'''
revision:
  description: The revision compacted to (or that was already compacted when C(changed=false)); 0 when nothing was due.
  returned: success
  type: int
  sample: 10734
current_revision:
  description: The cluster's revision when the module ran.
  returned: success
  type: int
  sample: 10734
physical:
  description: Whether the module waited for the physical compaction.
  returned: success
  type: bool
  sample: true
settled:
  description:
    - Whether the members were made to commit after the compaction (O(settle)).
    - False when nothing was compacted, and when etcd refused the lease (NOSPACE, or no right to grant one).
  returned: success
  type: bool
  sample: true
msg:
  description: What was done, or why nothing was.
  returned: success
  type: str
  sample: compacted to revision 10734
'''

from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.compaction import compact_history


def main():
    module = EtcdModule(
        argument_spec=dict(
            revision=dict(type='int'),
            keep_revisions=dict(type='int', aliases=['keep'], no_log=False),
            physical=dict(type='bool', default=True),
            settle=dict(type='bool', default=True),
            compact_timeout=dict(type='int', default=300),
        ),
        mutually_exclusive=[('revision', 'keep_revisions')],
        supports_check_mode=True,
    )
    for name in ('revision', 'keep_revisions', 'compact_timeout'):
        value = module.params[name]
        if value is not None and value < (1 if name == 'compact_timeout' else 0):
            module.fail_json(msg='%s must not be negative%s, got %d'
                             % (name, ' or zero' if name == 'compact_timeout' else '', value))
    params = module.params
    module.run(lambda client: compact_history(client, module.check_mode, revision=params['revision'],
                                              keep=params['keep_revisions'], physical=params['physical'],
                                              timeout=params['compact_timeout'],
                                              settled=params['settle']))


if __name__ == '__main__':
    main()
