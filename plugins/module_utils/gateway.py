# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Transport: etcd's v3 JSON gateway (``POST <client URL>/v3/...``).

Private to the etcdops.etcd collection: not a public API, it may change without notice.

Why the gateway: it needs nothing on the managed node beyond ansible-core (``open_url``), and
it returns every field of the v3 API (``dbSizeInUse``, ``raftAppliedIndex``, ``isLearner``,
``errors``), which the Python gRPC clients drop. Responses are proto3 JSON, the same shape a
gRPC transport gets from ``MessageToDict``: ``api.py`` normalises that shape, so the gRPC
transport (grpc_transport.py) only implements ``call`` and ``stream``, and reads ``/metrics`` through
this one (``get_text``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import ssl
import threading

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six.moves.http_client import HTTPException
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import Request, make_context

from ansible_collections.etcdops.etcd.plugins.module_utils import errors
from ansible_collections.etcdops.etcd.plugins.module_utils.api import error_message


class EtcdLearnerError(errors.EtcdAPIError):
    """A learner refused a call that only voting members serve.

    etcd answers "etcdserver: rpc not supported for learner": seen for defragment with HTTP 503
    (code 14) on 3.5.30 and HTTP 400 (code 9) on 3.6.16 and 3.7.3, where hash, hashkv, alarm,
    compaction, a linearizable range and member list get the same answer. Of the calls made here,
    a learner answers only status.
    """

    kind = 'learner'
    remedy = ('The member is a learner, which serves status only: send the call to a voting member, '
              'or promote the learner first (etcdctl member promote)')


# Messages etcd puts in its error bodies, mapped to our error classes. Matched as substrings:
# etcd 3.4 prefixes "etcdserver: ", 3.5 sometimes does not, and both versions reuse them in
# the status "errors" list.
_MESSAGE_CLASSES = (
    ('rpc not supported for learner', EtcdLearnerError),
    ('database space exceeded', errors.EtcdNoSpaceError),
    ('required revision has been compacted', errors.EtcdCompactedError),
    ('required revision is a future revision', errors.EtcdFutureRevisionError),
    ('not leader', errors.EtcdNotLeaderError),
    ('permission denied', errors.EtcdPermissionError),
    ('authentication failed', errors.EtcdAuthError),
    ('user name is empty', errors.EtcdAuthError),
    ('user name not found', errors.EtcdAuthError),
    # What defragment and hash answer without a token ("auth: user not found", HTTP 500).
    ('user not found', errors.EtcdAuthError),
    ('invalid auth token', errors.EtcdAuthError),
    ('CommonName of client sending a request against gateway', errors.EtcdGatewayCommonNameError),
)

# Substrings of OpenSSL's reasons when the *server* rejected us for our client certificate
# (none sent, or one it does not trust), as opposed to us rejecting the server's.
_CLIENT_CERT_ALERTS = ('certificate required', 'bad certificate', 'unknown ca', 'certificate unknown',
                       'handshake failure', 'certificate_required', 'bad_certificate', 'unknown_ca')

_MAX_ERROR_BODY = 64 * 1024

_NO_USER_MESSAGES = ('user name is empty', 'user name not found', 'user not found')
_AUTH_NEEDED = ('Authentication is enabled on this cluster: set user and password (ETCDCTL_USER, '
                'ETCDCTL_PASSWORD) of a user with the root role')

# Go's http.NotFound text: what etcd's client port answers for /v3/... with the gateway off.
# With the gateway on, an RPC this etcd version does not have gets the gateway's "Not Found".
_NO_GATEWAY_BODY = '404 page not found'

# Handed to Request for http:// URLs, where it is never used (see GatewayTransport._open).
_PLAIN_CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def classify_error_body(endpoint, http_status, body):
    """Turn an HTTP error answer of the gateway into a typed error (pure: unit-tested).

    Returns None for a 404 that is not an etcd error body: only the caller can tell, by asking
    /version, whether that is etcd (gateway off, or an RPC this version lacks) or not etcd at all.
    """
    message, code = error_message(body)
    if message is None:
        # Some refusals come as plain text, such as the CommonName trap's.
        text = to_text(body).strip()
        if _match(text) is not None:
            message = text
        elif http_status == 404:
            return None
        else:
            return errors.EtcdNotEtcdError(
                endpoint, 'unexpected HTTP %s answer that is not an etcd error: %s'
                % (http_status, text[:200]), http_status=http_status)
    if http_status == 404 and message.strip().lower() == 'not found':
        # 3.5.30's gateway answers an RPC it lacks with {"code":5,"message":"Not Found"}.
        return None
    return classify_message(endpoint, message, code=code, http_status=http_status)


def classify_message(endpoint, message, code=None, http_status=None):
    """The typed error for one of etcd's error messages, whatever the transport that carried it
    (pure: unit-tested). etcd's messages are the same over gRPC and through the gateway."""
    cls = _match(message) or errors.EtcdAPIError
    if cls is errors.EtcdAuthError and any(needle in message for needle in _NO_USER_MESSAGES):
        return cls(endpoint, message, code=code, http_status=http_status, remedy=_AUTH_NEEDED)
    return cls(endpoint, message, code=code, http_status=http_status)


def is_known_message(message):
    """Whether ``message`` is one of the etcd errors that have a class of their own."""
    return _match(message) is not None


def classify_404(endpoint, body, is_etcd, rpc=None):
    """A 404 without an etcd error body: not etcd, etcd without its gateway, or an RPC this
    etcd version lacks (pure: unit-tested; ``is_etcd`` comes from asking /version)."""
    if not is_etcd:
        return errors.EtcdNotEtcdError(endpoint, 'HTTP 404 for the etcd v3 API, and /version is not etcd\'s',
                                       http_status=404)
    if to_text(body).strip() == _NO_GATEWAY_BODY:
        return errors.EtcdGatewayDisabledError(endpoint, 'the v3 JSON gateway is not available (HTTP 404)',
                                               http_status=404)
    return errors.EtcdUnsupportedError(endpoint, 'this etcd version does not offer %s (HTTP 404)'
                                       % (rpc or 'this call'), http_status=404)


def _match(message):
    lowered = message.lower()
    for needle, cls in _MESSAGE_CLASSES:
        if needle.lower() in lowered:
            return cls
    return None


def _classify_tls(endpoint, exc):
    reason = to_native(getattr(exc, 'reason', None) or exc)
    lowered = reason.lower().replace('_', ' ')
    if isinstance(exc, ssl.SSLCertVerificationError) or 'certificate verify failed' in lowered:
        return errors.EtcdTLSError(endpoint, 'the server certificate could not be verified (%s)' % reason)
    if isinstance(exc, ssl.SSLEOFError) or 'eof occurred in violation of protocol' in lowered:
        # The server hung up during or right after the handshake, after we had accepted its
        # certificate: with TLS 1.3 that is how a refused client certificate often shows
        # (measured: always on 3.5.30 without a certificate).
        return errors.EtcdClientCertError(endpoint, 'the server closed the TLS connection (%s)' % reason)
    if any(alert.replace('_', ' ') in lowered for alert in _CLIENT_CERT_ALERTS):
        return errors.EtcdClientCertError(endpoint, 'the server refused the TLS handshake (%s)' % reason)
    return errors.EtcdTLSError(endpoint, 'TLS failure (%s)' % reason)


# The TLS, auth and timeout options every transport takes, held by the GatewayTransport.
CONNECTION_OPTIONS = ('cacert', 'cert', 'key', 'user', 'password', 'validate_certs', 'timeout')


class UsesGatewayOptions:
    """For a transport built around a GatewayTransport ``self.http``: the connection options
    (``CONNECTION_OPTIONS``) are read from it, so they are held in one place."""

    def __getattr__(self, name):
        if name in CONNECTION_OPTIONS:
            return getattr(self.__dict__['http'], name)
        raise AttributeError(name)


class GatewayTransport:
    """Raw calls to one etcd member's JSON gateway, with authentication and typed errors."""

    name = 'gateway'

    def __init__(self, cacert=None, cert=None, key=None, user=None, password=None,
                 validate_certs=True, timeout=10):
        self.cacert = cacert
        self.cert = cert
        self.key = key
        self.user = user
        self.password = password
        self.validate_certs = validate_certs
        self.timeout = timeout
        self._token = None
        self._token_lock = threading.Lock()
        self._tls_context = None
        # Redirects are never followed: an etcd member does not redirect, and following one
        # would send the auth token elsewhere.
        self._request = Request(follow_redirects='none', validate_certs=validate_certs, http_agent='etcdops.etcd')

    # -- plumbing -------------------------------------------------------------------------

    def _context(self, endpoint):
        """The TLS context, built once: building one loads the system trust store, which costs
        about 20 ms, more than a whole status call on a LAN."""
        if self._tls_context is None:
            try:
                self._tls_context = make_context(cafile=self.cacert, validate_certs=self.validate_certs,
                                                 client_cert=self.cert, client_key=self.key)
            except (ssl.SSLError, OSError, ValueError) as exc:
                raise errors.EtcdTLSError(endpoint, 'cannot load the TLS files (%s)' % to_native(exc),
                                          remedy='Check that cacert, cert and key name readable PEM files '
                                                 'and that key belongs to cert') from exc
        return self._tls_context

    def _open(self, endpoint, path, data=None, method='POST', timeout=None, headers=None):
        """One HTTP request with our TLS options; every failure becomes an EtcdError."""
        url = endpoint + path
        timeout = timeout or self.timeout
        # Plain http needs no TLS context, but Request would build (and pay for) one anyway.
        context = self._context(endpoint) if url.lower().startswith('https:') else _PLAIN_CONTEXT
        try:
            return self._request.open(method, url, data=data, headers=headers or {}, timeout=timeout,
                                      context=context)
        except HTTPError as exc:
            raise _HTTPFailure(exc.code, _read_limited(exc)) from exc
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise _classify_tls(endpoint, exc) from exc
        except URLError as exc:
            raise self._from_reason(endpoint, exc.reason, timeout) from exc
        except (socket.timeout, TimeoutError) as exc:
            raise errors.EtcdTimeoutError(
                endpoint, 'no answer within %s seconds (%s)' % (timeout, to_native(exc))) from exc
        except (ConnectionError, OSError) as exc:
            raise self._from_reason(endpoint, exc, timeout) from exc
        except ValueError as exc:
            raise errors.EtcdConnectionError(endpoint, 'invalid endpoint URL (%s)' % to_native(exc)) from exc
        except Exception as exc:  # ansible's own urls errors (SSLValidationError, ConnectionError, ...)
            raise self._from_ansible_error(endpoint, exc) from exc

    def _from_reason(self, endpoint, reason, timeout):
        if isinstance(reason, (ssl.SSLError, ssl.CertificateError)):
            return _classify_tls(endpoint, reason)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return errors.EtcdTimeoutError(endpoint, 'no answer within %s seconds' % timeout)
        if isinstance(reason, ConnectionRefusedError):
            return errors.EtcdConnectionError(endpoint, 'connection refused')
        if isinstance(reason, (ConnectionResetError, BrokenPipeError)) and self.cacert is not None and not self.cert:
            # With TLS 1.3 a server that demands a client certificate may just drop the connection.
            return errors.EtcdClientCertError(endpoint, 'the server closed the TLS connection (%s)' % to_native(reason))
        if isinstance(reason, FileNotFoundError):
            return errors.EtcdTLSError(endpoint, 'a TLS file does not exist (%s)' % to_native(reason),
                                       remedy='Check the paths of cacert, cert and key')
        if isinstance(reason, (ConnectionResetError, BrokenPipeError)):
            # http.client.RemoteDisconnected is a ConnectionResetError: the request went out, no answer came.
            return errors.EtcdConnectionLostError(
                endpoint, 'the connection closed before etcd answered (%s)' % to_native(reason))
        return errors.EtcdConnectionError(endpoint, 'cannot connect (%s)' % to_native(reason))

    @staticmethod
    def _from_ansible_error(endpoint, exc):
        text = to_native(exc)
        if 'certificate verify failed' in text.lower().replace('_', ' '):
            return errors.EtcdTLSError(endpoint, 'the server certificate could not be verified (%s)' % text)
        return errors.EtcdConnectionError(endpoint, 'cannot connect (%s: %s)' % (type(exc).__name__, text))

    def _post_json(self, endpoint, path, body, timeout=None, token=None):
        headers = {'Content-Type': 'application/json'}
        if token:
            # The gateway takes the raw token, without "Bearer".
            headers['Authorization'] = token
        response = self._open(endpoint, path, data=json.dumps(body or {}), timeout=timeout, headers=headers)
        try:
            raw = response.read()
        except (socket.timeout, TimeoutError):
            raise errors.EtcdTimeoutError(
                endpoint, 'no complete answer within %s seconds' % (timeout or self.timeout)) from None
        except (ssl.SSLError, OSError) as exc:
            raise self._from_reason(endpoint, exc, timeout or self.timeout) from exc
        except HTTPException as exc:
            raise errors.EtcdConnectionError(
                endpoint, 'the answer broke off (%s: %s)' % (type(exc).__name__, exc)) from exc
        return self._decode(endpoint, raw)

    @staticmethod
    def _decode(endpoint, raw):
        try:
            data = json.loads(to_text(raw))
        except ValueError:
            raise errors.EtcdNotEtcdError(
                endpoint, 'the answer is not JSON (%s)' % to_text(raw)[:120].strip()) from None
        if not isinstance(data, dict):
            raise errors.EtcdNotEtcdError(endpoint, 'the answer is not a JSON object')
        return data

    def _raise_http(self, endpoint, failure, rpc=None):
        exc = classify_error_body(endpoint, failure.status, failure.body)
        if exc is not None:
            if isinstance(exc, errors.EtcdAuthError) and not self.user:
                exc.remedy = _AUTH_NEEDED
            raise exc
        raise classify_404(endpoint, failure.body, self._looks_like_etcd(endpoint), rpc)

    def _looks_like_etcd(self, endpoint):
        try:
            data = self._decode(endpoint, self._open(endpoint, '/version', method='GET').read())
        except (errors.EtcdError, _HTTPFailure, socket.timeout, OSError):
            return False
        return 'etcdserver' in data

    # -- authentication -------------------------------------------------------------------

    def _authenticate(self, endpoint):
        try:
            answer = self._post_json(endpoint, '/v3/auth/authenticate',
                                     {'name': self.user, 'password': self.password or ''})
        except _HTTPFailure as failure:
            exc = classify_error_body(endpoint, failure.status, failure.body)
            if exc is None:
                self._raise_http(endpoint, failure, 'auth/authenticate')
            if 'authentication is not enabled' in exc.detail:
                # Same inventory for clusters with and without auth: like etcdctl, go on without a token.
                return ''
            if isinstance(exc, errors.EtcdAuthError):
                exc.detail = 'authentication as user %r failed (%s)' % (self.user, exc.detail)
            raise exc from failure
        return answer.get('token') or ''

    def _current_token(self, endpoint, renew=False):
        if not self.user:
            return None
        with self._token_lock:
            if self._token is None or renew:
                self._token = self._authenticate(endpoint)
            return self._token

    # -- the transport interface ------------------------------------------------------------

    def call(self, endpoint, rpc, body=None, timeout=None):
        """POST one v3 RPC (e.g. ``maintenance/status``) and return the decoded answer."""
        path = '/v3/' + rpc
        token = self._current_token(endpoint)
        try:
            return self._post_json(endpoint, path, body, timeout=timeout, token=token)
        except _HTTPFailure as failure:
            exc = classify_error_body(endpoint, failure.status, failure.body)
            if token and isinstance(exc, errors.EtcdAuthError) and 'invalid auth token' in exc.detail:
                # Simple tokens expire after 5 idle minutes and live on the member that issued
                # them until replicated: get a fresh one from this member and retry once.
                token = self._current_token(endpoint, renew=True)
                try:
                    return self._post_json(endpoint, path, body, timeout=timeout, token=token)
                except _HTTPFailure as second:
                    failure = second
            self._raise_http(endpoint, failure, rpc)

    def stream(self, endpoint, rpc, body=None, timeout=None):
        """POST a server-streaming RPC (``maintenance/snapshot``); yield each message's result.

        The gateway writes one JSON object per line; ``timeout`` bounds each read, so a member
        that stops sending is noticed, however long the whole stream takes.
        """
        headers = {'Content-Type': 'application/json'}
        token = self._current_token(endpoint)
        if token:
            headers['Authorization'] = token
        try:
            response = self._open(endpoint, '/v3/' + rpc, data=json.dumps(body or {}), timeout=timeout,
                                  headers=headers)
        except _HTTPFailure as failure:
            self._raise_http(endpoint, failure, rpc)
        while True:
            try:
                line = response.readline()
            except (socket.timeout, TimeoutError):
                raise errors.EtcdTimeoutError(endpoint, 'the %s stream stalled for %s seconds'
                                              % (rpc, timeout or self.timeout)) from None
            except (ssl.SSLError, OSError) as exc:
                raise self._from_reason(endpoint, exc, timeout or self.timeout) from exc
            except HTTPException as exc:
                # Such as IncompleteRead: the member went away in the middle of the stream.
                raise errors.EtcdConnectionError(endpoint, 'the %s stream broke off (%s: %s)'
                                                 % (rpc, type(exc).__name__, exc)) from exc
            if not line:
                return
            if not line.strip():
                continue
            message = self._decode(endpoint, line)
            if 'error' in message:
                # A failure after the stream started: {"error": {"code", "message"}}.
                error = message['error']
                raise classify_error_body(endpoint, 500, json.dumps(error if isinstance(error, dict)
                                                                    else {'message': error}))
            yield message.get('result', message)

    def get_text(self, endpoint, path, timeout=None, limit=4 * 1024 * 1024):
        """GET a plain-text page such as ``/metrics``; returns text or raises EtcdError."""
        try:
            response = self._open(endpoint, path, method='GET', timeout=timeout)
            return to_text(response.read(limit))
        except _HTTPFailure as failure:
            raise errors.EtcdNotEtcdError(endpoint, 'HTTP %s for %s' % (failure.status, path),
                                          http_status=failure.status) from failure
        except (socket.timeout, TimeoutError):
            raise errors.EtcdTimeoutError(
                endpoint, 'no answer for %s within %s seconds' % (path, timeout or self.timeout)) from None


class _HTTPFailure(Exception):
    """An HTTP error answer, kept internal until it is classified."""

    def __init__(self, status, body):
        super(_HTTPFailure, self).__init__(status)
        self.status = status
        self.body = body


def _read_limited(http_error):
    try:
        return http_error.read(_MAX_ERROR_BODY) or b''
    except Exception:
        return b''
