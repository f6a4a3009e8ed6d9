# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Transport: etcd's gRPC API, through the generated stubs of the ``etcd3`` package.

Private to the etcdops.etcd collection: not a public API, it may change without notice.

For clusters whose JSON gateway is off (``--enable-grpc-gateway=false``), and for client-certificate
(CommonName) identity with auth on, which the gateway refuses. It answers in the gateway's shape:
proto3 JSON with the proto field names (``MessageToDict(preserving_proto_field_name=True)``), so
``api.py`` and ``client.py`` do not know which transport carried a call; errors are the same
classes with the same messages (``gateway.classify_message``).

Two things about etcd3 0.12.0 (2020, its last release):

* its generated ``*_pb2`` modules come from an old protoc, which protobuf 4 and later refuse in
  their C/upb implementations; the pure-Python implementation accepts them. It is chosen here
  before protobuf is first imported (``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python``); when
  protobuf was imported already with another implementation, the import fails and says why.
* its ``rpc.proto`` predates fields every supported etcd sends: ``raftAppliedIndex``, ``errors``,
  ``dbSizeInUse``, ``isLearner`` (3.4), ``storageVersion``, ``dbSizeQuota`` (3.6), a member's
  ``isLearner``, HashKV's ``hash_revision``. protobuf keeps them as unknown fields, which survive
  serialisation: ``unknown_fields`` decodes them from the wire format (``EXTRA_FIELDS``).

``/metrics`` is plain HTTP on the same client URL whatever the gateway setting: ``get_text`` goes
through the gateway transport's HTTP client.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys
import threading
import time
import warnings

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six.moves.urllib.parse import urlparse

from ansible_collections.etcdops.etcd.plugins.module_utils import errors
from ansible_collections.etcdops.etcd.plugins.module_utils.gateway import (
    GatewayTransport,
    UsesGatewayOptions,
    classify_message,
    is_known_message,
)

PROTOBUF_IMPLEMENTATION_VARIABLE = 'PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION'

# {message name: {field number: (JSON name, kind)}}: the fields etcd sends that etcd3's bundled
# rpc.proto lacks (numbers from etcd's api/etcdserverpb/rpc.proto, 3.4 to 3.7).
EXTRA_FIELDS = {
    'StatusResponse': {
        7: ('raftAppliedIndex', 'uint64'),
        8: ('errors', 'repeated_string'),
        9: ('dbSizeInUse', 'int64'),
        10: ('isLearner', 'bool'),
        11: ('storageVersion', 'string'),
        12: ('dbSizeQuota', 'int64'),
    },
    'Member': {5: ('isLearner', 'bool')},
    'HashKVResponse': {4: ('hash_revision', 'int64')},
}

# gateway path -> (service, method, request message): the RPCs client.py sends.
RPCS = {
    'maintenance/status': ('Maintenance', 'Status', 'StatusRequest'),
    'maintenance/defragment': ('Maintenance', 'Defragment', 'DefragmentRequest'),
    'maintenance/alarm': ('Maintenance', 'Alarm', 'AlarmRequest'),
    'maintenance/hashkv': ('Maintenance', 'HashKV', 'HashKVRequest'),
    'maintenance/transfer-leadership': ('Maintenance', 'MoveLeader', 'MoveLeaderRequest'),
    'maintenance/snapshot': ('Maintenance', 'Snapshot', 'SnapshotRequest'),
    'kv/compaction': ('KV', 'Compact', 'CompactionRequest'),
    'kv/range': ('KV', 'Range', 'RangeRequest'),
    'kv/put': ('KV', 'Put', 'PutRequest'),
    'cluster/member/list': ('Cluster', 'MemberList', 'MemberListRequest'),
    'lease/grant': ('Lease', 'LeaseGrant', 'LeaseGrantRequest'),
    'lease/revoke': ('Lease', 'LeaseRevoke', 'LeaseRevokeRequest'),
    'auth/authenticate': ('Auth', 'Authenticate', 'AuthenticateRequest'),
}

