#!/usr/bin/env bash
# Does etcd accept a password over plaintext gRPC? For each version given (as cached by
# tests/utils/fetch-etcd.sh, e.g. 3.4.23 3.6.16): one loopback member with authentication on and no
# TLS; etcdctl without a user, etcdctl with root's password, and a raw gRPC Authenticate + Defragment
# through etcd3's stubs. Prints what each got; stops its member at the end.
#   bench/grpc_plaintext_auth.sh 3.4.23 3.5.30 3.6.16 3.7.3
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=$root/.venv/bin/python
for version in "$@"; do
    bin=$root/.cache/etcd/$version
    dir=$(mktemp -d)
    client=$((20000 + RANDOM % 20000))
    peer=$((client + 1))
    "$bin/etcd" --data-dir "$dir/data" --listen-client-urls "http://127.0.0.1:$client" \
        --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "default=http://127.0.0.1:$peer" \
        >"$dir/log" 2>&1 &
    pid=$!
    ctl=("$bin/etcdctl" --endpoints "http://127.0.0.1:$client" --command-timeout 5s)
    for _ in $(seq 50); do "${ctl[@]}" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
    "${ctl[@]}" user add root:pw >/dev/null
    "${ctl[@]}" user grant-role root root >/dev/null
    "${ctl[@]}" auth enable >/dev/null
    echo "== etcd $version, authentication on, plaintext"
    echo "etcdctl defrag without a user: $("${ctl[@]}" defrag 2>&1 | tail -n 1)"
    echo "etcdctl defrag as root: $("${ctl[@]}" --user root:pw defrag 2>&1 | tail -n 1)"
    PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python timeout 20 "$python" - "$client" <<'PY'
import sys

import grpc
from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc

channel = grpc.insecure_channel('127.0.0.1:%s' % sys.argv[1])
token = rpc_pb2_grpc.AuthStub(channel).Authenticate(
    rpc_pb2.AuthenticateRequest(name='root', password='pw'), timeout=5).token
rpc_pb2_grpc.MaintenanceStub(channel).Defragment(rpc_pb2.DefragmentRequest(), timeout=5,
                                                  metadata=[('token', token)])
print('raw gRPC Authenticate + Defragment as root: accepted')
PY
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
done
