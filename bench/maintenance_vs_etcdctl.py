# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What does the role etcdops.etcd.maintenance cost, compared with doing the same with etcdctl?

For every repetition this starts identically loaded 3-member clusters on 127.0.0.1
(tests/utils/etcd_sandbox.py, one etcd version): ``--mb`` values of 1 MiB written over 16 keys on
each, never compacted, so that every member's database file holds about that many MiB, nearly
all of it history that a compaction turns into free pages. Then, on one cluster each, times:

- etcdctl:        the seed procedure of etcd's maintenance guide: ``endpoint status`` (all
                  endpoints, for the revision), ``compaction --physical <rev>``, ``defrag`` of
                  every endpoint one at a time (one etcdctl run; ``--command-timeout`` large
                  enough), ``alarm disarm``
- role:           ``ansible-playbook etcdops.etcd.maintenance`` (wall clock of the whole
                  command), every member forced into a defrag (``maintenance_defrag_rule: db_size
                  > `0```), the snapshot off: the same work as the etcdctl procedure, plus the
                  role's checks (preflight, leader transfer, health waits, postflight, report)
- role+snapshot:  the same with the role's snapshot on (default of the role)

The role runs in ``--run-from`` mode: ``member`` (the role's default: each member's module calls
on its own inventory host, here all local) or ``controller`` (every call on the controller, the
members' turns in one etcd_defrag run).

and prints each, the medians over ``--repeat`` runs, the ratio role / etcdctl and the role's
overhead per member ((role - etcdctl) / 3). The order of the procedures rotates with each
repetition. It also counts the requests every procedure sent to etcd (the members' own
``grpc_server_handled_total``, which counts JSON-gateway calls too) and, with ``--profile``,
shows where the role's time went (per task, from bench/callback_plugins/task_timer.py).

A benchmark, not a test: it asserts nothing. The issue's goal: the role at most 3x the etcdctl
procedure at 150 MB, at most 1.5x at 1 GB.

Usage: .venv/bin/python bench/maintenance_vs_etcdctl.py [--version latest] [--mb 150 | --gb1] [--live-mb 0]
       [--repeat 3] [--no-snapshot-run] [--profile] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
KEYS = 16  # the load overwrites these keys round robin: the live data a compaction keeps
WRITERS = 4  # concurrent puts per cluster while loading
PROCEDURES = ('etcdctl', 'role', 'role+snapshot')
GRPC_HANDLED = re.compile(r'^grpc_server_handled_total\{[^}]*grpc_method="(\w+)"[^}]*\} (\S+)$', re.M)
METRICS_SCRAPES = re.compile(r'^promhttp_metric_handler_requests_total\{code="200"\} (\S+)$', re.M)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--version', default='latest', help='etcd version, as etcd_sandbox.py takes it')
    parser.add_argument('--mb', type=int, default=150, help='MiB written to every member (default 150)')
    parser.add_argument('--gb1', action='store_true', help='the 1 GB case (same as --mb 1024)')
    parser.add_argument('--live-mb', type=int, default=0,
                        help='of those MiB, how many are live data that stays after the compaction, as 1 KiB '
                             'values under distinct keys (default 0: all history, the defrag copies ~16 MiB)')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--no-snapshot-run', action='store_true', help='skip the role run with the snapshot on')
    parser.add_argument('--profile', action='store_true', help="print where the role's time went")
    parser.add_argument('--run-from', choices=('member', 'controller'), default='member',
                        help="the role's maintenance_run_from (default: member, the role's default)")
    parser.add_argument('--collection', default=str(ROOT),
                        help='the checkout of the collection whose role is timed (default: this one), for example a '
                             'git worktree of an earlier commit')
    parser.add_argument('--keep', help='keep inventories, ansible-playbook logs and timings in this directory')
    args = parser.parse_args(argv)
    if args.gb1:
        args.mb = 1024
    if not 0 <= args.live_mb < args.mb:
        parser.error('--live-mb must be at least 0 and below --mb')
    return args


# -- clusters ---------------------------------------------------------------------------------

LIVE_VALUE = 1024  # bytes of one live value: a small Kubernetes object (a lease, an endpoint slice)
LIVE_PER_TXN = 64  # puts per transaction for the live data (etcd allows 128 operations per txn)


def load_live(client, endpoint, live_mb):
    """live_mb MiB of LIVE_VALUE-byte values under distinct keys, written once: what a compaction keeps."""
    value = etcd_sandbox.b64(os.urandom(LIVE_VALUE))
    count = live_mb * MIB // LIVE_VALUE
    for first in range(0, count, LIVE_PER_TXN):
        success = [{'requestPut': {'key': etcd_sandbox.b64('/bench/live/%08d' % i), 'value': value}}
                   for i in range(first, min(first + LIVE_PER_TXN, count))]
        client.call(endpoint, '/v3/kv/txn', {'success': success})


def load(sandbox, cluster, values, mb, live_mb=0):
    """Write live_mb MiB of live data, then (mb - live_mb) x 1 MiB over KEYS keys without compacting, then wait
    until every member applied it all."""
    client = sandbox.client(cluster, timeout=60)
    endpoint = cluster.endpoints[0]
    if live_mb:
        load_live(client, endpoint, live_mb)
    mb -= live_mb

    def put(i):
        body = {'key': etcd_sandbox.b64('/bench/key-%02d' % (i % KEYS)), 'value': values[i % len(values)]}
        for attempt in range(10):
            try:
                return client.call(endpoint, '/v3/kv/put', body)
            except (OSError, etcd_sandbox.GatewayError) as exc:
                # "request timed out" (HTTP 503) happens on a busy machine; an overwrite is safe to repeat.
                if attempt == 9 or (isinstance(exc, etcd_sandbox.GatewayError) and exc.status != 503):
                    raise
                time.sleep(1)

    def writer(first):
        # Several writers at once: etcd batches their proposals, and the load is not what is measured.
        for i in range(first, mb, WRITERS):
            put(i)

    etcd_sandbox.in_threads(writer, range(WRITERS))
    deadline = time.monotonic() + 120
    while True:
        status = sandbox.status(cluster, client)
        applied = {int(s.get('raftAppliedIndex', -1)) for s in status}
        if len(applied) == 1 and all('error' not in s for s in status):
            return
        if time.monotonic() > deadline:
            raise etcd_sandbox.SandboxError('members of %s not in step after the load: %s' % (cluster.name, status))
        time.sleep(0.2)


def db_sizes(sandbox, cluster):
    return [int(s.get('dbSize', 0)) for s in sandbox.status(cluster)]


def requests_seen(sandbox, cluster):
    """Requests every member handled so far: {grpc method: count} summed over members, plus /metrics reads."""
    client = sandbox.client(cluster)
    counts = {}
    for url in cluster.endpoints:
        status, text = client.raw(url, '/metrics', method='GET')
        if status != 200:
            raise etcd_sandbox.SandboxError('%s/metrics -> HTTP %s' % (url, status))
        for method, value in GRPC_HANDLED.findall(text):
            counts[method] = counts.get(method, 0) + int(float(value))
        # The counter includes the read that returned it on some versions and not on others: count our own
        # reads out by reading twice around nothing (see calibrate_metrics_reads).
        for value in METRICS_SCRAPES.findall(text):
            counts['/metrics'] = counts.get('/metrics', 0) + int(float(value))
    return counts


def diff(after, before, own_metrics_reads):
    out = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}
    if '/metrics' in out:
        out['/metrics'] -= own_metrics_reads
        if out['/metrics'] <= 0:
            del out['/metrics']
    return out


