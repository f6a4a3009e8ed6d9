#!/usr/bin/env bash
# ansible-test units over tests/unit/ on Python 3.11 with the .venv's pytest. Extra arguments go to ansible-test.
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

use_venv
prepare_collection_tree units
cd "$COLLECTION_DIR"

# ansible-test refuses to run without test files; only that case is not a failure.
if [ -z "$(find tests/unit -name 'test_*.py' -print -quit 2>/dev/null)" ]; then
    skip_stage units "no unit tests (tests/unit/**/test_*.py) yet"
fi
log "ansible-test units (Python $TEST_PYTHON_VERSION)"
ansible-test units --local --python "$TEST_PYTHON_VERSION" "$@"
