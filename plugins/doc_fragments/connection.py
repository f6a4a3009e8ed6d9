# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Kept in step with connection_argument_spec() in plugins/module_utils/common.py.
    DOCUMENTATION = r'''
options:
  endpoints:
    description:
      - Client URLs of etcd members, as for C(etcdctl --endpoints).
      - A URL without a scheme gets C(https://) when O(cacert) or O(cert) is set, else C(http://).
      - Cluster-wide calls go to the first endpoint that answers; calls about one member go to
        that member's own URL. Members that no endpoint names are reached at the client URLs they
        advertise.
      - If not set, the comma-separated E(ETCDCTL_ENDPOINTS) environment variable of the host
        running the module is used, then V(http://127.0.0.1:2379).
    type: list
    elements: str
    default: ['http://127.0.0.1:2379']
  cacert:
    description:
      - CA bundle that verifies the members' server certificates, as C(etcdctl --cacert).
      - If not set, E(ETCDCTL_CACERT) is used, then the system's trust store.
    type: path
  cert:
    description:
      - Client certificate for members started with C(--client-cert-auth), as C(etcdctl --cert).
        Goes with O(key).
      - If not set, E(ETCDCTL_CERT) is used.
      - With C(--client-cert-auth) B(and) authentication enabled, etcd's JSON gateway refuses
        certificates that carry a CommonName (HTTP 400). Use a certificate without a CommonName
        together with O(user) and O(password) there.
    type: path
  key:
    description:
      - Private key of O(cert), as C(etcdctl --key).
      - If not set, E(ETCDCTL_KEY) is used.
    type: path
  user:
    description:
      - User to authenticate as when etcd authentication is enabled, as C(etcdctl --user),
        either V(name) or V(name:password).
      - Maintenance calls need a user with the C(root) role.
      - If not set, E(ETCDCTL_USER) is used. Without a user no authentication is attempted;
        with a user against a cluster whose authentication is off, the user is ignored.
    type: str
  password:
    description:
      - Password of O(user), as C(etcdctl --password).
      - If not set, E(ETCDCTL_PASSWORD) is used.
    type: str
  validate_certs:
    description:
      - Whether to verify the members' server certificates. Set V(false) only for test clusters.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each request to one member. No call waits longer; a member that
        does not answer in time is reported, never waited on forever.
    type: int
    default: 10
  discover:
    description:
      - Also reach the members that no endpoint names, at the client URLs they advertise in the
        member list.
      - Set V(false) where each member can only be reached from its own host (kubeadm's
        C(https://127.0.0.1:2379) with certificates on that host). Results then describe only the
        members the endpoints reach; the full member list is still read.
    type: bool
    default: true
  transport:
    description:
      - How the calls reach etcd. V(http) is etcd's JSON gateway (C(POST /v3/...)), which needs
        nothing beyond Python and ansible-core on the host that runs the module.
      - V(grpc) is etcd's gRPC API through the C(etcd3) package, for members started with
        C(--enable-grpc-gateway=false), and for a client certificate whose CommonName is the etcd
        user (auth on), which the gateway refuses. It needs C(etcd3), C(grpcio) and C(protobuf) on
        that host (the collection's C(requirements.txt)); protobuf's pure-Python implementation is
        selected for it. It refuses a password over plaintext (C(http://)) endpoints, and
        O(validate_certs=false).
      - V(auto) uses the gateway, and gRPC for each member whose gateway is off or refuses the
        client certificate's CommonName. Snapshots go over gRPC wherever C(etcd3) can be imported
        (several times faster than the gateway's base64 JSON), else through the gateway. Results and
        errors are the same on both transports.
      - The environment variable E(ETCDOPS_TRANSPORT) sets it when the task does not.
    type: str
    choices: [auto, http, grpc]
    default: auto
notes:
  - The modules speak etcd's v3 API through its JSON gateway (C(POST /v3/...)), enabled by default
    in etcd 3.4 to 3.7 (C(--enable-grpc-gateway)), or over gRPC (O(transport)). Through the gateway
    nothing needs installing on the host that runs them beyond Python and ansible-core.
  - Integration-tested against etcd 3.4.23, the newest 3.5 of Debian (3.5.30), 3.6.16 and 3.7.3;
    3.5.1 on request. etcd 3.6 and later fields (C(dbSizeQuota), C(storageVersion), C(downgradeInfo))
    are read when present.
'''

    # Kept in step with quota_argument_spec() in plugins/module_utils/common.py.
    QUOTA = r'''
options:
  quota_bytes:
    description:
      - The space quota (C(--quota-backend-bytes)) to assume for members that do not report
        their own.
      - etcd 3.6 reports the quota in its status; older members expose it in their C(/metrics)
        page as C(etcd_server_quota_backend_bytes), which is read when reachable. Only when
        neither is available is this value used, then etcd's default of 2 GiB.
    type: int
'''
