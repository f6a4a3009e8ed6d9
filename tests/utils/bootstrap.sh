#!/usr/bin/env bash
# Makes this checkout ready to test: .venv with tests/requirements.txt, shellcheck (sanity runs it on *.sh) and
# the pip bootstrap ansible-test cannot download here. Quiet and quick when everything is already in place.
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REQUIREMENTS="$ROOT/tests/requirements.txt"
# Records which requirements the venv was last filled from, so an unchanged venv costs no pip run.
STAMP="$VENV/.requirements.sha256"

venv_is_usable() {
    "$VENV/bin/python" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] != '$TEST_PYTHON_VERSION')" 2>/dev/null
}

ensure_venv() {
    local wanted base_python
    if ! venv_is_usable; then
        base_python=${BASE_PYTHON:-$(find_interpreter "$TEST_PYTHON_VERSION")} ||
            die "no Python $TEST_PYTHON_VERSION with venv found (set BASE_PYTHON to one)"
        log "creating $VENV with $base_python"
        rm -rf "$VENV"
        "$base_python" -m venv "$VENV"
    fi
    wanted=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
    if [ "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]; then
        log "installing tests/requirements.txt into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
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
ensure_get_pip() {
    local pip_version cached
    pip_version=$("$VENV/bin/python" -c '
from ansible_test._internal.host_configs import NativePythonConfig
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(NativePythonConfig(version="'"$TEST_PYTHON_VERSION"'"))["pip"])')
    cached="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    cmp -s "$ROOT/tests/utils/get_pip_offline.py" "$cached" ||
        install -D -m 0644 "$ROOT/tests/utils/get_pip_offline.py" "$cached"
}

ensure_venv
ensure_shellcheck
ensure_get_pip
