# Copyright: etcdops maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Records what a maintenance run did, and can kill a member mid-run (test helper).

Not part of the collection: the maintenance target's runme.sh enables it for each run of the
maintenance playbook. The verify plays read the record instead of parsing the run's output, so the
test does not depend on the role's task names, only on which etcdops.etcd modules ran and what
they returned.
"""

from __future__ import annotations

import json
import os
import subprocess

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: maintenance_record
type: aggregate
short_description: record the etcd module calls of a run; optionally kill a member (test helper)
description:
  - Writes to the file named by E(MAINTENANCE_TEST_RECORD) a JSON object with C(calls), every
    etcdops.etcd module result in the order the results came in (C(action) without the collection
    prefix, C(host), C(changed), C(failed), C(members), the names of the members the call was
    about, C(compacted), whether it compacted the history (etcd_compact, or etcd_defrag with
    its option compact)), and C(stats), the play recap per host.
  - When E(MAINTENANCE_TEST_KILL) holds a command (a JSON argv list), runs it once, right after the
    first etcdops.etcd.etcd_defrag call that changed something. Callbacks run on the controller
    before the strategy queues the next task, so the kill lands between two members' turns without
    any timing. Its exit code goes into the record as C(kill_rc).
requirements:
  - enable in configuration
"""

PREFIX = "etcdops.etcd."


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "maintenance_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._record = {"calls": [], "stats": {}, "kill_rc": None}
        kill = os.environ.get("MAINTENANCE_TEST_KILL")
        self._kill = json.loads(kill) if kill else None

    def _add(self, result, failed):
        action = result._task.action
        outcome = result._result
        if not action.startswith(PREFIX) or "results" in outcome:
            return
        changed = bool(outcome.get("changed"))
        if action == PREFIX + "etcd_compact":
            compacted = changed
        else:
            compacted = bool((outcome.get("compaction") or {}).get("changed"))
        self._record["calls"].append({
            "action": action[len(PREFIX):],
            "host": result._host.get_name(),
            "changed": changed,
            "failed": failed,
            "members": [{"name": m.get("name"), "leader_moved_to": m.get("leader_moved_to")}
                        for m in outcome.get("members") or []],
            "leader_name": outcome.get("leader_name"),
            "compacted": compacted,
        })
        if self._kill and action == PREFIX + "etcd_defrag" and changed and not failed:
            proc = subprocess.run(self._kill, capture_output=True, text=True, timeout=120, check=False)
            self._record["kill_rc"] = proc.returncode
            self._record["kill_stderr"] = proc.stderr[-2000:]
            self._display.display("maintenance_record: killed after {}: {} (exit code {})".format(
                [m["name"] for m in self._record["calls"][-1]["members"]], " ".join(self._kill[2:]), proc.returncode))
            self._kill = None

    def v2_runner_on_ok(self, result):
        self._add(result, failed=False)

    def v2_runner_item_on_ok(self, result):
        self._add(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add(result, failed=True)

    def v2_runner_item_on_failed(self, result):
        self._add(result, failed=True)

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed):
            self._record["stats"][host] = stats.summarize(host)
        with open(os.environ["MAINTENANCE_TEST_RECORD"], "w") as handle:
            json.dump(self._record, handle, indent=1)
