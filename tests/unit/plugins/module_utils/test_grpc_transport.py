# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gRPC transport's decisions: answers recorded over gRPC read as the gateway's, its errors typed
like the gateway's, the etcd3 import, and when ``auto`` switches an endpoint to gRPC."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import api, errors, grpc_transport
from ansible_collections.etcdops.etcd.plugins.module_utils.grpc_transport import (
    EXTRA_FIELDS,
    GrpcTransport,
    classify_rpc_error,
    load_grpc,
    message_to_dict,
    unknown_fields,
)
from ansible_collections.etcdops.etcd.plugins.module_utils.transport import AutoTransport, build_transport
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import HERE, RECORDED_VERSIONS

E = 'https://10.0.0.1:2379'
GRPC_VERSIONS = [v for v in RECORDED_VERSIONS if os.path.exists(os.path.join(HERE, v, 'grpc.json'))]


def recorded_grpc(version):
    with open(os.path.join(HERE, version, 'grpc.json')) as handle:
        return json.load(handle)


def modules():
    return load_grpc()


# -- the wire format ----------------------------------------------------------------------------------

def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7f
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def test_unknown_fields_reads_each_kind_and_skips_the_rest():
    data = (field(3, 0, 12345)                        # dbSize: known to the old proto, skipped
            + field(7, 0, 2 ** 40)                    # raftAppliedIndex (uint64)
            + field(8, 2, b'memberID:1 alarm:NOSPACE ')
            + field(8, 2, b'second')
            + field(9, 0, 4096)                       # dbSizeInUse
            + field(10, 0, 1)                         # isLearner
            + field(11, 2, b'3.6.0')
            + field(13, 2, b'\x08\x01')               # downgradeInfo: a message, not wanted
            + field(20, 1, b'\x00' * 8)               # a 64-bit field from the future
            + field(21, 5, b'\x00' * 4))              # a 32-bit one
    assert unknown_fields(data, EXTRA_FIELDS['StatusResponse']) == {
        'raftAppliedIndex': str(2 ** 40),
        'errors': ['memberID:1 alarm:NOSPACE ', 'second'],
        'dbSizeInUse': '4096',
        'isLearner': True,
        'storageVersion': '3.6.0',
    }


def test_unknown_fields_negative_int64_is_twos_complement():
    assert unknown_fields(field(9, 0, (1 << 64) - 5), EXTRA_FIELDS['StatusResponse']) == {'dbSizeInUse': '-5'}


@pytest.mark.parametrize('data', [b'\x48', b'\x4a\x05ab', b'\xff' * 11, b'\x4e\x00'])
def test_unknown_fields_refuses_a_broken_message(data):
    with pytest.raises(ValueError):
        unknown_fields(data, EXTRA_FIELDS['StatusResponse'])


# -- recorded answers: the same result on both transports --------------------------------------------

@pytest.mark.parametrize('version', GRPC_VERSIONS)
@pytest.mark.parametrize('name', ['status_leader', 'status_follower'])
def test_recorded_status_over_grpc_reads_as_through_the_gateway(version, name):
    _grpc, pb2, _stubs, json_format = modules()
    case = recorded_grpc(version)[name]
    message = pb2.StatusResponse.FromString(bytes.fromhex(case['wire']))
    over_grpc = api.parse_status(message_to_dict(message, json_format))
    through_gateway = api.parse_status(json.loads(case['gateway']))
    assert over_grpc == through_gateway
    # The fields etcd3's proto lacks came from the unknown fields: without them the figures differ.
    assert over_grpc['raft_applied_index'] > 0
    assert over_grpc['db_size_in_use'] < over_grpc['db_size']
    if version.startswith(('3.6.', '3.7.')):
        assert over_grpc['db_size_quota'] > 0 and over_grpc['storage_version']


@pytest.mark.parametrize('version', GRPC_VERSIONS)
def test_recorded_member_list_over_grpc_reads_as_through_the_gateway(version):
    _grpc, pb2, _stubs, json_format = modules()
    case = recorded_grpc(version)['member_list']
    message = pb2.MemberListResponse.FromString(bytes.fromhex(case['wire']))
    assert (api.parse_member_list(message_to_dict(message, json_format))
            == api.parse_member_list(json.loads(case['gateway'])))


