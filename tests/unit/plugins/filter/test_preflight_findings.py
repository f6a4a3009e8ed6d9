# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role's preflight (filters cluster_reads and preflight_findings) over statuses recorded from
real etcd clusters, shaped as etcd_status returns them, for every case the role knows."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.filter.cluster_reads import FilterModule as ReadsFilters
from ansible_collections.etcdops.etcd.plugins.filter.preflight_findings import FilterModule as FindingsFilters
from ansible_collections.etcdops.etcd.plugins.module_utils import api
from ansible_collections.etcdops.etcd.plugins.module_utils.members import member_entry
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import (
    RECORDED_VERSIONS,
    VERSIONS_36,
    load,
)

cluster_reads = ReadsFilters().filters()['cluster_reads']
preflight_findings = FindingsFilters().filters()['preflight_findings']

HOSTS = ['etcd-a', 'etcd-b', 'etcd-c']
GIB = 1 << 30


class Cluster:
    """A 3-member cluster of etcd ``version``: its recorded member list, the recorded leader's status
    for the first member and the recorded follower's for the others, as etcd_status returns them."""

    def __init__(self, version):
        self.version = version
        self.member_list = api.parse_member_list(load(version, 'member_list')['json'])[:3]
        assert len(self.member_list) == 3
        self.urls = dict((host, member['client_urls'][0]) for host, member in zip(HOSTS, self.member_list))
        self.leader_id = self.member_list[0]['id']
        leader = api.parse_status(load(version, 'status_leader')['json'])
        follower = api.parse_status(load(version, 'status_follower')['json'])
        self.statuses = {}
        for index, member in enumerate(self.member_list):
            status = dict(leader if index == 0 else follower, id=member['id'], leader=self.leader_id,
                          endpoint=self.urls[HOSTS[index]], quota_bytes=2 * GIB, quota_source='metrics',
                          compact_revision=-1)
            status['history'] = api.history(status['revision'], status['compact_revision'])
            status['quota_usage'] = api.quota_usage(status['db_size'], status['quota_bytes'])
            self.statuses[member['id']] = status
        self.alarms = []
        self.hostvars = dict((host, {'inventory_hostname': host}) for host in HOSTS)

    def member(self, host):
        return self.member_list[HOSTS.index(host)]

    def read(self, host):
        """etcd_status with discover=false on ``host``'s own member."""
        member = self.member(host)
        status = self.statuses[member['id']]
        alarms = [a['alarm'] for a in self.alarms if a['member_id'] == member['id']]
        return dict(cluster_id=status['cluster_id'], leader=status['leader'] or None, healthy=True,
                    alarms=list(self.alarms), revision=status['revision'],
                    members=[member_entry(member, status, alarms, status['leader'] or None)],
                    member_list=self.member_list)

    def reads(self, down=()):
        reads = {}
        for host in HOSTS:
            if host in down:
                reads[host] = dict(failed=True, endpoint=self.urls[host], error='unreachable',
                                   msg='%s: connection refused' % self.urls[host])
            else:
                reads[host] = self.read(host)
        return reads

    def findings(self, reads=None, **options):
        return preflight_findings(self.reads() if reads is None else reads, self.hostvars, HOSTS, 'main',
                                  self.urls, **options)


@pytest.fixture(params=RECORDED_VERSIONS)
def cluster(request):
    return Cluster(request.param)


def test_a_healthy_cluster_has_no_problem_and_names_leader_successor_and_snapshot_host(cluster):
    found = cluster.findings()
    assert found['problems'] == []
    assert found['cluster'] == 'main'
    assert found['cluster_id'] == cluster.statuses[cluster.leader_id]['cluster_id']
    assert [m['host'] for m in found['members']] == HOSTS
    assert found['leader_host'] == 'etcd-a' and found['leader_name'] == cluster.member_list[0]['name']
    assert found['successor_host'] in ('etcd-b', 'etcd-c')
    assert found['successor_id'] == cluster.member(found['successor_host'])['id']
    assert found['snapshot_host'] == found['successor_host']
    assert found['nospace'] is False and found['alarms'] == []


