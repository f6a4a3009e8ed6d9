"""Record raw gRPC answers of a real etcd cluster, beside the JSON gateway's for the same call.

    python tests/utils/record_grpc.py --vars <vars file of `etcd_sandbox.py up`> [--out DIR]

Writes ``<out>/<real version>/grpc.json``: for status (leader and a follower), member list and hashkv
of the sandbox's plain cluster, ``{"wire": <the gRPC answer's bytes, hex>, "gateway": <the gateway's raw
answer to the same request>}``; the unit tests decode the wire bytes with etcd3's old messages (the
fields they lack arrive as unknown fields) and compare with the gateway's answer. Needs etcd3 (the
collection's requirements.txt) and a quiet cluster: nothing may write between the two calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")

import grpc  # noqa: E402
import yaml  # noqa: E402
from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "tests" / "unit" / "plugins" / "module_utils" / "fixtures"


def gateway(url: str, path: str, body: dict) -> str:
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read().decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vars", required=True)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    variables = yaml.safe_load(Path(args.vars).read_text())
    endpoints = variables["etcd_plain_endpoints"]

    def stubs(url: str):
        channel = grpc.insecure_channel(url.split("://", 1)[1])
        return rpc_pb2_grpc.MaintenanceStub(channel), rpc_pb2_grpc.ClusterStub(channel)

    statuses = {url: stubs(url)[0].Status(rpc_pb2.StatusRequest(), timeout=10) for url in endpoints}
    leader = next(url for url, s in statuses.items() if s.leader == s.header.member_id)
    follower = next(url for url in endpoints if url != leader)
    recorded = {}
    for name, url in (("status_leader", leader), ("status_follower", follower)):
        wire = stubs(url)[0].Status(rpc_pb2.StatusRequest(), timeout=10).SerializeToString()
        recorded[name] = {"wire": wire.hex(), "gateway": gateway(url, "/v3/maintenance/status", {})}
    wire = stubs(leader)[1].MemberList(rpc_pb2.MemberListRequest(), timeout=10).SerializeToString()
    recorded["member_list"] = {"wire": wire.hex(), "gateway": gateway(leader, "/v3/cluster/member/list", {})}
    try:
        wire = stubs(leader)[0].HashKV(rpc_pb2.HashKVRequest(revision=0), timeout=10).SerializeToString()
        recorded["hashkv"] = {"wire": wire.hex(), "gateway": gateway(leader, "/v3/maintenance/hashkv", {})}
    except (grpc.RpcError, OSError) as exc:  # the gateway lacks hashkv before 3.5.16
        print(f"hashkv not recorded: {exc}", file=sys.stderr)
    version = variables["etcd_version"]
    target = Path(args.out) / version / "grpc.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(recorded, indent=2) + "\n")
    print(f"wrote {target}: {', '.join(recorded)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
