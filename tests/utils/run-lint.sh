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
log "the changelog fragments: antsibull-changelog lint, and the release notes they make (CHANGELOG.rst, in the copy)"
changelog_check() {
    (cd "$COLLECTION_DIR" && antsibull-changelog lint) || return 1
    # A release consumes the fragments (keep_fragments: false): keep them to compare.
    rm -rf "$COLLECTIONS_ROOT/fragments" && cp -r "$COLLECTION_DIR/changelogs/fragments" "$COLLECTIONS_ROOT/fragments"
    (cd "$COLLECTION_DIR" && antsibull-changelog release --version "$(sed -n 's/^version: *//p' galaxy.yml)" \
        --date "$(date -u +%F)" >/dev/null) || return 1
    # Every fragment entry (but the trivial ones) is in the release notes, and every module and plugin is
    # listed as new.
    python - "$COLLECTION_DIR" "$COLLECTIONS_ROOT/fragments" <<'PY'
import os, re, sys, yaml
root, fragments = sys.argv[1:3]
notes = open(os.path.join(root, 'CHANGELOG.rst')).read()
flat = ' '.join(notes.split())
entries = []
for name in sorted(os.listdir(fragments)):
    data = yaml.safe_load(open(os.path.join(fragments, name))) or {}
    for section, items in data.items():
        # trivial: changes the release notes leave out by design.
        if section != 'trivial':
            entries.extend(items if isinstance(items, list) else [items])
missing = [e[:80] for e in entries if ' '.join(str(e).split()) not in flat]
plugins = ['etcdops.etcd.' + f[:-3] for d in ('modules', 'filter') for f in os.listdir(os.path.join(root, 'plugins', d))
           if f.endswith('.py') and not f.startswith('_')]
unlisted = [p for p in plugins if not re.search(r'^- ' + re.escape(p) + ' - ', notes, re.M)]
if missing or unlisted:
    sys.exit('CHANGELOG.rst lacks fragment entries %s and new plugins %s' % (missing, unlisted))
print('CHANGELOG.rst: %d fragment entries, %d new modules and plugins' % (len(entries), len(plugins)))
PY
}
changelog_check || status=1
exit "$status"
