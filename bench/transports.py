# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What do the two transports cost: the JSON gateway (transport=http) against gRPC (transport=grpc)?

Issue 9's question: is gRPC clearly faster for a snapshot (the gateway sends it as base64 JSON lines),
and what does each transport cost for the status of a cluster? For every etcd version of ``--versions``
this starts a 3-member cluster on 127.0.0.1 (tests/utils/etcd_sandbox.py, flavor ``plain``), fills it
with ``--mb`` MB of live data (1 MiB values under distinct keys, so the snapshot is that large), then
times ``--repeat`` repetitions of each step, for each transport, in an order that rotates with each
repetition, after one untimed warm-up of every step:

- status, warm:     ``EtcdClient.cluster_status()`` in a process that made the call before (``--warm``
                    calls in each of the fresh processes below)
- status, fresh:    a fresh Python process: importing the collection's module_utils (a symlinked
                    ansible_collections/etcdops/etcd tree on PYTHONPATH, as tests/unit do), for gRPC
                    loading etcd3, grpcio and protobuf's pure-Python implementation, and the first
                    ``cluster_status()``: what every module run pays
- status, module:   ``ansible localhost -m etcdops.etcd.etcd_status -a 'endpoints=... transport=...'``
- snapshot():       a fresh process streams one member's snapshot with ``EtcdClient.snapshot()`` into a
                    file and fsyncs it (the import is not on the clock)
- snapshot, module: ``ansible localhost -m etcdops.etcd.etcd_snapshot`` of the same member (it reads the
                    cluster's status first, then streams, verifies, fsyncs, renames)
- references:       ``etcdctl snapshot save`` of the same member; ``ansible localhost -m ping``

Before every timed step: the previous step's files are deleted and ``sync`` runs, so that no write-back
of an earlier step lands on its clock; ``--drop-caches`` (root) also drops the clean page cache then
(the whole machine's). The etcd members keep their database mapped in memory whatever is dropped:
their side of a snapshot reads from memory unless the kernel evicted those pages.

It prints, per step and transport, the median, min and max wall time; the CPU seconds of the client
(its process, or the processes of the ansible run) and of the three etcd members during the step
(from /proc); the client's peak RSS; and the 1-minute load average next to the figures. A benchmark,
not a test: it asserts only that every step succeeded and that the snapshots have the size etcd reported.

Usage: .venv/bin/python bench/transports.py [--versions 3.6[,latest]] [--mb 190] [--repeat 5] [--warm 10]
       [--drop-caches] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'utils'))

import etcd_sandbox  # noqa: E402

MIB = 1 << 20
TRANSPORTS = ('http', 'grpc')
WRITERS = 4  # concurrent puts while loading: the load is not what is measured
STEP_TIMEOUT = 300  # seconds any one timed command may take before the benchmark gives up
TICKS = os.sysconf('SC_CLK_TCK')

ROWS = (
    ('status_warm', 'cluster_status(), warm, in-process'),
    ('status_fresh', 'cluster_status(), fresh process: imports + first call'),
    ('status_module', 'module run: ansible localhost -m etcd_status'),
    ('snapshot_call', 'snapshot() of one member to a file, in-process, + fsync'),
    ('snapshot_module', 'module run: ansible localhost -m etcd_snapshot'),
    ('etcdctl', 'etcdctl snapshot save (reference)'),
    ('ping', 'ansible localhost -m ping (the floor of a module run)'),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--versions', default='3.6',
                        help='comma-separated etcd versions, as etcd_sandbox.py takes them (default 3.6; latest is '
                             'the newest 3.5)')
    parser.add_argument('--mb', type=int, default=190, help='MB (10^6 bytes) of live data to write (default 190)')
    parser.add_argument('--repeat', type=int, default=5, help='timed repetitions of every step (default 5)')
    parser.add_argument('--warm', type=int, default=10,
                        help='warm cluster_status() calls in each fresh status process (default 10)')
    parser.add_argument('--drop-caches', action='store_true',
                        help='also drop the clean page cache before every timed step (root; the whole machine)')
    parser.add_argument('--keep', help='keep the work directory (logs, last snapshot files) here')
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.warm < 1 or not 1 <= args.mb <= 4000:
        parser.error('--repeat and --warm must be at least 1, --mb between 1 and 4000')
    return args


