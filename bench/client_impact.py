# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What do etcd's clients feel while a maintenance runs?

Starts identically loaded 3-member clusters on 127.0.0.1 (tests/utils/etcd_sandbox.py, etcd 3.6
by default; the load of bench/maintenance_vs_etcdctl.py: ``--live-mb`` MiB of live 1 KiB values,
then ``--history-mb`` x 1 MiB over 16 keys never compacted), one per procedure:

- etcdctl:          the seed procedure (``endpoint status``, ``compaction --physical``, ``defrag`` of
                    every endpoint in place, in endpoint order, leader included, no leader move,
                    ``alarm disarm``), bench/maintenance_vs_etcdctl.py's run_etcdctl
- etcd-defrag:      etcd-defrag v0.42.0 (bench/build-etcd-defrag.sh) with ``--endpoints`` of the
                    three members, ``--cluster`` and ``--defrag-rule 'dbSize > 0'`` (every member);
                    its defaults otherwise: compaction first, the leader defragmented last, no move
- role (member):    ``ansible-playbook etcdops.etcd.maintenance``, maintenance_run_from member,
                    every member due (maintenance_defrag_rule ``db_size > `0```), snapshot off
- role (controller): the same, maintenance_run_from controller

For each, on its own cluster: two bench/loadgen processes (one with a client pinned to each member,
like kubeadm's API servers; one client balanced over the three), ``--baseline`` seconds of load
alone, the procedure, ``--tail`` seconds more, stop (SIGTERM; each loadgen then reads every
acknowledged write back). The defragmentation windows come from the members' own logs (etcd's
"defragmenting" and "finished defragmenting directory" lines, with their timestamps).

