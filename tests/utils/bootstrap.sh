#!/usr/bin/env bash
# Makes this checkout ready to test: .venv with tests/requirements.txt, shellcheck (sanity runs it on *.sh) and
# the pip bootstrap ansible-test cannot download here. Quiet and quick when everything is already in place.
# ANSIBLE_CORE=X.Y makes another ansible-core cell ready instead of .venv (see lib.sh): .venv-X.Y filled from
# tests/requirements-X.Y.txt, with that cell's Python. When that Python or that ansible-core cannot be had, it
# prints why (one sentence) on stdout and exits with status 3; everything else it prints goes to stderr.
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

select_ansible_core "${ANSIBLE_CORE:-}"
# Records which requirements the venv was last filled from, so an unchanged venv costs no pip run.
STAMP="$VENV/.requirements.sha256"
# Only the reason of an unavailable cell goes to stdout (fd 3).
exec 3>&1 1>&2

# The cell cannot be had on this machine: say why and stop.
unavailable() {
    log "ansible-core $ANSIBLE_CORE_CELL: $*"
    printf '%s\n' "$*" >&3
    exit 3
}

venv_is_usable() {
    "$VENV/bin/python" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] != '$TEST_PYTHON_VERSION')" 2>/dev/null
}

ensure_venv() {
    local wanted base_python core
    if ! venv_is_usable; then
        if [ -z "$CELL_LABEL" ]; then
            base_python=${BASE_PYTHON:-$(find_interpreter "$TEST_PYTHON_VERSION")} ||
                die "no Python $TEST_PYTHON_VERSION with venv found (set BASE_PYTHON to one)"
        else
            base_python=$(find_interpreter "$TEST_PYTHON_VERSION") ||
                unavailable "No Python $TEST_PYTHON_VERSION with venv (pyenv's, python$TEST_PYTHON_VERSION on PATH or in /usr/bin) for ansible-core $ANSIBLE_CORE_CELL's controller."
        fi
        log "creating ${VENV#"$ROOT/"} with $base_python"
        rm -rf "$VENV"
        "$base_python" -m venv "$VENV"
    fi
    wanted=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
    if [ "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]; then
        log "installing ${REQUIREMENTS#"$ROOT/"} into ${VENV#"$ROOT/"}"
        if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"; then
            # Only an ansible-core that the index does not offer for this Python makes a cell unavailable;
            # any other failure is a failure.
            core=$(sed -n 's/^ansible-core==\([^ ;#]*\).*/\1/p' "$REQUIREMENTS")
            if [ -n "$CELL_LABEL" ] && [ -n "$core" ] &&
                ! "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
                    --dest "$VENV/.download" "ansible-core==$core" >/dev/null 2>&1; then
                unavailable "pip could not get ansible-core $core for Python $TEST_PYTHON_VERSION from the package index."
            fi
            die "pip could not install ${REQUIREMENTS#"$ROOT/"} into ${VENV#"$ROOT/"}"
        fi
        printf '%s\n' "$wanted" >"$STAMP"
    fi
}

ensure_shellcheck() {
    command -v shellcheck >/dev/null && return
    if [ "$(id -u)" != 0 ]; then
        # Only the sanity stage needs it (and refuses to run without it); the demo and the other stages do not.
        log "shellcheck is missing and only root installs it here: make sanity will ask for the Debian package shellcheck"
        return
    fi
    log "installing shellcheck with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # The package lists of a fresh machine may be missing or stale: update only if the first try fails.
    apt-get install -y -qq --no-install-recommends shellcheck >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends shellcheck; }
}

# ansible-test fills each sanity test's virtualenv with a get-pip.py it downloads from a host that cannot be
# reached here; it uses a cached copy when there is one, so put our stand-in there under the expected name.
# The pip version it wants depends on the ansible-test release (and may depend on the Python): one file for
# each version the cell's ansible-test asks for, on its controller Python and on its sanity target Pythons.
ensure_get_pip() {
    local pip_versions pip_version cached
    # shellcheck disable=SC2086 # one argument per Python version
    pip_versions=$("$VENV/bin/python" -c '
import sys
from ansible_test._internal.host_configs import NativePythonConfig
from ansible_test._internal.python_requirements import get_venv_packages
print(" ".join(sorted({get_venv_packages(NativePythonConfig(version=v))["pip"] for v in sys.argv[1:]})))
' $TEST_PYTHON_VERSION $SANITY_PYTHONS)
    for pip_version in $pip_versions; do
        cached="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
        cmp -s "$ROOT/tests/utils/get_pip_offline.py" "$cached" ||
            install -D -m 0644 "$ROOT/tests/utils/get_pip_offline.py" "$cached"
    done
}

ensure_venv
ensure_shellcheck
ensure_get_pip
