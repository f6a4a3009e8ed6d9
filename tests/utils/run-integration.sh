#!/usr/bin/env bash
# For each etcd version: start the sandbox clusters (tests/utils/etcd_sandbox.py), run ansible-test integration
# against them, stop them. Every version runs even after a failure; the exit status is non-zero if any failed.
#   ETCD_VERSIONS  versions to fetch and test, as etcd_sandbox.py fetch --versions takes them (e.g. 3.4,latest);
#                  default: all it knows (3.4.x, 3.5.1, the newest 3.5.x)
#   TARGETS        integration targets to run (space separated); default: all
#   INTEGRATION_TIMEOUT  minutes one version may take (default 20): a hung target fails its version instead of
#                  running into CI's 90-minute limit, which would cut off every report
# Extra arguments go to ansible-test (e.g. --start-at etcd_defrag).
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sandbox() {
    python "$ROOT/tests/utils/etcd_sandbox.py" "$@"
}

use_venv
prepare_collection_tree integration
if [ -z "$(find "$COLLECTION_DIR/tests/integration/targets" -mindepth 1 -maxdepth 1 -type d -print -quit 2>/dev/null)" ]; then
    skip_stage integration "no integration targets yet"
fi

log "fetching etcd binaries"
bin_dirs=$("$ROOT/tests/utils/fetch-etcd.sh")
mapfile -t versions < <(python -c 'import json, sys; print("\n".join(json.load(sys.stdin)))' <<<"$bin_dirs")
read -r -a targets <<<"${TARGETS:-}"
timeout_minutes=${INTEGRATION_TIMEOUT:-20}

# ansible-test passes this file to every target as extra vars; etcd_sandbox.py up writes it.
config="$COLLECTION_DIR/tests/integration/integration_config.yml"
state=""
stop_sandbox() {
    if [ -n "$state" ]; then
        sandbox down --state "$state" || log "could not stop the sandbox of $state"
        state=""
    fi
    rm -f "$config"
}
on_exit stop_sandbox

summary=()
failed=0
for version in "${versions[@]}"; do
    started=$SECONDS
    result=pass
    note=""
    state="$COLLECTIONS_ROOT/etcd-$version.state"
    # A run that was killed outright may have left its clusters behind; up refuses to start beside them.
    sandbox down --state "$state" >/dev/null 2>&1 || true
    log "etcd $version: starting the sandbox clusters"
    if sandbox up --version "$version" --state "$state" --vars "$config" >"$COLLECTIONS_ROOT/etcd-$version.up.json"; then
        log "etcd $version: ansible-test integration ${targets[*]:-(all targets)}"
        # ansible-test's inventory for --local points ansible_python_interpreter at the Python it runs with
        # (.venv), so interpreter discovery never meets pyenv's shims.
        test_status=0
        (cd "$COLLECTION_DIR" &&
            timeout --kill-after=60 "${timeout_minutes}m" \
                ansible-test integration --local --python "$TEST_PYTHON_VERSION" --continue-on-error -v \
                "${targets[@]}" "$@") || test_status=$?
        case $test_status in
            0) ;;
            124 | 137) result=fail note="timed out after $timeout_minutes minutes" ;;
            *) result=fail note="ansible-test integration failed" ;;
        esac
    else
        result=fail
        note="the sandbox did not start"
    fi
    stop_sandbox
    seconds=$((SECONDS - started))
    record_stage "integration etcd $version" "$result" "$seconds" "$note"
    summary+=("$(printf 'etcd %-8s %-4s %5ss %s' "$version" "$result" "$seconds" "$note")")
    if [ "$result" = fail ]; then
        failed=$((failed + 1))
    fi
done

log "integration summary:"
printf '    %s\n' "${summary[@]}" >&2
[ "$failed" -eq 0 ]
