#!/usr/bin/env bash
# `make test`: set up, then lint, sanity and units (ansible-core 2.19 from .venv), then in two lanes side by side
# the integration per etcd version (2.19, the modules' transport auto), the gRPC cell (every target with transport
# grpc on one etcd version, SCENARIO_ETCD_VERSION) and the other ansible-core cells of lib.sh (2.17 and 2.21, each
# in its own venv): sanity, and the role's scenario tests (target maintenance) on SCENARIO_ETCD_VERSION.
# A failed stage does not stop the ones after it, so one run reports everything. Ends with a table of the
# stages and their wall times and the line "stages: N passed, N failed, N skipped"; exits non-zero if any failed.
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The default stages run with .venv and transport auto whatever the caller's environment says; the extra cells
# name theirs.
unset ANSIBLE_CORE ETCD_TRANSPORT
mkdir -p "$BUILD_DIR"
export STAGE_RESULTS="$BUILD_DIR/stage-results.tsv"
: >"$STAGE_RESULTS"
utils="$ROOT/tests/utils"

# Run a stage script; record its result unless the script recorded its own (skips, per-version integration).
run_stage() {
    local name=$1 recorded started status=0
    shift
    recorded=$(wc -l <"$STAGE_RESULTS")
    started=$SECONDS
    log "stage: $name"
    "$@" || status=$?
    if [ "$(wc -l <"$STAGE_RESULTS")" -eq "$recorded" ]; then
        if [ "$status" -eq 0 ]; then
            record_stage "$name" pass "$((SECONDS - started))"
        else
            record_stage "$name" fail "$((SECONDS - started))"
        fi
    elif [ "$status" -ne 0 ] && ! tail -n "+$((recorded + 1))" "$STAGE_RESULTS" | cut -f2 | grep -qx fail; then
        # The script recorded some results, then failed on its own account.
        record_stage "$name" fail "$((SECONDS - started))" "failed after the results above"
    fi
}

# Steps the stages need: listed with their times ("ready"), counted only when they fail.
run_setup() {
    local name=$1 started=$SECONDS
    shift
    log "setup: $name"
    if "$@"; then
        record_stage "$name" ready "$((SECONDS - started))"
    else
        record_stage "$name" fail "$((SECONDS - started))"
        return 1
    fi
}

# The venv of an extra ansible-core cell: like run_setup, but a cell whose Python or ansible-core cannot be had
# here is listed as "unavailable" with the reason (not counted); its stages then record themselves as skipped.
setup_cell() {
    local cell=$1 started=$SECONDS status=0 why
    log "setup: venv ansible-core $cell"
    why=$(ANSIBLE_CORE=$cell "$utils/bootstrap.sh") || status=$?
    case $status in
        0) record_stage "venv ansible-core $cell" ready "$((SECONDS - started))" ;;
        3) record_stage "venv ansible-core $cell" unavailable "$((SECONDS - started))" "$why" ;;
        *) record_stage "venv ansible-core $cell" fail "$((SECONDS - started))" ;;
    esac
}

# The etcd version of the extra cells' scenario tests (one is enough there: the etcd matrix runs with 2.19).
SCENARIO_ETCD_VERSION=${SCENARIO_ETCD_VERSION:-3.6}
# ...and their scenarios: those where Ansible's own behaviour (templating, check mode, rescue, argument specs,
# the other playbooks, a fleet) meets etcd's. The ones that test etcd's side alone (a member killed in the one-run
# controller mode, an upgrade or a downgrade half done) run on every etcd version with the default cell.
CELL_SCENARIOS=${CELL_SCENARIOS:-fragmented second_run check_mode nospace member_down killed_mid_run fleet argument_specs bad_inputs secrets playbooks}
# The gRPC cell: the modules' transport grpc (ETCD_TRANSPORT) for every module target and the role's main
# scenarios, on SCENARIO_ETCD_VERSION with the default ansible-core. Every other integration stage runs transport
# auto, the default, which takes gRPC only where the gateway cannot serve (a cluster with the gateway off, a
# CommonName certificate with auth on: tests of their own in etcd_status, etcd_defrag, etcd_snapshot and
# etcd_errors, on every etcd version).
GRPC_SCENARIOS=${GRPC_SCENARIOS:-fragmented second_run nospace member_down}
# Where operators run it: the playbooks through ansible-runner (AWX's engine) and from the collection built
# and installed from its tarball. Ansible's side alone: one stage, on SCENARIO_ETCD_VERSION with the default
# cell, in lane RELEASE_LANE.
RELEASE_SCENARIOS=${RELEASE_SCENARIOS:-runner awx_credential installed}
RELEASE_LANE=${RELEASE_LANE:-0}
# The integration stages run in lanes side by side, one per core: each lane tests its etcd versions (a
# comma-separated group of ETCD_VERSIONS) with the default cell, then takes its share of the extra cells'
# stages: EXTRA_CELL_LANES says which lane takes each cell (cell:lane, the lane modulo the lanes; a cell it does
# not name goes to lane i modulo the lanes, i its place in "grpc $EXTRA_ANSIBLE_CORES"). The default balances the
# lanes' wall times (docs/testing.md): lane 0 etcd 3.4 and 3.5 then gRPC, lane 1 etcd 3.6 and 3.7 then 2.17 and
# 2.21. Their sandboxes, collection copies and results are their own; each lane's output goes to
# .build/lane-N.log and is printed when every lane is done.
# INTEGRATION_LANES="3.4,latest,3.6,3.7" runs them one after the other.
read -r -a lanes <<<"${INTEGRATION_LANES:-3.4,latest 3.6,3.7}"
EXTRA_CELL_LANES=${EXTRA_CELL_LANES:-grpc:0 2.17:1 2.21:1}

