# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How much does reading a whole cluster's status cost, compared with one member's?

The claim under test (docs/performance.md): ``EtcdClient.cluster_status()`` reads every member
concurrently, so a 3-member status costs about one round trip, not three. This starts a real
3-member cluster (tests/utils/etcd_sandbox.py), then times, over many repetitions:

- one member:   ``member_status()`` of a single member (status + /metrics for its quota)
- sequential:   the same calls cluster_status() makes (member list, alarms, each member's
                status + metrics), one after the other
- concurrent:   ``cluster_status()`` itself

and prints the medians and the ratio. A benchmark, not a test: it asserts nothing.

Usage: .venv/bin/python bench/status_round_trips.py [--version 3.5.1] [--repeat 50] [--delay-ms 0]

``--delay-ms`` puts a TCP proxy in front of every member that holds each chunk of data that
much before passing it on, in both directions, so a round trip costs about twice that: the
effect of a real network, where a round trip is not free (this kernel has no ``tc netem``).
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'utils'))

import etcd_sandbox  # noqa: E402


def import_client():
    """Make the checkout importable as ansible_collections.etcdops.etcd."""
    tree = Path(tempfile.mkdtemp(prefix='etcdops-bench-'))
    (tree / 'ansible_collections' / 'etcdops').mkdir(parents=True)
    os.symlink(ROOT, tree / 'ansible_collections' / 'etcdops' / 'etcd')
    sys.path.insert(0, str(tree))
    from ansible_collections.etcdops.etcd.plugins.module_utils.client import EtcdClient
    from ansible_collections.etcdops.etcd.plugins.module_utils.gateway import GatewayTransport
    return EtcdClient, GatewayTransport


class DelayProxies:
    """One delaying TCP proxy per upstream URL, served by an asyncio loop in a thread."""

    def __init__(self, delay_s):
        self.delay = delay_s
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    async def _pipe(self, reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _serve(self, host, port):
        async def handle(client_reader, client_writer):
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
            await asyncio.gather(self._pipe(client_reader, upstream_writer),
                                 self._pipe(upstream_reader, client_writer))
        server = await asyncio.start_server(handle, '127.0.0.1', 0)
        return server.sockets[0].getsockname()[1]

    def front(self, url):
        """The proxied URL for an http://127.0.0.1:PORT upstream."""
        port = int(url.rsplit(':', 1)[1])
        local = asyncio.run_coroutine_threadsafe(self._serve('127.0.0.1', port), self.loop).result(10)
        return 'http://127.0.0.1:%d' % local


def timed(call, repeat):
    samples = []
    for _repetition in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(samples), sorted(samples)[int(0.9 * (len(samples) - 1))]


def sequential(client):
    """The calls one after the other, as a naive client makes them: member list, alarms, each status."""
    client.transport.call(client.endpoints[0], 'cluster/member/list')
    client.alarms()
    for endpoint in client.endpoints:
        client.member_status(endpoint)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--version', default='latest', help='etcd version (3.4, 3.5.1, latest)')
    parser.add_argument('--repeat', type=int, default=50)
    parser.add_argument('--delay-ms', type=float, default=0.0,
                        help='hold every chunk this long in a proxy in front of each member (each way)')
    args = parser.parse_args()

    EtcdClient, GatewayTransport = import_client()
    sandbox = etcd_sandbox.Sandbox(args.version)
    try:
        cluster = sandbox.start_cluster('plain')
        endpoints = cluster.endpoints
        if args.delay_ms:
            proxies = DelayProxies(args.delay_ms / 1000.0)
            endpoints = [proxies.front(url) for url in endpoints]
        client = EtcdClient(GatewayTransport(timeout=10), endpoints)
        client.cluster_status()  # warm-up: first connections, imports
        one = timed(lambda: client.member_status(client.endpoints[0]), args.repeat)
        seq = timed(lambda: sequential(client), args.repeat)
        conc = timed(client.cluster_status, args.repeat)
    finally:
        sandbox.stop()

    print('etcd %s, 3 members on 127.0.0.1, %d repetitions, proxy delay %g ms each way'
          % (sandbox.version, args.repeat, args.delay_ms))
    print('%-34s %10s %10s' % ('call', 'median ms', 'p90 ms'))
    for name, (median, p90) in (('one member (status + metrics)', one),
                                ('whole cluster, sequential', seq),
                                ('whole cluster, cluster_status()', conc)):
        print('%-34s %10.1f %10.1f' % (name, median, p90))
    print('cluster_status() / one member: %.2fx   sequential / cluster_status(): %.2fx'
          % (conc[0] / one[0], seq[0] / conc[0]))


if __name__ == '__main__':
    main()
