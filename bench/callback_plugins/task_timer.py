# Copyright: etcdops maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Records when every task and every host's run of it started and ended, for bench/maintenance_vs_etcdctl.py.

Not part of the collection: ansible-core has no timing callback (profile_tasks lives in ansible.posix), so the
benchmark enables this one with ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=task_timer, and reads the JSON it writes to $BENCH_TASK_TIMER_FILE at the end.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_timer
type: aggregate
short_description: write per-task and per-host timings as JSON (benchmark helper)
description:
  - Writes the timings to the file named by the environment variable E(BENCH_TASK_TIMER_FILE).
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._started = time.time()
        self._tasks = []
        self._by_uuid = {}

    def _now(self):
        return round(time.time() - self._started, 4)

    def _task(self, task):
        entry = self._by_uuid.get(task._uuid)
        if entry is None:
            entry = {"name": task.get_name(), "action": task.action, "path": task.get_path() or "",
                     "start": self._now(), "hosts": {}}
            self._by_uuid[task._uuid] = entry
            self._tasks.append(entry)
        return entry

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task)

    def v2_runner_on_start(self, host, task):
        self._task(task)["hosts"][host.get_name()] = {"start": self._now()}

    def _end(self, result, status):
        host = self._task(result._task)["hosts"].setdefault(result._host.get_name(), {"start": self._now()})
        host.update(end=self._now(), status=status, delegated=bool(result._task.delegate_to),
                    items=len(result._result.get("results", [])) if isinstance(result._result, dict) else 0)

    def v2_runner_on_ok(self, result):
        self._end(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._end(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._end(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_TASK_TIMER_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump({"started": self._started, "end": self._now(), "tasks": self._tasks}, handle, indent=1)
