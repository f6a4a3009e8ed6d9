# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every etcdops.etcd module shares: the connection options and the module base class.

Private to the etcdops.etcd collection: not a public API, it may change without notice.

The options are named after etcdctl's flags and default from etcdctl's environment variables,
so whoever can run etcdctl on a host can run these modules there. They are documented once, in
``plugins/doc_fragments/connection.py``; keep both in step (ansible-test validate-modules checks).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.etcdops.etcd.plugins.module_utils.client import EtcdClient
from ansible_collections.etcdops.etcd.plugins.module_utils.errors import EtcdError
from ansible_collections.etcdops.etcd.plugins.module_utils.transport import TRANSPORTS, build_transport

DEFAULT_ENDPOINT = 'http://127.0.0.1:2379'


def connection_argument_spec():
    return dict(
        endpoints=dict(type='list', elements='str', default=[DEFAULT_ENDPOINT],
                       fallback=(env_fallback, ['ETCDCTL_ENDPOINTS'])),
        cacert=dict(type='path', fallback=(env_fallback, ['ETCDCTL_CACERT'])),
        cert=dict(type='path', fallback=(env_fallback, ['ETCDCTL_CERT'])),
        key=dict(type='path', no_log=False, fallback=(env_fallback, ['ETCDCTL_KEY'])),
        user=dict(type='str', fallback=(env_fallback, ['ETCDCTL_USER'])),
        password=dict(type='str', no_log=True, fallback=(env_fallback, ['ETCDCTL_PASSWORD'])),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='int', default=10),
        discover=dict(type='bool', default=True),
        transport=dict(type='str', choices=list(TRANSPORTS), default='auto',
                       fallback=(env_fallback, ['ETCDOPS_TRANSPORT'])),
    )


def quota_argument_spec():
    return dict(quota_bytes=dict(type='int'))


def connection_problems(params, readable=None):
    """Why the connection options cannot work, one sentence each; empty when they can (pure but for
    ``readable(path)``, by default whether this host may read the file: unit-tested)."""
    if readable is None:
        readable = _readable
    problems = []
    if params['timeout'] <= 0:
        problems.append('timeout must be a positive number of seconds, got %s' % params['timeout'])
    if not params['endpoints']:
        problems.append('endpoints is empty: give at least one client URL such as https://10.0.0.1:2379')
    if bool(params['cert']) != bool(params['key']):
        problems.append('cert and key go together: set both (ETCDCTL_CERT, ETCDCTL_KEY) or neither')
    for name in ('cacert', 'cert', 'key'):
        path = params[name]
        why = readable(path) if path else None
        if why:
            problems.append('%s %s cannot be read on this host (%s): check the path, and become a user that '
                            'may read it' % (name, path, why))
    return problems


def _readable(path):
    """None when this host may read ``path``, else why not."""
    if os.access(path, os.R_OK):
        return None
    return 'missing' if not os.path.exists(path) else 'permission denied'


class EtcdModule(AnsibleModule):
    """AnsibleModule with the connection options, an etcd client and typed-error reporting.

    The connection options are checked here, before the module does anything: a module fails on a
    bad option before its first call to etcd, whatever it decides first."""

    def __init__(self, argument_spec=None, quota=False, **kwargs):
        spec = connection_argument_spec()
        if quota:
            spec.update(quota_argument_spec())
        spec.update(argument_spec or {})
        super(EtcdModule, self).__init__(argument_spec=spec, **kwargs)
        problems = connection_problems(self.params)
        if problems:
            self.fail_json(msg='; '.join(problems))
        user, password = self.credentials()
        transport = build_transport(
            self.params['transport'],
            cacert=self.params['cacert'], cert=self.params['cert'], key=self.params['key'],
            user=user, password=password, validate_certs=self.params['validate_certs'],
            timeout=self.params['timeout'])
        # Building the client sends nothing: the first call does.
        self.client = EtcdClient(transport, self.params['endpoints'], quota_bytes=self.params.get('quota_bytes'),
                                 discover=self.params['discover'])

    def credentials(self):
        """(user, password); ``user`` may be ``name:password`` like etcdctl's --user."""
        user, password = self.params['user'], self.params['password']
        if user and ':' in user and not password:
            user, password = user.split(':', 1)
            # The password rode in a non-secret option: keep it out of every output.
            self.no_log_values.add(password)
        return user, password

    def fail_etcd(self, exc, **result):
        """One clear failure for a typed etcd error: the message names the endpoint and the fix."""
        result.setdefault('changed', False)
        self.fail_json(msg=exc.message, endpoint=exc.endpoint, error=exc.kind, **result)

    def run_bounded(self, argv, seconds=10):
        """The output (text) of ``argv``, stopped after ``seconds`` by coreutils' timeout where the host
        has it; None when it cannot run. Never fails the module."""
        timeout = self.get_bin_path('timeout')
        if timeout:
            argv = [timeout, '--kill-after=2', str(seconds)] + list(argv)
        try:
            _rc, out, _err = self.run_command(argv, handle_exceptions=False)
        except (OSError, ValueError):
            return None
        return out

    def run(self, action):
        """Call ``action(client)`` and exit with its result dict; EtcdError -> fail_etcd."""
        try:
            result = action(self.client)
        except EtcdError as exc:
            self.fail_etcd(exc)
        self.exit_json(**result)
