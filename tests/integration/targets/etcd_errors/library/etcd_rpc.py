#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: etcd_rpc
short_description: Send one raw v3 RPC to etcd (test helper of the etcd_errors target)
version_added: 0.1.0
description:
  - Test-only module of the C(etcd_errors) integration target, not part of the collection.
  - Sends one RPC through the collection's transport to the first of O(endpoints) and returns
    etcd's answer as it came, so the tests can provoke errors (NOSPACE, compacted or future
    revision, not leader) that no module of the collection sends a request for.
  - A failure is reported like the collection's modules report it (RV(error), a message that
    names the endpoint and the remedy).
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.connection
options:
  rpc:
    description:
      - The RPC path under C(/v3/), for example V(kv/put) or V(maintenance/status).
    type: str
    required: true
  body:
    description:
      - The request body, in the v3 API's JSON form (keys and values base64, int64 as strings).
    type: dict
    default: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: none
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
'''

EXAMPLES = r'''
- name: Put a key (key and value are base64)
  etcd_rpc:
    endpoints: [http://127.0.0.1:2379]
    rpc: kv/put
    body:
      key: Zm9v
      value: YmFy
'''

RETURN = r'''
response:
  description: etcd's answer, decoded from JSON but otherwise untouched.
  returned: success
  type: dict
  sample: {"header": {"cluster_id": "14841639068965178418", "revision": "2"}}
error:
  description: Kind of the typed error, for example V(nospace) or V(not_leader).
  returned: failure talking to etcd
  type: str
  sample: nospace
endpoint:
  description: The endpoint the failed call went to.
  returned: failure talking to etcd
  type: str
  sample: http://127.0.0.1:2379
'''

from ansible_collections.etcdops.etcd.plugins.module_utils.common import EtcdModule
from ansible_collections.etcdops.etcd.plugins.module_utils.errors import EtcdError


def main():
    module = EtcdModule(
        argument_spec=dict(
            rpc=dict(type='str', required=True),
            body=dict(type='dict', default={}),
        ),
        supports_check_mode=False,
    )
    client = module.client
    try:
        response = client.transport.call(client.endpoints[0], module.params['rpc'], module.params['body'])
    except EtcdError as exc:
        module.fail_etcd(exc)
    # Any RPC may write, so report a change: this helper is only used to provoke errors.
    module.exit_json(changed=True, response=response)


if __name__ == '__main__':
    main()
