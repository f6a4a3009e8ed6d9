# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Does the controller's time per host grow with the inventory?

Runs ``ansible-playbook etcdops.etcd.status`` over inventories of ``--clusters`` clusters (3 hosts
each, every host local, every member's client URL a closed port on 127.0.0.1, so each read fails at
once with "connection refused" and what is left is the role's own work on the controller) and prints,
per inventory: the wall time, the time per host, and the slowest tasks (from
bench/callback_plugins/task_timer.py).

``--collection`` times another checkout of the collection (for example a ``git worktree`` of an
earlier commit), with this checkout's benchmark.

A benchmark, not a test: it asserts nothing.

Usage: .venv/bin/python bench/inventory_scaling.py [--clusters 20,100] [--run-from controller]
       [--collection DIR] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOSED_PORT = 9  # discard: nothing listens on it here, so a connection is refused at once


def inventory(clusters):
    lines = ['etcd:', '  hosts:']
    for c in range(clusters):
        for m in range(3):
            lines += ['    c%03d-m%d:' % (c, m), '      etcd_cluster: c%03d' % c,
                      '      etcd_client_url: http://127.0.%d.%d:%d' % (c // 250, 1 + (c % 250), CLOSED_PORT)]
    lines += ['  vars:', '    ansible_connection: local', '    ansible_python_interpreter: %s' % sys.executable]
    return '\n'.join(lines) + '\n'


def run(collection, clusters, run_from, workdir):
    rundir = workdir / ('%d-clusters' % clusters)
    rundir.mkdir(parents=True, exist_ok=True)
    tree = rundir / 'collections'
    (tree / 'ansible_collections' / 'etcdops').mkdir(parents=True, exist_ok=True)
    os.symlink(str(collection), str(tree / 'ansible_collections' / 'etcdops' / 'etcd'))
    (rundir / 'inventory.yml').write_text(inventory(clusters))
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'ETCDCTL_'))}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(tree), ANSIBLE_NOCOLOR='1', ANSIBLE_HOST_KEY_CHECKING='0',
               ANSIBLE_CALLBACK_PLUGINS=str(ROOT / 'bench' / 'callback_plugins'),
               ANSIBLE_CALLBACKS_ENABLED='task_timer', BENCH_TASK_TIMER_FILE=str(rundir / 'tasks.json'))
    argv = [str(Path(sys.executable).parent / 'ansible-playbook'), 'etcdops.etcd.status',
            '-i', str(rundir / 'inventory.yml'), '-e', 'maintenance_run_from=%s' % run_from,
            '-e', 'maintenance_timeout=2']
    with open(str(rundir / 'ansible-playbook.log'), 'w') as log:
        started = time.monotonic()
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                              check=False)
        seconds = time.monotonic() - started
    tasks = json.loads((rundir / 'tasks.json').read_text()) if (rundir / 'tasks.json').exists() else {}
    return seconds, proc.returncode, tasks


def task_seconds(tasks):
    """(seconds, name) of every task: from its first host's start to its last host's end."""
    out = []
    for task in tasks.get('tasks', []) if isinstance(tasks, dict) else tasks:
        ends = [h['end'] for h in task['hosts'].values() if 'end' in h]
        starts = [h['start'] for h in task['hosts'].values()]
        if ends and starts:
            out.append((max(ends) - min(starts), task['name']))
    return sorted(out, reverse=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--clusters', default='20,100', help='comma-separated cluster counts (3 hosts each)')
    parser.add_argument('--run-from', choices=('member', 'controller'), default='controller')
    parser.add_argument('--collection', default=str(ROOT), help='the collection checkout to time')
    parser.add_argument('--keep', help='keep inventories, logs and timings in this directory')
    args = parser.parse_args()
    workdir = Path(args.keep or tempfile.mkdtemp(prefix='inventory-scaling-'))
    collection = Path(args.collection).resolve()
    commit = subprocess.run(['git', '-C', str(collection), 'log', '-1', '--format=%h %s'], capture_output=True,
                            text=True, check=False).stdout.strip()
    print('collection %s (%s), run from %s, load %.1f' % (collection, commit, args.run_from, os.getloadavg()[0]))
    try:
        for clusters in [int(n) for n in args.clusters.split(',')]:
            seconds, rc, tasks = run(collection, clusters, args.run_from, workdir)
            hosts = clusters * 3
            print('%4d clusters (%4d hosts): %7.1f s, %5.3f s per host, ansible-playbook rc %d'
                  % (clusters, hosts, seconds, seconds / hosts, rc))
            for took, name in task_seconds(tasks)[:4]:
                print('      %7.2f s  %s' % (took, name))
    finally:
        if not args.keep:
            shutil.rmtree(str(workdir), ignore_errors=True)


if __name__ == '__main__':
    main()
