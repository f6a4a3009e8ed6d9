#!/usr/bin/env bash
# Build etcd-defrag v0.42.0 (https://github.com/ahrtr/etcd-defrag) into .cache/bench/etcd-defrag, for
# bench/client_impact.py, which compares it with the role.
#
# Why not `go install github.com/ahrtr/etcd-defrag@v0.42.0`: on this project's build machines the Go module
# proxy refuses that module version:
#   go: github.com/ahrtr/etcd-defrag@v0.42.0: reading
#   https://proxy.golang.org/github.com/ahrtr/etcd-defrag/@v/v0.42.0.info: 403 Forbidden
#       server response: This module version is not available.
# and GitHub downloads are not allowed there. So, the fallback: the source of tag v0.42.0 from a bare git
# snapshot of its repository (ETCD_DEFRAG_GIT, default /work/.mirror/ahrtr+etcd-defrag/repo), built with
# `go build`; its dependencies (go.sum pinned) come from the Go module proxy as usual. With a proxy that serves
# the module, `go install` is tried first.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=v0.42.0
OUT="$ROOT/.cache/bench"
BIN="$OUT/etcd-defrag"
GIT_DIR_SRC=${ETCD_DEFRAG_GIT:-/work/.mirror/ahrtr+etcd-defrag/repo}

if [ -x "$BIN" ] && [ -f "$BIN.version" ] && [ "$(cat "$BIN.version")" = "$VERSION" ]; then
    echo "$BIN ($VERSION) already built"
    exit 0
fi
mkdir -p "$OUT"
if GOBIN="$OUT" GOFLAGS=-mod=mod go install "github.com/ahrtr/etcd-defrag@$VERSION" 2>"$OUT/go-install.log"; then
    echo "$VERSION" >"$BIN.version"
    echo "built $BIN with go install"
    exit 0
fi
echo "go install refused ($(head -c 300 "$OUT/go-install.log" | tr '\n' ' '));" \
    "building $VERSION from $GIT_DIR_SRC" >&2
[ -d "$GIT_DIR_SRC" ] || { echo "no git snapshot at $GIT_DIR_SRC (set ETCD_DEFRAG_GIT)" >&2; exit 1; }
SRC=$(mktemp -d)
trap 'rm -rf "$SRC"' EXIT
git --git-dir="$GIT_DIR_SRC" archive "$VERSION" | tar -x -C "$SRC"
(cd "$SRC" && GOTOOLCHAIN=local go build -mod=readonly -trimpath -o "$BIN" .)
echo "$VERSION" >"$BIN.version"
echo "built $BIN from the $VERSION source"
