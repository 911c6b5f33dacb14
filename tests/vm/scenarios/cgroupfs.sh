#!/usr/bin/env bash
# The cgroupfs cgroup manager (`--cgroup-manager cgroupfs`, containers.conf `[engine]
# cgroup_manager`): no systemd scope; the container's cgroup `roost-ID` is made under the cgroup
# roost runs in when that is a delegated subtree of its own (here a `systemd-run --user --scope
# -p Delegate=yes`), whose processes first move to its `init` leaf (cgroup v2 allows no processes
# beside child cgroups with controllers); the limits apply, and everything goes with the container.
set -euo pipefail
type fail >/dev/null 2>&1 || fail() { echo "FAILED: $*" >&2; exit 1; }
type expect_eq >/dev/null 2>&1 || expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected \`$1\`, got \`$2\`"; }
type expect_contains >/dev/null 2>&1 || expect_contains() {
  case "$1" in *"$2"*) ;; *) fail "${3:-output} does not contain \`$2\`: $1" ;; esac
}
type say >/dev/null 2>&1 || say() { echo "-- $*"; }

ctr=cgfs-$$ unit=roost-cgfs-$$
trap 'roost rm -f -t0 "$ctr" >/dev/null 2>&1 || true' EXIT
scope() { systemd-run --user --scope -p Delegate=yes --quiet --unit "$1" -- "${@:2}"; }

say "run --rm -m 64m from a delegated scope: memory.max"
expect_eq 67108864 "$(scope "$unit-1" roost --cgroup-manager cgroupfs run --rm -m 64m "$BUSYBOX" cat /sys/fs/cgroup/memory.max)" "memory.max"

say "containers.conf cgroup_manager = cgroupfs, run -d: the cgroup under the scope"
conf=$(mktemp)
printf '[engine]\ncgroup_manager = "cgroupfs"\n' >"$conf"
id=$(CONTAINERS_CONF=$conf scope "$unit-2" roost run -d --name "$ctr" -m 64m --cpus 0.5 "$BUSYBOX" sleep 600)
pid=$(roost inspect --format '{{.State.Pid}}' "$ctr")
mon=$(roost inspect --format '{{.State.ConmonPid}}' "$ctr")
cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
say "  container: $cg; monitor: $(sed -n 's/^0:://p' "/proc/$mon/cgroup")"
expect_eq "/user.slice/user-1000.slice/user@1000.service/app.slice/$unit-2.scope/roost-$id/container" "$cg" "the container's cgroup"
expect_eq "0::/user.slice/user-1000.slice/user@1000.service/app.slice/$unit-2.scope/roost-$id/supervisor" "$(cat "/proc/$mon/cgroup")" "the monitor's cgroup"
dir=/sys/fs/cgroup$cg
expect_eq 67108864 "$(cat "$dir/memory.max")" "memory.max"
expect_eq "50000 100000" "$(cat "$dir/cpu.max")" "cpu.max"
expect_eq "" "$(cat "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/$unit-2.scope/cgroup.procs")" "processes left in the divided scope"
roost stop -t0 "$ctr" >/dev/null
[ ! -d "${dir%/container}" ] || fail "the container's cgroup ${dir%/container} is left after stop"
roost rm "$ctr" >/dev/null
rm -f "$conf"