def calibrate_metrics_reads(sandbox, cluster):
    """How much /metrics grows between two of our own reads with nothing in between."""
    first = requests_seen(sandbox, cluster)
    second = requests_seen(sandbox, cluster)
    return second.get('/metrics', 0) - first.get('/metrics', 0)


# -- procedures -------------------------------------------------------------------------------

def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def clean_env():
    # etcdctl and the modules both read ETCDCTL_*: the caller's must not point them elsewhere.
    return {k: v for k, v in os.environ.items() if not k.startswith('ETCDCTL')}


def run_etcdctl(sandbox, cluster, mb, workdir):
    etcdctl = str(sandbox.etcdctl)
    endpoints = ','.join(cluster.endpoints)
    # etcdctl's default 5 s is too short for a large member's defrag; allow 100 s per GB.
    timeout = '%ds' % max(60, mb // 10)
    log = open(str(workdir / 'etcdctl.log'), 'w')
    steps = {}

    def etcdctl_run(name, *argv):
        started = time.monotonic()
        proc = subprocess.run([etcdctl, '--endpoints', endpoints, '--command-timeout', timeout] + list(argv),
                              env=clean_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              check=False)
        steps[name] = time.monotonic() - started
        log.write('$ etcdctl %s\n%s%s' % (' '.join(argv), proc.stdout, proc.stderr))
        if proc.returncode != 0:
            raise RuntimeError('etcdctl %s failed: %s' % (' '.join(argv), proc.stderr.strip()))
        return proc.stdout

    started, cpu = time.monotonic(), children_cpu()
    try:
        status = json.loads(etcdctl_run('endpoint status', 'endpoint', 'status', '-w', 'json'))
        revision = max(int(s['Status']['header']['revision']) for s in status)
        etcdctl_run('compaction', 'compaction', '--physical', str(revision))
        etcdctl_run('defrag', 'defrag')
        etcdctl_run('alarm disarm', 'alarm', 'disarm')
    except RuntimeError as exc:
        return {'seconds': None, 'error': str(exc), 'steps': steps}
    finally:
        log.close()
    return {'seconds': time.monotonic() - started, 'cpu': children_cpu() - cpu, 'steps': steps}


COLLECTION = [ROOT]  # --collection


def collection_tree(workdir):
    tree = workdir / 'collections'
    (tree / 'ansible_collections' / 'etcdops').mkdir(parents=True, exist_ok=True)
    link = tree / 'ansible_collections' / 'etcdops' / 'etcd'
    if not link.exists():
        os.symlink(str(COLLECTION[0]), str(link))
    return tree


def run_role(cluster, snapshot, workdir, run_from, extra_vars=None):
    name = 'role+snapshot' if snapshot else 'role'
    rundir = workdir / name.replace('+', '-')
    rundir.mkdir(parents=True, exist_ok=True)
    hosts = ''.join('      %s:\n        etcd_client_url: %s\n' % (m.name, m.client_url) for m in cluster.members)
    (rundir / 'inventory.yml').write_text(
        'etcd:\n  hosts:\n%s  vars:\n    ansible_connection: local\n    ansible_python_interpreter: %s\n'
        '    etcd_cluster: %s\n' % (hosts, sys.executable, cluster.name))
    (rundir / 'vars.yml').write_text(json.dumps({
        'maintenance_defrag_rule': 'db_size > `0`',
        'maintenance_snapshot': snapshot,
        'maintenance_run_from': run_from,
        'maintenance_snapshot_dir': str(rundir / 'snapshots'),
        **(extra_vars or {}),
    }))
    env = clean_env()
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collection_tree(workdir)), ANSIBLE_NOCOLOR='1',
               ANSIBLE_CALLBACK_PLUGINS=str(ROOT / 'bench' / 'callback_plugins'),
               ANSIBLE_CALLBACKS_ENABLED='task_timer', BENCH_TASK_TIMER_FILE=str(rundir / 'tasks.json'))
    playbook = str(Path(sys.executable).parent / 'ansible-playbook')
    with open(str(rundir / 'ansible-playbook.log'), 'w') as log:
        spawned, started, cpu = time.time(), time.monotonic(), children_cpu()
        proc = subprocess.run([playbook, 'etcdops.etcd.maintenance', '-i', str(rundir / 'inventory.yml'),
                               '-e', '@' + str(rundir / 'vars.yml')],
                              env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=False)
        seconds = time.monotonic() - started
    result = {'seconds': seconds, 'cpu': children_cpu() - cpu, 'spawned': spawned, 'rundir': str(rundir)}
    try:
        result['tasks'] = json.loads((rundir / 'tasks.json').read_text())
    except (OSError, ValueError):
        result['tasks'] = None
    if proc.returncode != 0:
        tail = (rundir / 'ansible-playbook.log').read_text().strip().splitlines()[-15:]
        result.update(seconds=None, error='ansible-playbook exited %d:\n  %s' % (proc.returncode, '\n  '.join(tail)))
    return result