def test_a_learner_in_the_member_list_is_read_from_the_unknown_fields():
    _grpc, pb2, _stubs, json_format = modules()
    member = pb2.Member(ID=7, name='m-3', peerURLs=['http://127.0.0.1:3'])
    wire = member.SerializeToString() + field(5, 0, 1)
    response = pb2.MemberListResponse(members=[pb2.Member.FromString(wire), pb2.Member(ID=8, name='m-1')])
    members = api.parse_member_list(message_to_dict(response, json_format))
    assert [(m['name'], m['is_learner']) for m in members] == [('m-3', True), ('m-1', False)]


@pytest.mark.parametrize('version', [v for v in GRPC_VERSIONS if 'hashkv' in recorded_grpc(v)])
def test_recorded_hashkv_over_grpc_reads_as_through_the_gateway(version):
    _grpc, pb2, _stubs, json_format = modules()
    case = recorded_grpc(version)['hashkv']
    over_grpc = message_to_dict(pb2.HashKVResponse.FromString(bytes.fromhex(case['wire'])), json_format)
    through_gateway = json.loads(case['gateway'])
    for name in ('hash', 'compact_revision', 'hash_revision'):
        assert api.field(over_grpc, name) == api.field(through_gateway, name)
    assert api.parse_header(over_grpc) == api.parse_header(through_gateway)


# -- errors -------------------------------------------------------------------------------------------

@pytest.mark.parametrize('code, details, kind', [
    # Recorded from etcd 3.4.23 to 3.7.3 over gRPC.
    ('INVALID_ARGUMENT', 'etcdserver: authentication failed, invalid user ID or password', 'auth'),
    ('INVALID_ARGUMENT', 'etcdserver: user name is empty', 'auth'),
    ('PERMISSION_DENIED', 'etcdserver: permission denied', 'permission'),
    ('UNKNOWN', 'auth: permission denied', 'permission'),
    ('RESOURCE_EXHAUSTED', 'etcdserver: mvcc: database space exceeded', 'nospace'),
    ('OUT_OF_RANGE', 'etcdserver: mvcc: required revision has been compacted', 'compacted'),
    ('OUT_OF_RANGE', 'etcdserver: mvcc: required revision is a future revision', 'future_revision'),
    ('FAILED_PRECONDITION', 'etcdserver: not leader', 'not_leader'),
    ('UNAVAILABLE', 'etcdserver: rpc not supported for learner', 'learner'),
    ('UNAVAILABLE', 'etcdserver: leader changed', 'api'),
    ('UNAVAILABLE', 'failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Failed to '
                    'connect to remote host: Connection refused', 'unreachable'),
    ('UNAVAILABLE', 'failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:34013: Failed '
                    'parsing HTTP/2 (Expected SETTINGS frame as the first frame, got frame type 79)', 'not_etcd'),
    ('UNAVAILABLE', 'failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:37187: Tls handshake '
                    'failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:'
                    'CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate', 'tls'),
    ('UNAVAILABLE', 'failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:37187: Unwrap '
                    'failed (TSI_DATA_CORRUPTED)', 'client_certificate'),
    ('DEADLINE_EXCEEDED', 'Deadline Exceeded', 'timeout'),
    ('UNIMPLEMENTED', 'unknown method HashKV for service etcdserverpb.Maintenance', 'unsupported'),
    ('UNKNOWN', 'something new', 'api'),
])
def test_rpc_errors_are_typed_like_the_gateways(code, details, kind):
    error = classify_rpc_error(E, code, details, timeout=10, sent_cert=True)
    assert error.kind == kind
    assert error.message.startswith(E + ': ')
    assert error.__class__ is not errors.EtcdError


def test_a_failed_handshake_without_a_client_certificate_asks_for_one():
    error = classify_rpc_error(E, 'UNAVAILABLE', 'Ssl handshake failed: something else', sent_cert=False)
    assert error.kind == 'client_certificate'
    assert classify_rpc_error(E, 'UNAVAILABLE', 'Ssl handshake failed: something else', sent_cert=True).kind == 'tls'


def test_a_password_over_plaintext_grpc_is_refused_before_anything_is_sent():
    transport = GrpcTransport(user='root', password='secret', timeout=1)
    with pytest.raises(errors.EtcdInsecureCredentialsError) as raised:
        transport.call('http://127.0.0.1:1', 'maintenance/status')
    assert raised.value.kind == 'insecure_credentials'
    assert 'secret' not in raised.value.message and 'https://' in raised.value.message