# Substrings of gRPC's UNAVAILABLE details when the TLS handshake failed.
_SERVER_CERT_FAILURES = ('certificate_verify_failed', 'certificate verify failed')
_CLIENT_CERT_FAILURES = ('certificate required', 'certificate_required', 'bad certificate', 'bad_certificate',
                         'tsi_data_corrupted', 'unknown ca', 'unknown_ca', 'certificate unknown')
_MAX_MESSAGE = 64 * 1024 * 1024

_AUTH_NEEDED = ('Authentication is enabled on this cluster: set user and password (ETCDCTL_USER, ETCDCTL_PASSWORD) '
                'of a user with the root role, or use a client certificate whose CommonName is such a user')
_CN_NOT_A_USER = ('Authentication is enabled on this cluster and, without user and password, etcd takes the client '
                  'certificate\'s CommonName as the user: create that user with the root role (etcdctl user add '
                  '<CommonName> --no-password; etcdctl user grant-role <CommonName> root), or set user and password')


# -- the etcd3 import -------------------------------------------------------------------------------

_LOADED = {}


def load_grpc(environ=None, modules=None):
    """(grpc, rpc_pb2, rpc_pb2_grpc, json_format), or raise ImportError with one sentence that says
    what is missing. Selects protobuf's pure-Python implementation when protobuf is not loaded yet."""
    if 'modules' in _LOADED:
        return _LOADED['modules']
    if 'error' in _LOADED:
        raise ImportError(_LOADED['error'])
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if 'google.protobuf' not in modules:
        environ.setdefault(PROTOBUF_IMPLEMENTATION_VARIABLE, 'python')
    if 'grpc' not in modules:
        # gRPC's C core logs every failed handshake to stderr; the typed error says it once.
        environ.setdefault('GRPC_VERBOSITY', 'NONE')
    try:
        with warnings.catch_warnings():
            # etcd3's old generated modules call protobuf's deprecated descriptor constructors.
            warnings.simplefilter('ignore', DeprecationWarning)
            import grpc
            from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc
            from google.protobuf import json_format
    except ImportError as exc:
        _LOADED['error'] = 'cannot import %s (%s)' % (getattr(exc, 'name', None) or 'etcd3', to_native(exc))
        raise ImportError(_LOADED['error']) from exc
    except TypeError as exc:
        # protobuf >= 4 with its C/upb implementation: "Descriptors cannot be created directly".
        _LOADED['error'] = ('etcd3\'s generated protobuf modules need protobuf\'s pure-Python implementation, '
                            'and protobuf was loaded before with another one (set %s=python in the '
                            'environment of the module: %s)' % (PROTOBUF_IMPLEMENTATION_VARIABLE,
                                                                to_native(exc).splitlines()[0]))
        raise ImportError(_LOADED['error']) from exc
    _LOADED['modules'] = (grpc, rpc_pb2, rpc_pb2_grpc, json_format)
    return _LOADED['modules']


def grpc_import_error():
    """None when the gRPC transport can be used on this host, else why not (one sentence)."""
    try:
        load_grpc()
    except ImportError as exc:
        return to_native(exc)
    return None


# -- unknown fields (pure: unit-tested) ---------------------------------------------------------------

def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError('truncated varint')
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7f) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError('varint too long')


def unknown_fields(data, wanted):
    """The fields of ``wanted`` ({number: (name, kind)}) found in the serialised message ``data``,
    as proto3 JSON writes them (64-bit integers as strings); fields not in ``wanted`` are skipped."""
    found = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError('wire type %d is not supported' % wire)
        if pos > len(data):
            raise ValueError('truncated field %d' % number)
        if number not in wanted:
            continue
        name, kind = wanted[number]
        if kind == 'repeated_string':
            found.setdefault(name, []).append(to_text(bytes(value), errors='surrogate_or_replace'))
        elif kind == 'string':
            found[name] = to_text(bytes(value), errors='surrogate_or_replace')
        elif kind == 'bool':
            found[name] = bool(value)
        elif kind == 'int64':
            found[name] = str(value - (1 << 64) if value >= 1 << 63 else value)
        elif kind == 'uint64':
            found[name] = str(value)
    return found