Per procedure and phase (baseline, maintenance = from the procedure's start until --tail seconds
after its end): acknowledged writes lost, failed operations by error, each member's stall (the
longest time without a completed operation of its pinned clients), lease keepalive stalls (the gap
between two keepalive responses beyond TTL/3; the client's loop adds up to 0.5 s of its own) split
into those overlapping a defrag of the member that answers the lease ("own") and those overlapping
only other members' defrags or none ("caused elsewhere"), leases lost/expired per TTL, p50/p99/max
latency per kind, the longest watch delivery gap, and the wall time. Prints a markdown table, writes
JSON (--json), and with --plot a PNG (matplotlib, installed into this venv if missing).

A benchmark, not a test: it asserts nothing.

Usage: .venv/bin/python bench/client_impact.py [--version 3.6] [--live-mb 300 | --gb1] [--history-mb 64]
       [--json FILE] [--plot FILE] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import maintenance_vs_etcdctl as mve  # noqa: E402  (puts tests/utils on sys.path)

etcd_sandbox = mve.etcd_sandbox
MIB = mve.MIB
PROCEDURES = ('etcdctl', 'etcd-defrag', 'role (member)', 'role (controller)')
LOADGEN_DIR = BENCH / 'loadgen'
OP_KINDS = ('put', 'get_linearizable', 'get_serializable')
DEFRAG_LOG = re.compile(r'"ts":"([^"]+)".*"msg":"(defragmenting|finished defragmenting directory)"')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--version', default='3.6', help='etcd version, as etcd_sandbox.py takes it (default 3.6)')
    parser.add_argument('--live-mb', type=int, default=300, help='MiB of live data per member (default 300)')
    parser.add_argument('--gb1', action='store_true', help='about 1 GB live per member (--live-mb 1024)')
    parser.add_argument('--history-mb', type=int, default=64,
                        help='MiB of history (1 MiB overwrites of 16 keys) on top of the live data (default 64)')
    parser.add_argument('--baseline', type=float, default=5.0, help='seconds of load before the procedure')
    parser.add_argument('--tail', type=float, default=5.0, help='seconds of load after the procedure')
    parser.add_argument('--procedures', default=','.join(PROCEDURES),
                        help='comma-separated subset of: %s' % ', '.join(PROCEDURES))
    parser.add_argument('--loadgen-args', default='',
                        help='extra flags for both loadgen processes (e.g. "-interval 20ms")')
    parser.add_argument('--role-vars', type=json.loads, default={},
                        help='JSON object of extra variables for the role, e.g. '
                             '\'{"maintenance_max_stall_seconds": 30}\'')
    parser.add_argument('--json', help='write the results as JSON to this file')
    parser.add_argument('--plot', help='write a PNG of the latencies over time to this file')
    parser.add_argument('--keep', help='keep loadgen events, logs and inventories in this directory')
    args = parser.parse_args(argv)
    if args.gb1:
        args.live_mb = 1024
    args.procedures = [p.strip() for p in args.procedures.split(',') if p.strip()]
    unknown = set(args.procedures) - set(PROCEDURES)
    if unknown:
        parser.error('unknown procedures: %s' % ', '.join(sorted(unknown)))
    return args


# -- tools --------------------------------------------------------------------------------------

def cache_bench():
    return etcd_sandbox.cache_dir() / 'bench'


def build_loadgen():
    out = cache_bench() / 'loadgen'
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(['go', 'build', '-mod=readonly', '-o', str(out), '.'], cwd=str(LOADGEN_DIR), check=True)
    return out


def build_etcd_defrag():
    subprocess.run([str(BENCH / 'build-etcd-defrag.sh')], check=True, stdout=subprocess.DEVNULL)
    return cache_bench() / 'etcd-defrag'


def matplotlib_pyplot():
    try:
        import matplotlib
    except ImportError:
        print('matplotlib missing: pip install matplotlib (into %s)' % sys.prefix, flush=True)
        subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', 'matplotlib'], check=True)
        import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


# -- procedures ---------------------------------------------------------------------------------

def run_etcd_defrag(binary, cluster, workdir, timeout_s):
    argv = [str(binary), '--endpoints', ','.join(cluster.endpoints), '--cluster', '--defrag-rule', 'dbSize > 0',
            '--command-timeout', '%ds' % timeout_s]
    env = {k: v for k, v in mve.clean_env().items() if not k.startswith('ETCD_DEFRAG')}
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    (workdir / 'etcd-defrag.log').write_text('$ %s\n%s%s' % (' '.join(argv), proc.stdout, proc.stderr))
    if proc.returncode != 0:
        return {'seconds': None, 'error': 'etcd-defrag exited %d: %s' % (proc.returncode, proc.stderr[-800:])}
    return {'seconds': seconds}


def run_procedure(procedure, tools, cluster, args, workdir):
    mb = args.live_mb + args.history_mb
    if procedure == 'etcdctl':
        return mve.run_etcdctl(tools['sandbox'], cluster, mb, workdir)
    if procedure == 'etcd-defrag':
        return run_etcd_defrag(tools['etcd-defrag'], cluster, workdir, max(60, mb // 10))
    run_from = 'controller' if 'controller' in procedure else 'member'
    return mve.run_role(cluster, False, workdir / run_from, run_from, args.role_vars)


# -- one procedure under load -------------------------------------------------------------------

def start_loadgen(binary, cluster, pinned, workdir, extra):
    name = 'pinned' if pinned else 'balanced'
    events = workdir / ('loadgen-%s.jsonl' % name)
    argv = [str(binary), '-endpoints', ','.join(cluster.endpoints), '-duration', '20m', '-max-ops', '2000000',
            '-events', str(events), '-prefix', '/loadgen/%s' % name] + (['-pin'] if pinned else []) + extra
    out = open(str(workdir / ('loadgen-%s.out' % name)), 'w')
    err = open(str(workdir / ('loadgen-%s.err' % name)), 'w')
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    return {'name': name, 'proc': proc, 'events': events, 'out': workdir / ('loadgen-%s.out' % name),
            'files': (out, err)}


def stop_loadgen(lg):
    if lg['proc'].poll() is None:
        lg['proc'].send_signal(signal.SIGTERM)
    try:
        lg['proc'].wait(timeout=180)
    except subprocess.TimeoutExpired:
        lg['proc'].kill()
        lg['proc'].wait()
    for f in lg['files']:
        f.close()
    try:
        return json.loads(lg['out'].read_text())
    except ValueError:
        return {'error': 'no summary', 'lost_writes': None}


def log_ts(text):
    """etcd's zap timestamps (ISO 8601, "Z" or "+0000") -> Unix ns."""
    text = re.sub(r'([+-]\d\d)(\d\d)$', r'\1:\2', text.replace('Z', '+00:00'))
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1e9)


def defrag_windows(cluster, since_ns):
    """[(member index, start ns, end ns)] from the members' logs, after since_ns."""
    windows = []
    for index, member in enumerate(cluster.members):
        start = None
        with open(member.log, errors='replace') as log:
            for line in log:
                match = DEFRAG_LOG.search(line)
                if not match:
                    continue
                ts = log_ts(match.group(1))
                if ts < since_ns:
                    continue
                if match.group(2) == 'defragmenting':
                    start = ts
                elif start is not None:
                    windows.append((index, start, ts))
                    start = None
    return sorted(windows, key=lambda w: w[1])


def under_load(procedure, tools, cluster, args, workdir):
    workdir.mkdir(parents=True, exist_ok=True)
    extra = args.loadgen_args.split()
    since = time.time_ns()
    loadgens = [start_loadgen(tools['loadgen'], cluster, pinned, workdir, extra) for pinned in (True, False)]
    time.sleep(args.baseline)
    os.sync()
    leader = None
    for index, status in enumerate(tools['sandbox'].status(cluster)):
        if status.get('leader') and str(status.get('leader')) == str(status.get('header', {}).get('member_id')):
            leader = index
    started = time.time_ns()
    result = run_procedure(procedure, tools, cluster, args, workdir)
    ended = time.time_ns()
    time.sleep(args.tail)
    summaries = [stop_loadgen(lg) for lg in loadgens]
    events = []
    for lg in loadgens:
        with open(str(lg['events'])) as f:
            for line in f:
                event = json.loads(line)
                event['process'] = lg['name']
                events.append(event)
    return {'procedure': procedure, 'result': result, 'since_ns': since, 'started_ns': started, 'ended_ns': ended,
            'stop_ns': ended + int(args.tail * 1e9), 'summaries': summaries, 'events': events,
            'windows': defrag_windows(cluster, since), 'endpoints': cluster.endpoints, 'leader_before': leader}


# -- analysis -----------------------------------------------------------------------------------

def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def overlaps(a0, a1, b0, b1):
    return a0 < b1 and b0 < a1


def analyse(run):
    events, windows = run['events'], run['windows']
    endpoints = run['endpoints']
    members = {}
    for summary in run['summaries']:
        members.update(summary.get('members') or {})
    member_index = {mid: endpoints.index(url.split(',')[0]) for mid, url in members.items()
                    if url.split(',')[0] in endpoints}
    phases = {'baseline': (run['since_ns'], run['started_ns']), 'maintenance': (run['started_ns'], run['stop_ns'])}
    out = {'procedure': run['procedure'], 'wall_s': run['result'].get('seconds'),
           'error': run['result'].get('error'),
           'lost_writes': sum(s.get('lost_writes') or 0 for s in run['summaries']),
           'readback_problems': ([s['readback'].get('error') for s in run['summaries']
                                  if s.get('readback', {}).get('error')]
                                 + [s['error'] for s in run['summaries'] if s.get('error')]),
           'leader_before': run['leader_before'],
           'acknowledged_writes': sum(s.get('acknowledged') or 0 for s in run['summaries']),
           'windows': [{'member': i, 'start_s': (a - run['started_ns']) / 1e9, 'seconds': (b - a) / 1e9}
                       for i, a, b in windows],
           'phases': {}}
    for phase, (p0, p1) in phases.items():
        in_phase = [e for e in events if p0 <= e['end_ns'] < p1]
        res = {'seconds': (p1 - p0) / 1e9}
        failed = {}
        for e in in_phase:
            if not e['ok'] and e['kind'] in OP_KINDS + ('lease_grant', 'watch'):
                key = '%s: %s' % (e['kind'], e.get('error') or '?')
                failed[key] = failed.get(key, 0) + 1
        res['failed'] = dict(sorted(failed.items(), key=lambda kv: -kv[1]))
        res['failed_writes'] = sum(1 for e in in_phase if e['kind'] == 'put' and not e['ok'])
        res['latency_ms'] = {}
        for kind in OP_KINDS:
            lat = [(e['end_ns'] - e['start_ns']) / 1e6 for e in in_phase if e['kind'] == kind]
            res['latency_ms'][kind] = {'count': len(lat), 'p50': pct(lat, 0.5), 'p99': pct(lat, 0.99),
                                       'max': max(lat) if lat else None}
        # Each member's stall: the longest time in the phase without a completed op of its pinned clients.
        res['member_stall_s'] = {}
        for index, url in enumerate(endpoints):
            ends = sorted([p0] + [e['end_ns'] for e in in_phase if e['process'] == 'pinned' and e['endpoint'] == url
                                  and e['kind'] in OP_KINDS] + [p1])
            res['member_stall_s']['m%d' % index] = max(b - a for a, b in zip(ends, ends[1:])) / 1e9
        # Lease keepalives: the gap beyond TTL/3, and whose defrag it overlapped.
        own, elsewhere, expired = [], [], {}
        for e in in_phase:
            if e['kind'] == 'keepalive':
                stall = (e['end_ns'] - e['start_ns']) / 1e9 - e['ttl'] / 3
                if stall <= 0:
                    continue
                answering = member_index.get(e.get('member'))
                if e['process'] == 'pinned':
                    answering = endpoints.index(e['endpoint'])
                hit = {i for i, a, b in windows if overlaps(e['start_ns'] + int(e['ttl'] / 3 * 1e9), e['end_ns'], a, b)}
                (own if answering in hit else elsewhere).append(stall)
            elif e['kind'] in ('lease_expired', 'lease_lost'):
                key = '%s ttl=%d' % (e['kind'], e['ttl'])
                expired[key] = expired.get(key, 0) + 1
        res['keepalive_stall_own_max_s'] = max(own, default=0.0)
        res['keepalive_stall_elsewhere_max_s'] = max(elsewhere, default=0.0)
        res['keepalive_stalls_elsewhere_over_1s'] = sum(1 for s in elsewhere if s >= 1.0)
        res['leases_lost'] = expired
        gaps = [(e['end_ns'] - e['start_ns']) / 1e9 for e in in_phase if e['kind'] == 'watch']
        res['watch_gap_max_s'] = max(gaps, default=None)
        res['watch_restarts'] = sum(1 for e in in_phase if e['kind'] == 'watch_restart')
        out['phases'][phase] = res
    return out


def fmt(value, spec='%.2f'):
    return '-' if value is None else spec % value


def table(results):
    lines = ['| procedure | wall s | defrag windows in order (member: s; * leader before) '
             '| acked writes / lost | failed ops (maintenance) '
             '| member stall s (m0/m1/m2) | keepalive stall s: own / caused elsewhere | leases lost | '
             'put ms p50/p99/max | lin. get ms p50/p99/max | ser. get ms p50/p99/max | watch gap max s |',
             '|' + '---|' * 12]
    for r in results:
        m = r['phases']['maintenance']
        lat = m['latency_ms']
        failed = '; '.join('%d %s' % (n, k) for k, n in m['failed'].items()) or '0'
        lines.append('| %s | %s | %s | %d / %d | %s | %s | %s / %s | %s | %s | %s | %s | %s |' % (
            r['procedure'], fmt(r['wall_s'], '%.1f'),
            ', '.join('m%d%s: %.1f' % (w['member'], '*' if w['member'] == r['leader_before'] else '', w['seconds'])
                      for w in r['windows']) or '-',
            r['acknowledged_writes'], r['lost_writes'], failed,
            '/'.join('%.1f' % m['member_stall_s'][k] for k in sorted(m['member_stall_s'])),
            fmt(m['keepalive_stall_own_max_s']), fmt(m['keepalive_stall_elsewhere_max_s']),
            ', '.join('%d %s' % (n, k) for k, n in m['leases_lost'].items()) or '0',
            *('%s/%s/%s' % (fmt(lat[k]['p50'], '%.0f'), fmt(lat[k]['p99'], '%.0f'), fmt(lat[k]['max'], '%.0f'))
              for k in OP_KINDS),
            fmt(m['watch_gap_max_s'])))
    base = ['', '| baseline (before each procedure) | member stall s max | put ms p99 | lin. get ms p99 |'
                ' keepalive stall max s | failed ops |', '|---|---|---|---|---|---|']
    for r in results:
        b = r['phases']['baseline']
        base.append('| %s | %.2f | %s | %s | %s | %d |' % (
            r['procedure'], max(b['member_stall_s'].values()), fmt(b['latency_ms']['put']['p99'], '%.0f'),
            fmt(b['latency_ms']['get_linearizable']['p99'], '%.0f'),
            fmt(max(b['keepalive_stall_own_max_s'], b['keepalive_stall_elsewhere_max_s'])), sum(b['failed'].values())))
    return '\n'.join(lines + base)


def plot(runs, path):
    plt = matplotlib_pyplot()
    fig, axes = plt.subplots(len(runs), 1, figsize=(11, 2.8 * len(runs)), squeeze=False)
    colours = ('tab:red', 'tab:green', 'tab:purple')
    for ax, run in zip(axes[:, 0], runs):
        t0 = run['started_ns']
        for kind, marker, colour in (('put', '.', 'tab:blue'), ('get_linearizable', 'x', 'tab:orange'),
                                     ('keepalive', 'o', 'black')):
            pts = [((e['end_ns'] - t0) / 1e9,
                    (e['end_ns'] - e['start_ns']) / 1e9 - (e['ttl'] / 3 if kind == 'keepalive' else 0))
                   for e in run['events'] if e['kind'] == kind]
            pts = [(x, max(y, 1e-4)) for x, y in pts]
            if pts:
                label = {'put': 'put', 'get_linearizable': 'linearizable get',
                         'keepalive': 'keepalive gap - TTL/3'}[kind]
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=4 if kind != 'keepalive' else 10,
                           marker=marker, color=colour, label=label, alpha=0.6)
        for index, a, b in run['windows']:
            ax.axvspan((a - t0) / 1e9, (b - t0) / 1e9, color=colours[index % 3], alpha=0.2,
                       label='defrag m%d' % index)
        ax.axvline((run['ended_ns'] - t0) / 1e9, color='grey', linestyle='--', linewidth=0.8)
        ax.axvline(0, color='grey', linestyle='--', linewidth=0.8)
        ax.set_yscale('log')
        ax.set_ylabel('seconds')
        ax.set_title('%s (procedure from 0 to the dashed line)' % run['procedure'], fontsize=10)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc='upper left', ncol=3)
    axes[-1, 0].set_xlabel('seconds since the procedure started')
    fig.tight_layout()
    fig.savefig(path, dpi=90)