def test_validate_certs_false_is_refused_on_grpc():
    transport = GrpcTransport(validate_certs=False, timeout=1)
    with pytest.raises(errors.EtcdTLSError) as raised:
        transport.call('https://127.0.0.1:1', 'maintenance/status')
    assert 'validate_certs=false' in raised.value.message


def test_an_rpc_the_transport_does_not_know_is_unsupported():
    with pytest.raises(errors.EtcdUnsupportedError):
        GrpcTransport(timeout=1).call('http://127.0.0.1:1', 'maintenance/downgrade')


# -- the etcd3 import ---------------------------------------------------------------------------------

def test_the_pure_python_protobuf_is_chosen_only_before_protobuf_is_loaded(monkeypatch):
    # The real import first, with the real environment: the calls below then find the modules loaded
    # (this process can load protobuf only once, and the cases below hand load_grpc other environments).
    modules()
    monkeypatch.setattr(grpc_transport, '_LOADED', {'modules': None})
    # A cached result is returned without touching the environment.
    environ = {}
    assert load_grpc(environ=environ, modules={}) is None and environ == {}
    monkeypatch.setattr(grpc_transport, '_LOADED', {})
    environ = {}
    load_grpc(environ=environ, modules={'google.protobuf': object(), 'grpc': object()})
    assert environ == {}
    monkeypatch.setattr(grpc_transport, '_LOADED', {})
    environ = {'PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION': 'upb'}
    load_grpc(environ=environ, modules={})
    assert environ == {'PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION': 'upb', 'GRPC_VERBOSITY': 'NONE'}


def test_a_missing_etcd3_is_one_sentence_naming_what_to_install(monkeypatch):
    monkeypatch.setattr(grpc_transport, '_LOADED', {'error': 'cannot import etcd3 (No module named etcd3)'})
    with pytest.raises(errors.EtcdGrpcUnavailableError) as raised:
        GrpcTransport().call(E, 'maintenance/status')
    message = raised.value.message
    assert message.startswith(E + ': the gRPC transport cannot be used on this host: cannot import etcd3')
    assert 'pip install etcd3==0.12.0' in message and 'transport=http' in message


# -- auto ---------------------------------------------------------------------------------------------

class Recording:
    """A transport that answers from a script: {endpoint: exception or answer}."""

    def __init__(self, name, script):
        self.name = name
        self.script = script
        self.calls = []
        self.cacert = None
        self.cert = None

    def call(self, endpoint, rpc, body=None, timeout=None):
        self.calls.append((endpoint, rpc))
        answer = self.script.get(endpoint, {'from': self.name})
        if isinstance(answer, Exception):
            raise answer
        return answer

    def stream(self, endpoint, rpc, body=None, timeout=None):
        self.calls.append((endpoint, rpc))
        answer = self.script.get(endpoint)
        if isinstance(answer, Exception):
            raise answer
        yield {'blob': self.name}
        yield {'blob': self.name}

    def get_text(self, endpoint, path, timeout=None, limit=None):
        self.calls.append((endpoint, path))
        return self.name


A, B = 'http://a:2379', 'http://b:2379'


def auto(http_script, monkeypatch, grpc_error=None, grpc_script=None):
    monkeypatch.setattr('ansible_collections.etcdops.etcd.plugins.module_utils.transport.grpc_import_error',
                        lambda: grpc_error)
    http, grpc = Recording('http', http_script), Recording('grpc', grpc_script or {})
    return AutoTransport(http, grpc), http, grpc


def test_auto_switches_only_the_endpoint_whose_gateway_is_off(monkeypatch):
    transport, http, grpc = auto({A: errors.EtcdGatewayDisabledError(A, 'HTTP 404')}, monkeypatch)
    assert transport.call(A, 'maintenance/status') == {'from': 'grpc'}
    assert transport.call(A, 'maintenance/status') == {'from': 'grpc'}
    assert transport.call(B, 'maintenance/status') == {'from': 'http'}
    # The gateway was asked once for A, never again.
    assert http.calls == [(A, 'maintenance/status'), (B, 'maintenance/status')]
    assert grpc.calls == [(A, 'maintenance/status')] * 2
    assert (transport.used(A), transport.used(B)) == ('grpc', 'http')
    # /metrics is HTTP whatever carries the RPCs.
    assert transport.get_text(A, '/metrics') == 'http'