def test_a_member_down_is_named_from_the_member_list(cluster):
    found = cluster.findings(cluster.reads(down=['etcd-b']))
    name = cluster.member('etcd-b')['name']
    assert found['problems'] == ['member %s (host etcd-b, %s) does not answer: %s: connection refused'
                                 % (name, cluster.urls['etcd-b'], cluster.urls['etcd-b'])]
    down = found['members'][1]
    assert down['reachable'] is False and down['healthy'] is False and down['name'] == name
    assert found['successor_host'] == 'etcd-c'


def test_a_host_whose_url_is_not_in_the_member_list_is_named_by_its_address():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    reads = cluster.reads(down=['etcd-c'])
    wrong_port = cluster.urls['etcd-c'].rsplit(':', 1)[0] + ':1'
    reads['etcd-c'] = dict(endpoint=wrong_port, msg='%s: connection refused' % wrong_port)
    # All members run on 127.0.0.1 here: the address names the first member not already taken.
    cluster.hostvars['etcd-c']['ansible_host'] = '127.0.0.1'
    found = cluster.findings(reads)
    assert found['problems'] == ['member %s (host etcd-c, %s) does not answer: %s: connection refused'
                                 % (cluster.member('etcd-c')['name'], wrong_port, wrong_port)]
    cluster.hostvars['etcd-c']['ansible_host'] = '192.0.2.7'
    found = cluster.findings(reads)
    assert found['problems'][0] == 'member host etcd-c (%s) does not answer: %s: connection refused' % (
        wrong_port, wrong_port)
    # ...and then the member no host reaches is named too.
    assert found['problems'][1].startswith('member %s (%s, ' % (cluster.member('etcd-c')['name'],
                                                                cluster.member('etcd-c')['id']))
    assert found['problems'][1].endswith('is in the cluster but no host of etcd_cluster=main in the play reaches '
                                         'it: add it to the inventory (or check --limit)')


def test_a_host_without_any_read_could_not_be_reached():
    cluster = Cluster(RECORDED_VERSIONS[0])
    reads = cluster.reads()
    reads['etcd-b'] = {}
    assert cluster.findings(reads)['problems'][0].endswith('does not answer: the host could not be reached')


# What ansible-core 2.19 registers, with ignore_unreachable, for a host whose ssh port is closed (measured).
UNREACHABLE = dict(changed=False, unreachable=True, msg='Task failed: Failed to connect to the host via ssh: '
                   'ssh: connect to host 127.0.0.1 port 1: Connection refused')


def test_a_host_ansible_cannot_reach_is_named_with_the_fix():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    reads = cluster.reads()
    reads['etcd-a'] = dict(UNREACHABLE)
    found = cluster.findings(reads)
    member = cluster.member('etcd-a')
    assert found['problems'] == [
        "member %s (host etcd-a, %s): Ansible cannot reach host etcd-a (Failed to connect to the host via ssh: "
        "ssh: connect to host 127.0.0.1 port 1: Connection refused), so its member was not asked: fix the host's "
        "connection (ansible_host, ansible_port, ssh), or run with maintenance_run_from=controller, which asks "
        "every member from the controller" % (member['name'], cluster.urls['etcd-a'])]
    row = found['members'][0]
    assert row['unreachable'] is True and row['reachable'] is False
    assert row['error'] == UNREACHABLE['msg'][len('Task failed: '):]
    # A member etcd did not answer for is not called unreachable.
    assert cluster.findings(cluster.reads(down=['etcd-b']))['members'][1]['unreachable'] is False


def test_two_hosts_on_one_member():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    reads = cluster.reads()
    reads['etcd-c'] = cluster.read('etcd-b')
    found = cluster.findings(reads)
    name, member_id = cluster.member('etcd-b')['name'], cluster.member('etcd-b')['id']
    assert 'hosts etcd-b and etcd-c reach the same member %s (%s): the inventory needs one host per member' % (
        name, member_id) in found['problems']
    assert any(p.startswith('member %s (' % cluster.member('etcd-c')['name']) and 'no host of' in p
               for p in found['problems'])


