# shellcheck shell=bash disable=SC2034
# Settings and helpers shared by the test scripts in tests/utils/; sourced, never run.
# (SC2034: the variables set here are read by the scripts that source this file.)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Everything the test scripts make: collection copies, sandbox state, results. Ignored by git.
BUILD_DIR="$ROOT/.build"

# The ansible-core cells of the test matrix. The default one is .venv (tests/requirements.txt: ansible-core 2.19
# and every tool); each other cell, chosen with ANSIBLE_CORE=X.Y by run-sanity.sh and run-integration.sh, has its
# own venv .venv-X.Y filled from tests/requirements-X.Y.txt by bootstrap.sh. run-all.sh runs the extra cells'
# sanity and scenario stages after the default ones.
DEFAULT_ANSIBLE_CORE=2.19
EXTRA_ANSIBLE_CORES="2.17 2.21"

# Set the cell $1 (X.Y, or empty for the default): ANSIBLE_CORE_CELL, VENV, REQUIREMENTS, TEST_PYTHON_VERSION
# (the controller Python of every ansible-test run: fixed, so results do not depend on what else is on PATH),
# SANITY_PYTHONS (the Pythons the sanity tests compile and import modules on: the oldest the modules promise,
# 3.8, or the oldest the cell's ansible-test takes, the controller's, and the newest the cell's ansible-test
# takes that pyenv has), CELL_LABEL (" ansible-core X.Y" for an extra cell, for stage names) and CELL_DIR
# ("-X.Y", for .build/ directories).
select_ansible_core() {
    ANSIBLE_CORE_CELL=${1:-$DEFAULT_ANSIBLE_CORE}
    case $ANSIBLE_CORE_CELL in
        2.17) TEST_PYTHON_VERSION=3.11 SANITY_PYTHONS="3.8 3.11 3.12" ;;
        2.19) TEST_PYTHON_VERSION=3.11 SANITY_PYTHONS="3.8 3.11 3.13" ;;
        # 2.21's controller needs Python 3.12 or later, and its targets start at 3.9.
        2.21) TEST_PYTHON_VERSION=3.13 SANITY_PYTHONS="3.9 3.13" ;;
        *) die "ANSIBLE_CORE=$ANSIBLE_CORE_CELL: the cells are $DEFAULT_ANSIBLE_CORE (the default) and $EXTRA_ANSIBLE_CORES" ;;
    esac
    if [ "$ANSIBLE_CORE_CELL" = "$DEFAULT_ANSIBLE_CORE" ]; then
        VENV="$ROOT/.venv"
        REQUIREMENTS="$ROOT/tests/requirements.txt"
        CELL_LABEL=""
        CELL_DIR=""
    else
        VENV="$ROOT/.venv-$ANSIBLE_CORE_CELL"
        REQUIREMENTS="$ROOT/tests/requirements-$ANSIBLE_CORE_CELL.txt"
        CELL_LABEL=" ansible-core $ANSIBLE_CORE_CELL"
        CELL_DIR="-$ANSIBLE_CORE_CELL"
    fi
}
select_ansible_core ""

log() {
    printf '==> %s\n' "$*" >&2
}

die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

# Print a working Python $1 (X.Y) that can make virtual environments. pyenv's shims on PATH exist for every
# installed version but only run the selected ones, so pyenv's own interpreters are tried first.
find_interpreter() {
    local version=$1 candidate
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python"$version" \
        "$(command -v "python$version")" "/usr/bin/python$version"; do
        if [ -x "$candidate" ] && "$candidate" -c "
import sys, ensurepip, venv
sys.exit('%d.%d' % sys.version_info[:2] != '$version')" 2>/dev/null; then
            printf '%s\n' "$candidate"
            return
        fi
    done
    return 1
}

# Run function $1 when the script exits, also after Ctrl-C or TERM; the last added runs first.
EXIT_HOOKS=()
on_exit() {
    if [ "${#EXIT_HOOKS[@]}" -eq 0 ]; then
        trap run_exit_hooks EXIT
        # A signal becomes a normal exit, so that the EXIT trap runs.
        trap 'exit 130' INT TERM
    fi
    EXIT_HOOKS=("$1" "${EXIT_HOOKS[@]}")
}

run_exit_hooks() {
    local hook
    for hook in "${EXIT_HOOKS[@]}"; do
        "$hook"
    done
}

