#!/usr/bin/env bash
# Puts the etcd binaries the integration tests use into .cache/etcd/ (a no-op when they are there) and prints
# the JSON map {version: bin dir}. ETCD_VERSIONS picks versions, as etcd_sandbox.py fetch --versions takes them.
# A version that cannot be had is named on stderr (and in ETCD_MISSING_FILE, JSON, when set); the exit status
# is non-zero only when none could be had.
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

use_venv
fetch_args=()
if [ -n "${ETCD_VERSIONS:-}" ]; then
    fetch_args=(--versions "$ETCD_VERSIONS")
fi
if [ -n "${ETCD_MISSING_FILE:-}" ]; then
    fetch_args+=(--missing "$ETCD_MISSING_FILE")
fi
python "$ROOT/tests/utils/etcd_sandbox.py" fetch "${fetch_args[@]}"
