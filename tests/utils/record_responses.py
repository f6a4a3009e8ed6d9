"""Record raw JSON-gateway responses of real etcd clusters as unit-test fixtures.

    python tests/utils/record_responses.py [--versions 3.4,3.5.1,latest,3.6,3.7] [--out DIR]

Writes ``<out>/<real version>/<name>.json`` =
``{"request": {"method", "path", "body"}, "status": <int>, "body": <raw response text>}``.
The fixtures are committed data: re-record only to add a case or a version.
Passwords in recorded requests are replaced by placeholders; IDs, tokens and revisions are
whatever the throw-away clusters produced. Some cases exist only from a version on (3.6+:
``status_downgrade``), and some were added after older versions were recorded: the unit tests
take every case as optional per version (see the fixtures' README).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# The sibling module, whether this runs as a script or is imported.
sys.path.insert(0, str(Path(__file__).resolve().parent))
es = importlib.import_module("etcd_sandbox")

DEFAULT_OUT = es.REPO_ROOT / "tests" / "unit" / "plugins" / "module_utils" / "fixtures"


class Recorder:
    def __init__(self, out: Path):
        self.out = out
        self.out.mkdir(parents=True, exist_ok=True)
        self.names: list[str] = []

    def record(self, name: str, client: es.Gateway, url: str, path: str, body=None, method: str | None = None,
               shown_body=None, keep=None) -> tuple[int, str]:
        """Send one request and save it; shown_body replaces secrets in the saved request."""
        method = method or ("POST" if body is not None else "GET")
        status, text = client.raw(url, path, body, method=method, timeout=30)
        if keep is not None:
            text = "".join(line + "\n" for line in text.splitlines() if keep(line))
        fixture = {"request": {"method": method, "path": path, "body": body if shown_body is None else shown_body},
                   "status": status, "body": text}
        (self.out / (name + ".json")).write_text(json.dumps(fixture, indent=2) + "\n")
        self.names.append(name)
        print(f"  {name:34s} {status} {text[:90].strip()!r}", file=sys.stderr)
        return status, text


def member_id(status_text: str) -> str:
    return json.loads(status_text)["header"]["member_id"]


def wait_for(what: str, check, timeout: float = 30.0, required: bool = True) -> bool:
    """Poll check() until it is true; on timeout raise, or (required=False) say so and go on."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            if required:
                raise es.SandboxError(f"timed out waiting for {what}")
            print(f"  (gave up waiting for {what} after {timeout:.0f}s; recording as it is)", file=sys.stderr)
            return False
        time.sleep(0.2)
    return True


def minor(version: str) -> tuple[int, int]:
    major, minor_, _rest = version.split(".", 2)
    return int(major), int(minor_)


def has_storage_version(version: str) -> bool:
    """etcd 3.6 and later report storageVersion, dbSizeQuota and downgradeInfo, and have downgrades."""
    return minor(version) >= (3, 6)


def own_storage_version(version: str) -> str:
    """The storageVersion a settled member of this release reports: 3.6.0 for 3.6.16."""
    return "{}.{}.0".format(*minor(version))


def wait_for_storage_version(client: es.Gateway, urls: list[str], wanted: str, timeout: float = 30.0) -> None:
    """A member that has just started (or just joined) reports storageVersion 3.5.0 for a few
    seconds (seen on 3.6.16 and 3.7.3): wait until it reports its own, so recordings show a settled
    member. Not fatal: the recording then shows the lag."""
    wait_for(f"storageVersion {wanted} on {', '.join(urls)}",
             lambda: all(client.call(u, "/v3/maintenance/status").get("storageVersion") == wanted for u in urls),
             timeout=timeout, required=False)