def test_a_rule_that_does_not_parse_is_the_problem_not_the_member():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    found = cluster.findings(defrag_rule='db_size > ~')
    assert len(found['problems']) == 1
    assert found['problems'][0].startswith("maintenance_defrag_rule cannot be used: rule 'db_size > ~' is not a valid")
    assert all(m['reachable'] for m in found['members'])


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_the_rule_is_evaluated_on_the_controller_on_each_member(version):
    cluster = Cluster(version)
    leader = cluster.member('etcd-a')['name']
    found = cluster.findings(defrag_rule="is_leader || name == '%s'" % cluster.member('etcd-c')['name'])
    assert found['problems'] == []
    assert [(m['host'], m['defrag_due'], m['defrag_reason']) for m in found['members']] == [
        ('etcd-a', True, 'rule matched'), ('etcd-b', False, 'rule did not match'), ('etcd-c', True, 'rule matched')]
    assert found['leader_name'] == leader


def test_a_rule_that_gives_no_boolean_leaves_the_member_undecided():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    found = cluster.findings(defrag_rule='db_size')
    assert found['problems'] == []
    assert {m['defrag_due'] for m in found['members']} == {None}
    assert all('must give true or false' in m['defrag_reason'] for m in found['members'])


def test_without_a_rule_nothing_is_decided_in_the_preflight():
    found = Cluster(RECORDED_VERSIONS[-1]).findings()
    assert all('defrag_due' not in m for m in found['members'])


def test_no_jmespath_on_the_controller_is_the_problem(monkeypatch):
    from ansible_collections.etcdops.etcd.plugins.module_utils import rules
    monkeypatch.setattr(rules, 'JMESPATH_IMPORT_ERROR', 'ImportError: No module named jmespath')
    found = Cluster(RECORDED_VERSIONS[-1]).findings(defrag_rule='db_size > `0`')
    assert found['problems'] == ['maintenance_defrag_rule cannot be used: the Python package jmespath is missing on '
                                 'the controller, which evaluates the rule (pip install jmespath, as json_query '
                                 'needs it too)']


def test_an_unhealthy_member():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    member_id = cluster.member('etcd-c')['id']
    cluster.statuses[member_id]['leader'] = None
    cluster.statuses[member_id]['errors'] = ['raft: no leader']
    found = cluster.findings()
    assert 'member %s (host etcd-c, %s) is not healthy: raft: no leader' % (
        cluster.member('etcd-c')['name'], cluster.urls['etcd-c']) in found['problems']
    assert any(p.startswith('the members do not agree on one leader: ') for p in found['problems'])
    assert found['successor_host'] == 'etcd-b'


def test_a_learner_is_never_the_successor():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    cluster.member_list[1]['is_learner'] = True
    found = cluster.findings()
    assert found['problems'] == []
    assert found['successor_host'] == 'etcd-c'
    cluster.member_list[2]['is_learner'] = True
    assert cluster.findings()['successor_host'] is None
    # Without a follower to take it from, the healthy leader gives the snapshot.
    assert cluster.findings()['snapshot_host'] == 'etcd-a'


def test_nospace_is_what_the_maintenance_repairs_not_a_problem(cluster):
    cluster.alarms = [dict(member_id=cluster.leader_id, alarm='NOSPACE')]
    found = cluster.findings()
    assert found['problems'] == []
    assert found['nospace'] is True
    assert found['alarms'] == [dict(member_id=cluster.leader_id, alarm='NOSPACE')]


def test_corrupt_forbids_any_change():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    cluster.alarms = [dict(member_id=cluster.leader_id, alarm='CORRUPT')]
    assert cluster.findings()['problems'] == [
        'CORRUPT alarm on member %s: the members disagree on the data; replace the corrupt member before any '
        'maintenance' % cluster.leader_id]


