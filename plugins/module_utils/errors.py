# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Typed errors of the etcd client.

Private to the etcdops.etcd collection: not a public API, it may change without notice.

Every foreseeable failure of a call to etcd becomes one of these classes, so that modules
report one clear sentence (what happened, where, and what to do about it) instead of a
traceback. The transport (the JSON gateway) decides which class applies to an answer, the client
and the modules to a state of the cluster (no leader, a leadership hand-over that does not
happen); the modules only catch ``EtcdError``, and never raise the base class itself.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class EtcdError(Exception):
    """Base class: a call to one etcd endpoint failed.

    ``kind`` is a stable machine-readable name returned by the modules as ``error``.
    """

    kind = 'error'
    remedy = ''

    def __init__(self, endpoint, detail, remedy=None, code=None, http_status=None):
        self.endpoint = endpoint
        self.detail = detail
        self.code = code
        self.http_status = http_status
        if remedy is not None:
            self.remedy = remedy
        super(EtcdError, self).__init__(self.message)

    @property
    def message(self):
        text = '%s: %s' % (self.endpoint, self.detail)
        if self.remedy:
            text = '%s. %s' % (text.rstrip('.'), self.remedy)
        return text

    def __str__(self):
        return self.message


class EtcdConnectionError(EtcdError):
    kind = 'unreachable'
    remedy = ('Check that etcd runs there and that the URL (scheme, host, client port) is right; '
              'the endpoints option takes client URLs such as https://10.0.0.1:2379')


class EtcdConnectionLostError(EtcdConnectionError):
    """The connection closed after the request was sent, before any answer: the member died or
    restarted while serving it (a defragmentation, say), or something between dropped it."""
    remedy = ('etcd may have died or restarted while serving the request: check that it runs and read its '
              'log; the request may or may not have been carried out, so read the member\'s status before '
              'running again')


class EtcdTimeoutError(EtcdConnectionError):
    kind = 'timeout'
    remedy = ('The member did not answer in time: check that it is up and not partitioned, '
              'or raise the timeout option')


class EtcdTLSError(EtcdError):
    kind = 'tls'
    remedy = ('Set cacert to the CA that signed the server certificate (ETCDCTL_CACERT), '
              'or validate_certs=false for a test cluster')


class EtcdClientCertError(EtcdError):
    kind = 'client_certificate'
    remedy = ('The server demands a client certificate (--client-cert-auth): '
              'set cert and key (ETCDCTL_CERT, ETCDCTL_KEY) to one signed by its --trusted-ca-file')


class EtcdAuthError(EtcdError):
    kind = 'auth'
    remedy = 'Check user and password (ETCDCTL_USER, ETCDCTL_PASSWORD)'


class EtcdPermissionError(EtcdError):
    kind = 'permission'
    remedy = ('Maintenance calls (status, compaction, defragment, alarm, snapshot) need a user '
              'with the root role: set user to such a user')


class EtcdNoSpaceError(EtcdError):
    kind = 'nospace'
    remedy = ('The NOSPACE alarm is active: compact the history, defragment every member, '
              'then disarm the alarm (etcdops.etcd.etcd_compact, etcd_defrag, etcd_alarm)')


class EtcdCompactedError(EtcdError):
    kind = 'compacted'
    remedy = 'That revision was already compacted away; ask for a newer revision'


class EtcdFutureRevisionError(EtcdError):
    kind = 'future_revision'
    remedy = 'That revision does not exist yet; ask for the current revision or an older one'


class EtcdNotLeaderError(EtcdError):
    kind = 'not_leader'
    remedy = 'This request must go to the leader; ask the member that etcd_status reports as leader'


class EtcdGatewayDisabledError(EtcdError):
    kind = 'gateway_disabled'
    remedy = ('The member\'s JSON gateway is off (--enable-grpc-gateway=false): use transport=grpc or auto '
              '(the default), which need the Python packages %s on the host that runs the module, or enable '
              'the gateway' % 'etcd3, grpcio and protobuf')


class EtcdGrpcUnavailableError(EtcdError):
    """The gRPC transport cannot be used on this host: etcd3 (or what it needs) cannot be imported."""

    kind = 'grpc_unavailable'
    remedy = ('Install the gRPC transport\'s Python packages on the host that runs the module: '
              'python3 -m pip install etcd3==0.12.0 "grpcio>=1.62,<2" "protobuf>=4.21,<8" '
              '(or the collection\'s requirements.txt), or use transport=http')


class EtcdInsecureCredentialsError(EtcdError):
    """A password would travel over a plaintext gRPC connection."""

    kind = 'insecure_credentials'
    remedy = ('Use TLS for a password over gRPC: an https:// endpoint and cacert (ETCDCTL_CACERT); '
              'gRPC clients, etcd\'s own included, send credentials only over TLS')


class EtcdSnapshotError(EtcdError):
    kind = 'snapshot'
    remedy = 'The snapshot was not kept; take it again, from another member if this one keeps failing'


class EtcdUnsupportedError(EtcdError):
    kind = 'unsupported'
    remedy = 'The member runs an etcd version without this call; upgrade it, or do without it'


class EtcdNotEtcdError(EtcdError):
    kind = 'not_etcd'
    remedy = 'The endpoint answered, but not like etcd: check that the URL is a client URL of an etcd member'


class EtcdGatewayCommonNameError(EtcdError):
    kind = 'gateway_common_name'
    remedy = ('With --client-cert-auth and auth enabled, the JSON gateway refuses client certificates '
              'that carry a CommonName: use a certificate without a CommonName together with user and '
              'password')


class EtcdNoLeaderError(EtcdError):
    """No member sees a leader: the cluster has lost quorum (or is electing one right now)."""

    kind = 'no_leader'
    remedy = ('Restore quorum before any maintenance: bring back enough members that a majority answers '
              '(etcdops.etcd.etcd_status shows which are down), then run this again')


class EtcdLeaderTransferError(EtcdError):
    """Leadership cannot be handed to another member (no candidate, or none can be reached)."""

    kind = 'leader_transfer'
    remedy = ('Name the successor (a reachable, healthy voting member) with leader_target or target, '
              'or leave leadership where it is')


class EtcdLeaderTransferTimeoutError(EtcdLeaderTransferError):
    """Leadership was handed over, but the new leader was not in place within the wait."""

    kind = 'leader_transfer_timeout'
    remedy = ('Check the cluster with etcdops.etcd.etcd_status (a lagging or partitioned successor keeps '
              'the old leader); raise wait_timeout if elections are just slow here')


class EtcdStallLimitError(EtcdError):
    """A member's defragmentation is predicted to block it for longer than allowed (stalls.py)."""

    kind = 'stall_limit'


class EtcdMemberDownError(EtcdError):
    """Another voting member is down: defragmenting this one now would leave two unavailable at once."""

    kind = 'member_down'


class EtcdAPIError(EtcdError):
    """etcd refused the request for a reason without a class of its own."""

    kind = 'api'
