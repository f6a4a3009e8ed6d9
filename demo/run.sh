#!/usr/bin/env bash
# `make demo`: etcd's NOSPACE incident and its repair, end to end, on this machine.
# Sets up the venv and the etcd binaries, starts a 3-member etcd cluster on 127.0.0.1 with a 16 MiB quota,
# rewrites keys without compacting, fills it with 1 MiB values until etcd refuses writes (alarm NOSPACE, as in
# etcd's maintenance guide), runs `ansible-playbook etcdops.etcd.maintenance` against it, and proves the
# recovery. The cluster is stopped however the demo ends. Exits non-zero if the cluster was not recovered.
#   ETCD_VERSION   etcd to run: 3.6 (default: the version Kubernetes 1.34 and later ship, built from etcd's Go
#                  modules on the first run), 3.7, latest (the newest 3.5 in Debian), 3.5.1 or 3.4
set -euo pipefail
# shellcheck source=tests/utils/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/utils/lib.sh"

ETCD_VERSION=${ETCD_VERSION:-3.6}
DEMO_DIR="$BUILD_DIR/demo"
STATE="$DEMO_DIR/sandbox.json"
INVENTORY="$DEMO_DIR/inventory.yml"
REPORT_DIR="$DEMO_DIR/report"
SNAPSHOT_DIR="$DEMO_DIR/snapshots"
# Keys an application keeps rewriting; the demo checks that every one of them survives the repair.
APP_KEYS=100
APP_ROUNDS=10
# The sandbox's small-quota cluster (tests/utils/etcd_sandbox.py, flavor nospace): 16 MiB fills in seconds.
FLAVOR=nospace

step_no=0
started=$SECONDS
step() {
    step_no=$((step_no + 1))
    printf '\n\033[1m== %d. %s\033[0m  [%d s]\n' "$step_no" "$*" "$((SECONDS - started))"
}

say() {
    printf '   %s\n' "$*"
}

# etcdctl against the demo cluster; the command is printed as an operator would type it.
etcdctl() {
    printf '$ etcdctl %s\n' "$*"
    ETCDCTL_ENDPOINTS="$ENDPOINTS" "$ETCDCTL" "$@"
}

# The same, quiet: for the demo's own checks.
etcdctl_quiet() {
    ETCDCTL_ENDPOINTS="$ENDPOINTS" "$ETCDCTL" "$@"
}

# etcdctl 3.5 logs its retries as JSON lines before the error itself; the error says it all.
without_client_logs() {
    grep -v '^{"level"' || true
}

sandbox() {
    python "$ROOT/tests/utils/etcd_sandbox.py" "$@"
}

# A value of the state file written by `etcd_sandbox.py up`, as a Python expression over `state`.
state_get() {
    python -c 'import json, sys; state = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$STATE" "$1"
}

stop_cluster() {
    if [ -e "$STATE" ]; then
        step "Stop the demo cluster"
        sandbox down --state "$STATE" || log "could not stop the sandbox of $STATE"
    fi
}

step "Set up: Python venv with ansible-core (.venv), etcd binaries (.cache/etcd)"
use_venv
bin_dirs=$(sandbox fetch --versions "$ETCD_VERSION")
say "etcd binaries: $(python -c 'import json, sys; print(", ".join(json.load(sys.stdin).values()))' <<<"$bin_dirs")"
versions=$("${ANSIBLE_PLAYBOOK:-ansible-playbook}" --version)
say "${versions%%$'\n'*}"

mkdir -p "$DEMO_DIR"
# One demo per checkout at a time; a run that was killed outright may have left its cluster behind.
exec 8>"$DEMO_DIR/.lock"
flock -n 8 || die "another make demo is running in this checkout"
sandbox down --state "$STATE" >/dev/null 2>&1 || true
rm -rf "$REPORT_DIR" "$SNAPSHOT_DIR" "$INVENTORY"
trap stop_cluster EXIT
# Turn a signal into a normal exit, so that the EXIT trap stops the cluster.
trap 'exit 130' INT TERM

step "Start a 3-member etcd cluster on 127.0.0.1 with --quota-backend-bytes 16 MiB"
sandbox up --version "$ETCD_VERSION" --flavors "$FLAVOR" --state "$STATE" --max-lifetime 3600 >/dev/null
ETCDCTL="$(state_get 'state["bin_dir"]')/etcdctl"
ENDPOINTS=$(state_get '",".join(state["clusters"]["'"$FLAVOR"'"]["endpoints"])')
QUOTA=$(state_get 'state["clusters"]["'"$FLAVOR"'"]["quota"]')
say "etcd $(state_get 'state["version"]'), quota $((QUOTA / 1048576)) MiB per member (small, so that it fills in seconds)"
say "endpoints: $ENDPOINTS (etcdctl below gets them from ETCDCTL_ENDPOINTS)"
etcdctl endpoint status -w table

step "An application writes $APP_KEYS keys and rewrites them $((APP_ROUNDS - 1)) times; nobody compacts"
say "every rewrite keeps the old value as history: the database grows although the keyspace does not"
value=$(head -c 4096 /dev/zero | tr '\0' x)
for round in $(seq 1 "$APP_ROUNDS"); do
    # One transaction per round (etcd accepts up to 128 operations in one).
    for i in $(seq 1 "$APP_KEYS"); do
        printf 'put /demo/app/key-%03d "round-%d-%s"\n' "$i" "$round" "$value"
    done | { printf '\n'; cat; printf '\n\n'; } | etcdctl_quiet txn >/dev/null