def test_raft_lag():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    lagging = cluster.statuses[cluster.member('etcd-b')['id']]
    newest = cluster.statuses[cluster.leader_id]['raft_applied_index'] = 5000
    cluster.statuses[cluster.member('etcd-c')['id']]['raft_applied_index'] = newest
    lagging['raft_applied_index'] = newest - 1001
    found = cluster.findings()
    assert found['problems'] == ['member %s (host etcd-b) lags: applied raft index %d vs %d '
                                 '(maintenance_max_raft_lag 1000)' % (cluster.member('etcd-b')['name'],
                                                                      newest - 1001, newest)]
    assert cluster.findings(max_raft_lag='2000')['problems'] == []


def test_different_clusters():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    cluster.statuses[cluster.member('etcd-c')['id']]['cluster_id'] = 'other'
    found = cluster.findings()
    assert any(p.startswith('the hosts reach different etcd clusters (cluster ids ') and
               p.endswith(', other): set etcd_cluster per cluster') for p in found['problems'])


def test_a_host_on_a_member_outside_the_member_list():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    reads = cluster.reads()
    stranger = reads['etcd-c']['members'][0]
    stranger['id'] = 'ffffffffffffffff'
    found = cluster.findings(reads)
    assert ("host etcd-c reaches member %s (ffffffffffffffff), which is not in the cluster's member list"
            % stranger['name']) in found['problems']


@pytest.mark.parametrize('version', VERSIONS_36)
def test_mixed_minor_versions_and_downgrades_are_refused(version):
    cluster = Cluster(version)
    cluster.statuses[cluster.member('etcd-c')['id']]['version'] = '3.5.30'
    problems = cluster.findings()['problems']
    assert len(problems) == 1 and 'different etcd minor versions' in problems[0]
    cluster = Cluster(version)
    downgrade = api.parse_status(load(version, 'status_downgrade')['json'])['downgrade_info']
    for status in cluster.statuses.values():
        status['downgrade_info'] = downgrade
    problems = cluster.findings()['problems']
    assert len(problems) == 1 and 'etcdctl downgrade cancel' in problems[0]


def local_info(free, risks=(), data_dir='/var/lib/etcd'):
    return dict(found=True, data_dir=data_dir, data_dir_free_bytes=free, risks=list(risks))


def test_disk_too_small_and_the_host_warnings():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    reads = cluster.reads()
    db_size = reads['etcd-a']['members'][0]['db_size']
    reads['etcd-a']['local_info'] = local_info(db_size, risks=['auto-compaction is off'])
    reads['etcd-b']['local_info'] = local_info(None, data_dir='/data/etcd')
    reads['etcd-c']['local_info'] = dict(found=False, risks=[], msg='no etcd process on this host serves client '
                                                                    'port 2379')
    cluster.hostvars['etcd-b']['etcd_data_dir'] = '/var/lib/etcd'
    found = cluster.findings(reads)
    name = cluster.member('etcd-a')['name']
    assert found['problems'] == [
        'member %s (host etcd-a, %s): its data directory /var/lib/etcd has %d bytes free, a defragmentation needs '
        'about %d (db size x maintenance_min_free_disk_ratio)' % (name, cluster.urls['etcd-a'], db_size,
                                                                  int(db_size * 1.1))]
    assert found['warnings'] == [
        'etcd-a: auto-compaction is off',
        'etcd-b: free disk of /data/etcd could not be read',
        'etcd-b: etcd_data_dir is /var/lib/etcd but the etcd process uses /data/etcd',
        'etcd-c: the etcd process serving %s was not found on this host (no etcd process on this host serves '
        'client port 2379): its settings and free disk were not checked (it needs become to read /proc of etcd)'
        % cluster.urls['etcd-c']]
    assert cluster.findings(reads, min_free_disk_ratio=0)['problems'] == []
    # From the controller, the members' processes are not looked for.
    assert cluster.findings(reads, run_from='controller')['warnings'][-1].startswith('etcd-b: etcd_data_dir')


