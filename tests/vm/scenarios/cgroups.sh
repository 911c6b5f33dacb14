#!/usr/bin/env bash
# Resource limits on u1's delegated cgroup v2 subtree (cpu, memory, pids delegated by user@.service):
# the limits in the container's own cgroup (a transient `roost-ID.scope` from u1's systemd, the
# container in its `container` leaf, the monitor in `supervisor`), the OOM killer's exit 137 and
# State.OOMKilled, pids.max enforced, stats from the cgroup, pause/unpause with cgroup.freeze,
# update, `top` of a `--pid=host` container from its cgroup, and no cgroup (no D-Bus) for a
# container that asks for no limit. What a limit costs `run --rm`: tests/vm/scenarios/bench-costs.sh.
set -euo pipefail
# The helpers of tests/vm/lib.sh, when run without it.
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

oom=cg-oom-$$ st=cg-stats-$$ plain=cg-plain-$$ tp=cg-top-$$
trap 'roost rm -f -t0 "$oom" "$st" "$plain" "$tp" >/dev/null 2>&1 || true' EXIT

# Under TCG each `run` takes seconds: one run checks several flags' files.
say "-m 64m --cpus 0.5 --pids-limit 20: memory.max, cpu.max, pids.max; the cgroup seen as /"
out=$(roost run --rm --network none -m 64m --cpus 0.5 --pids-limit 20 "$BUSYBOX" \
  cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max /proc/self/cgroup)
expect_eq "67108864|50000 100000|20|0::/" "$(echo "$out" | paste -sd'|')" "memory.max|cpu.max|pids.max|/proc/self/cgroup"
say "--cpu-period=100000 --cpu-quota=20000"
expect_eq "20000 100000" "$(roost run --rm --network none --cpu-period=100000 --cpu-quota=20000 "$BUSYBOX" cat /sys/fs/cgroup/cpu.max)" "cpu.max"

say "--pids-limit 20: forks past 20 fail"
rc=0
out=$(roost run --rm --network none --pids-limit 20 "$BUSYBOX" sh -c 'for i in $(seq 40); do sleep 60 & done; echo all 40 started' 2>&1) || rc=$?
case "$out" in *"all 40 started"*) fail "40 processes started under --pids-limit 20: $out" ;; esac
expect_contains "$out" "fork" "the fork failure"
say "  (exit $rc: $(echo "$out" | tail -1))"

say "OOM: exit 137 and State.OOMKilled"
rc=0
roost run --network none --name "$oom" -m 64m --memory-swap 64m "$BUSYBOX" sh -c 'head -c 300m /dev/zero | tail' >/dev/null 2>&1 || rc=$?
expect_eq 137 "$rc" "exit status of the memory hog"
expect_eq true "$(roost inspect --format '{{.State.OOMKilled}}' "$oom")" "State.OOMKilled"
expect_eq 67108864 "$(roost inspect --format '{{.HostConfig.Memory}}' "$oom")" "HostConfig.Memory"
roost rm "$oom" >/dev/null

say "run -d with limits: the scope, its leaves, systemctl --user"
id=$(roost run -d --network none --name "$st" -m 64m --cpus 1 "$BUSYBOX" sh -c 'while :; do :; done')
pid=$(roost inspect --format '{{.State.Pid}}' "$st")
mon=$(roost inspect --format '{{.State.ConmonPid}}' "$st")
cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
say "  container: $cg; monitor: $(sed -n 's/^0:://p' "/proc/$mon/cgroup")"
expect_contains "$cg" "/user@1000.service/user.slice/roost-$id.scope/container" "the container's cgroup"
expect_contains "$(cat "/proc/$mon/cgroup")" "roost-$id.scope/supervisor" "the monitor's cgroup"
expect_contains "$(systemctl --user status "roost-$id.scope" 2>&1 || true)" "roost container ${id:0:12}" "systemctl --user status"
dir=/sys/fs/cgroup$cg

say "exec: the process joins the container's cgroup (its limits and stats count it)"
expect_eq "0::/" "$(roost exec "$st" cat /proc/self/cgroup)" "/proc/self/cgroup of an exec'd process"
roost exec -d "$st" sleep 300
wait_for 30 bash -c "[ \$(wc -l < '$dir/cgroup.procs') -ge 2 ]"
expect_eq 2 "$(wc -l < "$dir/cgroup.procs")" "processes in the container's cgroup after exec -d"

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

say "top of a --pid=host container: its processes, from its cgroup"
roost run -d --network none --name "$tp" --pid host -m 64m "$BUSYBOX" sh -c 'sleep 600 & exec sleep 601' >/dev/null
wait_for 60 sh -c "roost top $tp pid args | grep -q 'sleep 600'"
out=$(roost top "$tp" pid hpid args)
echo "$out" | sed 's/^/     /'
expect_eq 3 "$(echo "$out" | wc -l)" "lines of top (heading, sleep 601, sleep 600)"
expect_contains "$out" "sleep 601" "top"
tpid=$(roost inspect --format '{{.State.Pid}}' "$tp")
expect_eq "$tpid $tpid sleep 601" "$(echo "$out" | awk '$3 == "sleep" && $4 == 601 {print $1, $2, $3, $4}')" "top's row of the container's pid 1 (host pids)"
roost rm -f -t0 "$tp" >/dev/null

say "no limit: no cgroup of its own; top of it with --pid=host refused"
roost run -d --network none --name "$plain" --pid host "$BUSYBOX" sleep 600 >/dev/null
ppid=$(roost inspect --format '{{.State.Pid}}' "$plain")
case "$(cat "/proc/$ppid/cgroup")" in *roost-*) fail "a container without limits got a cgroup: $(cat "/proc/$ppid/cgroup")" ;; esac
expect_eq "$(sed -n 's/^0:://p' /proc/self/cgroup)" "$(sed -n 's/^0:://p' "/proc/$ppid/cgroup")" "the plain container's cgroup (the caller's)"
rc=0; out=$(roost pause "$plain" 2>&1) || rc=$?
expect_eq 125 "$rc" "pause of a container without a cgroup"
expect_contains "$out" "--cgroups=enabled" "pause's error"
rc=0; out=$(roost top "$plain" 2>&1) || rc=$?
expect_eq 125 "$rc" "top of a --pid=host container without a cgroup"
expect_contains "$out" "top of a container in the host's pid namespace (--pid=host) needs the container's own cgroup" "top's error"
roost rm -f -t0 "$plain" >/dev/null