# -- the child process: the collection's client in a fresh interpreter --------------------------

def cpu_self():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(argv):
    """``transports.py child status|snapshot TRANSPORT ENDPOINTS [WARM|FILE]``: print a JSON line of timings."""
    kind, transport, endpoints = argv[0], argv[1], argv[2].split(',')
    result = {}
    started, cpu = time.perf_counter(), cpu_self()
    from ansible_collections.etcdops.etcd.plugins.module_utils import grpc_transport
    from ansible_collections.etcdops.etcd.plugins.module_utils.client import EtcdClient
    from ansible_collections.etcdops.etcd.plugins.module_utils.transport import build_transport
    result['import_s'] = time.perf_counter() - started
    if transport == 'grpc':
        # What the first gRPC call would do anyway; timed on its own.
        loading = time.perf_counter()
        grpc_transport.load_grpc()
        result['load_grpc_s'] = time.perf_counter() - loading
    result['rss_after_import_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    client = EtcdClient(build_transport(transport, timeout=60), endpoints)
    if kind == 'status':
        first = time.perf_counter()
        cluster = client.cluster_status()
        now = time.perf_counter()
        result.update(first_call_s=now - first, fresh_s=now - started, fresh_cpu_s=cpu_self() - cpu,
                      members=len(cluster['members']), healthy=cluster['healthy'], warm_s=[], warm_cpu_s=[])
        for _call in range(int(argv[3])):
            call_started, call_cpu = time.perf_counter(), cpu_self()
            client.cluster_status()
            result['warm_s'].append(time.perf_counter() - call_started)
            result['warm_cpu_s'].append(cpu_self() - call_cpu)
    else:
        with open(argv[3], 'wb') as out:
            snap_started, snap_cpu = time.perf_counter(), cpu_self()
            saved = client.snapshot(endpoints[0], out, timeout=60)
            out.flush()
            os.fsync(out.fileno())
            result.update(snapshot_s=time.perf_counter() - snap_started, snapshot_cpu_s=cpu_self() - snap_cpu,
                          size=saved['size'], sha256=saved['sha256'])
    result['peak_rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(result))
    return 0


# -- the cluster -------------------------------------------------------------------------------

def fill(sandbox, cluster, mb):
    """ceil(mb MB / 1 MiB) values of 1 MiB under distinct keys: all of it live, all of it in the snapshot.
    Returns the members' statuses once every member applied it all."""
    client = sandbox.client(cluster, timeout=60)
    endpoint = cluster.endpoints[0]
    count = -(-mb * 1000 * 1000 // MIB)
    values = [etcd_sandbox.b64(os.urandom(MIB)) for _value in range(8)]

    def put(i):
        body = {'key': etcd_sandbox.b64('/bench/transports/%05d' % i), 'value': values[i % len(values)]}
        for attempt in range(10):
            try:
                return client.call(endpoint, '/v3/kv/put', body)
            except (OSError, etcd_sandbox.GatewayError) as exc:
                # "request timed out" (HTTP 503) on a busy machine; the same put is safe to repeat.
                if attempt == 9 or (isinstance(exc, etcd_sandbox.GatewayError) and exc.status != 503):
                    raise
                time.sleep(1)

    etcd_sandbox.in_threads(lambda first: [put(i) for i in range(first, count, WRITERS)], range(WRITERS))
    deadline = time.monotonic() + 120
    while True:
        status = sandbox.status(cluster, client)
        applied = {int(s.get('raftAppliedIndex', -1)) for s in status}
        if len(applied) == 1 and all('error' not in s for s in status):
            return count, status
        if time.monotonic() > deadline:
            raise etcd_sandbox.SandboxError('members not in step after the load: %s' % status)
        time.sleep(0.2)


def etcd_cpu(cluster):
    """CPU seconds the cluster's etcd processes used so far (utime + stime from /proc)."""
    total = 0
    for member in cluster.members:
        with open('/proc/%d/stat' % member.pid) as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / float(TICKS)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(MIB), b''):
            digest.update(block)
    return digest.hexdigest()


class Bench:
    """The steps of one etcd version's cluster, and their samples."""

    def __init__(self, args, sandbox, cluster, workdir):
        self.args = args
        self.sandbox = sandbox
        self.cluster = cluster
        self.workdir = workdir
        # The member every snapshot is taken from: a follower or the leader, the same one for every step.
        self.member = cluster.endpoints[1]
        self.tree = workdir / 'collections'
        (self.tree / 'ansible_collections' / 'etcdops').mkdir(parents=True, exist_ok=True)
        os.symlink(str(ROOT), str(self.tree / 'ansible_collections' / 'etcdops' / 'etcd'))
        self.samples = {}  # (row, transport) -> [sample dict]
        self.digests = {}  # (row, transport) -> set of sha256
        self.log = open(str(workdir / 'steps.log'), 'w')

    def env(self):
        # etcdctl and the modules read ETCDCTL_*, the modules ETCDOPS_TRANSPORT: the caller's must not leak in.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('ETCDCTL', 'ETCDOPS_TRANSPORT', 'PROTOCOL_BUFFERS', 'GRPC_'))}
        env.update(PYTHONPATH=str(self.tree), ANSIBLE_COLLECTIONS_PATH=str(self.tree), ANSIBLE_NOCOLOR='1',
                   ANSIBLE_LOCALHOST_WARNING='False', ANSIBLE_INVENTORY_UNPARSED_WARNING='False')
        return env

    def run(self, argv, what):
        proc = subprocess.run(argv, env=self.env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=STEP_TIMEOUT, check=False)
        self.log.write('$ %s\n%s%s\n' % (' '.join(argv), proc.stdout[-4000:], proc.stderr[-4000:]))
        self.log.flush()
        if proc.returncode != 0:
            output = (proc.stderr or proc.stdout).strip()[-1500:]
            raise RuntimeError('%s failed (exit %d): %s' % (what, proc.returncode, output))
        return proc.stdout

    def snapshot_path(self):
        return self.workdir / 'snapshot.db'

    def clean(self):
        for path in (self.snapshot_path(), self.workdir / 'snapshot.db.part'):
            if path.exists():
                path.unlink()
        shutil.rmtree(str(self.workdir / 'dest'), ignore_errors=True)

    def prepare(self):
        """Before every timed step: nothing of the last one left to write back, caches as chosen."""
        self.clean()
        os.sync()
        if self.args.drop_caches:
            with open('/proc/sys/vm/drop_caches', 'w') as handle:
                handle.write('1\n')

    # -- the steps: each returns {row: sample} ------------------------------------------------

    def child(self, *argv):
        out = self.run([sys.executable, str(Path(__file__).resolve()), 'child'] + list(argv), 'child %s' % argv[0])
        return json.loads(out.strip().splitlines()[-1])

    def status_process(self, transport):
        result = self.child('status', transport, ','.join(self.cluster.endpoints), str(self.args.warm))
        if result['members'] != 3 or not result['healthy']:
            raise RuntimeError('cluster_status() over %s: %s' % (transport, result))
        return {
            'status_fresh': {'s': result['fresh_s'], 'cpu': result['fresh_cpu_s'], 'rss': result['peak_rss_mib'],
                             'import_s': result['import_s'], 'load_grpc_s': result.get('load_grpc_s', 0.0),
                             'first_call_s': result['first_call_s'], 'rss_import': result['rss_after_import_mib']},
            'status_warm': [{'s': s, 'cpu': c} for s, c in zip(result['warm_s'], result['warm_cpu_s'])],
        }

    def snapshot_process(self, transport):
        result = self.child('snapshot', transport, self.member, str(self.snapshot_path()))
        return {'snapshot_call': {'s': result['snapshot_s'], 'cpu': result['snapshot_cpu_s'],
                                  'rss': result['peak_rss_mib'], 'rss_import': result['rss_after_import_mib'],
                                  'size': result['size'], 'sha256': result['sha256']}}

    def ansible(self, module, module_args):
        ansible = str(Path(sys.executable).parent / 'ansible')
        out = self.run([ansible, 'localhost', '-m', module, '-a', module_args,
                        '-e', 'ansible_python_interpreter=%s' % sys.executable, '-o'], module)
        if 'SUCCESS' not in out and 'CHANGED' not in out:
            raise RuntimeError('%s: %s' % (module, out[-1500:]))
        return out

    def status_module(self, transport):
        self.ansible('etcdops.etcd.etcd_status', 'endpoints=%s transport=%s'
                     % (','.join(self.cluster.endpoints), transport))
        return {'status_module': {}}

    def snapshot_module(self, transport):
        out = self.ansible('etcdops.etcd.etcd_snapshot', 'endpoints=%s transport=%s dest=%s force=true'
                           % (self.member, transport, self.workdir / 'dest'))
        result = json.loads(out.split('=>', 1)[1])
        return {'snapshot_module': {'size': result['size'], 'sha256': result['sha256']}}

    def etcdctl(self, _transport):
        self.run([str(self.sandbox.etcdctl), '--endpoints', self.member, '--command-timeout', '120s',
                  'snapshot', 'save', str(self.snapshot_path())], 'etcdctl snapshot save')
        return {'etcdctl': {'size': self.snapshot_path().stat().st_size}}

    def ping(self, _transport):
        self.ansible('ansible.builtin.ping', '')
        return {'ping': {}}

    def steps(self):
        steps = []
        for transport in TRANSPORTS:
            steps += [(self.status_process, transport), (self.status_module, transport),
                      (self.snapshot_process, transport), (self.snapshot_module, transport)]
        return steps + [(self.etcdctl, '-'), (self.ping, '-')]

    def timed(self, step, transport, record):
        self.prepare()
        load = os.getloadavg()[0]
        started, cpu, server = time.perf_counter(), children_cpu(), etcd_cpu(self.cluster)
        rows = step(transport)
        wall, cpu, server = time.perf_counter() - started, children_cpu() - cpu, etcd_cpu(self.cluster) - server
        if step == self.etcdctl:
            # etcdctl writes the file itself: hash it off the clock.
            rows['etcdctl']['sha256'] = sha256_of(self.snapshot_path())
        if not record:
            return
        for row, sample in rows.items():
            for one in (sample if isinstance(sample, list) else [sample]):
                if 's' not in one:
                    # A whole command: its wall time and the CPU of its processes.
                    one.update(s=wall, cpu=cpu)
                if row != 'status_warm' and row != 'status_fresh':
                    # The members' CPU over the whole step (a fresh status process makes its warm calls too).
                    one['etcd_cpu'] = server
                one['load'] = load
                self.samples.setdefault((row, transport), []).append(one)
                if 'sha256' in one:
                    self.digests.setdefault((row, transport), set()).add(one['sha256'])
                if 'size' in one:
                    self.sizes.add(one['size'])

    def measure(self):
        self.sizes = set()
        steps = self.steps()
        print('warm-up: every step once, untimed', flush=True)
        for step, transport in steps:
            self.timed(step, transport, record=False)
        for repetition in range(self.args.repeat):
            turn = repetition % len(steps)
            print('repetition %d/%d, load average %.2f' % (repetition + 1, self.args.repeat, os.getloadavg()[0]),
                  flush=True)
            for step, transport in steps[turn:] + steps[:turn]:
                self.timed(step, transport, record=True)
        self.clean()


def spread(samples, key):
    values = [s[key] for s in samples if s.get(key) is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def print_table(bench, version, count, status_before):
    print('\netcd %s, 3 members on 127.0.0.1, %d x 1 MiB live values (db file %s MB on each member, in use %s MB);'
          ' snapshots of %s, %d repetitions; %d CPUs; Python %s'
          % (version, count, '/'.join('%.0f' % (int(s['dbSize']) / 1e6) for s in status_before),
             '/'.join('%.0f' % (int(s.get('dbSizeInUse', 0)) / 1e6) for s in status_before), bench.member,
             bench.args.repeat, os.cpu_count(), sys.version.split()[0]))
    print('| step | transport | median | min | max | client CPU | etcd CPU | client peak RSS | load (1 min) |')
    print('|---|---|---|---|---|---|---|---|---|')
    for row, label in ROWS:
        for transport in TRANSPORTS + ('-',):
            samples = bench.samples.get((row, transport))
            if not samples:
                continue
            wall = spread(samples, 's')
            cpu = spread(samples, 'cpu')
            server = spread(samples, 'etcd_cpu')
            rss = spread(samples, 'rss')
            load = spread(samples, 'load')
            unit, scale = ('ms', 1000.0) if row == 'status_warm' else ('s', 1.0)
            print('| %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
                label, transport,
                '%.*f %s' % (1 if unit == 'ms' else 2, wall[0] * scale, unit),
                '%.*f %s' % (1 if unit == 'ms' else 2, wall[1] * scale, unit),
                '%.*f %s' % (1 if unit == 'ms' else 2, wall[2] * scale, unit),
                '%.*f %s' % (1 if unit == 'ms' else 2, cpu[0] * scale, unit) if cpu else '-',
                '%.2f s' % server[0] if server else '-',
                '%.0f MiB' % rss[0] if rss else '-',
                '%.1f to %.1f' % (load[1], load[2])))
    for transport in TRANSPORTS:
        fresh = bench.samples.get(('status_fresh', transport))
        if fresh:
            print('fresh process over %s (medians): import of module_utils %.3f s, load_grpc() %.3f s, first '
                  'cluster_status() %.3f s; RSS after the imports %.0f MiB' % (
                      transport, spread(fresh, 'import_s')[0], spread(fresh, 'load_grpc_s')[0],
                      spread(fresh, 'first_call_s')[0], spread(fresh, 'rss_import')[0]))
        snap = bench.samples.get(('snapshot_call', transport))
        if snap:
            median = spread(snap, 's')[0]
            print('snapshot() over %s: %.0f MB/s; RSS after the imports %.0f MiB, peak %.0f MiB'
                  % (transport, max(bench.sizes) / 1e6 / median, spread(snap, 'rss_import')[0],
                     spread(snap, 'rss')[0]))
    print('snapshot sizes seen: %s bytes; distinct SHA-256 per step: %s' % (
        ', '.join(str(size) for size in sorted(bench.sizes)),
        ', '.join('%s/%s %d' % (row, transport, len(digests)) for (row, transport), digests in
                  sorted(bench.digests.items()))))


def package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return 'missing'


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['child']:
        return child(argv[1:])
    args = parse_args(argv)
    versions = [v.strip() for v in args.versions.split(',') if v.strip()]
    need = 3 * 2 * args.mb * 1e6 + 2 * args.mb * 1e6  # db + WAL per member, two snapshot files
    free = shutil.disk_usage(tempfile.gettempdir()).free
    packages = ', '.join('%s %s' % (name, package_version(name))
                         for name in ('ansible-core', 'etcd3', 'grpcio', 'protobuf'))
    commit = subprocess.run(['git', '-C', str(ROOT), 'log', '-1', '--format=%h'], capture_output=True, text=True,
                            check=False).stdout.strip()
    print('collection %s (%s); %s; etcd %s; %d MB live; %d repetitions; needs about %.1f GB in %s (%.1f GB free); '
          '%d CPUs, load average %s' % (ROOT, commit or 'not a git checkout', packages, ', '.join(versions), args.mb,
                                        args.repeat, need / 1e9, tempfile.gettempdir(), free / 1e9, os.cpu_count(),
                                        ' '.join('%.2f' % x for x in os.getloadavg())), flush=True)
    if need > free:
        print('not enough free disk: use a smaller --mb')
        return 1
    if args.drop_caches and not os.access('/proc/sys/vm/drop_caches', os.W_OK):
        print('--drop-caches needs write access to /proc/sys/vm/drop_caches (root)')
        return 1
    for version in versions:
        workdir = Path(args.keep).resolve() / version if args.keep else Path(tempfile.mkdtemp(prefix='etcdops-bench-'))
        workdir.mkdir(parents=True, exist_ok=True)
        sandbox = etcd_sandbox.Sandbox(version)
        try:
            cluster = sandbox.start_cluster('plain')
            started = time.monotonic()
            count, status = fill(sandbox, cluster, args.mb)
            print('etcd %s: %d x 1 MiB written in %.1f s; db files %s bytes' % (
                sandbox.version, count, time.monotonic() - started, ', '.join(s['dbSize'] for s in status)),
                flush=True)
            bench = Bench(args, sandbox, cluster, workdir)
            try:
                bench.measure()
            finally:
                bench.log.close()
            print_table(bench, sandbox.version, count, status)
            print('load average at the end: %s' % ' '.join('%.2f' % x for x in os.getloadavg()), flush=True)
        finally:
            sandbox.stop()
            if not args.keep:
                shutil.rmtree(str(workdir), ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