def ansible_floor(workdir, tasks):
    """Wall and CPU seconds of an ansible-playbook running `tasks` ping tasks once, for the same 3 local hosts."""
    rundir = workdir / 'floor'
    rundir.mkdir(parents=True, exist_ok=True)
    (rundir / 'inventory.yml').write_text(
        'etcd:\n  hosts:\n    m0:\n    m1:\n    m2:\n  vars:\n    ansible_connection: local\n'
        '    ansible_python_interpreter: %s\n' % sys.executable)
    (rundir / 'play.yml').write_text(
        '- hosts: etcd\n  gather_facts: false\n  tasks:\n'
        + '    - ansible.builtin.ping:\n      run_once: true\n' * tasks)
    started, cpu = time.monotonic(), children_cpu()
    subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(rundir / 'inventory.yml'),
                    str(rundir / 'play.yml')], env=clean_env(), stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - started, children_cpu() - cpu


# -- one repetition ---------------------------------------------------------------------------

def repetition(args, index, procedures, values, workdir):
    order = procedures[index % len(procedures):] + procedures[:index % len(procedures)]
    results = {}
    with etcd_sandbox.Sandbox(args.version, start_timeout=120) as sandbox:
        names = ['c%d-%s' % (index, p.replace('+', '-')) for p in procedures]
        clusters = dict(zip(procedures, sandbox.start_clusters(['plain'] * len(procedures), names=names)))
        started = time.monotonic()
        etcd_sandbox.in_threads(lambda cluster: load(sandbox, cluster, values, args.mb, args.live_mb),
                                clusters.values())
        print('  repeat %d: %d clusters loaded with %d MiB each (%d MiB of it live) in %.1f s (etcd %s); order: %s'
              % (index + 1, len(clusters), args.mb, args.live_mb, time.monotonic() - started, sandbox.version,
                 ', '.join(order)),
              flush=True)
        for procedure in order:
            cluster = clusters[procedure]
            rundir = workdir / ('repeat-%d' % (index + 1))
            rundir.mkdir(parents=True, exist_ok=True)
            own_reads = calibrate_metrics_reads(sandbox, cluster)
            sizes_before = db_sizes(sandbox, cluster)
            before = requests_seen(sandbox, cluster)
            os.sync()  # the load's dirty pages must not be written back on the clock of whoever runs first
            if procedure == 'etcdctl':
                result = run_etcdctl(sandbox, cluster, args.mb, rundir)
            else:
                result = run_role(cluster, procedure == 'role+snapshot', rundir, args.run_from)
            result['requests'] = diff(requests_seen(sandbox, cluster), before, own_reads)
            result['db_before'], result['db_after'] = sizes_before, db_sizes(sandbox, cluster)
            results[procedure] = result
            print('    %-14s %s (CPU %5.2f s, load %.1f)   db per member %s -> %s MB' % (
                procedure, '%7.2f s' % result['seconds'] if result['seconds'] is not None else ' FAILED  ',
                result.get('cpu', 0), os.getloadavg()[0],
                '/'.join('%d' % (s / 1e6) for s in result['db_before']),
                '/'.join('%d' % (s / 1e6) for s in result['db_after'])), flush=True)
            if result.get('error'):
                print('      ' + result['error'], flush=True)
    return results