# Put the venv of the selected cell (see select_ansible_core) first on PATH, creating or refreshing it when
# needed. Returns 3 when the cell's Python or ansible-core cannot be had, with the reason in CELL_UNAVAILABLE.
use_venv() {
    local status=0
    CELL_UNAVAILABLE=$(ANSIBLE_CORE=$ANSIBLE_CORE_CELL "$ROOT/tests/utils/bootstrap.sh") || status=$?
    [ "$status" -eq 0 ] || return "$status"
    export VIRTUAL_ENV="$VENV"
    export PATH="$VENV/bin:$PATH"
}

# Build a fresh copy of the collection for one stage (lint, sanity, units, integration) and set
# COLLECTIONS_ROOT and COLLECTION_DIR. ansible-test only accepts a collection that sits at
# ansible_collections/<namespace>/<name>/, and a symlink there does not do: ansible-test resolves it back to
# the checkout. The copy takes every file git lists (tracked, or untracked and not ignored) and the .git
# directory, because ansible-test lists content with git: new files count before they are committed.
# One copy per stage (.build/<stage>/), kept after the run for its reports; while another run of the same
# stage holds it, a private copy is used instead and removed at exit, so that runs never wait for each other.
prepare_collection_tree() {
    local stage=$1 file git_dir common_dir
    # A linked worktree (git worktree add) has a .git file that names its git directory.
    [ -e "$ROOT/.git" ] || die "$ROOT is not a git checkout (no .git)"
    COLLECTIONS_ROOT="$BUILD_DIR/$stage"
    mkdir -p "$COLLECTIONS_ROOT"
    # The lock lasts as long as the calling script (fd 9 stays open).
    exec 9>"$COLLECTIONS_ROOT/.lock"
    if ! flock -n 9; then
        COLLECTIONS_ROOT=$(mktemp -d "$BUILD_DIR/$stage-XXXXXX")
        log "another '$stage' run is using .build/$stage: this one works in ${COLLECTIONS_ROOT#"$ROOT/"} (removed at exit)"
        on_exit remove_private_tree
    fi
    COLLECTION_DIR="$COLLECTIONS_ROOT/ansible_collections/etcdops/etcd"
    rm -rf "$COLLECTION_DIR"
    mkdir -p "$COLLECTION_DIR"
    if [ -d "$ROOT/.git" ]; then
        cp -a "$ROOT/.git" "$COLLECTION_DIR/.git"
    else
        # A linked worktree: a repository of its own for the copy, the shared one with the worktree's HEAD and
        # index, so that git in the copy lists what the worktree has (and never touches the worktree's files).
        git_dir=$(git -C "$ROOT" rev-parse --absolute-git-dir)
        common_dir=$(cd "$ROOT" && cd "$(git rev-parse --git-common-dir)" && pwd)
        cp -a "$common_dir" "$COLLECTION_DIR/.git"
        rm -rf "$COLLECTION_DIR/.git/worktrees"
        cp "$git_dir/HEAD" "$git_dir/index" "$COLLECTION_DIR/.git/"
    fi
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' file; do
            # Tracked files deleted in the working tree are still listed by --cached.
            [ -e "$ROOT/$file" ] || [ -L "$ROOT/$file" ] || continue
            printf '%s\0' "$file"
        done |
        tar -C "$ROOT" --null --files-from=- -cf - | tar -C "$COLLECTION_DIR" -xf -
}

remove_private_tree() {
    rm -rf "$COLLECTIONS_ROOT"
}

# One line of run-all.sh's summary: stage, result (pass, fail or skipped), seconds, note.
# A no-op when a script runs on its own; run-all.sh sets STAGE_RESULTS.
record_stage() {
    if [ -n "${STAGE_RESULTS:-}" ]; then
        printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$STAGE_RESULTS"
    fi
}

# End stage $1, which has nothing to run, with success; the rest of the arguments say why.
skip_stage() {
    local stage=$1
    shift
    log "skipped: $*"
    record_stage "$stage" skipped "$SECONDS" "$*"
    exit 0
}

# Print "stages: N passed, N failed, N skipped" from a run-all.sh results file (setup steps are not counted).
print_stage_counts() {
    awk -F '\t' '
        $2 == "pass" { passed++ }
        $2 == "fail" { failed++ }
        $2 == "skipped" { skipped++ }
        END { printf "stages: %d passed, %d failed, %d skipped\n", passed, failed, skipped }
    ' "$1"
}
