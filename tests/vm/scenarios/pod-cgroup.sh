#!/usr/bin/env bash
# A pod's limits hold for all its containers together: `pod create --memory` makes the pod a cgroup
# of its own, which its containers' cgroups are made in. With u1's systemd that is the transient
# slice `user-roost_pod_ID.slice` (MemoryMax= and CPUQuota= as unit properties), stopped by
# `pod rm`; with the cgroupfs manager a directory `roost-pod-ID`, gone with its last container.
# Two members that each fit in the pod's 64 MB do not fit together; /proc/meminfo in a member without
# a limit of its own shows the pod's.
set -euo pipefail
type fail >/dev/null 2>&1 || fail() { echo "FAILED: $*" >&2; exit 1; }
type expect_eq >/dev/null 2>&1 || expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected \`$1\`, got \`$2\`"; }
type expect_contains >/dev/null 2>&1 || expect_contains() {
  case "$1" in *"$2"*) ;; *) fail "${3:-output} does not contain \`$2\`: $1" ;; esac
}
type say >/dev/null 2>&1 || say() { echo "-- $*"; }
type wait_for >/dev/null 2>&1 || wait_for() {
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || fail "timed out: $*"; sleep 1; done
}

pod=pcg-$$ fspod=pcgfs-$$ unit=roost-pcg-$$
conf=$(mktemp)
printf '[engine]\ncgroup_manager = "cgroupfs"\n' >"$conf"
trap 'roost pod rm -f -t0 "$pod" >/dev/null 2>&1 || true; CONTAINERS_CONF=$conf roost pod rm -f -t0 "$fspod" >/dev/null 2>&1 || true; rm -f "$conf"' EXIT
# 40 MB in a tmpfs of the container's own (charged to its cgroup, and not reclaimable: no swap
# with --memory-swap equal to --memory), then "held".
# A member without a limit of its own has none in its own cgroup (no memory controller there, or `max`).
own_max() { expect_eq max "$(cat "/sys/fs/cgroup$1/memory.max" 2>/dev/null || echo max)" "the member's own memory.max"; }
hold='dd if=/dev/zero of=/s/f bs=1M count=40 2>&1 && echo held; sleep 600'

say "control: 40 MB fit in a lone container's 64 MB"
expect_contains "$(roost run --rm --network none -m 64m --memory-swap 64m --tmpfs /s "$BUSYBOX" sh -c 'dd if=/dev/zero of=/s/f bs=1M count=40 2>&1 && echo held')" held "the lone container"

say "systemd: pod create --memory 64m --cpus 0.5; a member holds 40 MB"
podid=$(roost pod create --name "$pod" --memory 64m --memory-swap 64m --cpus 0.5)
slice=user-roost_pod_$podid.slice
aid=$(roost run -d --pod "$pod" --name "$pod-a" --tmpfs /s "$BUSYBOX" sh -c "$hold")
wait_for 120 sh -c "roost logs $pod-a | grep -q held"
expect_eq 67108864 "$(systemctl --user show -P MemoryMax "$slice")" "the slice's MemoryMax"
expect_eq 500ms "$(systemctl --user show -P CPUQuotaPerSecUSec "$slice")" "the slice's CPUQuotaPerSecUSec"
pid=$(roost inspect --format '{{.State.Pid}}' "$pod-a")
cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
expect_contains "$cg" "/user.slice/$slice/roost-$aid.scope/container" "the member's cgroup"
dir=/sys/fs/cgroup${cg%/roost-$aid.scope/container}
expect_eq 67108864 "$(cat "$dir/memory.max")" "the slice's memory.max"
own_max "$cg"
expect_contains "$(roost pod inspect --format '{{.CgroupPath}}' "$pod")" "$slice" "pod inspect's CgroupPath"

say "  /proc/meminfo of the member shows the pod's 64 MB"
expect_eq "MemTotal: 65536 kB" "$(roost exec "$pod-a" head -1 /proc/meminfo | tr -s ' ')" "MemTotal"

say "  a second member's 40 MB do not fit beside the first's"
rc=0
out=$(roost run --rm --pod "$pod" --tmpfs /s "$BUSYBOX" sh -c 'dd if=/dev/zero of=/s/f bs=1M count=40 2>&1 && echo held' 2>&1) || rc=$?
case "$out" in *held*) fail "the second member wrote 40 MB too: the pod's limit did not hold both: $out" ;; esac
say "  (exit $rc: $(echo "$out" | tail -1))"

say "  pod rm -f stops the slice"
roost pod rm -f -t0 "$pod" >/dev/null
state=$(systemctl --user show -P ActiveState "$slice")
say "  ($slice: $state, $(systemctl --user show -P LoadState "$slice"))"
[ "$state" != active ] || fail "the slice is still active after pod rm"
[ ! -d "$dir" ] || fail "the slice's cgroup $dir is left after pod rm"

say "cgroupfs: the pod's directory in a delegated scope, gone with the pod"
export CONTAINERS_CONF=$conf
fsid=$(roost pod create --name "$fspod" --memory 64m)
bid=$(systemd-run --user --scope -p Delegate=yes --quiet --unit "$unit" -- roost run -d --pod "$fspod" --name "$fspod-b" "$BUSYBOX" sleep 600)
pid=$(roost inspect --format '{{.State.Pid}}' "$fspod-b")
cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
expect_contains "$cg" "/$unit.scope/roost-pod-$fsid/roost-$bid/container" "the member's cgroup"
pdir=/sys/fs/cgroup${cg%/roost-$bid/container}
expect_eq 67108864 "$(cat "$pdir/memory.max")" "the pod directory's memory.max"
own_max "$cg"
roost pod rm -f -t0 "$fspod" >/dev/null
wait_for 30 test ! -d "$pdir"
unset CONTAINERS_CONF