# -- report -----------------------------------------------------------------------------------

def median(results, procedure):
    values = [r[procedure]['seconds'] for r in results if r[procedure]['seconds'] is not None]
    return statistics.median(values) if values else None


def print_summary(args, results, procedures, members=3):
    print('\nmedians over %d repeats (%d MiB per member, %d MiB of it live):' % (len(results), args.mb, args.live_mb))
    medians = {p: median(results, p) for p in procedures}
    for procedure in procedures:
        runs = ', '.join('%.2f' % r[procedure]['seconds'] if r[procedure]['seconds'] is not None else 'FAILED'
                         for r in results)
        value = medians[procedure]
        cpu = statistics.median(r[procedure].get('cpu', 0) for r in results)
        print('  %-14s %s   CPU of its processes %5.2f s   (runs: %s)'
              % (procedure, '%7.2f s' % value if value is not None else ' n/a    ', cpu, runs))
    base = medians['etcdctl']
    goal = 1.5 if args.mb >= 1024 else 3.0
    for procedure in procedures[1:]:
        if base and medians[procedure]:
            print('  %-14s %.2fx etcdctl (goal at most %.1fx), overhead per member %.2f s'
                  % (procedure, medians[procedure] / base, goal, (medians[procedure] - base) / members))
    steps = {}
    for r in results:
        for name, seconds in r['etcdctl'].get('steps', {}).items():
            steps.setdefault(name, []).append(seconds)
    print('  etcdctl steps (median): ' + ', '.join('%s %.2f s' % (k, statistics.median(v)) for k, v in steps.items()))
    print('\nrequests to etcd per run, all members (last repeat; gRPC methods incl. JSON gateway, /metrics reads):')
    for procedure in procedures:
        counts = results[-1][procedure]['requests']
        listed = ', '.join('%s %d' % (k, v) for k, v in sorted(counts.items()))
        print('  %-14s %3d: %s' % (procedure, sum(counts.values()), listed))


