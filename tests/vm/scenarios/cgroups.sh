#!/usr/bin/env bash
# Resource limits on u1's delegated cgroup v2 subtree (cpu, memory, pids delegated by user@.service):
# the limits in the container's own cgroup (a transient `roost-ID.scope` from u1's systemd, the
# container in its `container` leaf, the monitor in `supervisor`), the OOM killer's exit 137 and
# State.OOMKilled, pids.max enforced, stats from the cgroup, pause/unpause with cgroup.freeze,
# update, and no cgroup (no D-Bus) for a container that asks for no limit. Prints the time `run --rm`
# takes with and without `-m` (figures, not asserted).
set -euo pipefail
# The helpers of tests/vm/lib.sh, when run without it.
type fail >/dev/null 2>&1 || fail() { echo "FAILED: $*" >&2; exit 1; }
type expect_eq >/dev/null 2>&1 || expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected \`$1\`, got \`$2\`"; }
type expect_contains >/dev/null 2>&1 || expect_contains() {
  case "$1" in *"$2"*) ;; *) fail "${3:-output} does not contain \`$2\`: $1" ;; esac
}
type say >/dev/null 2>&1 || say() { echo "-- $*"; }

oom=cg-oom-$$ st=cg-stats-$$ plain=cg-plain-$$
trap 'roost rm -f -t0 "$oom" "$st" "$plain" >/dev/null 2>&1 || true' EXIT

say "-m 64m: memory.max inside"
expect_eq 67108864 "$(roost run --rm -m 64m "$BUSYBOX" cat /sys/fs/cgroup/memory.max)" "memory.max"
say "--cpus 0.5: cpu.max"
expect_eq "50000 100000" "$(roost run --rm --cpus 0.5 "$BUSYBOX" cat /sys/fs/cgroup/cpu.max)" "cpu.max"
say "--cpu-period=100000 --cpu-quota=20000"
expect_eq "20000 100000" "$(roost run --rm --cpu-period=100000 --cpu-quota=20000 "$BUSYBOX" cat /sys/fs/cgroup/cpu.max)" "cpu.max"
say "the container sees its own cgroup as /"
expect_eq "0::/" "$(roost run --rm -m 64m "$BUSYBOX" cat /proc/self/cgroup)" "/proc/self/cgroup"

say "--pids-limit 20: forks past 20 fail"
expect_eq 20 "$(roost run --rm --pids-limit 20 "$BUSYBOX" cat /sys/fs/cgroup/pids.max)" "pids.max"
rc=0
out=$(roost run --rm --pids-limit 20 "$BUSYBOX" sh -c 'for i in $(seq 40); do sleep 60 & done; echo all 40 started' 2>&1) || rc=$?
case "$out" in *"all 40 started"*) fail "40 processes started under --pids-limit 20: $out" ;; esac
expect_contains "$out" "fork" "the fork failure"
say "  (exit $rc: $(echo "$out" | tail -1))"

say "OOM: exit 137 and State.OOMKilled"
rc=0
roost run --name "$oom" -m 32m --memory-swap 32m "$BUSYBOX" sh -c 'head -c 300m /dev/zero | tail' >/dev/null 2>&1 || rc=$?
expect_eq 137 "$rc" "exit status of the memory hog"
expect_eq true "$(roost inspect --format '{{.State.OOMKilled}}' "$oom")" "State.OOMKilled"
expect_eq 33554432 "$(roost inspect --format '{{.HostConfig.Memory}}' "$oom")" "HostConfig.Memory"
roost rm "$oom" >/dev/null

say "run -d with limits: the scope, its leaves, systemctl --user"
id=$(roost run -d --name "$st" -m 64m --cpus 1 "$BUSYBOX" sh -c 'while :; do :; done')
pid=$(roost inspect --format '{{.State.Pid}}' "$st")
mon=$(roost inspect --format '{{.State.ConmonPid}}' "$st")
cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
say "  container: $cg; monitor: $(sed -n 's/^0:://p' "/proc/$mon/cgroup")"
expect_contains "$cg" "/user@1000.service/user.slice/roost-$id.scope/container" "the container's cgroup"
expect_contains "$(cat "/proc/$mon/cgroup")" "roost-$id.scope/supervisor" "the monitor's cgroup"
expect_contains "$(systemctl --user status "roost-$id.scope" 2>&1 || true)" "roost container ${id:0:12}" "systemctl --user status"
dir=/sys/fs/cgroup$cg

say "stats --no-stream --format json"
json=$(roost stats --no-stream --format json "$st")
echo "$json" | sed 's/^/     /'
expect_contains "$json" "\"id\": \"${id:0:12}\"" "stats json"
expect_contains "$json" "/ 67.11MB\"" "stats json mem_usage"
case "$json" in *'"cpu_percent": "0.00%"'*) fail "a busy loop at 0.00% CPU: $json" ;; esac
case "$json" in *'"pids": "0"'*) fail "no pids: $json" ;; esac
table=$(roost stats --no-stream "$st")
expect_contains "$table" "MEM USAGE / LIMIT" "stats table"
expect_eq "$st" "$(roost stats --no-stream --format '{{.Name}}' "$st")" "stats template"

say "update --memory 128m"
roost update --memory 128m "$st" >/dev/null
expect_eq 134217728 "$(cat "$dir/memory.max")" "memory.max after update"
expect_eq 134217728 "$(roost inspect --format '{{.HostConfig.Memory}}' "$st")" "HostConfig.Memory after update"

say "pause / unpause"
roost pause "$st" >/dev/null
expect_eq paused "$(roost inspect --format '{{.State.Status}}' "$st")" "state after pause"
expect_contains "$(cat "$dir/cgroup.events")" "frozen 1" "cgroup.events after pause"
expect_contains "$(roost ps --format '{{.Names}} {{.Status}}')" "$st Paused" "ps after pause"
roost unpause "$st" >/dev/null
expect_eq running "$(roost inspect --format '{{.State.Status}}' "$st")" "state after unpause"
expect_contains "$(cat "$dir/cgroup.events")" "frozen 0" "cgroup.events after unpause"
roost pause "$st" >/dev/null
say "rm -f of a paused container"
roost rm -f -t0 "$st" >/dev/null
[ ! -d "$dir" ] || fail "the container's cgroup $dir is left after rm -f"

say "no limit: no cgroup of its own"
roost run -d --name "$plain" "$BUSYBOX" sleep 600 >/dev/null
ppid=$(roost inspect --format '{{.State.Pid}}' "$plain")
case "$(cat "/proc/$ppid/cgroup")" in *roost-*) fail "a container without limits got a cgroup: $(cat "/proc/$ppid/cgroup")" ;; esac
expect_eq "$(sed -n 's/^0:://p' /proc/self/cgroup)" "$(sed -n 's/^0:://p' "/proc/$ppid/cgroup")" "the plain container's cgroup (the caller's)"
rc=0; out=$(roost pause "$plain" 2>&1) || rc=$?
expect_eq 125 "$rc" "pause of a container without a cgroup"
expect_contains "$out" "--cgroups=enabled" "pause's error"
roost rm -f -t0 "$plain" >/dev/null

# Under TCG a `run --rm` of the debug binary takes seconds: few runs, or this figure is most of the
# tier's time (the native figure belongs in bench/).
say "run --rm with and without -m (3 each, ms per run)"
t() { local s e; s=$(date +%s%N); for _ in 1 2 3; do roost run --rm "$@" "$BUSYBOX" true; done; e=$(date +%s%N); echo $(( (e - s) / 3000000 )); }
roost run --rm "$BUSYBOX" true
plain_ms=$(t); mem_ms=$(t -m 64m); plain2_ms=$(t); mem2_ms=$(t -m 64m)
say "  without: $plain_ms, $plain2_ms ms; with -m 64m: $mem_ms, $mem2_ms ms"
