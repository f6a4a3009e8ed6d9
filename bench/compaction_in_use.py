# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What does a member report as its size in use right after a compaction, with and without settle?

For each etcd version, on a fresh 3-member cluster (tests/utils/etcd_sandbox.py): --revisions puts of
--value-kb KiB over 5 keys, never compacted; then a physical compaction to the current revision
through the first member (EtcdClient.compact), and each member's dbSizeInUse read right after, after
--wait seconds of quiet, and after settle() (module_utils/compaction.py: two commits a quarter of a
second apart, a lease granted and revoked each time). Prints one line per member and moment.
etcd updates dbSizeInUse at a member's backend commit; on a quiet cluster none comes by itself.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'utils'))

import etcd_sandbox  # noqa: E402


def import_collection():
    """Make the checkout importable as ansible_collections.etcdops.etcd."""
    tree = Path(tempfile.mkdtemp(prefix='etcdops-bench-'))
    (tree / 'ansible_collections' / 'etcdops').mkdir(parents=True)
    os.symlink(ROOT, tree / 'ansible_collections' / 'etcdops' / 'etcd')
    sys.path.insert(0, str(tree))
    from ansible_collections.etcdops.etcd.plugins.module_utils import compaction
    from ansible_collections.etcdops.etcd.plugins.module_utils.client import EtcdClient
    from ansible_collections.etcdops.etcd.plugins.module_utils.gateway import GatewayTransport
    return compaction, EtcdClient, GatewayTransport


def in_use(client):
    return [client.status(url)['db_size_in_use'] for url in client.endpoints]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--versions', default='3.4,3.5,latest,3.6,3.7',
                        help='etcd versions, as etcd_sandbox.py takes them (comma separated)')
    parser.add_argument('--revisions', type=int, default=300)
    parser.add_argument('--value-kb', type=int, default=200)
    parser.add_argument('--wait', type=float, default=2.0, help='seconds of quiet before the second read')
    args = parser.parse_args()
    compaction, EtcdClient, GatewayTransport = import_collection()
    value = base64.b64encode(os.urandom(args.value_kb * 1024)).decode()
    print('%d revisions of %d KiB over 5 keys; dbSizeInUse per member, MB' % (args.revisions, args.value_kb))
    for version in args.versions.split(','):
        sandbox = etcd_sandbox.Sandbox(version)
        try:
            cluster = sandbox.start_cluster('plain')
            client = EtcdClient(GatewayTransport(timeout=30), cluster.endpoints)
            for i in range(args.revisions):
                key = base64.b64encode(('/bench/history/%d' % (i % 5)).encode()).decode()
                client.transport.call(client.endpoints[0], 'kv/put', {'key': key, 'value': value}, timeout=30)
            rows = [('before the compaction', in_use(client))]
            revision = client.current_revision()
            client.compact(revision, physical=True, timeout=120)
            rows.append(('right after it', in_use(client)))
            time.sleep(args.wait)
            rows.append(('after %g s of quiet' % args.wait, in_use(client)))
            compaction.settle(client)
            rows.append(('after settle()', in_use(client)))
        finally:
            sandbox.stop()
        print('etcd %s (compacted to revision %d; the first member took the call)' % (sandbox.version, revision))
        for moment, sizes in rows:
            print('  %-24s %s' % (moment, '  '.join('%7.1f' % (size / 1e6) for size in sizes)))


if __name__ == '__main__':
    main()