# The lane of extra cell $1, whose place in the list of extra cells is $2.
cell_lane() {
    local entry
    for entry in $EXTRA_CELL_LANES; do
        if [ "${entry%%:*}" = "$1" ]; then
            echo $((${entry#*:} % ${#lanes[@]}))
            return
        fi
    done
    echo $(($2 % ${#lanes[@]}))
}

# Lane $1 (its index): its etcd versions, then its extra cells' sanity and scenario stages. Runs in the
# background with its own STAGE_RESULTS; says on fd 3 (the terminal) when each of its stages starts.
run_lane() {
    local lane=$1 index=0 cell
    export STAGE_RESULTS="$BUILD_DIR/lane-$lane.tsv"
    : >"$STAGE_RESULTS"
    echo "==> lane $lane: integration etcd ${lanes[$lane]}" >&3
    run_stage "integration etcd ${lanes[$lane]}" env ETCD_VERSIONS="${lanes[$lane]}" "$utils/run-integration.sh"
    for cell in grpc $EXTRA_ANSIBLE_CORES; do
        if [ "$(cell_lane "$cell" "$index")" -eq "$lane" ] && [ "$cell" = grpc ]; then
            echo "==> lane $lane: gRPC cell (transport grpc, etcd $SCENARIO_ETCD_VERSION)" >&3
            run_stage "integration etcd $SCENARIO_ETCD_VERSION grpc" env ETCD_TRANSPORT=grpc \
                ETCD_VERSIONS="$SCENARIO_ETCD_VERSION" MAINTENANCE_SCENARIOS="$GRPC_SCENARIOS" "$utils/run-integration.sh"
        elif [ "$(cell_lane "$cell" "$index")" -eq "$lane" ]; then
            echo "==> lane $lane: ansible-core $cell cell" >&3
            run_stage "sanity ansible-core $cell" env ANSIBLE_CORE="$cell" "$utils/run-sanity.sh"
            run_stage "integration ansible-core $cell (maintenance)" env ANSIBLE_CORE="$cell" \
                ETCD_VERSIONS="$SCENARIO_ETCD_VERSION" TARGETS=maintenance MAINTENANCE_SCENARIOS="$CELL_SCENARIOS" \
                "$utils/run-integration.sh"
        fi
        index=$((index + 1))
    done
    if [ -n "$RELEASE_SCENARIOS" ] && [ $((RELEASE_LANE % ${#lanes[@]})) -eq "$lane" ]; then
        echo "==> lane $lane: ansible-runner and the installed collection (etcd $SCENARIO_ETCD_VERSION)" >&3
        run_stage "integration etcd $SCENARIO_ETCD_VERSION ($RELEASE_SCENARIOS)" env ETCD_VERSIONS="$SCENARIO_ETCD_VERSION" \
            TARGETS=maintenance MAINTENANCE_SCENARIOS="$RELEASE_SCENARIOS" "$utils/run-integration.sh"
    fi
    echo "==> lane $lane: done" >&3
}

if run_setup "venv" "$utils/bootstrap.sh"; then
    for cell in $EXTRA_ANSIBLE_CORES; do
        setup_cell "$cell"
    done
    run_setup "etcd binaries" "$utils/fetch-etcd.sh" || true
    run_stage lint "$utils/run-lint.sh"
    run_stage sanity "$utils/run-sanity.sh"
    run_stage units "$utils/run-units.sh"
    pids=()
    for lane in "${!lanes[@]}"; do
        (run_lane "$lane") 3>&2 >"$BUILD_DIR/lane-$lane.log" 2>&1 &
        pids+=("$!")
    done
    for lane in "${!lanes[@]}"; do
        wait "${pids[$lane]}" || true
        log "lane $lane (etcd ${lanes[$lane]}): its output"
        cat "$BUILD_DIR/lane-$lane.log" >&2
        cat "$BUILD_DIR/lane-$lane.tsv" >>"$STAGE_RESULTS"
    done
fi

{
    printf '\n%-56s %-11s %8s  %s\n' stage result seconds note
    awk -F '\t' '{ printf "%-56s %-11s %8s  %s\n", $1, $2, $3, $4 }' "$STAGE_RESULTS"
    printf 'total: %ss\n' "$SECONDS"
} >&2
print_stage_counts "$STAGE_RESULTS"
! cut -f2 "$STAGE_RESULTS" | grep -qx fail
