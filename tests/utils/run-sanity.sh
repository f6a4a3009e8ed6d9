#!/usr/bin/env bash
# ansible-test sanity on the collection copy, with ansible-core from .venv.
# Controller-side code is checked on Python 3.11 only; modules and module_utils run on managed nodes, so their
# compile and import tests also run on the oldest Python they promise (3.8) and the newest ansible-core 2.19
# supports (3.13). Naming the interpreters makes the result independent of which pythonX.Y happen to be on PATH.
# Extra arguments go to ansible-test (e.g. --test pep8). No test is skipped: none needs more than the package index.
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET_PYTHONS=${SANITY_TARGET_PYTHONS:-3.8 $TEST_PYTHON_VERSION 3.13}

use_venv
# ansible-test sanity skips its shellcheck test without shellcheck, and a skipped check must not pass as one.
command -v shellcheck >/dev/null || die "shellcheck is missing: install the Debian package shellcheck (bootstrap.sh does as root)"
prepare_collection_tree sanity

# ansible-test creates the import test's virtualenvs with the pythonX.Y it finds on PATH: offer exactly ours.
python_links="$COLLECTIONS_ROOT/python-bin"
rm -rf "$python_links"
mkdir -p "$python_links"
args=(--controller "origin:python=$TEST_PYTHON_VERSION@$VENV/bin/python")
for version in $TARGET_PYTHONS; do
    if [ "$version" = "$TEST_PYTHON_VERSION" ]; then
        args+=(--target-python "$version@$VENV/bin/python")
    else
        interpreter=$(find_interpreter "$version") ||
            die "no working python$version found; set SANITY_TARGET_PYTHONS to test fewer versions"
        ln -s "$interpreter" "$python_links/python$version"
        args+=(--target-python "$version@$python_links/python$version")
    fi
done
export PATH="$python_links:$PATH"

cd "$COLLECTION_DIR"
log "ansible-test sanity (controller Python $TEST_PYTHON_VERSION; modules also on Python ${TARGET_PYTHONS// /, })"
ansible-test sanity "${args[@]}" "$@"