def test_cluster_reads_of_each_host_own_run(cluster):
    hostvars = dict((host, dict(status_run=cluster.read(host))) for host in HOSTS)
    del hostvars['etcd-c']['status_run']
    reads = cluster_reads(HOSTS, hostvars, 'status_run', cluster.urls)
    assert reads['etcd-a'] == cluster.read('etcd-a') and reads['etcd-c'] == {}


def test_cluster_reads_split_one_run_over_every_member(cluster):
    whole = cluster.read('etcd-a')
    whole['members'] = [cluster.read(host)['members'][0] for host in HOSTS]
    whole['members'][2] = dict(member_entry(cluster.member('etcd-c'), None, [], cluster.leader_id),
                               endpoint=cluster.urls['etcd-c'], errors=['connection refused'])
    hostvars = dict((host, {}) for host in HOSTS)
    hostvars['etcd-a']['status_run'] = whole
    urls = dict((host, url + '/') for host, url in cluster.urls.items())
    reads = cluster_reads(HOSTS, hostvars, 'status_run', urls, 'etcd-a')
    assert reads['etcd-b']['members'] == [whole['members'][1]]
    assert reads['etcd-c'] == dict(endpoint=cluster.urls['etcd-c'], msg='connection refused')
    found = cluster.findings(reads)
    assert found['problems'] == ['member %s (host etcd-c, %s) does not answer: connection refused'
                                 % (cluster.member('etcd-c')['name'], cluster.urls['etcd-c'])]
    # The run failed as a whole: every host gets its message.
    hostvars['etcd-a']['status_run'] = dict(failed=True, msg='no member answers')
    reads = cluster_reads(HOSTS, hostvars, 'status_run', urls, 'etcd-a')
    assert reads['etcd-b'] == dict(failed=True, msg='no member answers', endpoint=cluster.urls['etcd-b'])


def test_bad_input_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='reads of every host'):
        preflight_findings({}, {}, HOSTS, 'main', {})
    with pytest.raises(AnsibleFilterError, match='not an etcd_status result'):
        preflight_findings(dict((h, {'members': [{}]}) for h in HOSTS), {}, HOSTS, 'main', {})
    with pytest.raises(AnsibleFilterError, match='cluster_reads takes'):
        cluster_reads('etcd-a', {}, 'status_run', {})


# -- the compaction rule, evaluated on each member -------------------------------------------------

DEFAULT_COMPACT_RULE = 'history > key_count'


def with_keys(cluster, keys):
    """``keys`` (host -> number of keys, as /metrics gave it) in the members' status."""
    for host, count in keys.items():
        cluster.statuses[cluster.member(host)['id']]['key_count'] = count
    return cluster


@pytest.mark.parametrize('version', RECORDED_VERSIONS)
def test_the_compaction_rule_is_evaluated_on_each_member(version):
    # The recorded clusters hold a history of 6 revisions (5 puts); a member that counts fewer keys
    # than that has history to drop.
    cluster = with_keys(Cluster(version), {'etcd-a': 5, 'etcd-b': 6, 'etcd-c': 7})
    found = cluster.findings(compact_rule=DEFAULT_COMPACT_RULE)
    assert found['problems'] == []
    assert [(m['host'], m['history'], m['key_count'], m['compact_due'], m['compact_reason'])
            for m in found['members']] == [
        ('etcd-a', 6, 5, True, 'maintenance_compact_rule matched (history 6, keys 5)'),
        ('etcd-b', 6, 6, False, 'maintenance_compact_rule did not match (history 6, keys 6)'),
        ('etcd-c', 6, 7, False, 'maintenance_compact_rule did not match (history 6, keys 7)')]
    # One rule does not decide for the other.
    assert all('defrag_due' not in m for m in found['members'])


def test_both_rules_at_once():
    cluster = with_keys(Cluster(RECORDED_VERSIONS[-1]), dict((h, 1) for h in HOSTS))
    found = cluster.findings(defrag_rule='is_leader', compact_rule=DEFAULT_COMPACT_RULE)
    assert [(m['defrag_due'], m['compact_due']) for m in found['members']] == [(True, True), (False, True),
                                                                               (False, True)]


