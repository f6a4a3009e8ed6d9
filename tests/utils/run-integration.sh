#!/usr/bin/env bash
# For each etcd version: start the sandbox clusters (tests/utils/etcd_sandbox.py), run each ansible-test
# integration target against them, stop them. Every version and every target runs even after a failure; the
# summary gives each target's result and time, and the exit status is non-zero if anything failed.
#   ETCD_VERSIONS        versions to fetch and test, as etcd_sandbox.py fetch --versions takes them
#                        (e.g. 3.4,latest); default: the matrix (3.4.x, the newest 3.5.x, and the 3.6.x and
#                        3.7.x of tests/utils/etcd-build/VERSIONS, built with Go); 3.5.1 on request.
#                        A version that cannot be had (no Go, no proxy) is recorded as skipped, with the reason.
#   TARGETS              integration targets to run (space separated); default: all
#   MAINTENANCE_SCENARIOS  the target maintenance's scenarios to run (space separated, see its runme.sh);
#                        default: all
#   INTEGRATION_TIMEOUT  minutes one target may take (default 20): a hung target fails alone instead of
#                        running into CI's 90-minute limit, which would cut off every report
#   ANSIBLE_CORE         the ansible-core cell (see lib.sh): empty for .venv's 2.19, or 2.17 (.venv-2.17,
#                        Python 3.11) or 2.21 (.venv-2.21, Python 3.13); ansible-test and the playbooks run with
#                        that venv's ansible-core and Python. The recorded stage names say the cell and the
#                        TARGETS, e.g. "integration etcd 3.6.16 ansible-core 2.21 (maintenance)".
#   ETCD_TRANSPORT       the modules' transport option for every target: auto (the default: the JSON gateway,
#                        gRPC where the gateway is off or refuses a CommonName certificate), http or grpc;
#                        written to the vars file as etcd_transport (etcd_sandbox.py up --transport). Another
#                        than auto is named in the stage names, e.g. "integration etcd 3.6.16 grpc (etcd_status)",
#                        and works in .build/integration-<transport>/.
# Extra arguments go to each ansible-test call (e.g. -vvv).
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sandbox() {
    python "$ROOT/tests/utils/etcd_sandbox.py" "$@"
}

select_ansible_core "${ANSIBLE_CORE:-}"
transport=${ETCD_TRANSPORT:-auto}
case $transport in
    auto) transport_label="" transport_dir="" ;;
    http | grpc) transport_label=" $transport" transport_dir="-$transport" ;;
    *) die "ETCD_TRANSPORT=$transport: the modules' transports are auto (the default), http and grpc" ;;
esac
targets_label=${TARGETS:+ ($TARGETS)}
# The name of the stage that tests etcd version $1 in this cell, with this transport.
stage_name() {
    printf 'integration etcd %s%s%s%s' "$1" "$CELL_LABEL" "$transport_label" "$targets_label"
}

use_venv || {
    status=$?
    [ "$status" -ne 3 ] || skip_stage "integration${ETCD_VERSIONS:+ etcd $ETCD_VERSIONS}$CELL_LABEL$transport_label$targets_label" \
        "$CELL_UNAVAILABLE"
    exit "$status"
}
prepare_collection_tree "integration$CELL_DIR$transport_dir"
read -r -a patterns <<<"${TARGETS:-}"
mapfile -t targets < <(cd "$COLLECTION_DIR" && ansible-test integration --list-targets "${patterns[@]}" 2>/dev/null)
if [ "${#targets[@]}" -eq 0 ]; then
    [ "${#patterns[@]}" -eq 0 ] || die "TARGETS matches no integration target: ${patterns[*]}"
    skip_stage "integration$CELL_LABEL$transport_label" "no integration targets yet"
fi
timeout_minutes=${INTEGRATION_TIMEOUT:-20}