def message_to_dict(message, json_format):
    """A response as the gateway writes it, with the fields etcd3's proto lacks put back."""
    result = json_format.MessageToDict(message, preserving_proto_field_name=True)
    name = message.DESCRIPTOR.name
    if name in EXTRA_FIELDS:
        result.update(unknown_fields(message.SerializeToString(), EXTRA_FIELDS[name]))
    if name == 'MemberListResponse':
        for entry, member in zip(result.get('members') or [], message.members):
            entry.update(unknown_fields(member.SerializeToString(), EXTRA_FIELDS['Member']))
    return result


# -- errors (pure but for the grpc exception's accessors: unit-tested) ---------------------------------

def classify_rpc_error(endpoint, code_name, details, timeout=None, sent_cert=False):
    """The typed error for a failed gRPC call: etcd's own messages as through the gateway, then
    what gRPC itself says (no connection, TLS, deadline, unknown method)."""
    details = to_text(details or '').strip()
    lowered = details.lower()
    if is_known_message(details):
        return classify_message(endpoint, details)
    if code_name == 'DEADLINE_EXCEEDED':
        return errors.EtcdTimeoutError(endpoint, 'no answer within %s seconds (gRPC)' % timeout)
    if code_name == 'UNAVAILABLE':
        if any(needle in lowered for needle in _SERVER_CERT_FAILURES):
            return errors.EtcdTLSError(endpoint, 'the server certificate could not be verified (gRPC: %s)' % details)
        if any(needle in lowered for needle in _CLIENT_CERT_FAILURES) or (
                'handshake' in lowered and not sent_cert):
            return errors.EtcdClientCertError(endpoint, 'the server refused the TLS handshake (gRPC: %s)' % details)
        if 'handshake' in lowered or 'ssl' in lowered:
            return errors.EtcdTLSError(endpoint, 'TLS failure (gRPC: %s)' % details)
        if 'failed parsing http/2' in lowered or 'expected settings frame' in lowered:
            # Something answers there, but not with HTTP/2: not etcd's client port.
            return errors.EtcdNotEtcdError(endpoint, 'the endpoint answered, but not with HTTP/2 as etcd\'s gRPC '
                                           'port does (gRPC: %s)' % details)
        if 'connection refused' in lowered:
            return errors.EtcdConnectionError(endpoint, 'connection refused (gRPC)')
        if details.startswith('etcdserver:'):
            return classify_message(endpoint, details)
        return errors.EtcdConnectionError(endpoint, 'cannot connect (gRPC: %s)' % details)
    if code_name == 'UNIMPLEMENTED':
        return errors.EtcdUnsupportedError(endpoint, 'this etcd version does not offer this call (gRPC: %s)'
                                           % details)
    return classify_message(endpoint, details or code_name)