def test_auto_takes_grpc_for_a_common_name_certificate(monkeypatch):
    transport, _http, _grpc = auto({A: errors.EtcdGatewayCommonNameError(A, 'CommonName ...')}, monkeypatch)
    assert transport.call(A, 'maintenance/defragment') == {'from': 'grpc'}


def test_auto_without_etcd3_keeps_the_gateways_error_and_says_what_to_install(monkeypatch):
    transport, _http, grpc = auto({A: errors.EtcdGatewayDisabledError(A, 'HTTP 404')}, monkeypatch,
                                  grpc_error='cannot import etcd3 (No module named etcd3)')
    with pytest.raises(errors.EtcdGatewayDisabledError) as raised:
        transport.call(A, 'maintenance/status')
    assert 'cannot import etcd3' in raised.value.message and 'requirements.txt' in raised.value.message
    assert grpc.calls == []


@pytest.mark.parametrize('error', [errors.EtcdConnectionError(A, 'connection refused'),
                                   errors.EtcdAuthError(A, 'authentication failed')])
def test_auto_does_not_hide_other_failures_behind_grpc(monkeypatch, error):
    transport, _http, grpc = auto({A: error}, monkeypatch)
    with pytest.raises(type(error)):
        transport.call(A, 'maintenance/status')
    assert grpc.calls == []


def test_auto_takes_snapshots_over_grpc_where_etcd3_imports(monkeypatch):
    transport, http, _grpc = auto({}, monkeypatch)
    assert [m['blob'] for m in transport.stream(B, 'maintenance/snapshot')] == ['grpc', 'grpc']
    assert http.calls == []
    # Every other call stays on the gateway.
    assert transport.call(B, 'maintenance/status') == {'from': 'http'}


def test_auto_takes_snapshots_through_the_gateway_without_etcd3(monkeypatch):
    transport, _http, grpc = auto({}, monkeypatch, grpc_error='cannot import etcd3')
    assert [m['blob'] for m in transport.stream(B, 'maintenance/snapshot')] == ['http', 'http']
    assert grpc.calls == []


@pytest.mark.parametrize('refusal', [errors.EtcdInsecureCredentialsError(B, 'password over http://'),
                                     errors.EtcdTLSError(B, 'validate_certs=false is not available'),
                                     errors.EtcdConnectionError(B, 'Failed parsing HTTP/2')])
def test_auto_falls_back_to_the_gateway_when_grpc_refuses_a_snapshot_before_it_starts(monkeypatch, refusal):
    transport, http, _grpc = auto({}, monkeypatch, grpc_script={B: refusal})
    assert [m['blob'] for m in transport.stream(B, 'maintenance/snapshot')] == ['http', 'http']
    assert http.calls == [(B, 'maintenance/snapshot')]


def test_auto_does_not_wait_twice_for_a_snapshot_that_timed_out_over_grpc(monkeypatch):
    transport, http, _grpc = auto({}, monkeypatch, grpc_script={B: errors.EtcdTimeoutError(B, 'stalled')})
    with pytest.raises(errors.EtcdTimeoutError):
        list(transport.stream(B, 'maintenance/snapshot'))
    assert http.calls == []


def test_auto_restarts_a_refused_gateway_stream_over_grpc(monkeypatch):
    # gRPC refused first (say, a password over http://), then the gateway turns out to be off.
    transport, _http, _grpc = auto({A: errors.EtcdGatewayDisabledError(A, 'HTTP 404')}, monkeypatch,
                                   grpc_error='cannot import etcd3')
    with pytest.raises(errors.EtcdGatewayDisabledError):
        list(transport.stream(A, 'maintenance/snapshot'))
    transport, _http, grpc = auto({A: errors.EtcdGatewayDisabledError(A, 'HTTP 404')}, monkeypatch)
    transport._grpc_endpoints.add(A)
    assert [m['blob'] for m in transport.stream(A, 'maintenance/snapshot')] == ['grpc', 'grpc']


def test_build_transport_kinds():
    assert type(build_transport('http')).__name__ == 'GatewayTransport'
    assert type(build_transport('grpc')).__name__ == 'GrpcTransport'
    assert build_transport('auto', cacert='/ca.pem').cacert == '/ca.pem'
    with pytest.raises(ValueError):
        build_transport('carrier-pigeon')