log "ansible-core $(ansible --version | sed -n '1s/.*core \([^]]*\)].*/\1/p') from ${VENV#"$ROOT/"} (Python $TEST_PYTHON_VERSION), transport $transport"
log "fetching etcd binaries"
missing="$COLLECTIONS_ROOT/etcd-missing.json"
rm -f "$missing"
bin_dirs=$(ETCD_MISSING_FILE="$missing" "$ROOT/tests/utils/fetch-etcd.sh") || die "no etcd version could be had"
mapfile -t versions < <(python -c 'import json, sys; print("\n".join(json.load(sys.stdin)))' <<<"$bin_dirs")
# Each version that could not be had is a skipped stage that says why (the others still test).
while IFS=$'\t' read -r spec why; do
    [ -n "$spec" ] || continue
    log "etcd $spec: not tested: $why"
    record_stage "$(stage_name "$spec")" skipped 0 "$why"
done < <(python -c 'import json, sys
for spec, why in json.load(open(sys.argv[1])).items():
    print(spec + "\t" + " ".join(why.split()))' "$missing")

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

# Run one target, its output to stderr and to $2; print "pass", "fail" or "timeout".
run_target() {
    local status=0
    # ansible-test's inventory for --local points ansible_python_interpreter at the Python it runs with
    # (the cell's venv, first on PATH), so interpreter discovery never meets pyenv's shims.
    (cd "$COLLECTION_DIR" &&
        timeout --kill-after=60 "${timeout_minutes}m" \
            ansible-test integration --local --python "$TEST_PYTHON_VERSION" -v "$1" "${@:3}") 2>&1 |
        tee "$2" >&2 || status=${PIPESTATUS[0]}
    case $status in
        0) echo pass ;;
        124 | 137) echo timeout ;;
        *) echo fail ;;
    esac
}

# The last failed tasks of a target's log, each with the task it belongs to, cut to a readable width.
failed_tasks() {
    awk '/^TASK \[/ { task = $0; sub(/ \*+$/, "", task) }
         /^(fatal|failed): / { print "    " task; print "      " substr($0, 1, 600) }' "$1" | tail -n 8
}

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
    if sandbox up --version "$version" --state "$state" --vars "$config" --transport "$transport" \
        >"$COLLECTIONS_ROOT/etcd-$version.up.json"; then
        if [ -n "${MAINTENANCE_SCENARIOS:-}" ]; then
            printf 'test_maintenance_scenarios: "%s"\n' "$MAINTENANCE_SCENARIOS" >>"$config"
        fi
        target_lines=()
        bad_targets=()
        for target in "${targets[@]}"; do
            log "etcd $version: integration target $target"
            target_started=$SECONDS
            target_log="$COLLECTIONS_ROOT/etcd-$version-$target.log"
            target_result=$(run_target "$target" "$target_log" "$@")
            target_lines+=("$(printf '  %-24s %-7s %5ss' "$target" "$target_result" "$((SECONDS - target_started))")")
            if [ "$target_result" != pass ]; then
                bad_targets+=("$target ($target_result)")
                # CI keeps only the end of the output: repeat the failing tasks and their messages there.
                mapfile -t failure_lines < <(failed_tasks "$target_log")
                target_lines+=("${failure_lines[@]}")
            fi
        done
        if [ "${#bad_targets[@]}" -gt 0 ]; then
            result=fail
            note="failed: ${bad_targets[*]}"
        fi
    else
        result=fail
        note="the sandbox did not start"
        target_lines=()
    fi
    stop_sandbox
    seconds=$((SECONDS - started))
    record_stage "$(stage_name "$version")" "$result" "$seconds" "$note"
    summary+=("$(printf 'etcd %-8s%s%s %-7s %5ss %s' "$version" "$CELL_LABEL" "$transport_label" "$result" "$seconds" "$note")" \
        "${target_lines[@]}")
    if [ "$result" = fail ]; then
        failed=$((failed + 1))
    fi
done

log "integration summary:"
printf '    %s\n' "${summary[@]}" >&2
[ "$failed" -eq 0 ]