# -- main ---------------------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(argv)
    mb = args.live_mb + args.history_mb
    print('etcd %s, %d clusters x 3 members, %d MiB live + %d MiB history per member; %d CPUs, load %.1f'
          % (args.version, len(args.procedures), args.live_mb, args.history_mb, os.cpu_count(), os.getloadavg()[0]),
          flush=True)
    tools = {'loadgen': build_loadgen()}
    if 'etcd-defrag' in args.procedures:
        tools['etcd-defrag'] = build_etcd_defrag()
    workdir = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix='etcdops-impact-'))
    workdir.mkdir(parents=True, exist_ok=True)
    values = [etcd_sandbox.b64(os.urandom(MIB)) for dummy in range(mve.KEYS)]
    runs = []
    with etcd_sandbox.Sandbox(args.version, start_timeout=120) as sandbox:
        tools['sandbox'] = sandbox
        names = ['impact-%d' % i for i in range(len(args.procedures))]
        clusters = dict(zip(args.procedures, sandbox.start_clusters(['plain'] * len(args.procedures), names=names)))
        started = time.monotonic()
        etcd_sandbox.in_threads(lambda c: mve.load(sandbox, c, values, mb, args.live_mb), clusters.values())
        print('loaded %d clusters in %.1f s; db per member %s MB' % (
            len(clusters), time.monotonic() - started,
            ', '.join('/'.join('%d' % (s / 1e6) for s in mve.db_sizes(sandbox, c)) for c in clusters.values())),
            flush=True)
        for procedure in args.procedures:
            cluster = clusters[procedure]
            run = under_load(procedure, tools, cluster, args, workdir / re.sub(r'\W+', '-', procedure).strip('-'))
            run['db_after'] = mve.db_sizes(sandbox, cluster)
            runs.append(run)
            r = run['result']
            print('  %-18s %s  %d defrag windows, lost writes %s, load %.1f' % (
                procedure, '%6.1f s' % r['seconds'] if r.get('seconds') is not None else 'FAILED: %s' % r.get('error'),
                len(run['windows']), [s.get('lost_writes') for s in run['summaries']], os.getloadavg()[0]),
                flush=True)
    results = [analyse(run) for run in runs]
    print()
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps({'args': dict(vars(args)),
                                               'etcd': sandbox.version, 'results': results}, indent=1) + '\n')
    if args.plot:
        plot(runs, args.plot)
        print('\nplot: %s' % args.plot)
    if not args.keep:
        import shutil
        shutil.rmtree(str(workdir), ignore_errors=True)
    else:
        print('events and logs kept in %s' % workdir)
    return 0 if all(r['lost_writes'] == 0 for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
