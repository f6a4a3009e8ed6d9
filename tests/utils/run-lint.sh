#!/usr/bin/env bash
# ruff (settings in ruff.toml) and ansible-lint with the production profile (settings in .ansible-lint).
# Both always run, so one report shows every finding; the exit status is non-zero if either found something.
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

use_venv
# ansible-lint resolves etcdops.etcd.* through the collection copy.
prepare_collection_tree lint
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_ROOT"
cd "$ROOT"

lint_args=(--profile production)
if [ ! -t 1 ]; then
    # ansible-lint colours its output even into a file or a CI log.
    lint_args+=(--nocolor)
fi

status=0
log "ruff check"
ruff check --no-cache . || status=1
log "ansible-lint ${lint_args[*]}"
ansible-lint "${lint_args[@]}" || status=1
log "docs/modules.md up to date with the modules' documentation"
python tests/utils/module_docs.py --check || status=1
log "the role's variable tables up to date with its argument specs, and those with its defaults"
python tests/utils/role_docs.py --check || status=1
exit "$status"