def test_the_compaction_rule_says_nothing_of_a_member_whose_metrics_were_not_read(cluster):
    # keys (and history) are null where /metrics could not be read: not a problem, no answer.
    with_keys(cluster, {'etcd-a': 5, 'etcd-b': None})
    cluster.statuses[cluster.member('etcd-b')['id']]['history'] = None
    found = cluster.findings(compact_rule=DEFAULT_COMPACT_RULE)
    assert found['problems'] == []
    assert [m['compact_due'] for m in found['members']] == [True, None, None]
    name = cluster.member('etcd-b')['name']
    assert found['members'][1]['compact_reason'] == (
        "rule 'history > key_count' must give true or false, but gives None for member %s: compare with a value, "
        "for example fragmentation_ratio > `0.45`" % name)


def test_a_learner_counts_for_the_compaction():
    cluster = with_keys(Cluster(RECORDED_VERSIONS[-1]), {'etcd-a': 9, 'etcd-b': 9, 'etcd-c': 2})
    cluster.member_list[2]['is_learner'] = True
    found = cluster.findings(compact_rule=DEFAULT_COMPACT_RULE, defrag_rule='`true`')
    learner = found['members'][2]
    assert learner['is_learner'] is True
    assert (learner['compact_due'], learner['defrag_due']) == (True, False)


def test_a_member_down_gets_no_compaction_verdict():
    cluster = with_keys(Cluster(RECORDED_VERSIONS[-1]), dict((h, 1) for h in HOSTS))
    found = cluster.findings(cluster.reads(down=['etcd-c']), compact_rule=DEFAULT_COMPACT_RULE)
    assert [m.get('compact_due') for m in found['members']] == [True, True, None]
    assert 'compact_due' not in found['members'][2] and len(found['problems']) == 1


def test_a_compaction_rule_that_does_not_parse_is_the_problem_not_the_member():
    cluster = Cluster(RECORDED_VERSIONS[-1])
    found = cluster.findings(compact_rule='history >')
    assert len(found['problems']) == 1
    assert found['problems'][0].startswith(
        "maintenance_compact_rule cannot be used: rule 'history >' is not a valid JMESPath expression: ")
    assert all(m['reachable'] and 'compact_due' not in m for m in found['members'])
    # Each rule is its own problem.
    found = cluster.findings(compact_rule='history >', defrag_rule='db_size >')
    assert [p.split(':')[0] for p in found['problems']] == ['maintenance_defrag_rule cannot be used',
                                                            'maintenance_compact_rule cannot be used']


def test_a_compaction_rule_that_gives_no_boolean_leaves_the_members_undecided():
    found = Cluster(RECORDED_VERSIONS[-1]).findings(compact_rule='history')
    assert found['problems'] == []
    assert {m['compact_due'] for m in found['members']} == {None}
    assert all("must give true or false, but gives 6 for member" in m['compact_reason'] for m in found['members'])


def test_without_a_compaction_rule_nothing_is_said_of_the_compaction():
    found = with_keys(Cluster(RECORDED_VERSIONS[-1]), dict((h, 1) for h in HOSTS)).findings(compact_rule=None)
    assert all('compact_due' not in m and 'compact_reason' not in m for m in found['members'])


def test_no_jmespath_on_the_controller_is_the_compaction_rules_problem_too(monkeypatch):
    from ansible_collections.etcdops.etcd.plugins.module_utils import rules
    monkeypatch.setattr(rules, 'JMESPATH_IMPORT_ERROR', 'ImportError: No module named jmespath')
    found = Cluster(RECORDED_VERSIONS[-1]).findings(compact_rule=DEFAULT_COMPACT_RULE)
    assert found['problems'] == ['maintenance_compact_rule cannot be used: the Python package jmespath is missing '
                                 'on the controller, which evaluates the rule (pip install jmespath, as json_query '
                                 'needs it too)']
