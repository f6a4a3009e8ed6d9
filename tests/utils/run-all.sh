#!/usr/bin/env bash
# `make test`: set up, then every stage in order (lint, sanity, units, integration per etcd version).
# A failed stage does not stop the ones after it, so one run reports everything. Ends with a table of the
# stages and their wall times and the line "stages: N passed, N failed, N skipped"; exits non-zero if any failed.
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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

if run_setup "venv" "$utils/bootstrap.sh"; then
    run_setup "etcd binaries" "$utils/fetch-etcd.sh" || true
    run_stage lint "$utils/run-lint.sh"
    run_stage sanity "$utils/run-sanity.sh"
    run_stage units "$utils/run-units.sh"
    run_stage integration "$utils/run-integration.sh"
fi

{
    printf '\n%-28s %-8s %8s  %s\n' stage result seconds note
    awk -F '\t' '{ printf "%-28s %-8s %8s  %s\n", $1, $2, $3, $4 }' "$STAGE_RESULTS"
    printf 'total: %ss\n' "$SECONDS"
} >&2
print_stage_counts "$STAGE_RESULTS"
! cut -f2 "$STAGE_RESULTS" | grep -qx fail