def print_profile(result, etcdctl):
    """Where the role's time went, from the task_timer callback of one run."""
    data = result.get('tasks')
    if not data:
        print('\n(no task timings for the profile)')
        return
    tasks = data['tasks']
    end = data['end']
    startup = data['started'] - result['spawned'] + (tasks[0]['start'] if tasks else end)
    for i, task in enumerate(tasks):
        task['wall'] = (tasks[i + 1]['start'] if i + 1 < len(tasks) else end) - task['start']
        task['ran'] = [h for h in task['hosts'].values() if h.get('status') in ('ok', 'failed')]
        task['skipped'] = [h for h in task['hosts'].values() if h.get('status') == 'skipped']
    executions = [h for t in tasks for h in t['ran']]
    durations = sorted(h['end'] - h['start'] for h in executions if 'end' in h)
    print('\nprofile of one role run (%.2f s wall):' % result['seconds'])
    print('  ansible-playbook start-up until the first task: %.2f s' % startup)
    print('  %d tasks, %d of which ran on at least one host; %d host runs (module executions) and %d skips'
          % (len(tasks), sum(1 for t in tasks if t['ran']), len(executions), sum(len(t['skipped']) for t in tasks)))
    if durations:
        print('  one host run: median %.3f s, max %.3f s; tasks that only skipped: %.2f s in all'
              % (statistics.median(durations), durations[-1], sum(t['wall'] for t in tasks if not t['ran'])))
    by_action = {}
    for task in tasks:
        entry = by_action.setdefault(task['action'], [0, 0.0, 0])
        entry[0] += 1
        entry[1] += task['wall']
        entry[2] += len(task['ran'])
    print('  by action (tasks, wall, host runs):')
    for action, (count, wall, runs) in sorted(by_action.items(), key=lambda kv: -kv[1][1]):
        print('    %-40s %3d tasks %7.2f s %4d runs' % (action, count, wall, runs))
    by_file = {}
    for task in tasks:
        path = task['path'].rsplit(':', 1)[0]
        path = path.split('/roles/', 1)[-1] if '/roles/' in path else path.rsplit('/', 1)[-1]
        entry = by_file.setdefault(path, [0, 0.0])
        entry[0] += 1
        entry[1] += task['wall']
    print('  by file (tasks, wall):')
    for path, (count, wall) in sorted(by_file.items(), key=lambda kv: -kv[1][1]):
        print('    %-40s %3d tasks %7.2f s' % (path, count, wall))
    print('  slowest tasks (wall: from its start to the next task start; hosts ran/skipped):')
    for task in sorted(tasks, key=lambda t: -t['wall'])[:15]:
        print('    %6.2f s  %d/%d  %s [%s]'
              % (task['wall'], len(task['ran']), len(task['skipped']), task['name'][:70], task['action']))
    defrag = etcdctl.get('steps', {}).get('defrag')
    if defrag:
        print('  (etcdctl needed %.2f s for the three defrags themselves)' % defrag)


def main(argv=None):
    args = parse_args(argv)
    COLLECTION[0] = Path(args.collection).resolve()
    procedures = list(PROCEDURES[:2] if args.no_snapshot_run else PROCEDURES)
    # Each member: its db file plus its WAL (every 1 MiB put is in both), and room for one defrag copy.
    need = len(procedures) * 3 * args.mb * MIB * 3
    free = shutil.disk_usage(tempfile.gettempdir()).free
    commit = subprocess.run(['git', '-C', str(COLLECTION[0]), 'log', '-1', '--format=%h'], capture_output=True,
                            text=True, check=False).stdout.strip()
    print('role from %s (%s)' % (COLLECTION[0], commit or 'not a git checkout'))
    print('etcd %s, %d clusters x 3 members, %d MiB per member, %d repeats, role in %s mode; needs about %.1f GB '
          'of disk in %s (%.1f GB free); %d CPUs, load average %.1f' % (
              args.version, len(procedures), args.mb, args.repeat, args.run_from, need / 1e9, tempfile.gettempdir(),
              free / 1e9,
              os.cpu_count(), os.getloadavg()[0]), flush=True)
    if need > free:
        print('not enough free disk: use a smaller --mb or --no-snapshot-run')
        return 1
    workdir = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix='etcdops-bench-'))
    workdir.mkdir(parents=True, exist_ok=True)
    values = [etcd_sandbox.b64(os.urandom(MIB)) for dummy in range(KEYS)]
    results = []
    try:
        for index in range(args.repeat):
            results.append(repetition(args, index, procedures, values, workdir))
        print_summary(args, results, procedures)
        one, eleven = ansible_floor(workdir, 1), ansible_floor(workdir, 11)
        print('\nansible-playbook itself, same 3 local hosts: a play of one ping task %.2f s (CPU %.2f s); each'
              ' further task, one module run, %.2f s (CPU %.2f s)'
              % (one[0], one[1], (eleven[0] - one[0]) / 10, (eleven[1] - one[1]) / 10))
        if args.profile:
            print_profile(results[-1]['role'], results[-1]['etcdctl'])
    finally:
        if not args.keep:
            shutil.rmtree(str(workdir), ignore_errors=True)
        else:
            print('\ninventories, logs and timings kept in %s' % workdir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