done
say "$APP_KEYS keys x $APP_ROUNDS rounds written; revision $(etcdctl_quiet endpoint status -w json |
    python -c 'import json, sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')"
etcdctl endpoint status -w table

step "Run it out of space, as etcd's maintenance guide does: put 1 MiB values until etcd refuses"
echo '$ while dd if=/dev/urandom bs=1024 count=1024 | etcdctl put key; do :; done'
puts=0
answer=""
max_puts=$((QUOTA * 3 / 1048576 + 16))
while [ "$puts" -lt "$max_puts" ]; do
    if answer=$(head -c 1048576 /dev/urandom | etcdctl_quiet put /demo/filler 2>&1); then
        puts=$((puts + 1))
    else
        break
    fi
done
say "$puts puts of 1 MiB accepted, then etcd answered:"
printf '%s\n' "$answer" | without_client_logs | sed 's/^/     /'
case "$answer" in
*"database space exceeded"*) ;;
*) die "expected 'mvcc: database space exceeded' after $puts puts" ;;
esac
# Not `etcdctl ... | grep -q`: grep -q stops reading at the first match, and under pipefail the
# SIGPIPE that etcdctl may then get fails the pipeline although the alarm is there.
for _ in $(seq 1 150); do
    [[ $(etcdctl_quiet alarm list) == *NOSPACE* ]] && break
    sleep 0.1
done
etcdctl alarm list
[[ $(etcdctl_quiet alarm list) == *NOSPACE* ]] || die "no NOSPACE alarm after 15 s"
say "the cluster now refuses every write (deletes still work) until someone repairs it:"
etcdctl put /demo/probe before-maintenance 2>&1 | without_client_logs || true
etcdctl endpoint status -w table

step "Write an inventory: one host per member, run on this machine"
python - "$STATE" "$FLAVOR" "$INVENTORY" "$ROOT/demo/inventory.yml.in" "$REPORT_DIR" "$SNAPSHOT_DIR" "$VENV/bin/python" <<'EOF'
import json, sys
state_file, flavor, inventory, template, report_dir, snapshot_dir, python = sys.argv[1:]
members = json.load(open(state_file))["clusters"][flavor]["members"]
hosts = "".join(f"    {m['name']}:\n      etcd_client_url: {m['client_url']}\n" for m in members)
text = open(template).read()
for name, value in (("HOSTS", hosts.rstrip("\n")), ("PYTHON", python), ("REPORT_DIR", report_dir),
                    ("SNAPSHOT_DIR", snapshot_dir)):
    text = text.replace("@" + name + "@", value)
open(inventory, "w").write(text)
EOF
say "$INVENTORY:"
sed 's/^/     /' "$INVENTORY"

step "Repair it: ansible-playbook etcdops.etcd.maintenance"
# ansible-playbook finds the collection's playbook by name in a collection tree that is this checkout.
collections="$DEMO_DIR/collections"
mkdir -p "$collections/ansible_collections/etcdops"
ln -sfn "$ROOT" "$collections/ansible_collections/etcdops/etcd"
echo "\$ ANSIBLE_COLLECTIONS_PATH=$collections ansible-playbook etcdops.etcd.maintenance -i $INVENTORY"
playbook_rc=0
ANSIBLE_COLLECTIONS_PATH="$collections" "${ANSIBLE_PLAYBOOK:-ansible-playbook}" etcdops.etcd.maintenance \
    -i "$INVENTORY" || playbook_rc=$?
say "ansible-playbook exited with $playbook_rc"

step "The before/after report the role wrote ($REPORT_DIR, Markdown and JSON)"
shopt -s nullglob
reports=("$REPORT_DIR"/*.md)
if [ ${#reports[@]} -eq 0 ]; then
    say "(no Markdown report in $REPORT_DIR)"
fi
for report in "${reports[@]}"; do
    say "$report (without the warnings shown above):"
    grep -v '^- warning:' "$report" | sed 's/^/     /'
done
snapshots=("$SNAPSHOT_DIR"/*)
say "snapshot taken before any change: ${snapshots[*]:-(none)}"

step "Prove the recovery"
recovered=true
etcdctl alarm list
if [ -n "$(etcdctl_quiet alarm list)" ]; then
    say "FAIL: alarms are still active"
    recovered=false
fi
if etcdctl put /demo/probe after-maintenance; then
    say "writes are accepted again"
else
    say "FAIL: etcd still refuses writes"
    recovered=false
fi
echo '$ etcdctl get /demo/app/ --prefix -w json'
kept=$(etcdctl_quiet get /demo/app/ --prefix -w json |
    python -c '
import base64, json, sys
kvs = json.load(sys.stdin).get("kvs", [])
print(sum(base64.b64decode(kv["value"]).startswith(b"round-'"$APP_ROUNDS"'-") for kv in kvs))')
if [ "$kept" -eq "$APP_KEYS" ]; then
    say "all $APP_KEYS application keys are there, with their latest values"
else
    say "FAIL: $kept of $APP_KEYS application keys hold their latest value"
    recovered=false
fi
etcdctl endpoint status -w table

if [ "$playbook_rc" -ne 0 ]; then
    recovered=false
fi
step "Result after $((SECONDS - started)) s"
if [ "$recovered" = true ]; then
    say "the maintenance recovered the cluster from NOSPACE"
else
    say "FAIL: the cluster was not recovered (ansible-playbook exit $playbook_rc)"
    exit 1
fi
