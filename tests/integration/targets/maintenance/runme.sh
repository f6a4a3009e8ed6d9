#!/usr/bin/env bash
# The role etcdops.etcd.maintenance, run as operators run it (`ansible-playbook etcdops.etcd.maintenance
# -i inventory`), against the sandbox's real 3-member clusters. Each scenario is a playbook here: its
# "prepare" play sets the clusters up, runme.sh runs the maintenance, its "verify" play reads etcd on
# its own and checks what the run did and reported. Each run keeps, in a directory of its own, its
# output, exit code, reports, snapshots and a record of its etcd module calls
# (callback_plugins/maintenance_record.py), so that no check depends on the role's task names.
#
# ansible-test runs this script from the target's directory with INVENTORY_PATH (the testhost) and
# OUTPUT_DIR set; the sandbox's vars are ../../integration_config.yml (MAINTENANCE_TEST_VARS overrides).
set -eux
set -o pipefail

cd "$(dirname "$0")"
vars_file=$(realpath "${MAINTENANCE_TEST_VARS:-../../integration_config.yml}")
work=$(mktemp -d "${OUTPUT_DIR:-${TMPDIR:-/tmp}}/maintenance-XXXXXX")

# Whatever happened, leave the clusters as the next targets expect them: every member running, the
# test's keys deleted, defragmented, no alarm. (The scenarios restart the members they kill.)
cleanup() {
    local status=$?
    unmount_bad_inputs || status=1
    ansible-playbook -i "$INVENTORY_PATH" -e "@$vars_file" -e "test_work_dir=$work" cleanup.yml || status=1
    # ansible-test removes its OUTPUT_DIR; a run by hand removes its own directory.
    if [ -z "${OUTPUT_DIR:-}" ]; then
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT

# scenario NAME TAG [ansible-playbook options]: one play of scenario_NAME.yml.
scenario() {
    local name=$1 tag=$2
    shift 2
    mkdir -p "$work/$name"
    ansible-playbook -i "$INVENTORY_PATH" -e "@$vars_file" -e "test_work_dir=$work" -e "test_scenario=$name" \
        --tags "$tag" "scenario_$name.yml" "$@"
}

# maintain RUN INVENTORY [ansible-playbook options]: the collection's maintenance playbook, its output
# shown and kept in RUN/run.log, its exit code in RUN/run.rc (scenarios expect failures), its reports
# in RUN/reports, its snapshots in RUN/snapshots, the record of its etcd module calls in
# RUN/record.json. MAINTENANCE_TEST_PLAYBOOK runs another of the collection's playbooks the same way.
maintain() {
    local run=$1 inventory=$2 status=0
    shift 2
    mkdir -p "$work/$run/reports" "$work/$run/snapshots"
    ANSIBLE_NOCOLOR=1 \
        ANSIBLE_CALLBACK_PLUGINS="$PWD/callback_plugins${ANSIBLE_CALLBACK_PLUGINS:+:$ANSIBLE_CALLBACK_PLUGINS}" \
        ANSIBLE_CALLBACKS_ENABLED="${ANSIBLE_CALLBACKS_ENABLED:+$ANSIBLE_CALLBACKS_ENABLED,}maintenance_record" \
        MAINTENANCE_TEST_RECORD="$work/$run/record.json" \
        ansible-playbook "${MAINTENANCE_TEST_PLAYBOOK:-etcdops.etcd.maintenance}" -i "$work/inventory-$inventory.yml" \
        -e "maintenance_snapshot_dir=$work/$run/snapshots" -e "maintenance_report_dir=$work/$run/reports" \
        "$@" 2>&1 | tee "$work/$run/run.log" || status=$?
    echo "$status" >"$work/$run/run.rc"
}

# The scenarios, in the order they run (MAINTENANCE_TEST_SCENARIOS picks some, e.g. while writing one;
# second_run needs fragmented right before it).

# 1. A fragmented cluster: every member defragmented, followers first, leadership moved away from the
#    leader before its turn, a snapshot first.
fragmented() {
    scenario fragmented prepare "$@"
    maintain fragmented plain "$@"
    scenario fragmented verify "$@"
}

# 2. A second run right after: nothing due, changed=0 everywhere, no snapshot.
second_run() {
    maintain second_run plain "$@"
    scenario second_run verify "$@"
}

# 2b. History over a few keys, never compacted, with the role's default rules (inventory "defaults"): in
#     check mode a compaction is predicted and the defragmentations left to be decided after it; the
#     run compacts, finds every member due on its status after the compaction, defragments them all;
#     a second run changes nothing.
history() {
    scenario history prepare "$@"
    maintain history_check defaults --check "$@"
    scenario history verify_check "$@"
    maintain history defaults "$@"
    scenario history verify "$@"
    maintain history_second defaults "$@"
    scenario history verify_second "$@"
}

# 3. --check where work is due: it reports what it would do and changes nothing.
check_mode() {
    scenario check_mode prepare "$@"
    maintain check_mode plain --check "$@"
    scenario check_mode verify "$@"
}

# 4. A cluster stuck on NOSPACE: recovered, writes accepted, no key lost.
nospace() {
    scenario nospace prepare "$@"
    maintain nospace nospace "$@"
    scenario nospace verify "$@"
}

# 4b. NOSPACE raised by a writer while the run is in progress (the record callback fills the cluster right
#     after the first follower's turn): the turns go on, the postflight fails the cluster naming the alarm
#     as raised during the run and saying to run it again; the rerun recovers it like scenario 4.
nospace_mid_run() {
    scenario nospace prepare_mid_run "$@"
    MAINTENANCE_TEST_KILL=$(cat "$work/nospace/kill.json") maintain nospace_mid_run nospace "$@"
    scenario nospace verify_mid_run "$@"
    maintain nospace_mid_run_rerun nospace "$@"
    scenario nospace verify -e test_run=nospace_mid_run_rerun "$@"
}

# 5. One member down (TLS cluster): refused before any change, the message names the member.
member_down() {
    scenario member_down prepare "$@"
    maintain member_down tls "$@"
    scenario member_down verify "$@"
}

# 6. A member killed mid-run, right after the first member's defragmentation (by the record callback:
#    deterministic, a callback runs before the next task is queued). The run stops at the killed
#    member and the leader is not touched; after a restart, a second run completes.
killed_mid_run() {
    scenario killed_mid_run prepare "$@"
    MAINTENANCE_TEST_KILL=$(cat "$work/killed_mid_run/kill.json") maintain killed_mid_run plain "$@"
    scenario killed_mid_run verify "$@"
    maintain killed_mid_run_rerun plain "$@"
    scenario killed_mid_run verify_rerun "$@"
}

# 6b. The same in controller mode, where the members' turns are one etcd_defrag run: the inventory
#     reaches the first follower through a proxy (tests/utils/etcd_sandbox.py proxy) that kills the
#     second follower right before the first follower's defragment response reaches the module
#     (deterministic as well: the module sees the response only once the member is dead).
# start_proxy: the proxy the prepare play of killed_mid_run wrote (proxy.json), in the background
# (proxy_pid), once it listens; stop_proxy stops it.
start_proxy() {
    rm -f "$work/killed_mid_run/proxy.url"
    python3 -c 'import json, os, sys; argv = json.load(open(sys.argv[1])); os.execvp(argv[0], argv)' \
        "$work/killed_mid_run/proxy.json" &
    proxy_pid=$!
    for _ in $(seq 100); do
        [ -s "$work/killed_mid_run/proxy.url" ] && break
        sleep 0.1
    done
}

stop_proxy() {
    kill "$proxy_pid" || true
    wait "$proxy_pid" || true
}

killed_mid_run_controller() {
    scenario killed_mid_run prepare -e test_kill_via=proxy "$@"
    start_proxy
    maintain killed_mid_run_controller plain-proxy -e maintenance_run_from=controller "$@"
    stop_proxy
    scenario killed_mid_run verify -e test_kill_via=proxy -e test_run=killed_mid_run_controller "$@"
    maintain killed_mid_run_controller_rerun plain -e maintenance_run_from=controller "$@"
    scenario killed_mid_run verify_rerun -e test_run=killed_mid_run_controller_rerun "$@"
}

# fault RUN TARGET INVENTORY: scenario killed_mid_run with test_kill_target=TARGET (the callback's fault after
# the first follower's turn), the run RUN over INVENTORY, its check, the rerun after the repair, its check.
fault() {
    local run=$1 target=$2 inventory=$3
    shift 3
    scenario killed_mid_run prepare -e "test_kill_target=$target" "$@"
    MAINTENANCE_TEST_KILL=$(cat "$work/killed_mid_run/kill.json") maintain "$run" "$inventory" "$@"
    scenario killed_mid_run verify_fault -e "test_kill_target=$target" -e "test_run=$run" "$@"
    maintain "${run}_rerun" "$inventory" "$@"
    scenario killed_mid_run verify_rerun_fault -e "test_run=${run}_rerun" "$@"
}

# 6c. The leader killed after the preflight (after the first follower's turn; the two others elect a
#     leader before the next turn starts): the second follower is refused while the old leader is down,
#     the message names it; restarted, a rerun completes.
leader_killed() {
    fault leader_killed leader plain "$@"
}

# 6d. The second follower frozen (SIGSTOP) after the first follower's turn: its turn fails within
#     maintenance_timeout, naming it; thawed, a rerun completes.
frozen() {
    fault frozen frozen plain "$@"
}

# 6f. Ansible can no longer reach the second follower's host after the first follower's turn (its
#     connection turns to ssh to a closed port): its turn fails naming the host, the coordinator stays in
#     the play and writes the report; reached again, a rerun over the same inventory completes.
unreachable_mid_run() {
    fault unreachable_mid_run unreachable plain-unreachable-mid "$@"
}

# 6e. The first follower SIGKILLed in the middle of its defragmentation (member mode, 32 MiB of live
#     data to copy): the inventory reaches it through a proxy that, once the defragment request has
#     passed, waits for etcd's temporary copy of the data, freezes the member there, checks the copy
#     is still in progress, then kills it. Its turn fails naming it, nothing else is touched;
#     restarted (no key lost), a rerun completes.
killed_mid_defrag() {
    scenario killed_mid_run prepare -e test_kill_via=proxy -e test_kill_target=mid_defrag "$@"
    start_proxy
    maintain killed_mid_defrag plain-proxy "$@"
    stop_proxy
    scenario killed_mid_run verify_mid_defrag -e test_run=killed_mid_defrag "$@"
    maintain killed_mid_defrag_rerun plain "$@"
    scenario killed_mid_run verify_rerun_fault -e test_kill_target=mid_defrag -e test_run=killed_mid_defrag_rerun "$@"
}

# 7. A fleet of three clusters in one inventory, one of them with a member down, run from the controller:
#    the other two are maintained, the broken one is not touched, the run fails.
fleet() {
    scenario fleet prepare "$@"
    maintain fleet fleet -e maintenance_run_from=controller "$@"
    scenario fleet verify "$@"
}

# 8. Role variables: a wrong type and a typo fail before any etcd module runs; a stall limit no member
#    can meet (maintenance_max_stall_seconds) fails in the plan, before any change.
argument_specs() {
    scenario argument_specs prepare "$@"
    maintain wrong_type plain -e maintenance_pause_seconds=abc "$@"
    maintain typo plain -e maintenance_snapshot_kep=3 "$@"
    maintain stall_limit plain -e maintenance_max_stall_seconds=0.001 -e maintenance_compact=false "$@"
    scenario argument_specs verify "$@"
}

# 9. The other playbooks on a fragmented cluster, in both modes: etcdops.etcd.status reports and
#    changes nothing; etcdops.etcd.snapshot writes one verified snapshot and changes nothing in etcd.
playbooks() {
    scenario playbooks prepare "$@"
    MAINTENANCE_TEST_PLAYBOOK=etcdops.etcd.status maintain status_member plain "$@"
    MAINTENANCE_TEST_PLAYBOOK=etcdops.etcd.status maintain status_controller plain -e maintenance_run_from=controller "$@"
    MAINTENANCE_TEST_PLAYBOOK=etcdops.etcd.snapshot maintain snapshot_member plain "$@"
    MAINTENANCE_TEST_PLAYBOOK=etcdops.etcd.snapshot maintain snapshot_controller plain -e maintenance_run_from=controller "$@"
    scenario playbooks verify "$@"
}

# applies NAME: false (and says why) when scenario NAME's prepare play found it does not apply to this
# etcd version.
applies() {
    if [ -s "$work/$1/not-applicable.txt" ]; then
        echo "scenario $1 does not apply here: $(cat "$work/$1/not-applicable.txt")" >&2
        return 1
    fi
}

# 10. An upgrade half done (one member on the next minor version): refused, every member named with its
#     version; the status playbook reports the same problem. Needs the next minor's binaries.
mixed_versions() {
    scenario mixed_versions prepare "$@"
    applies mixed_versions || return 0
    maintain mixed_versions plain "$@"
    MAINTENANCE_TEST_PLAYBOOK=etcdops.etcd.status maintain mixed_versions_status plain "$@"
    scenario mixed_versions verify "$@"
}

# 11. A downgrade in progress (etcd 3.6+): refused, saying how to end it; status reports it; cancelled.
downgrade() {
    scenario downgrade prepare "$@"
    applies downgrade || return 0
    maintain downgrade plain "$@"
    MAINTENANCE_TEST_PLAYBOOK=etcdops.etcd.status maintain downgrade_status plain "$@"
    scenario downgrade verify "$@"
}

# 12. Faults found before the members' turns (a rule that does not parse, an inventory host that reaches
#     another cluster's member, a wrong password, a snapshot directory read-only or too small): each
#     fails before any change, saying why; etcd unchanged. The two snapshot directories are tmpfs
#     mounts (read-only; 16 KiB), unmounted by unmount_bad_inputs.
unmount_bad_inputs() {
    local dir
    for dir in "$work/bad_inputs/readonly" "$work/bad_inputs/full"; do
        if mountpoint -q "$dir"; then
            umount "$dir"
        fi
    done
}

bad_inputs() {
    scenario bad_inputs prepare "$@"
    mkdir -p "$work/bad_inputs/readonly" "$work/bad_inputs/full"
    mount -t tmpfs -o ro,size=64k,mode=0700 etcdops-test-readonly "$work/bad_inputs/readonly"
    mount -t tmpfs -o size=16k,mode=0700 etcdops-test-full "$work/bad_inputs/full"
    maintain bad_rule plain -e '{"maintenance_defrag_rule": "db_size_free >"}' "$@"
    maintain foreign_member plain-foreign "$@"
    # From a vars file, as a password should come (ansible-playbook -vvv echoes its -e key=value arguments).
    maintain wrong_password auth -e "@$work/bad_inputs/wrong-password.yml" -vvv "$@"
    maintain snapshot_readonly plain -e "maintenance_snapshot_dir=$work/bad_inputs/readonly" "$@"
    maintain snapshot_full plain -e "maintenance_snapshot_dir=$work/bad_inputs/full" "$@"
    maintain unreachable_host plain-unreachable "$@"
    scenario bad_inputs verify "$@"
    unmount_bad_inputs
}

# 13. Secrets: a whole maintenance of the auth cluster at -vvv succeeds, and neither its password nor any
#     token etcd hands out is in the output, the reports or the snapshot.
secrets() {
    scenario secrets prepare "$@"
    maintain secrets auth -vvv "$@"
    scenario secrets verify "$@"
}

# The copy of the collection this test runs (ansible-test's, on ANSIBLE_COLLECTIONS_PATH).
collection_dir() {
    ansible-galaxy collection list etcdops.etcd --format json |
        python3 -c 'import json, sys; print(next(iter(json.load(sys.stdin))) + "/etcdops/etcd")'
}

# 14. The maintenance and status playbooks through ansible-runner (the engine under AWX job templates), from
#     a private data directory laid out as AWX does; the job's status, stats event and events are checked.
#     Not in the default list: run-all.sh runs it in a stage of its own, on one etcd version.
runner() {
    local job status
    scenario runner prepare -e "test_collection_dir=$(collection_dir)" "$@"
    # The survey's answers (the defaults, but no snapshot and the test inventories' rule), in check mode.
    python3 "$(collection_dir)/tests/utils/awx.py" survey --spec "$(collection_dir)/docs/awx/survey-maintenance.json" \
        --pdd "$work/runner/survey" --answer maintenance_snapshot=false \
        --answer "maintenance_defrag_rule=db_size_free > \`1048576\`"
    status=0
    # A job of type "check": ansible-runner's env/cmdline adds --check to ansible-playbook's arguments.
    echo "--check" >"$work/runner/survey/env/cmdline"
    ansible-runner run "$work/runner/survey" --ident maintenance -p maintenance.yml || status=$?
    echo "ansible-runner maintenance (survey, check mode): exit code $status"
    for job in maintenance status; do
        status=0
        ansible-runner run "$work/runner/pdd" --ident "$job" -p "$job.yml" || status=$?
        echo "ansible-runner $job: exit code $status"
    done
    scenario runner verify "$@"
}

# 14b. A job with the custom credential type of docs/awx/credential-type.yml, applied as AWX applies it
#     (tests/utils/awx.py), on the auth cluster from an inventory without credentials, in
#     controller mode: maintained with only what the credential injected; the same job without it refused.
awx_credential() {
    local job status
    scenario runner prepare_credential -e "test_collection_dir=$(collection_dir)" "$@"
    python3 "$(collection_dir)/tests/utils/awx.py" inject --type "$(collection_dir)/docs/awx/credential-type.yml" \
        --inputs "$work/runner/credential-inputs.yml" --pdd "$work/runner/credential" >"$work/runner/credential.json"
    for job in credential nocredential; do
        status=0
        ansible-runner run "$work/runner/$job" --ident maintenance -p maintenance.yml || status=$?
        echo "ansible-runner maintenance ($job): exit code $status"
    done
    scenario runner verify_credential "$@"
}

# 15. The release as users get it: the collection built with ansible-galaxy (galaxy.yml's build_ignore),
#     installed from the tarball into an empty path, and ansible-doc and the status and maintenance playbooks
#     run with only that path as ANSIBLE_COLLECTIONS_PATH. Not in the default list either (run-all.sh).
installed() {
    local dir="$work/installed" source tarball
    scenario installed prepare "$@"
    source=$(collection_dir)
    python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' \
        "$source/galaxy.yml" >"$dir/galaxy.yml.json"
    mkdir -p "$dir/dist" "$dir/collections"
    ansible-galaxy collection build "$source" --output-path "$dir/dist"
    tarball=$(ls "$dir"/dist/etcdops-etcd-*.tar.gz)
    tar -tzf "$tarball" | sed 's|^\./||; s|/$||' >"$dir/tarball-files.txt"
    # Only the empty path configured: the copy under test must not count as "already installed".
    ANSIBLE_COLLECTIONS_PATH="$dir/collections" ansible-galaxy collection install "$tarball" -p "$dir/collections"
    ANSIBLE_COLLECTIONS_PATH="$dir/collections" ansible-doc -t module --json etcdops.etcd.etcd_alarm \
        etcdops.etcd.etcd_compact etcdops.etcd.etcd_defrag etcdops.etcd.etcd_leader etcdops.etcd.etcd_member_info \
        etcdops.etcd.etcd_snapshot etcdops.etcd.etcd_status >"$dir/ansible-doc.json"
    # The execution environment of docs/awx/execution-environment.yml, the collection taken from the tarball:
    # ansible-builder's build context, then what its build does without a container engine - install the
    # context's requirements.yml into an empty path and run the context's introspection over it.
    python3 -c 'import sys, yaml
ee = yaml.safe_load(open(sys.argv[1]))
ee["dependencies"]["galaxy"] = {"collections": [{"name": sys.argv[2], "type": "file"}]}
yaml.safe_dump(ee, open(sys.argv[3], "w"))' "$source/docs/awx/execution-environment.yml" "$tarball" "$dir/ee.yml"
    ansible-builder create -f "$dir/ee.yml" -c "$dir/ee-context"
    ANSIBLE_COLLECTIONS_PATH="$dir/ee-collections" ansible-galaxy collection install \
        -r "$dir/ee-context/_build/requirements.yml" -p "$dir/ee-collections"
    python3 "$dir/ee-context/_build/scripts/introspect.py" introspect "$dir/ee-collections" \
        --write-pip="$dir/ee-requirements.txt" --write-bindep="$dir/ee-bindep.txt"
    ANSIBLE_COLLECTIONS_PATH="$dir/collections" MAINTENANCE_TEST_PLAYBOOK=etcdops.etcd.status \
        maintain installed_status plain -v "$@"
    ANSIBLE_COLLECTIONS_PATH="$dir/collections" maintain installed_maintenance plain "$@"
    scenario installed verify "$@"
}

# The scenarios to run: MAINTENANCE_TEST_SCENARIOS, else the vars file's test_maintenance_scenarios (which
# run-integration.sh writes from MAINTENANCE_SCENARIOS: ansible-test does not pass the environment on), else all.
scenarios=${MAINTENANCE_TEST_SCENARIOS:-$(sed -n 's/^test_maintenance_scenarios: "\(.*\)"$/\1/p' "$vars_file")}

ansible-playbook -i "$INVENTORY_PATH" -e "@$vars_file" -e "test_work_dir=$work" setup.yml "$@"
for name in ${scenarios:-fragmented second_run history check_mode nospace nospace_mid_run member_down killed_mid_run killed_mid_run_controller killed_mid_defrag leader_killed frozen unreachable_mid_run fleet argument_specs bad_inputs secrets playbooks mixed_versions downgrade}; do
    "$name" "$@"
done
