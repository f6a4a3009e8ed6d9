# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Normalisation of etcd answers: inline samples are copies of real 3.5.1 answers; the
fixture-driven tests read every answer recorded from real clusters (tests/utils/record_responses.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import api
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import (
    RECORDED_VERSIONS,
    load,
)

STATUS_351 = {
    "header": {"cluster_id": "11768394255154444096", "member_id": "3319814642761637952", "revision": "1",
               "raft_term": "2"},
    "version": "3.5.1", "dbSize": "20480", "leader": "3319814642761637952", "raftIndex": "8", "raftTerm": "2",
    "raftAppliedIndex": "8", "dbSizeInUse": "16384",
}


def test_member_ids_are_16_hex_digits_like_etcdctl():
    assert api.member_id_hex("3319814642761637952") == "2e1259d415f2a040"
    assert api.member_id_hex("185828541645115251") == "02943212f5e2cf73"
    assert api.member_id_hex(None) is None
    assert api.member_id_hex("0") is None


@pytest.mark.parametrize("given", ["2e1259d415f2a040", "0x2E1259D415F2A040", 3319814642761637952])
def test_member_id_int_accepts_hex_and_numbers(given):
    assert api.member_id_int(given) == 3319814642761637952


def test_parse_status_turns_strings_into_numbers_and_computes_free_space():
    status = api.parse_status(STATUS_351)
    assert status["id"] == "2e1259d415f2a040"
    assert status["leader"] == "2e1259d415f2a040"
    assert status["is_leader"] is True
    assert status["is_learner"] is False
    assert status["db_size"] == 20480
    assert status["db_size_in_use"] == 16384
    assert status["db_size_free"] == 4096
    assert status["fragmentation_ratio"] == 0.2
    assert (status["raft_index"], status["raft_applied_index"], status["raft_term"]) == (8, 8, 2)
    assert status["revision"] == 1
    assert status["errors"] == []
    assert status["db_size_quota"] == 0


def test_parse_status_reads_snake_case_as_a_grpc_transport_would_give_it():
    snake = {"header": {"member_id": "5"}, "db_size": "100", "db_size_in_use": "40", "raft_applied_index": "7",
             "is_learner": True, "leader": "6"}
    status = api.parse_status(snake)
    assert (status["db_size"], status["db_size_in_use"], status["raft_applied_index"]) == (100, 40, 7)
    assert status["is_learner"] is True
    assert status["is_leader"] is False


def test_status_without_db_size_in_use_counts_everything_as_used():
    status = api.parse_status({"header": {"member_id": "1"}, "dbSize": "100"})
    assert status["db_size_in_use"] == 100
    assert status["db_size_free"] == 0


def test_fragmentation_of_an_empty_file_is_zero():
    assert api.fragmentation_ratio(0, 0) == 0.0


def test_alarm_reports_in_status_errors_are_told_apart_from_real_errors():
    errors = ["memberID:10276657743932975437 alarm:NOSPACE ", "some raft trouble"]
    assert api.alarms_in_errors(errors) == ["NOSPACE"]
    assert api.non_alarm_errors(errors) == ["some raft trouble"]


@pytest.mark.parametrize("body, expected", [
    ('{"error":"etcdserver: mvcc: database space exceeded","message":"etcdserver: mvcc: database space exceeded",'
     '"code":8}', ("etcdserver: mvcc: database space exceeded", 8)),
    ('{"code":11,"message":"etcdserver: mvcc: required revision has been compacted"}',
     ("etcdserver: mvcc: required revision has been compacted", 11)),
    ("404 page not found\n", (None, None)),
    ("<html>hello</html>", (None, None)),
    ('["not", "an", "object"]', (None, None)),
    ('{"foo": 1}', (None, None)),
])
def test_error_message_reads_both_error_body_formats(body, expected):
    assert api.error_message(body) == expected


def test_parse_alarms_skips_none_and_sorts():
    answer = {"header": {}, "alarms": [{"memberID": "3319814642761637952", "alarm": "NOSPACE"},
                                       {"memberID": "185828541645115251", "alarm": "CORRUPT"},
                                       {"memberID": "185828541645115251"}]}
    assert api.parse_alarms(answer) == [
        {"member_id": "02943212f5e2cf73", "alarm": "CORRUPT"},
        {"member_id": "2e1259d415f2a040", "alarm": "NOSPACE"},
    ]
    assert api.parse_alarms({"header": {}}) == []


def test_quota_from_metrics():
    text = ("# HELP etcd_server_quota_backend_bytes Current backend storage quota size in bytes.\n"
            "# TYPE etcd_server_quota_backend_bytes gauge\n"
            "etcd_server_quota_backend_bytes 1.6777216e+07\n")
    assert api.quota_from_metrics(text) == 16777216
    assert api.quota_from_metrics("etcd_server_has_leader 1\n") is None


def test_quota_usage():
    assert api.quota_usage(8388608, 16777216) == 0.5
    assert api.quota_usage(10, None) is None


# -- answers recorded from real clusters, every version ---------------------------------------

def test_recorded_versions_are_there():
    # The fixture-driven tests below are only worth something if there are recordings.
    assert len(RECORDED_VERSIONS) >= 3


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_recorded_status_parses(version):
    recorded = load(version, "status_leader")
    status = api.parse_status(recorded["json"])
    assert status["version"] == version
    assert status["id"] and len(status["id"]) == 16
    assert status["is_leader"] is True
    assert status["db_size"] > 0
    assert 0 < status["db_size_in_use"] <= status["db_size"]
    assert status["raft_applied_index"] > 0
    follower = api.parse_status(load(version, "status_follower")["json"])
    assert follower["is_leader"] is False
    assert follower["leader"] == status["id"]


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_recorded_member_list_parses(version):
    members = api.parse_member_list(load(version, "member_list")["json"])
    assert len(members) >= 3
    for member in members:
        assert len(member["id"]) == 16
        assert member["name"]
        assert member["client_urls"][0].startswith("http")
        assert member["peer_urls"][0].startswith("http")


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_recorded_alarms_parse(version):
    assert api.parse_alarms(load(version, "alarm_list_none")["json"]) == []
    active = api.parse_alarms(load(version, "alarm_list_nospace")["json"])
    assert active and all(a["alarm"] == "NOSPACE" and len(a["member_id"]) == 16 for a in active)


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_recorded_metrics_give_the_quota(version):
    assert api.quota_from_metrics(load(version, "metrics_quota")["body"]) > 0


def test_etcd_36_status_shape():
    status = api.parse_status(load("3.6", "status")["json"])
    assert status["db_size_quota"] > 0
    assert status["storage_version"]
    assert status["db_size_free"] == status["db_size"] - status["db_size_in_use"]


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_recorded_learner(version):
    assert api.parse_status(load(version, "status_learner")["json"])["is_learner"] is True
    members = api.parse_member_list(load(version, "member_list_with_learner")["json"])
    assert [m["is_learner"] for m in members].count(True) == 1


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_recorded_nospace_status_reports_the_alarm_in_errors(version):
    status = api.parse_status(load(version, "status_nospace")["json"])
    # 3.4.23 recorded every member's alarm in each member's status; 3.5 only the member's own.
    assert set(api.alarms_in_errors(status["errors"])) == {"NOSPACE"}
    assert api.non_alarm_errors(status["errors"]) == []
    assert api.quota_from_metrics(load(version, "metrics_quota_nospace")["body"]) == 16777216


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_alarms_from_status_errors_match_the_alarm_list(version):
    # Recorded in the same NOSPACE state: the status errors and the alarm RPC agree.
    from_status = api.alarms_from_errors(api.parse_status(load(version, "status_nospace")["json"])["errors"])
    from_rpc = api.parse_alarms(load(version, "alarm_list_nospace")["json"])
    assert from_status == from_rpc


def test_alarms_from_errors_ignores_other_errors_and_duplicates():
    errors = ["memberID:3319814642761637952 alarm:NOSPACE ", "raft: something",
              "memberID:3319814642761637952 alarm:NOSPACE ", "memberID:185828541645115251 alarm:CORRUPT "]
    assert api.alarms_from_errors(errors) == [
        {"member_id": "02943212f5e2cf73", "alarm": "CORRUPT"},
        {"member_id": "2e1259d415f2a040", "alarm": "NOSPACE"},
    ]
