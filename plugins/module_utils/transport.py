# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which transport carries the calls: the connection option ``transport``.

Private to the etcdops.etcd collection: not a public API, it may change without notice.

* ``http``: etcd's JSON gateway (gateway.py), nothing to install.
* ``grpc``: etcd's gRPC API (grpc_transport.py), needs etcd3, grpcio and protobuf.
* ``auto`` (the default): the gateway, and gRPC for each endpoint whose gateway turns out to be
  off (the plain-text 404) or refuses the client certificate's CommonName with auth on, which
  gRPC accepts as the user's identity. One failed HTTP round trip per such endpoint and module run.
  Snapshots go over gRPC first wherever etcd3 can be imported (docs/performance.md: about four times
  faster than the gateway's base64 JSON), and through the gateway where gRPC cannot serve them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

from ansible_collections.etcdops.etcd.plugins.module_utils import errors
from ansible_collections.etcdops.etcd.plugins.module_utils.gateway import GatewayTransport, UsesGatewayOptions
from ansible_collections.etcdops.etcd.plugins.module_utils.grpc_transport import GrpcTransport, grpc_import_error

TRANSPORTS = ('auto', 'http', 'grpc')

# What the gateway answers where gRPC would do: auto switches that endpoint to gRPC.
_SWITCH_TO_GRPC = (errors.EtcdGatewayDisabledError, errors.EtcdGatewayCommonNameError)


class AutoTransport(UsesGatewayOptions):
    """The gateway, and gRPC for the endpoints where the gateway cannot serve."""

    def __init__(self, http, grpc):
        self.http = http
        self.grpc = grpc
        self._grpc_endpoints = set()
        self._lock = threading.Lock()

    def used(self, endpoint):
        """'grpc' or 'http': what carries the calls to ``endpoint`` now."""
        with self._lock:
            return 'grpc' if endpoint in self._grpc_endpoints else 'http'

    def _switch(self, endpoint, exc):
        why = grpc_import_error()
        if why is not None:
            exc.remedy = ('%s. transport=auto would use gRPC here, but cannot: %s; install etcd3, grpcio and '
                          'protobuf on the host that runs the module (the collection\'s requirements.txt)'
                          % (exc.remedy.rstrip('.'), why))
            raise exc
        with self._lock:
            self._grpc_endpoints.add(endpoint)

    def call(self, endpoint, rpc, body=None, timeout=None):
        if self.used(endpoint) == 'http':
            try:
                return self.http.call(endpoint, rpc, body, timeout=timeout)
            except _SWITCH_TO_GRPC as exc:
                self._switch(endpoint, exc)
        return self.grpc.call(endpoint, rpc, body, timeout=timeout)

    def stream(self, endpoint, rpc, body=None, timeout=None):
        """A snapshot: over gRPC first where etcd3 can be imported (about four times faster, and a
        seventh of the member's CPU: docs/performance.md), else, or when gRPC fails before its first
        message (other than by a timeout), through the gateway; the gateway switches to gRPC as
        ``call`` does."""
        if self.used(endpoint) == 'http' and grpc_import_error() is None:
            stream = self.grpc.stream(endpoint, rpc, body, timeout=timeout)
            try:
                first = next(stream, None)
            except errors.EtcdTimeoutError:
                raise
            except errors.EtcdError:
                # Refused before anything was written (a password over http://, validate_certs=false,
                # an HTTP/1.1-only proxy, ...): the gateway may serve it.
                first = None
                stream = None
            if stream is not None:
                if first is not None:
                    yield first
                    yield from stream
                return
        if self.used(endpoint) == 'http':
            try:
                # The gateway answers (or refuses) before the first message: nothing was yielded yet
                # when it is refused, so the stream can start again over gRPC.
                stream = self.http.stream(endpoint, rpc, body, timeout=timeout)
                first = next(stream, None)
            except _SWITCH_TO_GRPC as exc:
                self._switch(endpoint, exc)
            else:
                if first is not None:
                    yield first
                    yield from stream
                return
        yield from self.grpc.stream(endpoint, rpc, body, timeout=timeout)

    def get_text(self, endpoint, path, timeout=None, limit=4 * 1024 * 1024):
        return self.http.get_text(endpoint, path, timeout=timeout, limit=limit)


def build_transport(kind='auto', **options):
    """The transport for the connection option ``transport`` (``TRANSPORTS``); ``options`` are the
    TLS, auth and timeout options both transports take."""
    http = GatewayTransport(**options)
    if kind == 'http':
        return http
    grpc = GrpcTransport(http=http)
    if kind == 'grpc':
        return grpc
    if kind != 'auto':
        raise ValueError('transport must be one of %s' % ', '.join(TRANSPORTS))
    return AutoTransport(http, grpc)