class GrpcTransport(UsesGatewayOptions):
    """Raw calls to one etcd member's gRPC API, with authentication and typed errors; the same
    interface as gateway.GatewayTransport (``call``, ``stream``, ``get_text``)."""

    def __init__(self, http=None, **options):
        # The connection options (cacert, user, timeout, ...) are the gateway's: UsesGatewayOptions.
        self.http = http or GatewayTransport(**options)
        self._lock = threading.Lock()
        self._channels = {}
        self._tokens = {}
        self._credentials = None

    # -- plumbing -------------------------------------------------------------------------------

    def _modules(self, endpoint):
        try:
            return load_grpc()
        except ImportError as exc:
            raise errors.EtcdGrpcUnavailableError(endpoint, 'the gRPC transport cannot be used on this host: %s'
                                                  % to_native(exc)) from None

    def _read(self, endpoint, path):
        try:
            with open(path, 'rb') as handle:
                return handle.read()
        except (IOError, OSError) as exc:
            raise errors.EtcdTLSError(endpoint, 'cannot read the TLS file %s (%s)' % (path, to_native(exc)),
                                      remedy='Check the paths of cacert, cert and key') from exc

    def _channel(self, endpoint):
        """(channel, stubs) for one endpoint, made once: a channel keeps its connection."""
        grpc, _pb2, pb2_grpc, _json = self._modules(endpoint)
        with self._lock:
            if endpoint in self._channels:
                return self._channels[endpoint]
            url = urlparse(endpoint)
            if not url.hostname or url.scheme not in ('http', 'https'):
                raise errors.EtcdConnectionError(endpoint, 'invalid endpoint URL for gRPC')
            target = '%s:%s' % (('[%s]' % url.hostname) if ':' in url.hostname else url.hostname,
                                url.port or (443 if url.scheme == 'https' else 80))
            options = [('grpc.max_receive_message_length', _MAX_MESSAGE),
                       ('grpc.max_send_message_length', _MAX_MESSAGE),
                       ('grpc.enable_retries', 0)]
            if url.scheme == 'https':
                if not self.validate_certs:
                    raise errors.EtcdTLSError(
                        endpoint, 'validate_certs=false is not available on the gRPC transport',
                        remedy='Set cacert to the CA that signed the server certificate (ETCDCTL_CACERT)')
                if self._credentials is None:
                    self._credentials = grpc.ssl_channel_credentials(
                        root_certificates=self._read(endpoint, self.cacert) if self.cacert else None,
                        private_key=self._read(endpoint, self.key) if self.key else None,
                        certificate_chain=self._read(endpoint, self.cert) if self.cert else None)
                channel = grpc.secure_channel(target, self._credentials, options=options)
            else:
                if self.user:
                    raise errors.EtcdInsecureCredentialsError(
                        endpoint, 'the password of user %r would travel over plaintext gRPC (an http:// '
                        'endpoint), which this collection refuses' % self.user)
                channel = grpc.insecure_channel(target, options=options)
            stubs = dict((service, getattr(pb2_grpc, service + 'Stub')(channel))
                         for service in ('Maintenance', 'KV', 'Cluster', 'Lease', 'Auth'))
            self._channels[endpoint] = (channel, stubs)
            return self._channels[endpoint]

    def close(self):
        with self._lock:
            for channel, _stubs in self._channels.values():
                channel.close()
            self._channels = {}

    def _request(self, endpoint, rpc, body):
        _grpc, pb2, _pb2_grpc, json_format = self._modules(endpoint)
        if rpc not in RPCS:
            raise errors.EtcdUnsupportedError(endpoint, 'the gRPC transport does not send %s' % rpc)
        service, method, request_name = RPCS[rpc]
        try:
            request = json_format.ParseDict(body or {}, getattr(pb2, request_name)())
        except json_format.ParseError as exc:
            # A field that etcd3's old proto lacks: a bug here, not the user's.
            raise errors.EtcdAPIError(endpoint, 'cannot build the gRPC %s request (%s)' % (method, exc)) from exc
        stubs = self._channel(endpoint)[1]
        return getattr(stubs[service], method), request

    def _error(self, endpoint, exc, timeout):
        code = exc.code() if hasattr(exc, 'code') else None
        details = exc.details() if hasattr(exc, 'details') else to_native(exc)
        error = classify_rpc_error(endpoint, getattr(code, 'name', None), details, timeout=timeout,
                                   sent_cert=bool(self.cert))
        if isinstance(error, errors.EtcdAuthError) and not self.user:
            # "user name not found": etcd took the certificate's CommonName as the user, and has none such;
            # "user name is empty": the certificate has no CommonName.
            error.remedy = _CN_NOT_A_USER if self.cert and 'not found' in error.detail else _AUTH_NEEDED
        if getattr(code, 'value', None):
            error.code = code.value[0]
        return error

    # -- authentication -------------------------------------------------------------------------

    def _authenticate(self, endpoint):
        grpc = self._modules(endpoint)[0]
        method, request = self._request(endpoint, 'auth/authenticate',
                                        {'name': self.user, 'password': self.password or ''})
        try:
            return to_text(method(request, timeout=self.timeout).token)
        except grpc.RpcError as exc:
            error = self._error(endpoint, exc, self.timeout)
            if 'authentication is not enabled' in error.detail:
                # Same inventory for clusters with and without auth, as with the gateway.
                return ''
            if isinstance(error, errors.EtcdAuthError):
                error.detail = 'authentication as user %r failed (%s)' % (self.user, error.detail)
            raise error from None

    def _metadata(self, endpoint, renew=False):
        if not self.user:
            return None
        with self._lock:
            token = None if renew else self._tokens.get(endpoint)
        if token is None:
            token = self._authenticate(endpoint)
            with self._lock:
                self._tokens[endpoint] = token
        return [('token', token)] if token else None

    # -- the transport interface ------------------------------------------------------------------

    def call(self, endpoint, rpc, body=None, timeout=None):
        """Send one unary RPC, named by its gateway path (``maintenance/status``); return the answer
        as the gateway would (a dict)."""
        grpc, _pb2, _pb2_grpc, json_format = self._modules(endpoint)
        timeout = timeout or self.timeout
        method, request = self._request(endpoint, rpc, body)
        metadata = self._metadata(endpoint)
        for attempt in (1, 2):
            try:
                return message_to_dict(method(request, timeout=timeout, metadata=metadata), json_format)
            except grpc.RpcError as exc:
                error = self._error(endpoint, exc, timeout)
                if attempt == 1 and metadata and 'invalid auth token' in error.detail:
                    # Simple tokens expire after 5 idle minutes: get a fresh one and retry once.
                    metadata = self._metadata(endpoint, renew=True)
                    continue
                raise error from None
        raise errors.EtcdAuthError(endpoint, 'the token was refused twice')  # not reached

    def stream(self, endpoint, rpc, body=None, timeout=None):
        """A server-streaming RPC (``maintenance/snapshot``): yield each message as a dict, with
        ``blob`` as bytes (the gateway's is base64 text; client.py takes both).

        ``timeout`` bounds the wait for each message, as through the gateway: a watchdog cancels
        the call when the member stops sending, however long the whole stream takes.
        """
        grpc = self._modules(endpoint)[0]
        timeout = timeout or self.timeout
        method, request = self._request(endpoint, rpc, body)
        responses = method(request, metadata=self._metadata(endpoint))
        state = {'last': time.monotonic(), 'stalled': False, 'done': False}

        def watch():
            while not state['done']:
                if time.monotonic() - state['last'] > timeout:
                    state['stalled'] = True
                    responses.cancel()
                    return
                time.sleep(min(0.5, timeout / 4.0))

        watchdog = threading.Thread(target=watch, name='etcd-stream-watchdog')
        watchdog.daemon = True
        watchdog.start()
        try:
            for message in responses:
                state['last'] = time.monotonic()
                yield {'blob': bytes(message.blob), 'remaining_bytes': str(message.remaining_bytes)}
        except grpc.RpcError as exc:
            if state['stalled']:
                raise errors.EtcdTimeoutError(endpoint, 'the %s stream stalled for %s seconds (gRPC)'
                                              % (rpc, timeout)) from None
            raise self._error(endpoint, exc, timeout) from None
        finally:
            state['done'] = True
            if not state['stalled']:
                responses.cancel()

    def get_text(self, endpoint, path, timeout=None, limit=4 * 1024 * 1024):
        """GET a plain-text page such as ``/metrics`` (HTTP on the client URL, gateway or not)."""
        return self.http.get_text(endpoint, path, timeout=timeout, limit=limit)
