#!/usr/bin/env bash
# ansible-test sanity on the collection copy, with ansible-core from .venv (2.19), or with another cell's
# ansible-core from its venv when ANSIBLE_CORE=X.Y is set (see lib.sh: 2.17, or 2.21 with Python 3.13).
# Controller-side code is checked on the cell's controller Python only (3.11; 3.13 for 2.21); modules and
# module_utils run on managed nodes, so their compile and import tests also run on the oldest Python they promise
# (3.8; 3.9 for 2.21, whose ansible-test no longer takes 3.8) and the newest the cell's ansible-core supports and
# pyenv has (3.13; 3.12 for 2.17). Naming the interpreters makes the result independent of which pythonX.Y
# happen to be on PATH. SANITY_TARGET_PYTHONS replaces that list.
# Extra arguments go to ansible-test (e.g. --test pep8). No test is skipped: none needs more than the package index.
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

select_ansible_core "${ANSIBLE_CORE:-}"
stage="sanity$CELL_LABEL"
TARGET_PYTHONS=${SANITY_TARGET_PYTHONS:-$SANITY_PYTHONS}

use_venv || {
    status=$?
    [ "$status" -ne 3 ] || skip_stage "$stage" "$CELL_UNAVAILABLE"
    exit "$status"
}
# ansible-test sanity skips its shellcheck test without shellcheck, and a skipped check must not pass as one.
command -v shellcheck >/dev/null || die "shellcheck is missing: install the Debian package shellcheck (bootstrap.sh does as root)"
prepare_collection_tree "sanity$CELL_DIR"

# ansible-test creates the import test's virtualenvs with the pythonX.Y it finds on PATH: offer exactly ours.
python_links="$COLLECTIONS_ROOT/python-bin"
rm -rf "$python_links"
mkdir -p "$python_links"
args=(--controller "origin:python=$TEST_PYTHON_VERSION@$VENV/bin/python")
for version in $TARGET_PYTHONS; do
    if [ "$version" = "$TEST_PYTHON_VERSION" ]; then
        args+=(--target-python "$version@$VENV/bin/python")
    else
        if ! interpreter=$(find_interpreter "$version"); then
            # An extra cell without its Pythons is a cell this machine cannot run; the default cell must run.
            [ -z "$CELL_LABEL" ] ||
                skip_stage "$stage" "No Python $version (pyenv's, python$version on PATH or in /usr/bin) for ansible-core $ANSIBLE_CORE_CELL's sanity target Pythons ($TARGET_PYTHONS)."
            die "no working python$version found; set SANITY_TARGET_PYTHONS to test fewer versions"
        fi
        ln -s "$interpreter" "$python_links/python$version"
        args+=(--target-python "$version@$python_links/python$version")
    fi
done
export PATH="$python_links:$PATH"

cd "$COLLECTION_DIR"
log "ansible-test sanity, ansible-core $(ansible --version | sed -n '1s/.*core \([^]]*\)].*/\1/p') (controller Python $TEST_PYTHON_VERSION; modules also on Python ${TARGET_PYTHONS// /, })"
ansible-test sanity "${args[@]}" "$@"
