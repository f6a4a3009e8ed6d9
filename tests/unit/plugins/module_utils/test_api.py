# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Normalisation of etcd answers: inline samples are copies of real 3.5.1 answers; the
fixture-driven tests read every answer recorded from real clusters (tests/utils/record_responses.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import api
from ansible_collections.etcdops.etcd.tests.unit.plugins.module_utils.recorded import (
    RECORDED_VERSIONS,
    VERSIONS_36,
    VERSIONS_BEFORE_36,
    load,
    version_tuple,
    versions_with,
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
    assert api.alarms_from_errors(errors) == [{"member_id": "8e9e05c52164694d", "alarm": "NOSPACE"}]
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
    assert len(RECORDED_VERSIONS) >= 5
    assert len(VERSIONS_36) >= 2 and len(VERSIONS_BEFORE_36) >= 3


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


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_recorded_learner(version):
    assert api.parse_status(load(version, "status_learner")["json"])["is_learner"] is True
    members = api.parse_member_list(load(version, "member_list_with_learner")["json"])
    assert [m["is_learner"] for m in members].count(True) == 1


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_recorded_nospace_status_reports_the_alarm_in_errors(version):
    status = api.parse_status(load(version, "status_nospace")["json"])
    # Each lists the alarms active when it was recorded (one member's or several, as it happened);
    # 3.7.3 spells them "memberID:<id>  alarm:NOSPACE" (two spaces, none at the end), older ones
    # "memberID:<id> alarm:NOSPACE ".
    assert {alarm["alarm"] for alarm in api.alarms_from_errors(status["errors"])} == {"NOSPACE"}
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


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_deactivate_answers_the_pair_it_deactivated_not_the_alarms_left(version):
    # Recorded with NOSPACE raised on one or more members (3.4.23: three, 3.6.16: two, 3.7.3: three):
    # the DEACTIVATE answer lists only the pair it removed, whatever else is still active.
    request = load(version, "alarm_deactivate")
    answer = api.parse_alarms(request["json"])
    assert answer == [{"member_id": api.member_id_hex(request["request"]["body"]["memberID"]), "alarm": "NOSPACE"}]
    assert answer[0] in api.parse_alarms(load(version, "alarm_list_nospace")["json"])


# -- etcd 3.6 and later: storageVersion, dbSizeQuota, downgradeInfo -----------------------------

NO_DOWNGRADE = {"enabled": False, "target_version": None}


def own_storage_version(version):
    return "%d.%d.0" % version_tuple(version)[:2]


@pytest.mark.parametrize("version", VERSIONS_36)
def test_status_of_36_reports_quota_storage_version_and_no_downgrade(version):
    for name in ("status_leader", "status_follower", "status_learner", "auth_root_status"):
        status = api.parse_status(load(version, name)["json"])
        # Without --quota-backend-bytes, 3.6.6 and later report the quota in force: etcd's 2 GiB default.
        assert status["db_size_quota"] == api.DEFAULT_QUOTA_BYTES, name
        # Recorded once settled: a member that has just started or joined reports 3.5.0 for a few seconds.
        assert status["storage_version"] == own_storage_version(version), name
        # protojson leaves an inactive downgrade as {}.
        assert load(version, name)["json"]["downgradeInfo"] == {}
        assert status["downgrade_info"] == NO_DOWNGRADE, name


@pytest.mark.parametrize("version", VERSIONS_36)
def test_status_of_a_member_started_with_a_quota(version):
    for name in ("status_quota", "status_nospace"):
        status = api.parse_status(load(version, name)["json"])
        assert status["db_size_quota"] == 16 * 1024 * 1024, name
        assert api.quota_usage(status["db_size"], status["db_size_quota"]) > 0
    nospace = api.parse_status(load(version, "status_nospace")["json"])
    assert nospace["db_size"] > 0.9 * nospace["db_size_quota"]


@pytest.mark.parametrize("version", VERSIONS_BEFORE_36)
def test_status_before_36_has_none_of_the_36_fields(version):
    for name in ("status_leader", "status_nospace"):
        raw = load(version, name)["json"]
        assert not {"dbSizeQuota", "storageVersion", "downgradeInfo"} & set(raw)
        status = api.parse_status(raw)
        assert status["db_size_quota"] == 0
        assert status["storage_version"] is None
        assert status["downgrade_info"] == NO_DOWNGRADE


@pytest.mark.parametrize("version", versions_with("status_downgrade"))
def test_status_during_a_downgrade(version):
    # Recorded after `etcdctl downgrade validate/enable <previous minor>` (then cancelled).
    major, minor = version_tuple(version)[:2]
    target = "%d.%d.0" % (major, minor - 1)
    raw = load(version, "status_downgrade")["json"]
    assert api.parse_downgrade_info(raw["downgradeInfo"]) == {"enabled": True, "target_version": target}
    status = api.parse_status(raw)
    assert status["downgrade_info"] == {"enabled": True, "target_version": target}
    # Within seconds of the enable, the leader lowers the storage version to the target's.
    assert status["is_leader"] and status["storage_version"] == target
    assert status["version"] == version


def test_every_36_version_recorded_a_downgrade():
    assert versions_with("status_downgrade") == VERSIONS_36


@pytest.mark.parametrize("given, expected", [
    (None, NO_DOWNGRADE),
    ({}, NO_DOWNGRADE),
    ({"targetVersion": "3.5.0"}, {"enabled": False, "target_version": "3.5.0"}),
    ({"enabled": True}, {"enabled": True, "target_version": None}),
    ({"enabled": True, "target_version": "3.5.0"}, {"enabled": True, "target_version": "3.5.0"}),
    ("not an object", NO_DOWNGRADE),
])
def test_parse_downgrade_info_tolerates_omitted_fields_and_snake_case(given, expected):
    assert api.parse_downgrade_info(given) == expected


# -- every field read tolerates omitted zero/false fields and int64 as strings or numbers ---------

STATUS_RECORDINGS = ("status_leader", "status_follower", "status_learner", "status_nospace", "status_quota",
                     "status_downgrade", "auth_root_status")

# JSON field of a StatusResponse -> (key of parse_status, its value when the field is omitted).
STATUS_FIELDS = {
    "version": ("version", None),
    "dbSize": ("db_size", 0),
    "dbSizeInUse": ("db_size_in_use", "db_size"),  # unknown counts as all in use
    "leader": ("leader", None),
    "raftIndex": ("raft_index", 0),
    "raftTerm": ("raft_term", 0),
    "raftAppliedIndex": ("raft_applied_index", 0),
    "isLearner": ("is_learner", False),
    "errors": ("errors", []),
    "dbSizeQuota": ("db_size_quota", 0),
    "storageVersion": ("storage_version", None),
    "downgradeInfo": ("downgrade_info", NO_DOWNGRADE),
}
HEADER_FIELDS = {
    "member_id": ("id", None),
    "cluster_id": ("cluster_id", None),
    "revision": ("revision", 0),
    "raft_term": (None, None),  # not read
}


def status_cases():
    return [(version, name) for name in STATUS_RECORDINGS for version in versions_with(name)]


def numbers_for_strings(value):
    """The answer as a transport that sends int64 as JSON numbers would give it."""
    if isinstance(value, dict):
        return dict((k, numbers_for_strings(v)) for k, v in value.items())
    if isinstance(value, list):
        return [numbers_for_strings(v) for v in value]
    if isinstance(value, str) and re.match(r"^-?\d+$", value):
        return int(value)
    return value


def test_an_empty_status_parses_to_the_defaults():
    status = api.parse_status({})
    for key, default in list(STATUS_FIELDS.values()) + list(HEADER_FIELDS.values()):
        if key is not None:
            assert status[key] == (status[default] if default == "db_size" else default), key
    assert (status["db_size_free"], status["fragmentation_ratio"], status["is_leader"]) == (0, 0.0, False)


@pytest.mark.parametrize("version, name", status_cases())
def test_every_status_field_may_be_omitted(version, name):
    raw = load(version, name)["json"]
    # Every field etcd sent is one parse_status knows: a new field of a new version shows up here.
    assert set(raw) - {"header"} <= set(STATUS_FIELDS), set(raw) - set(STATUS_FIELDS)
    assert set(raw["header"]) <= set(HEADER_FIELDS)
    full = api.parse_status(raw)
    for field, (key, default) in STATUS_FIELDS.items():
        trimmed = copy.deepcopy(raw)
        trimmed.pop(field, None)
        status = api.parse_status(trimmed)
        assert status[key] == (status["db_size"] if default == "db_size" else default), (field, status[key])
        assert set(status) == set(full)
    for field, (key, default) in HEADER_FIELDS.items():
        trimmed = copy.deepcopy(raw)
        trimmed["header"].pop(field, None)
        status = api.parse_status(trimmed)
        if key is not None:
            assert status[key] == default, field
    assert api.parse_status(dict(raw, header={}))["is_leader"] is False


@pytest.mark.parametrize("version, name", status_cases())
def test_status_reads_int64_as_strings_or_as_numbers(version, name):
    raw = load(version, name)["json"]
    # proto3 JSON: every int64/uint64 of a status (sizes, indexes, ids) is a string.
    for field in ("dbSize", "dbSizeInUse", "leader", "raftIndex", "raftTerm", "raftAppliedIndex", "dbSizeQuota"):
        if field in raw:
            assert isinstance(raw[field], str), field
    assert all(isinstance(v, str) for v in raw["header"].values())
    status = api.parse_status(raw)
    for key in ("db_size", "db_size_in_use", "db_size_free", "raft_index", "raft_term", "raft_applied_index",
                "revision", "db_size_quota"):
        assert isinstance(status[key], int) and not isinstance(status[key], bool), key
    assert api.parse_status(numbers_for_strings(raw)) == status


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_member_list_tolerates_omitted_fields(version):
    raw = load(version, "member_list_with_learner")["json"]
    assert all(isinstance(m["ID"], str) for m in raw["members"])
    # protojson leaves isLearner out for voters; a member added but not started yet has no name
    # and no client URLs.
    assert ["isLearner" in m for m in raw["members"]].count(True) == 1
    parsed = api.parse_member_list(raw)
    assert api.parse_member_list(numbers_for_strings(raw)) == parsed
    for field, key, default in (("name", "name", ""), ("clientURLs", "client_urls", []),
                                ("peerURLs", "peer_urls", []), ("isLearner", "is_learner", False),
                                ("ID", "id", None)):
        trimmed = copy.deepcopy(raw)
        for member in trimmed["members"]:
            member.pop(field, None)
        assert [m[key] for m in api.parse_member_list(trimmed)] == [default] * len(parsed), field
    assert api.parse_member_list({"header": raw["header"]}) == []


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_alarms_tolerate_omitted_fields(version):
    raw = load(version, "alarm_list_nospace")["json"]
    parsed = api.parse_alarms(raw)
    assert api.parse_alarms(numbers_for_strings(raw)) == parsed
    no_member = copy.deepcopy(raw)
    for alarm in no_member["alarms"]:
        alarm.pop("memberID")  # member 0
    assert {a["member_id"] for a in api.parse_alarms(no_member)} == {"0000000000000000"}
    no_alarm = copy.deepcopy(raw)
    for alarm in no_alarm["alarms"]:
        alarm.pop("alarm")  # NONE, the enum's zero
    assert api.parse_alarms(no_alarm) == []


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_headers_of_every_answer_parse(version):
    for name in ("put", "range", "status_leader", "member_list", "alarm_list_none", "hash", "compaction"):
        raw = load(version, name)["json"]
        if "header" not in raw:
            assert version == "3.4.23" and name == "alarm_list_none" and raw == {}  # 3.4: no header at all
            continue
        header = api.parse_header(raw)
        assert api.parse_header(numbers_for_strings(raw)) == header
        assert len(header["cluster_id"]) == 16 and len(header["member_id"]) == 16, name
        if name != "member_list":  # a member list's header has no revision
            assert header["revision"] > 0, name
    assert api.parse_header({}) == {"cluster_id": None, "member_id": None, "revision": 0, "raft_term": 0}


# -- /metrics -------------------------------------------------------------------------------------

def metric(text, name):
    match = re.search(r"^%s\s+(\S+)$" % name, text, re.MULTILINE)
    return None if match is None else int(float(match.group(1)))


@pytest.mark.parametrize("version", versions_with("metrics_revisions"))
def test_recorded_revision_metrics(version):
    # What a compaction would drop is current minus compact revision; -1 before the first compaction.
    before = load(version, "metrics_revisions")["body"]
    after = load(version, "metrics_revisions_compacted")["body"]
    compaction = load(version, "compaction")
    assert metric(before, "etcd_debugging_mvcc_compact_revision") == -1
    assert metric(after, "etcd_debugging_mvcc_compact_revision") == compaction["request"]["body"]["revision"]
    current = api.parse_header(compaction["json"])["revision"]
    assert metric(before, "etcd_debugging_mvcc_current_revision") == current
    assert metric(after, "etcd_debugging_mvcc_current_revision") == current
    # Cut to those lines: nothing there for the quota reader to pick up.
    assert api.quota_from_metrics(before) is None


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_recorded_quota_metrics(version):
    assert api.quota_from_metrics(load(version, "metrics_quota")["body"]) == api.DEFAULT_QUOTA_BYTES
    assert api.quota_from_metrics(load(version, "metrics_quota_nospace")["body"]) == 16 * 1024 * 1024


# -- the history a member keeps, from /metrics ---------------------------------------------------------

@pytest.mark.parametrize("version", versions_with("metrics_revisions"))
def test_recorded_metrics_give_the_compacted_revision(version):
    # Recorded before and after a compaction to the revision before the current one.
    before = load(version, "metrics_revisions")["body"]
    after = load(version, "metrics_revisions_compacted")["body"]
    current = api.metric_value(before, "etcd_debugging_mvcc_current_revision")
    assert api.compact_revision_from_metrics(before) == -1
    assert api.compact_revision_from_metrics(after) == current - 1
    assert api.metric_value(after, "etcd_debugging_mvcc_current_revision") == current


def test_every_version_has_the_revision_metrics_recorded_but_3_5_1():
    # 3.5.1 was recorded before the case existed; the versions the tests run against all have it.
    assert set(RECORDED_VERSIONS) - set(versions_with("metrics_revisions")) <= {"3.5.1"}


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_metrics_without_the_revision_lines_give_none(version):
    assert api.compact_revision_from_metrics(load(version, "metrics_quota")["body"]) is None


@pytest.mark.parametrize("text, expected", [
    ("etcd_debugging_mvcc_compact_revision 6\n", 6),
    ("etcd_debugging_mvcc_compact_revision -1\n", -1),
    ("etcd_debugging_mvcc_compact_revision 1.2345e+06\n", 1234500),
    ('etcd_debugging_mvcc_compact_revision{cluster="a"} 9\n', 9),
    # Another metric whose name starts the same is not it.
    ("etcd_debugging_mvcc_compact_revision_total 9\n", None),
    ("# HELP etcd_debugging_mvcc_compact_revision The revision of the last compaction in store.\n", None),
    ("etcd_debugging_mvcc_compact_revision NaN\n", None),
    ("etcd_debugging_mvcc_compact_revision +Inf\n", None),
    ("", None),
    (b"etcd_debugging_mvcc_compact_revision 3\n", 3),
])
def test_compact_revision_from_metrics_text(text, expected):
    assert api.compact_revision_from_metrics(text) == expected


@pytest.mark.parametrize("revision, compact_revision, expected", [
    (7, 6, 1),
    (7, 7, 0),
    (7, -1, 6),  # never compacted: the history starts at revision 1, the empty store
    (1, -1, 0),
    (5, 6, 0),  # compacted after the status was read: no negative history
    (7, None, None),
    (None, 6, None),
])
def test_history(revision, compact_revision, expected):
    assert api.history(revision, compact_revision) == expected


# -- the number of keys, from /metrics -------------------------------------------------------------

# The lines etcd 3.4 to 3.7 write for the key gauge (server/storage/mvcc/metrics.go: keysGauge). No
# recorded page holds them (the recordings are cut to the quota and revision lines): they are added
# to the recorded revision page of each version.
KEYS_LINES = ("# HELP etcd_debugging_mvcc_keys_total Total number of keys.\n"
              "# TYPE etcd_debugging_mvcc_keys_total gauge\n"
              "etcd_debugging_mvcc_keys_total %s\n")


@pytest.mark.parametrize("version", versions_with("metrics_revisions"))
def test_keys_from_a_recorded_page_with_the_key_gauge(version):
    recorded = load(version, "metrics_revisions")["body"]
    assert api.keys_from_metrics(recorded) is None
    page = recorded + KEYS_LINES % "1204"
    assert api.keys_from_metrics(page) == 1204
    # The other readers of the page are not disturbed by it.
    assert api.compact_revision_from_metrics(page) == -1
    assert api.metric_value(page, "etcd_debugging_mvcc_current_revision") == api.metric_value(
        recorded, "etcd_debugging_mvcc_current_revision")


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_recorded_pages_without_the_key_gauge_give_none(version):
    for name in ("metrics_quota", "metrics_quota_nospace"):
        assert api.keys_from_metrics(load(version, name)["body"]) is None


@pytest.mark.parametrize("text, expected", [
    (KEYS_LINES % "0", 0),
    (KEYS_LINES % "7", 7),
    (KEYS_LINES % "1.2345e+06", 1234500),
    (b"etcd_debugging_mvcc_keys_total 3\n", 3),
    # Other gauges of the same subsystem are not it.
    ("etcd_debugging_mvcc_total_put_size_in_bytes 9\netcd_debugging_mvcc_db_total_size_in_bytes 9\n", None),
    ("etcd_debugging_mvcc_keys_total_other 9\n", None),
    ("# HELP etcd_debugging_mvcc_keys_total Total number of keys.\n", None),
    ("etcd_debugging_mvcc_keys_total NaN\n", None),
    ("", None),
])
def test_keys_from_metrics_text(text, expected):
    assert api.keys_from_metrics(text) == expected


@pytest.mark.parametrize('hashes, equal, compared, not_comparable', [
    ({}, None, [], {}),
    ({'a': dict(hash=1, compact_revision=4)}, None, ['a'], {}),
    ({'a': dict(hash=1, compact_revision=4), 'b': dict(hash=1, compact_revision=4)}, True, ['a', 'b'], {}),
    ({'a': dict(hash=1, compact_revision=4), 'b': dict(hash=2, compact_revision=4)}, False, ['a', 'b'], {}),
    # Measured on 3.6.16: a member restarted since the compaction to 47 hashes after 47, the others after 41.
    ({'a': dict(hash=4006997018, compact_revision=41), 'b': dict(hash=1923810310, compact_revision=47),
      'c': dict(hash=4006997018, compact_revision=41)}, True, ['a', 'c'], {'b': 47}),
    # A tie: the newest compact revision is compared.
    ({'a': dict(hash=1, compact_revision=41), 'b': dict(hash=2, compact_revision=47)}, None, ['b'], {'a': 41}),
])
def test_only_hashes_over_the_same_range_are_compared(hashes, equal, compared, not_comparable):
    result = api.compare_hashes(hashes)
    assert (result['equal'], result['compared'], result['not_comparable']) == (equal, compared, not_comparable)
