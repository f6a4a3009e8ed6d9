#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: etcd_member_info
short_description: Read the settings of the etcd process on this host, and its free disk
version_added: 0.1.0
description:
  - Finds the running etcd process on the host that runs the module whose client URLs use the
    port of the first of O(endpoints), and reads its settings from its command line and
    C(ETCD_*) environment (C(/proc)) - the ones etcd's maintenance guide is about - the space
    quota, auto-compaction mode and retention, and C(--snapshot-count).
  - Reports the free space of the file system that holds its data directory (seen through the
    process's own root, so it also works for etcd in a container, such as kubeadm's static pod),
    since a defragmentation needs free disk of about the database size.
  - Names risky settings in RV(risks), also as warnings, for example auto-compaction off, or a
    database close to its quota. When the member answers at O(endpoints), its database size is taken into account.
  - Read-only. A host without such an etcd process gives RV(found=false), not a failure.
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.connection
  - etcdops.etcd.attributes
  - etcdops.etcd.attributes.check_mode_full
  - etcdops.etcd.attributes.diff_mode_none
options: {}
notes:
  - Needs to read other processes' C(/proc/<pid>/cmdline) and C(environ), so it usually needs
    C(become). Settings from a C(--config-file) are not read; RV(config_file) names the file.
  - Linux only.
'''

EXAMPLES = r'''
- name: Read the settings of the local etcd member (kubeadm)
  etcdops.etcd.etcd_member_info:
    endpoints: https://127.0.0.1:2379
    cacert: /etc/kubernetes/pki/etcd/ca.crt
    cert: /etc/kubernetes/pki/etcd/healthcheck-client.crt
    key: /etc/kubernetes/pki/etcd/healthcheck-client.key
  become: true
  register: member

- name: Warn about risky settings
  ansible.builtin.debug:
    msg: "{{ member.risks }}"
  when: member.risks | length > 0
'''

RETURN = r'''
found:
  description: An etcd process serving that client port runs on this host.
  returned: always
  type: bool
  sample: true
pid:
  description: Its process id.
  returned: when found
  type: int
  sample: 2471
name:
  description: Its member name (C(--name)).
  returned: when found
  type: str
  sample: cp1
data_dir:
  description: Its data directory as the process sees it.
  returned: when found
  type: str
  sample: /var/lib/etcd
config_file:
  description: Its C(--config-file), whose settings this module does not read; null when none.
  returned: when found
  type: str
  sample: null
settings:
  description: The settings in force, with etcd's defaults filled in.
  returned: when found
  type: dict
  sample: {"quota_backend_bytes": 2147483648, "auto_compaction_mode": "periodic",
           "auto_compaction_retention": "0", "snapshot_count": 100000}
  contains:
    quota_backend_bytes:
      description: The space quota in bytes (etcd's default, 2 GiB, when unset or 0).
      type: int
    auto_compaction_mode:
      description: V(periodic) or V(revision).
      type: str
    auto_compaction_retention:
      description: The retention; V(0) means auto-compaction is off.
      type: str
    snapshot_count:
      description: Raft entries between snapshots.
      type: int
sources:
  description: Where each setting comes from, V(flag), V(env) or V(default).
  returned: when found
  type: dict
  sample: {"quota_backend_bytes": "flag", "auto_compaction_mode": "default"}
data_dir_free_bytes:
  description: Free bytes (for unprivileged users) on the file system of the data directory; null if unreadable.
  returned: when found
  type: int
  sample: 42949672960
db_size:
  description: The member's database size in bytes, when it answered at O(endpoints); else null.
  returned: when found
  type: int
  sample: 157286400
risks:
  description: Sentences naming risky settings, empty when none.
  returned: always
  type: list
  elements: str
  sample: ["auto-compaction is off (--auto-compaction-retention=0): history grows until something compacts it"]
'''

from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.errors import EtcdError
from ansible_collections.etcdops.etcd.plugins.module_utils.process import ProcessError, local_member_info


def info(module):
    endpoint = module.client.endpoints[0]

    def read_db_size():
        try:
            return module.client.member_status(endpoint)['db_size']
        except EtcdError:
            return None

    try:
        return dict(changed=False, **local_member_info(endpoint, read_db_size))
    except ProcessError as exc:
        module.fail_json(msg=str(exc))


def main():
    module = EtcdModule(supports_check_mode=True)
    result = info(module)
    for risk in result['risks']:
        module.warn(risk)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
