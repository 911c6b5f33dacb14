#!/usr/bin/env bash
# What limits and the /proc view cost (figures for bench/README.md, not asserted; what is asserted
# is that the timed runs get what they are timed for). Meant for a release binary:
#   ROOST_BIN=target/release/roost tests/vm/run.sh bench-costs   (not in the default set: see run.sh)
# 1. `run --rm --network none $BUSYBOX true` with and without `-m 64m` (the issue's budget: ≤ 3 ms
#    native), 20 rounds, the order alternating between rounds so drift hits both alike, timed with
#    `date +%s%N`. Under TCG every figure is many times the native one: the same loop without a
#    limit on the build machine gives the slowdown factor to scale the difference by.
# 2. The monitor's RSS (and smaps_rollup) of a `run -d -m 64m` container with and without
#    `--no-proc-view`, then 1000 `cat /proc/meminfo` inside each.
set -euo pipefail
type fail >/dev/null 2>&1 || fail() { echo "FAILED: $*" >&2; exit 1; }
type expect_eq >/dev/null 2>&1 || expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected \`$1\`, got \`$2\`"; }
type say >/dev/null 2>&1 || say() { echo "-- $*"; }

view=cost-view-$$ host=cost-host-$$
trap 'roost rm -f -t0 "$view" "$host" >/dev/null 2>&1 || true' EXIT
rounds=16
n=(--network none)

say "run --rm with and without -m 64m, $rounds rounds"
expect_eq 67108864 "$(roost run --rm "${n[@]}" -m 64m "$BUSYBOX" cat /sys/fs/cgroup/memory.max)" "memory.max with -m 64m"
roost run --rm "${n[@]}" "$BUSYBOX" true
# t ARGS...: microseconds one `run --rm --network none ARGS $BUSYBOX true` takes.
t() {
  local s e
  s=$(date +%s%N); roost run --rm "${n[@]}" "$@" "$BUSYBOX" true; e=$(date +%s%N)
  echo $(( (e - s) / 1000 ))
}
plain=() limited=()
for i in $(seq "$rounds"); do
  if [ $((i % 2)) = 0 ]; then a=$(t); b=$(t -m 64m); else b=$(t -m 64m); a=$(t); fi
  plain+=("$a"); limited+=("$b")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1; s += $1} END {printf "mean %d median %d", s / NR, v[int((NR + 1) / 2)]}'; }
say "  plain: $(stats "${plain[@]}") µs; -m 64m: $(stats "${limited[@]}") µs"
pm=$(printf '%s\n' "${plain[@]}" | awk '{s += $1} END {print int(s / NR)}')
lm=$(printf '%s\n' "${limited[@]}" | awk '{s += $1} END {print int(s / NR)}')
say "  $(awk -v p="$pm" -v l="$lm" 'BEGIN {printf "-m 64m: %+.1f ms per run (means), ratio %.3f", (l - p) / 1000, l / p}')"

say "monitor RSS with and without the view (run -d -m 64m)"
roost run -d "${n[@]}" --name "$view" -m 64m "$BUSYBOX" sleep 600 >/dev/null
roost run -d "${n[@]}" --name "$host" -m 64m --no-proc-view "$BUSYBOX" sleep 600 >/dev/null
expect_eq 65536 "$(roost exec "$view" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal through the view"
expect_eq "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "$(roost exec "$host" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "MemTotal with --no-proc-view"
mem() {
  local pid
  pid=$(roost inspect --format '{{.State.ConmonPid}}' "$1")
  echo "RSS $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status") kB, threads $(awk '/^Threads:/ {print $2}' "/proc/$pid/status"), $(awk '/^(Pss_Anon|Pss_File):/ {printf "%s %s kB ", $1, $2}' "/proc/$pid/smaps_rollup")"
}
say "  with the view:    $(mem "$view")"
say "  --no-proc-view:   $(mem "$host")"

say "1000 cat /proc/meminfo inside (one exec each)"
reads() {
  local s e
  s=$(date +%s%N)
  roost exec "$1" sh -c 'i=0; while [ $i -lt 1000 ]; do cat /proc/meminfo >/dev/null; i=$((i+1)); done'
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
v=$(reads "$view"); h=$(reads "$host")
say "  through the view: $v ms; the host's file: $h ms; $(awk -v v="$v" -v h="$h" 'BEGIN {printf "%+.0f µs per read", (v - h)}')"
say "  after the reads, with the view: $(mem "$view")"
say "  after the reads, --no-proc-view: $(mem "$host")"