def etcdctl(sandbox: es.Sandbox, endpoints: list[str], *args: str) -> str:
    """Run the sandbox's etcdctl against plain-http endpoints; raise SandboxError if it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
    cmd = [str(sandbox.etcdctl), "--endpoints", ",".join(endpoints), "--command-timeout", "20s", *args]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60, env=env,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise es.SandboxError("etcdctl {} failed (exit {}): {}".format(
            " ".join(args), proc.returncode, (proc.stderr or proc.stdout).strip()[-500:]))
    print(f"  etcdctl {' '.join(args)}: {proc.stdout.strip()}", file=sys.stderr)
    return proc.stdout


def record_version(spec: str, out_root: Path) -> str:
    with es.Sandbox(spec) as sandbox:
        rec = Recorder(out_root / sandbox.version)
        print(f"etcd {sandbox.version}: recording into {rec.out}", file=sys.stderr)
        sandbox.start_clusters(["plain", "auth", "nospace", "nogateway"])
        record_plain(sandbox, rec)
        record_nospace(sandbox, rec)
        record_auth(sandbox, rec)
        ng = sandbox.clusters["nogateway"].endpoints[0]
        rec.record("gateway_disabled", es.Gateway(), ng, "/v3/maintenance/status", {})
        return sandbox.version


def record_plain(sandbox: es.Sandbox, rec: Recorder) -> None:
    plain = sandbox.clusters["plain"]
    client = es.Gateway()
    statuses = {url: client.call(url, "/v3/maintenance/status") for url in plain.endpoints}
    leader_id = next(iter(statuses.values()))["leader"]
    by_id = {s["header"]["member_id"]: url for url, s in statuses.items()}
    leader = by_id[leader_id]
    followers = [url for url in plain.endpoints if url != leader]
    follower_ids = [statuses[url]["header"]["member_id"] for url in followers]

    if has_storage_version(sandbox.version):
        wait_for_storage_version(client, plain.endpoints, own_storage_version(sandbox.version))

    for i in range(5):
        sandbox.put(leader, f"/recorded/key{i}", f"value{i}")
    rec.record("put", client, leader, "/v3/kv/put", {"key": es.b64("/recorded/put"), "value": es.b64("hello")})
    rec.record("range", client, leader, "/v3/kv/range",
               {"key": es.b64("/recorded/"), "range_end": es.b64("/recorded0"), "limit": 2})
    rec.record("status_leader", client, leader, "/v3/maintenance/status", {})
    rec.record("status_follower", client, followers[0], "/v3/maintenance/status", {})
    rec.record("member_list", client, leader, "/v3/cluster/member/list", {})
    rec.record("alarm_list_none", client, leader, "/v3/maintenance/alarm", {"action": "GET"})
    rec.record("hash", client, leader, "/v3/maintenance/hash", {})
    rec.record("hashkv", client, leader, "/v3/maintenance/hashkv", {"revision": 0})
    # An RPC no etcd has: what an RPC newer than the member's version gets (hashkv before 3.5.16).
    rec.record("unknown_rpc", client, leader, "/v3/maintenance/nonexistent", {})

    revision = int(client.call(leader, "/v3/kv/range", {"key": es.b64("/")})["header"]["revision"])
    rec.record("metrics_revisions", client, leader, "/metrics", keep=revision_metric)
    rec.record("compaction", client, leader, "/v3/kv/compaction", {"revision": revision - 1, "physical": True})
    rec.record("metrics_revisions_compacted", client, leader, "/metrics", keep=revision_metric)
    rec.record("compaction_compacted", client, leader, "/v3/kv/compaction", {"revision": revision - 2})
    rec.record("compaction_future", client, leader, "/v3/kv/compaction", {"revision": revision + 1000})
    rec.record("defragment", client, followers[0], "/v3/maintenance/defragment", {})

    rec.record("transfer_leadership_not_leader", client, followers[0], "/v3/maintenance/transfer-leadership",
               {"targetID": follower_ids[1]})
    rec.record("transfer_leadership", client, leader, "/v3/maintenance/transfer-leadership",
               {"targetID": follower_ids[0]})
    wait_for("the new leader", lambda: client.call(followers[0], "/v3/maintenance/status")["leader"] == follower_ids[0])

    rec.record("metrics_quota", client, leader, "/metrics",
               keep=lambda line: "etcd_server_quota_backend_bytes" in line)

    learner = sandbox.add_learner(plain)
    # Wait until the learner has applied what the leader has, so its status is a settled one.
    wait_for("the learner to catch up", lambda: int(
        client.call(learner.client_url, "/v3/maintenance/status").get("raftAppliedIndex", 0)) >= int(
        client.call(followers[0], "/v3/maintenance/status").get("raftAppliedIndex", 0)) - 2)
    if has_storage_version(sandbox.version):
        wait_for_storage_version(client, [learner.client_url], own_storage_version(sandbox.version))
    rec.record("status_learner", client, learner.client_url, "/v3/maintenance/status", {})
    # A learner refuses most RPCs, member list included: ask a voter.
    rec.record("member_list_with_learner", client, followers[0], "/v3/cluster/member/list", {})
    rec.record("defragment_learner", client, learner.client_url, "/v3/maintenance/defragment", {})

    if has_storage_version(sandbox.version):
        record_downgrade(sandbox, rec, [leader] + followers, client)


def revision_metric(line: str) -> bool:
    return any(name in line for name in ("etcd_debugging_mvcc_current_revision",
                                         "etcd_debugging_mvcc_compact_revision"))


def record_downgrade(sandbox: es.Sandbox, rec: Recorder, voters: list[str], client: es.Gateway) -> None:
    """3.6+: the status while a downgrade to the previous minor is enabled, then cancel it.

    etcdctl goes to the voters only: a learner refuses the downgrade RPC (etcdctl would retry it elsewhere)."""
    major, minor_ = minor(sandbox.version)
    target = f"{major}.{minor_ - 1}"
    statuses = {url: client.call(url, "/v3/maintenance/status") for url in voters}
    leader = next(url for url, s in statuses.items() if s["leader"] == s["header"]["member_id"])
    etcdctl(sandbox, voters, "downgrade", "validate", target)
    etcdctl(sandbox, voters, "downgrade", "enable", target)

    def downgrade_info() -> dict:
        return client.call(leader, "/v3/maintenance/status").get("downgradeInfo") or {}

    wait_for("downgradeInfo.enabled", lambda: downgrade_info().get("enabled"))
    # The leader then lowers the storage version to the target's within a few seconds.
    wait_for_storage_version(client, [leader], target + ".0")
    rec.record("status_downgrade", client, leader, "/v3/maintenance/status", {})
    etcdctl(sandbox, voters, "downgrade", "cancel")
    wait_for("the downgrade to be cancelled", lambda: not downgrade_info().get("enabled"))


def record_nospace(sandbox: es.Sandbox, rec: Recorder) -> None:
    nospace = sandbox.clusters["nospace"]
    client = es.Gateway()
    url = nospace.endpoints[0]
    # A member started with --quota-backend-bytes, before the quota is reached (3.6+: dbSizeQuota).
    rec.record("status_quota", client, url, "/v3/maintenance/status", {})
    sandbox.fill_until_nospace(nospace.endpoints)
    rec.record("put_nospace", client, url, "/v3/kv/put", {"key": es.b64("/recorded/small"), "value": es.b64("x")})
    rec.record("alarm_list_nospace", client, url, "/v3/maintenance/alarm", {"action": "GET"})
    alarmed = {a["memberID"] for a in client.call(url, "/v3/maintenance/alarm", {"action": "GET"})["alarms"]}
    alarmed_url = next(u for u in nospace.endpoints
                       if client.call(u, "/v3/maintenance/status")["header"]["member_id"] in alarmed)
    rec.record("status_nospace", client, alarmed_url, "/v3/maintenance/status", {})
    rec.record("metrics_quota_nospace", client, url, "/metrics",
               keep=lambda line: "etcd_server_quota_backend_bytes" in line)
    rec.record("alarm_deactivate", client, url, "/v3/maintenance/alarm",
               {"action": "DEACTIVATE", "memberID": min(alarmed), "alarm": "NOSPACE"})


def record_auth(sandbox: es.Sandbox, rec: Recorder) -> None:
    auth = sandbox.clusters["auth"]
    certs = sandbox.certs
    url = auth.endpoints[0]
    nocn = es.Gateway(certs.ca, certs.client_nocn, certs.client_nocn_key)
    cn = es.Gateway(certs.ca, certs.client_cn, certs.client_cn_key)

    rec.record("authenticate", nocn, url, "/v3/auth/authenticate",
               {"name": "root", "password": sandbox.root_password},
               shown_body={"name": "root", "password": "<root password>"})
    rec.record("authenticate_wrong_password", nocn, url, "/v3/auth/authenticate",
               {"name": "root", "password": "wrong-password"})
    rec.record("cn_trap", cn, url, "/v3/maintenance/status", {})
    rec.record("auth_no_token_status", nocn, url, "/v3/maintenance/status", {})
    rec.record("auth_no_token_defragment", nocn, url, "/v3/maintenance/defragment", {})
    # A simple token ends in the raft index it was issued at; a member holds a request until it
    # has applied that index, so a made-up token must carry a small one or the call hangs.
    rec.record("auth_invalid_token", nocn.with_token("notavalidtokenxx.1"), url, "/v3/kv/range",
               {"key": es.b64("/recorded")})
    rec.record("auth_root_status", sandbox.client(auth), url, "/v3/maintenance/status", {})

    reader = nocn.with_token(sandbox.authenticate(auth, sandbox.reader_user))
    rec.record("reader_status", reader, url, "/v3/maintenance/status", {})
    rec.record("reader_defragment", reader, url, "/v3/maintenance/defragment", {})
    rec.record("reader_put", reader, url, "/v3/kv/put", {"key": es.b64("/recorded"), "value": es.b64("x")})
    rec.record("reader_alarm_list", reader, url, "/v3/maintenance/alarm", {"action": "GET"})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--versions", default=",".join(es.ALL_SPECS))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)
    try:
        for spec in [s for s in args.versions.split(",") if s.strip()]:
            started = time.monotonic()
            version = record_version(spec, Path(args.out))
            print(f"etcd {version}: recorded in {time.monotonic() - started:.1f}s", file=sys.stderr)
    except (es.SandboxError, OSError) as exc:
        print(f"record_responses: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
