# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: cluster_layout
short_description: The play's etcd clusters, each with its hosts, coordinator and members' client URLs
version_added: 0.1.0
description:
  - Takes the play's hosts and groups them by their C(etcd_cluster) variable (C(default) when unset),
    reading each host's variables once, so that the controller's work grows with the inventory, not
    with its square. Run it once per play (C(run_once)), not once per host.
  - For each cluster, its hosts in inventory order, its coordinator (the first of them), each host's
    etcd client URL (C(etcd_client_url), else C(https://<ansible_host or inventory name>:2379)), and
    whether all its hosts share their connection options (C(etcd_cacert), C(etcd_cert), C(etcd_key),
    C(etcd_user), C(etcd_password)), in which case one module run can read every member.
  - Used by the role etcdops.etcd.maintenance. The options themselves, passwords included, are not in
    the result.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The play's hosts, in inventory order (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  hostvars:
    description: The play's C(hostvars).
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Find the play's clusters, once
  ansible.builtin.set_fact:
    clusters: "{{ ansible_play_hosts_all | etcdops.etcd.cluster_layout(hostvars) }}"
  run_once: true
'''

RETURN = r'''
_value:
  description: Cluster name -> its layout.
  type: dict
  contains:
    hosts:
      description: The cluster's hosts, in inventory order.
      type: list
      elements: str
    coordinator:
      description: The host that decides for the cluster (its first host).
      type: str
    client_urls:
      description: Host -> the etcd client URL of its member.
      type: dict
    shared_connection:
      description: Whether every host of the cluster has the same connection options (all but the URL).
      type: bool
  sample:
    kube-prod:
      hosts: [cp-1, cp-2, cp-3]
      coordinator: cp-1
      client_urls: {cp-1: "https://10.0.0.11:2379", cp-2: "https://10.0.0.12:2379", cp-3: "https://10.0.0.13:2379"}
      shared_connection: true
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

CONNECTION_VARIABLES = ('etcd_cacert', 'etcd_cert', 'etcd_key', 'etcd_user', 'etcd_password')


def cluster_layout(hosts, host_vars):
    """The layout of each cluster of ``hosts``; ``host_vars(host)`` gives a host's variables (a mapping)."""
    clusters = {}
    connections = {}
    for host in hosts:
        variables = host_vars(host)
        name = variables.get('etcd_cluster')
        name = 'default' if name is None else str(name)
        url = variables.get('etcd_client_url') or 'https://%s:2379' % (variables.get('ansible_host') or host)
        layout = clusters.setdefault(name, {'hosts': [], 'coordinator': host, 'client_urls': {}})
        layout['hosts'].append(host)
        layout['client_urls'][host] = str(url)
        options = tuple(variables.get(v) for v in CONNECTION_VARIABLES)
        seen = connections.setdefault(name, [])
        if options not in seen:
            seen.append(options)
    for name, layout in clusters.items():
        layout['shared_connection'] = len(connections[name]) <= 1
    return clusters


def _cluster_layout(hosts, hostvars):
    if not is_sequence(hosts) or not all(isinstance(h, str) for h in hosts):
        raise AnsibleFilterError('cluster_layout takes the list of the play\'s hosts (ansible_play_hosts_all)')

    def host_vars(host):
        try:
            return hostvars[host]
        except KeyError as exc:
            raise AnsibleFilterError('cluster_layout: no variables for host %s in the hostvars given' % host) from exc
    return cluster_layout(hosts, host_vars)


class FilterModule(object):
    def filters(self):
        return {'cluster_layout': _cluster_layout}
