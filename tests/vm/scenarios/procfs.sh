#!/usr/bin/env bash
# The /proc view (src/runtime/procfs/): with a memory or CPU limit the container's /proc/meminfo,
# /proc/cpuinfo, /proc/stat, /proc/uptime, /proc/loadavg and /sys/devices/system/cpu/online come
# from its cgroup, served over FUSE by the foreground `run` or the monitor; `--no-proc-view` and
# containers without a limit keep the host's. Prints the monitor's RSS with and without the view
# and the time of 200 reads of /proc/meminfo inside (figures, not asserted).
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
out=$(roost run --rm -m 256m "$BUSYBOX" sh -c 'cat /proc/meminfo; echo; top -bn1 | head -1; grep fuse /proc/self/mountinfo; ls -a /dev')
echo "$out" | sed -n '1,3p' | sed 's/^/     /'
expect_contains "$out" "MemTotal:         262144 kB" "/proc/meminfo"
top_total=$(echo "$out" | awk '/^Mem:/ {gsub("K", "", $2); gsub("K", "", $4); print $2 + $4; exit}')
expect_eq 262144 "$top_total" "top's used + free (kB)"
expect_contains "$out" "/proc/meminfo" "the container's mountinfo"
case "$out" in *.roost-procview*) fail "the staging mount or directory is left: $out" ;; esac
# busybox's free takes the totals from sysinfo(2), which no /proc can change (lxcfs has the same
# limit); procps's free reads /proc/meminfo: run the guest's, with its own loader and libraries.
if [ -x /usr/bin/free ]; then
  say "-m 256m: procps free -m shows 256 MB"
  out=$(roost run --rm -m 256m -v /:/host:ro "$BUSYBOX" /host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 \
    --library-path /host/lib/x86_64-linux-gnu:/host/usr/lib/x86_64-linux-gnu /host/usr/bin/free -m)
  echo "$out" | sed 's/^/     /'
  expect_eq 256 "$(echo "$out" | awk '/^Mem:/ {print $2; exit}')" "free -m total"
else
  say "  (no procps free in the guest: only busybox's, whose totals come from sysinfo(2))"
fi

say "--cpus 1 on 2 CPUs: one CPU in cpuinfo, stat and cpu/online"
out=$(roost run --rm --cpus 1 "$BUSYBOX" sh -c 'grep -c ^processor /proc/cpuinfo; grep -c ^cpu /proc/stat; cat /sys/devices/system/cpu/online; cat /proc/uptime; cat /proc/loadavg; nproc; head -1 /proc/meminfo')
echo "$out" | sed 's/^/     /'
expect_eq 2 "$(grep -c ^processor /proc/cpuinfo)" "the VM's CPUs"
expect_eq 1 "$(echo "$out" | sed -n 1p)" "processors in /proc/cpuinfo"
expect_eq 2 "$(echo "$out" | sed -n 2p)" "cpu lines in /proc/stat (cpu and cpu0)"
expect_eq 0 "$(echo "$out" | sed -n 3p)" "/sys/devices/system/cpu/online"
up=$(echo "$out" | sed -n 4p | cut -d' ' -f1)
host_up=$(cut -d' ' -f1 /proc/uptime)
[ "${up%.*}" -lt "${host_up%.*}" ] || fail "the container's uptime $up is not below the host's $host_up"
# A CPU limit alone leaves the memory lines alone.
expect_eq "MemTotal: $host_total kB" "$(echo "$out" | sed -n 7p | tr -s ' ')" "MemTotal with only --cpus"

say "--no-proc-view and no limit: the host's files"
expect_eq "$host_total" "$(roost run --rm -m 256m --no-proc-view "$BUSYBOX" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal with --no-proc-view"
expect_eq "$host_total" "$(roost run --rm "$BUSYBOX" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal without a limit"

say "run -d: the monitor serves the view; update is seen at once"
roost run -d --name "$view" -m 256m "$BUSYBOX" sleep 600 >/dev/null
roost run -d --name "$host" -m 256m --no-proc-view "$BUSYBOX" sleep 600 >/dev/null
expect_eq 262144 "$(roost exec "$view" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal of the detached container"
roost update --memory 128m "$view" >/dev/null
expect_eq 131072 "$(roost exec "$view" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal after update --memory 128m"
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$(roost inspect --format '{{.State.ConmonPid}}' "$1")/status"; }
say "  monitor RSS: $(rss "$view") kB with the view, $(rss "$host") kB without"

say "200 reads of /proc/meminfo inside (cat, ms)"
reads() {
  local s e
  s=$(date +%s%N)
  roost exec "$1" sh -c 'i=0; while [ $i -lt 200 ]; do cat /proc/meminfo >/dev/null; i=$((i+1)); done'
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
v1=$(reads "$view"); h1=$(reads "$host")
say "  with the view: $v1 ms; host's file: $h1 ms (each includes one exec)"
say "  monitor RSS after the reads: $(rss "$view") kB with the view, $(rss "$host") kB without"
roost rm -f -t0 "$view" "$host" >/dev/null

# The cost of a memory limit on `run --rm` (a systemd scope, the cgroup files, and the /proc view),
# as a ratio to a plain `run --rm` in the same run: under TCG every figure is tens of times the
# native one, the ratio is what carries over. Interleaved rounds, so drift hits all three alike.
say "run --rm: plain, -m 64m, -m 64m --no-proc-view (ms per run, 3 rounds)"
t() { local s e; s=$(date +%s%N); roost run --rm "$@" "$BUSYBOX" true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
roost run --rm "$BUSYBOX" true
p=0 m=0 n=0
for _ in 1 2 3; do
  a=$(t); b=$(t -m 64m); c=$(t -m 64m --no-proc-view)
  say "  $a $b $c"
  p=$((p + a)); m=$((m + b)); n=$((n + c))
done
say "  mean: plain $((p / 3)) ms, -m $((m / 3)) ms ($((m * 100 / p))%), -m --no-proc-view $((n / 3)) ms ($((n * 100 / p))%)"
