#!/usr/bin/env bash
# The /proc view (src/runtime/procfs/): with a memory or CPU limit the container's /proc/meminfo,
# /proc/cpuinfo, /proc/stat, /proc/uptime, /proc/loadavg and /sys/devices/system/cpu/online come
# from its cgroup, served over FUSE by the foreground `run` or the monitor; `--no-proc-view` and
# containers without a limit keep the host's. What the view costs: tests/vm/scenarios/bench-costs.sh.
set -euo pipefail
type fail >/dev/null 2>&1 || fail() { echo "FAILED: $*" >&2; exit 1; }
type expect_eq >/dev/null 2>&1 || expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected \`$1\`, got \`$2\`"; }
type expect_contains >/dev/null 2>&1 || expect_contains() {
  case "$1" in *"$2"*) ;; *) fail "${3:-output} does not contain \`$2\`: $1" ;; esac
}
type say >/dev/null 2>&1 || say() { echo "-- $*"; }

view=pv-view-$$ host=pv-host-$$
trap 'roost rm -f -t0 "$view" "$host" >/dev/null 2>&1 || true' EXIT
host_total=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)

say "-m 256m: /proc/meminfo and top show the limit"
out=$(roost run --rm --network none -m 256m "$BUSYBOX" sh -c 'cat /proc/meminfo; echo; top -bn1 | head -1; grep fuse /proc/self/mountinfo; ls -a /dev')
echo "$out" | sed -n '1,3p' | sed 's/^/     /'
expect_contains "$out" "MemTotal:         262144 kB" "/proc/meminfo"
top_total=$(echo "$out" | awk '/^Mem:/ {gsub("K", "", $2); gsub("K", "", $4); print $2 + $4; exit}')
expect_eq 262144 "$top_total" "top's used + free (kB)"
expect_contains "$out" "/proc/meminfo" "the container's mountinfo"
case "$out" in *.roost-procview*) fail "the staging mount or directory is left: $out" ;; esac
# busybox's free takes the totals from sysinfo(2), which no /proc can change (lxcfs has the same
# limit); procps's free reads /proc/meminfo, and glibc's sysconf(_SC_NPROCESSORS_ONLN)
# /sys/devices/system/cpu/online: run the guest's, with its own loader and libraries.
say "-m 256m --cpus 1: procps free -m shows 256 MB, getconf one CPU"
ld="/host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path /host/lib/x86_64-linux-gnu:/host/usr/lib/x86_64-linux-gnu"
out=$(roost run --rm --network none -m 256m --cpus 1 -v /:/host:ro "$BUSYBOX" sh -c \
  "$ld /host/usr/bin/free -m && $ld /host/usr/bin/getconf _NPROCESSORS_ONLN && echo nproc \$(nproc)")
echo "$out" | sed 's/^/     /'
expect_eq 256 "$(echo "$out" | awk '/^Mem:/ {print $2; exit}')" "free -m total"
expect_eq 1 "$(echo "$out" | sed -n 4p)" "getconf _NPROCESSORS_ONLN with --cpus 1"
# nproc counts the CPU affinity (sched_getaffinity): the container is pinned to the CPUs its quota
# is worth (those its /proc view shows), so it says 1 too.
expect_eq "nproc 1" "$(echo "$out" | sed -n 5p)" "nproc with --cpus 1"

say "--cpus 1 on 2 CPUs: one CPU in cpuinfo, stat and cpu/online"
out=$(roost run --rm --network none --cpus 1 "$BUSYBOX" sh -c 'grep -c ^processor /proc/cpuinfo; grep -c ^cpu /proc/stat; cat /sys/devices/system/cpu/online; cat /proc/uptime; cat /proc/loadavg; nproc; head -1 /proc/meminfo')
echo "$out" | sed 's/^/     /'
expect_eq 2 "$(grep -c ^processor /proc/cpuinfo)" "the VM's CPUs"
expect_eq 1 "$(echo "$out" | sed -n 1p)" "processors in /proc/cpuinfo"
expect_eq 2 "$(echo "$out" | sed -n 2p)" "cpu lines in /proc/stat (cpu and cpu0)"
expect_eq 0 "$(echo "$out" | sed -n 3p)" "/sys/devices/system/cpu/online"
expect_eq 1 "$(echo "$out" | sed -n 6p)" "nproc"
say "--cpus 2 (all the VM's CPUs) and --no-proc-view: no pinning"
expect_eq 2 "$(roost run --rm --network none --cpus 2 "$BUSYBOX" nproc)" "nproc with --cpus 2 on 2 CPUs"
expect_eq 2 "$(roost run --rm --network none --cpus 1 --no-proc-view "$BUSYBOX" nproc)" "nproc with --no-proc-view"
up=$(echo "$out" | sed -n 4p | cut -d' ' -f1)
host_up=$(cut -d' ' -f1 /proc/uptime)
[ "${up%.*}" -lt "${host_up%.*}" ] || fail "the container's uptime $up is not below the host's $host_up"
# A CPU limit alone leaves the memory lines alone.
expect_eq "MemTotal: $host_total kB" "$(echo "$out" | sed -n 7p | tr -s ' ')" "MemTotal with only --cpus"

say "--no-proc-view and no limit: the host's files"
expect_eq "$host_total" "$(roost run --rm --network none -m 256m --no-proc-view "$BUSYBOX" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal with --no-proc-view"
expect_eq "$host_total" "$(roost run --rm --network none "$BUSYBOX" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal without a limit"

say "run -d: the monitor serves the view; update is seen at once"
roost run -d --network none --name "$view" -m 256m "$BUSYBOX" sleep 600 >/dev/null
roost run -d --network none --name "$host" -m 256m --no-proc-view "$BUSYBOX" sleep 600 >/dev/null
expect_eq 262144 "$(roost exec "$view" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal of the detached container"
roost update --memory 128m "$view" >/dev/null
expect_eq 131072 "$(roost exec "$view" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal after update --memory 128m"
expect_eq "$host_total" "$(roost exec "$host" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal of the detached --no-proc-view container"
roost rm -f -t0 "$view" "$host" >/dev/null

say "run -d --cpus 1: exec'd processes get the container's CPUs"
roost run -d --network none --name "$view" --cpus 1 "$BUSYBOX" sleep 600 >/dev/null
expect_eq 1 "$(roost exec "$view" nproc)" "nproc in exec with --cpus 1"
roost rm -f -t0 "$view" >/dev/null

