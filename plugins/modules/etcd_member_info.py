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
    quota, auto-compaction mode and retention, C(--snapshot-count), C(--snapshot-catchup-entries),
    C(--compaction-batch-limit), the feature gates, and whether the v2 API is on.
  - Reads them the way the running version names them. etcd 3.6 renamed most C(--experimental-*)
    flags (C(--experimental-compaction-batch-limit) is C(--compaction-batch-limit),
    C(--experimental-snapshot-catchup-entries) is C(--snapshot-catchup-entries)) and turned some
    into feature gates (C(--experimental-stop-grpc-service-on-defrag) is
    C(--feature-gates=StopGRPCServiceOnDefrag=true), likewise C(CompactHashCheck) and
    C(InitialCorruptCheck)); 3.6 still takes the old names, with a warning; 3.7 removed every
    C(--experimental-*) flag. Each flag has its C(ETCD_*) variable (C(ETCD_FEATURE_GATES),
    C(ETCD_EXPERIMENTAL_COMPACTION_BATCH_LIMIT), ...); etcd ignores the variable of a flag its
    version does not have, and so does this module.
  - The version comes from the member's status when it answers at O(endpoints), else from the
    process's own binary (C(etcd --version)). Defaults that depend on it (C(--snapshot-count) is
    100,000 before etcd 3.6, 10,000 from 3.6 on) are those of that version.
  - Reports the free space of the file system that holds its data directory (seen through the
    process's own root, so it also works for etcd in a container, such as kubeadm's static pod),
    since a defragmentation needs free disk of about the database size.
  - Names risky settings in RV(risks), also as warnings, for example auto-compaction off, a
    database close to its quota, a C(--snapshot-count) above the version's default, flags or
    variables that block the upgrade to the next minor version (C(--enable-v2) on 3.5, which 3.6
    removed along with the v2 API; C(--experimental-*) on 3.6, which 3.7 removed), and C(ETCD_*)
    variables that the running version ignores. When the member answers at O(endpoints), its
    database size is taken into account.
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
  - Without its status, the version is read by running the process's own binary
    (C(/proc/<pid>/exe --version)), which also needs C(become) for another user's process.
  - The feature gate C(StopGRPCServiceOnDefrag) (etcd 3.6+; C(--experimental-stop-grpc-service-on-defrag)
    from etcd 3.5.14) makes a member report C(NOT_SERVING) on the gRPC health service while it is
    defragmented, so that clients that watch it (gRPC health checking) move to other members
    instead of stalling for the whole defragmentation; requests that still reach the member wait
    as before. It is off by default, which is not named as a risk.
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

- name: Stop before an upgrade to the next minor version while flags it removes are in use
  ansible.builtin.assert:
    that: member.deprecated_flags | length == 0
    fail_msg: "first drop {{ member.deprecated_flags | join(', ') }} (the module's warnings say what to use instead)"
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
version:
  description:
    - The etcd version of the process, from the member's status, else from its binary's C(--version);
      null when neither could be read.
  returned: when found
  type: str
  sample: 3.6.16
settings:
  description:
    - The settings in force, with the defaults of the process's etcd version filled in.
    - A setting given by its pre-3.6 name (C(--experimental-compaction-batch-limit)) is reported
      under its new one; RV(deprecated_flags) names it.
  returned: when found
  type: dict
  sample: {"quota_backend_bytes": 2147483648, "auto_compaction_mode": "periodic",
           "auto_compaction_retention": "0", "snapshot_count": 10000, "snapshot_catchup_entries": 5000,
           "compaction_batch_limit": 1000, "enable_v2": false,
           "feature_gates": {"StopGRPCServiceOnDefrag": true}}
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
      description:
        - Raft entries between snapshots (C(--snapshot-count)). Its default is 100,000 before etcd
          3.6 and 10,000 from 3.6 on; null when it is the default and the version is unknown.
      type: int
    snapshot_catchup_entries:
      description:
        - Raft entries kept after a snapshot for a slow follower to catch up from
          (C(--snapshot-catchup-entries), before 3.6 C(--experimental-snapshot-catchup-entries),
          which came with etcd 3.5.14); 5000 by default, and fixed at that before 3.5.14.
      type: int
    compaction_batch_limit:
      description:
        - Revisions deleted in each batch of a compaction (C(--compaction-batch-limit), before 3.6
          C(--experimental-compaction-batch-limit)); 1000 by default.
      type: int
    enable_v2:
      description:
        - Whether the v2 API is on (C(--enable-v2), etcd before 3.6). Always false from 3.6 on,
          which removed it.
      type: bool
    feature_gates:
      description:
        - The feature gates that are set, by name (etcd's defaults are not listed), from
          C(--feature-gates) (etcd 3.6+) and from the boolean C(--experimental-*) flags that etcd
          3.6 turned into gates, such as C(--experimental-stop-grpc-service-on-defrag)
          (C(StopGRPCServiceOnDefrag)), C(--experimental-compact-hash-check-enabled)
          (C(CompactHashCheck)) and C(--experimental-initial-corrupt-check) (C(InitialCorruptCheck)),
          under the gate's name also before 3.6. C(AllAlpha) and C(AllBeta) are listed, with the gates
          they switch that are not set on their own.
      type: dict
sources:
  description:
    - Where each of RV(settings) comes from, V(flag), V(env) or V(default); for C(feature_gates)
      V(flag) when any gate was set on the command line.
  returned: when found
  type: dict
  sample: {"quota_backend_bytes": "flag", "auto_compaction_mode": "default", "feature_gates": "flag"}
deprecated_flags:
  description:
    - The flags and C(ETCD_*) variables in use that the next minor version of etcd removes, so that
      they must go before that upgrade. On etcd 3.5 C(--enable-v2) (also as C(ETCD_ENABLE_V2=true))
      and C(--experimental-enable-v2v3); on etcd 3.6 every C(--experimental-*) flag and
      C(ETCD_EXPERIMENTAL_*) variable. Empty when the version is unknown. RV(risks) says what to use
      instead.
  returned: when found
  type: list
  elements: str
  sample: ["--experimental-compaction-batch-limit", "ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES"]
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

    def read_status():
        try:
            return module.client.status(endpoint)
        except EtcdError:
            return None

    try:
        return dict(changed=False, **local_member_info(endpoint, read_status, module.run_bounded))
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
