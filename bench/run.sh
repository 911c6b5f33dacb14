#!/usr/bin/env bash
# Side-by-side benchmarks: roost vs rootless podman, both run as the unprivileged test user with
# hyperfine, on the images of tests/world.sh. Run as root:
#   bench/run.sh              all benchmarks
#   bench/run.sh NAME...      a subset (bench/run.sh --list shows the names)
# Env: BENCH_SKIP_SETUP=1 skips world/podman/build (re-runs), TESTUSER (default roosttest),
# BENCH_BIN_DIR (default /tmp/roost-bench-bin: where the roost under test is installed),
# BENCH_NET_ROUNDS and BENCH_NET_CPUS (net-throughput: rounds, and CPUs to pin it to).
# Results: bench/results/NAME.md (and .json); a combined table is printed at the end.
# A failing benchmark is reported and the others still run; exit code 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
TESTUSER=${TESTUSER:-roosttest}
REG=127.0.0.1:5000
BIN_DIR=${BENCH_BIN_DIR:-${BIN_DIR:-/tmp/roost-bench-bin}}
OUT_DIR=${OUT_DIR:-/tmp/roost-bench-out}
RESULTS=$REPO/bench/results
SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# --- benchmarks: one function each, bench_<name with _ for ->; add new ones to ALL ----------
ALL=(pull-debian images-50 complete-images run-rm run-rm-none run-rm-pasta run-rm-slirp run-rm-builtin run-rm-bridge run-rm-fuse run-rm-vfs run-rm-keepid keepid-first-debian run-d-rm ps-50 ps-1000 exec-true monitor-rss pod-cycle infra-rss
  net-throughput publish-rate net-helper-rss build-cached build-nocache build-ctx-10k)

# Each benchmark first checks, per tool, that the command does real work (expect_lines) and
# times only the tools that pass; a tool failing its check fails the benchmark (`partial`) but the
# other tool's numbers are still kept.

# A fresh pull of a ~63 MB gzip layer (~200 MB unpacked): network, digest checks, unpacking.
bench_pull_debian() {
  local t args=()
  for t in roost podman; do # one untimed pull each
    if as_user $t rmi -a -f >/dev/null && as_user $t pull -q "$REG/debian:bookworm" >/dev/null &&
      expect_lines 1 debian $t images; then
      args+=(--prepare "$t rmi -a -f" -n $t "$t pull $REG/debian:bookworm")
    else partial $t; fi
  done
  hf pull-debian --runs 5 "${args[@]}"
}

# Listing a store of 50 tags of one image: store read + table formatting, start-up cost.
bench_images_50() {
  local t args=()
  for t in roost podman; do
    if tag_50 $t && expect_lines 50 bench/img $t images; then args+=(-n $t "$t images"); else partial $t; fi
  done
  hf images-50 -N --warmup 3 "${args[@]}"
}

# The hidden completion entry the shell calls on <TAB> (no podman peer: cobra's is not comparable).
bench_complete_images() {
  local args=()
  if tag_50 roost && expect_lines 50 bench/img roost __completeNoDesc rmi ''; then
    args+=(-n roost "roost __completeNoDesc rmi ''")
  else partial roost; fi
  hf complete-images -N --warmup 3 "${args[@]}"
}

# The run path: create, clone into namespaces, overlay, exec `true`, wait, remove everything.
bench_run_rm() {
  local t args=()
  for t in roost podman; do
    if as_user $t rm -a -f >/dev/null 2>&1; as_user $t pull -q "$REG/busybox:latest" >/dev/null &&
      [ "$(as_user $t run --rm "$REG/busybox:latest" echo ok 2>/dev/null)" = ok ]; then
      args+=(-n $t "$t run --rm $REG/busybox:latest true")
    else partial $t; fi
  done
  hf run-rm -N --warmup 5 --runs 50 "${args[@]}"
}

# The same without a network namespace helper (the network work's baseline).
bench_run_rm_none() {
  local t args=()
  for t in roost podman; do
    if [ "$(as_user $t run --rm --network none "$REG/busybox:latest" echo ok 2>/dev/null)" = ok ]; then
      args+=(-n $t "$t run --rm --network none $REG/busybox:latest true")
    else partial $t; fi
  done
  hf run-rm-none -N --warmup 5 --runs 50 "${args[@]}"
}

# A user-defined bridge network: the rootless network namespace (roost's __netns holder or podman's
# rootless netns) with slirp4netns, netavark and, on this network, aardvark-dns; set up and torn down
# on every run, as the container is the only one on it.
bench_run_rm_bridge() {
  local t args=()
  for t in roost podman; do
    as_user $t network create benchnet >/dev/null 2>&1
    if [ "$(as_user $t run --rm --network benchnet "$REG/busybox:latest" sh -c 'ip -4 addr show eth0 | grep -c 10.89.' 2>/dev/null)" = 1 ]; then
      args+=(-n $t "$t run --rm --network benchnet $REG/busybox:latest true")
    else partial $t; fi
  done
  hf run-rm-bridge -N --warmup 3 --runs 30 "${args[@]}"
}

# run_rm_driver NAME DRIVER: the run path with the container root on another storage driver. podman
# keeps one driver per store, so its peer gets a store of its own for it (--root/--runroot), with
# overlay's mount_program for fuse-overlayfs.
run_rm_driver() {
  local name=$1 driver=$2 t args=() cmd
  local proot="$OUT_DIR/podman-$driver" popts
  case $driver in
    fuse-overlayfs) popts="--storage-driver overlay --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs" ;;
    *) popts="--storage-driver $driver" ;;
  esac
  for t in roost podman; do
    if [ $t = roost ]; then cmd="roost --storage-driver $driver"
    else cmd="podman --root $proot/root --runroot $proot/run $popts"; fi
    if as_user $cmd pull -q "$REG/busybox:latest" >/dev/null &&
      [ "$(as_user $cmd run --rm "$REG/busybox:latest" echo ok 2>/dev/null)" = ok ]; then
      args+=(-n $t "$cmd run --rm $REG/busybox:latest true")
    else partial $t; fi
  done
  hf "$name" -N --warmup 5 --runs 50 "${args[@]}"
  as_user podman unshare rm -rf "$proot" >/dev/null 2>&1
}

# The run path with fuse-overlayfs (a daemon per container) instead of the kernel overlay.
bench_run_rm_fuse() { run_rm_driver run-rm-fuse fuse-overlayfs; }

# The run path with vfs: each container starts from a full copy of busybox (~2 MB).
bench_run_rm_vfs() { run_rm_driver run-rm-vfs vfs; }

# keep-id with the layers' shifted copies already made (by an untimed run): against run-rm-none, what a
# nested user namespace costs per run.
bench_run_rm_keepid() {
  local t args=()
  for t in roost podman; do
    if [ "$(as_user $t run --rm --network none --userns=keep-id "$REG/busybox:latest" stat -c %u /bin/busybox 2>/dev/null)" = 0 ]; then
      args+=(-n $t "$t run --rm --network none --userns=keep-id $REG/busybox:latest true")
    else partial $t; fi
  done
  hf run-rm-keepid -N --warmup 5 --runs 50 "${args[@]}"
}

# The first keep-id run of an image: roost makes the shifted copy of each layer (debian:bookworm,
# ~200 MB unpacked). The copies are removed before every run. roost only: podman keeps its chowned
# layer until the image goes, so there is no cheap way to make its every run a first one.
bench_keepid_first_debian() {
  # The copies belong to subordinate ids: removed from inside roost's user namespace.
  local args=() drop='roost unshare sh -c "rm -rf \$CONTAINERS_GRAPHROOT/layers/*/idmapped"'
  if as_user roost pull -q "$REG/debian:bookworm" >/dev/null &&
    [ "$(as_user roost run --rm --network none --userns=keep-id "$REG/debian:bookworm" stat -c %u /usr/bin/passwd 2>/dev/null)" = 0 ]; then
    args+=(--prepare "$drop" -n roost "roost run --rm --network none --userns=keep-id $REG/debian:bookworm true")
  else partial roost; fi
  hf keepid-first-debian --runs 5 "${args[@]}"
}

# A detached container's start through its monitor (conmon for podman), then its forced removal.
bench_run_d_rm() {
  local t args=()
  for t in roost podman; do
    if [ -n "$(as_user $t run -d --name benchd "$REG/busybox:latest" sleep 100 2>/dev/null)" ] &&
      as_user $t rm -f benchd >/dev/null 2>&1; then
      args+=(-n $t "sh -c '$t run -d --name benchd $REG/busybox:latest sleep 100 >/dev/null && $t rm -f -t 0 benchd >/dev/null'")
    else partial $t; fi
  done
  hf run-d-rm --warmup 2 --runs 20 "${args[@]}"
}

# make_containers TOOL N: N created (not started) containers, from an empty set.
make_containers() {
  local tool=$1 n=$2
  as_user "$tool" rm -a -f >/dev/null 2>&1
  as_user sh -c "for i in \$(seq $n); do $tool create --name c\$i $REG/busybox:latest true >/dev/null || exit 1; done"
}

bench_ps_50() {
  local t args=()
  for t in roost podman; do
    if make_containers $t 50 && expect_lines 50 busybox $t ps -a; then args+=(-n $t "$t ps -a"); else partial $t; fi
  done
  hf ps-50 -N --warmup 3 "${args[@]}"
}

# 1000 containers: roost only by default (creating 1000 podman containers takes minutes here);
# BENCH_PODMAN_1000=1 includes podman.
bench_ps_1000() {
  local t args=() tools=(roost)
  [ "${BENCH_PODMAN_1000:-0}" = 1 ] && tools+=(podman)
  for t in "${tools[@]}"; do
    if make_containers $t 1000 && expect_lines 1000 busybox $t ps -a; then args+=(-n $t "$t ps -a"); else partial $t; fi
  done
  hf ps-1000 -N --warmup 3 "${args[@]}"
  for t in "${tools[@]}"; do as_user $t rm -a -f >/dev/null 2>&1; done
}

# exec into a running container.
bench_exec_true() {
  local t args=()
  for t in roost podman; do
    as_user $t rm -a -f >/dev/null 2>&1
    if [ -n "$(as_user $t run -d --name benche "$REG/busybox:latest" sleep 1000 2>/dev/null)" ] &&
      [ "$(as_user $t exec benche echo ok 2>/dev/null)" = ok ]; then
      args+=(-n $t "$t exec benche true")
    else partial $t; fi
  done
  hf exec-true -N --warmup 3 --runs 50 "${args[@]}"
  for t in roost podman; do as_user $t rm -f -t 0 benche >/dev/null 2>&1; done
}

# Resident memory of the per-container helper: roost's monitor vs podman's conmon (not timed).
bench_monitor_rss() {
  local t pid rss line="| helper | RSS |\n|:---|---:|"
  for t in roost podman; do
    as_user $t rm -a -f >/dev/null 2>&1
    local id
    id=$(as_user $t run -d --name benchm "$REG/busybox:latest" sleep 1000 2>/dev/null) || { partial $t; continue; }
    sleep 0.5
    # The helper of this very container (other monitors, e.g. left by an interrupted test run, may exist).
    if [ $t = roost ]; then pid=$(pgrep -u "$TESTUSER" -f "__monitor $id" | head -1); else pid=$(pgrep -u "$TESTUSER" -f "conmon.*$id" | head -1); fi
    rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null)
    [ -n "$rss" ] && line="$line\n| $t $( [ $t = roost ] && echo monitor || echo conmon) | ${rss} kB |" || partial $t
    as_user $t rm -f -t 0 benchm >/dev/null 2>&1
  done
  printf "$line\n" | tee "$RESULTS/monitor-rss.md"
  [ ${#PARTIAL[@]} = 0 ]
}

# A pod's life: create (infra container), two detached containers in it, then `pod rm -f`.
bench_pod_cycle() {
  local t args=() cycle
  for t in roost podman; do
    as_user $t pod rm -a -f >/dev/null 2>&1
    cycle="$t pod create --name benchp >/dev/null && $t run -d --pod benchp $REG/busybox:latest sleep 100 >/dev/null && $t run -d --pod benchp $REG/busybox:latest sleep 100 >/dev/null && $t pod rm -f -t 0 benchp >/dev/null"
    if as_user sh -c "$t pod create --name benchp >/dev/null && $t run -d --pod benchp $REG/busybox:latest sleep 100 >/dev/null" &&
      expect_lines 2 benchp $t ps --pod --format '{{.PodName}}' && as_user $t pod rm -f -t 0 benchp >/dev/null 2>&1; then
      args+=(-n $t "sh -c '$cycle'")
    else partial $t; fi
  done
  hf pod-cycle --warmup 1 --runs 10 "${args[@]}"
}

# Resident memory of a pod's infra process: roost's built-in pause vs podman's catatonit (not timed).
bench_infra_rss() {
  local t pid rss line="| infra process | RSS |\n|:---|---:|"
  for t in roost podman; do
    as_user $t pod rm -a -f >/dev/null 2>&1
    as_user $t pod create --name benchi >/dev/null 2>&1 && as_user $t pod start benchi >/dev/null 2>&1 || { partial $t; continue; }
    pid=$(as_user $t inspect --format '{{.State.Pid}}' "$(as_user $t pod inspect --format '{{.InfraContainerID}}' benchi)")
    rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null)
    [ -n "$rss" ] && line="$line\n| $t $(tr '\0' ' ' <"/proc/$pid/cmdline") | ${rss} kB |" || partial $t
    as_user $t pod rm -f -t 0 benchi >/dev/null 2>&1
  done
  printf "$line\n" | tee "$RESULTS/infra-rss.md"
  [ ${#PARTIAL[@]} = 0 ]
}

# The run path with each network helper. podman 4.3 has no pasta mode: its peer is its default
# (slirp4netns) in both.
bench_run_rm_pasta() { run_rm_net run-rm-pasta pasta slirp4netns; }
bench_run_rm_slirp() { run_rm_net run-rm-slirp slirp4netns slirp4netns; }
# roost's built-in network (libslirp in its own process); podman's peer is its slirp4netns.
bench_run_rm_builtin() { run_rm_net run-rm-builtin slirp slirp4netns; }
run_rm_net() {
  local name=$1 roost_mode=$2 podman_mode=$3 t mode args=()
  for t in roost podman; do
    if [ $t = roost ]; then mode=$roost_mode; else mode=$podman_mode; fi
    if as_user $t pull -q "$REG/busybox:latest" >/dev/null &&
      [ "$(as_user $t run --rm --network $mode "$REG/busybox:latest" echo ok 2>/dev/null)" = ok ]; then
      args+=(-n "$t $mode" "$t run --rm --network $mode $REG/busybox:latest true")
    else partial $t; fi
  done
  hf $name -N --warmup 5 --runs 40 "${args[@]}"
}

# iperf3 from the host's Debian package, run inside a busybox container with the host's loader and
# libraries bound in, sending to an iperf3 server on the host's 127.0.0.1 for 3 s.
iperf_dir() {
  local d=$OUT_DIR/iperf f
  mkdir -p "$d" && cp -L /usr/bin/iperf3 "$d/" || return 1
  for f in $(ldd /usr/bin/iperf3 | awk '/=>/{print $3} /ld-linux/{print $1}'); do cp -L "$f" "$d/"; done
  chmod -R a+rX "$d"
}
# BENCH_NET_ROUNDS rounds (default 5), each running every mode once, the order rotated one step per
# round (a mode that always runs first or right after another would carry the order's effect):
# every figure and the median per mode. BENCH_NET_CPUS (a taskset list, say 0) runs the server and
# the container with its network stack on those CPUs only: on a small machine the scheduler's
# placement of the three busy threads moves a run by ±20 %, and pinning takes that out, leaving
# what each stack costs per byte.
bench_net_throughput() {
  local line="| tool | mode | container→host (Gbit/s), each round | median |\n|:---|:---|:---|---:|"
  local runs=() rounds=${BENCH_NET_ROUNDS:-5} r i n run gbps key
  command -v iperf3 >/dev/null && iperf_dir || { echo "iperf3 missing"; return 1; }
  # Each mode with the host's loopback opened (it is closed by default).
  runs=(roost:pasta:--map-gw roost:slirp4netns:allow_host_loopback=true roost:slirp:allow_host_loopback=true
    podman:slirp4netns:allow_host_loopback=true)
  declare -A got=()
  n=${#runs[@]}
  for ((r = 0; r < rounds; r++)); do
    for ((i = 0; i < n; i++)); do
      run=${runs[$(((i + r) % n))]}
      gbps=$(iperf_once "${run%%:*}" "${run#*:}") || { partial "$run"; continue; }
      got[$run]="${got[$run]:-} $gbps"
    done
  done
  for run in "${runs[@]}"; do
    [ -n "${got[$run]:-}" ] || continue
    key=${run#*:}
    line="$line\n| ${run%%:*} | ${key%%:*} |$(printf ' %s' ${got[$run]}) | $(median ${got[$run]}) |"
  done
  printf "$line\n" | tee "$RESULTS/net-throughput.md"
  [ ${#PARTIAL[@]} = 0 ]
}

# iperf_once TOOL MODE: one 3 s container→host iperf3 run, its sender's Gbit/s.
iperf_once() {
  local t=$1 mode=$2 gw port server gbps pin=()
  case $mode in pasta*) gw=$(ip -4 route show default | awk '{print $3; exit}') ;; *) gw=10.0.2.2 ;; esac
  [ -n "${BENCH_NET_CPUS:-}" ] && pin=(taskset -c "$BENCH_NET_CPUS")
  port=$((20000 + RANDOM % 10000))
  as_user "${pin[@]}" iperf3 -s -1 -B 127.0.0.1 -p $port >/dev/null 2>&1 &
  server=$!
  sleep 0.3
  gbps=$(as_user "${pin[@]}" $t run --rm --network $mode -v "$OUT_DIR/iperf:/iperf:ro" "$REG/busybox:latest" \
    /iperf/ld-linux-x86-64.so.2 --library-path /iperf /iperf/iperf3 -c "$gw" -p $port -t 3 -f g 2>/dev/null |
    awk '/sender/{print $(NF-3)}')
  # A client that never connected leaves the one-shot server waiting.
  [ -n "$gbps" ] || kill $server 2>/dev/null
  wait $server 2>/dev/null
  [ -n "$gbps" ] && echo "$gbps"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# Requests per second through a published port: ab against busybox httpd in a container.
bench_publish_rate() {
  local line="| tool | mode | requests/s (ab -n 3000 -c 8) |\n|:---|:---|---:|" t mode port rps
  for t in roost podman; do
    for mode in pasta slirp4netns slirp; do
      [ $t = podman ] && [ $mode != slirp4netns ] && continue
      as_user $t rm -f benchweb >/dev/null 2>&1
      port=$((20000 + RANDOM % 10000))
      as_user $t run -d --name benchweb --network $mode -p 127.0.0.1:$port:80 "$REG/busybox:latest" \
        sh -c 'echo hello > /tmp/index.html; exec httpd -f -p 80 -h /tmp' >/dev/null 2>&1 || { partial "$t-$mode"; continue; }
      sleep 1
      rps=$(ab -q -n 3000 -c 8 "http://127.0.0.1:$port/" 2>/dev/null | awk '/Requests per second/{print $4}')
      as_user $t rm -f -t 0 benchweb >/dev/null 2>&1
      [ -n "$rps" ] && line="$line\n| $t | $mode | $rps |" || partial "$t-$mode"
    done
  done
  printf "$line\n" | tee "$RESULTS/publish-rate.md"
  [ ${#PARTIAL[@]} = 0 ]
}

# Memory of the network helpers of one detached container with a published port, and of them plus
# the container's monitor (roost __monitor, podman's conmon), which runs the built-in network.
bench_net_helper_rss() {
  local line="| tool | mode | helpers | RSS | with the monitor |\n|:---|:---|:---|---:|---:|" t mode pids rss names p r mon
  for t in roost podman; do
    for mode in pasta slirp4netns slirp; do
      [ $t = podman ] && [ $mode != slirp4netns ] && continue
      as_user $t rm -a -f >/dev/null 2>&1
      as_user $t run -d --name benchrss --network $mode -p 127.0.0.1:18555:80 "$REG/busybox:latest" sleep 1000 >/dev/null 2>&1 ||
        { partial "$t-$mode"; continue; }
      sleep 0.5
      pids=$(pgrep -u "$TESTUSER" -x 'passt.avx2|passt|pasta|slirp4netns|rootlessport|rootlessport-child' | tr '\n' ' ')
      rss=0; names=""
      for p in $pids; do
        r=$(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null)
        [ -n "$r" ] || continue # a zombie or gone
        rss=$((rss + r)); names="$names $(cat /proc/$p/comm)"
      done
      mon=0
      for p in $(pgrep -u "$TESTUSER" -f '__monitor|^/usr/bin/conmon|^conmon'); do
        r=$(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null)
        [ -n "$r" ] && mon=$((mon + r))
      done
      line="$line\n| $t | $mode |${names:- none} | ${rss} kB | $((rss + mon)) kB |"
      as_user $t rm -f -t 0 benchrss >/dev/null 2>&1
    done
  done
  printf "$line\n" | tee "$RESULTS/net-helper-rss.md"
  [ ${#PARTIAL[@]} = 0 ]
}

# A 5-step Containerfile on busybox (FROM, RUN, COPY, ENV, CMD) in $OUT_DIR/buildctx.
make_build_ctx() {
  local d=$OUT_DIR/buildctx
  rm -rf "$d" && mkdir -p "$d" &&
    printf 'FROM %s\nRUN echo built > /built\nCOPY file.txt /file.txt\nENV BENCH=1\nCMD ["cat", "/built"]\n' \
      "$REG/busybox:latest" >"$d/Containerfile" &&
    echo data >"$d/file.txt" && chown -R "$TESTUSER:" "$d"
}

# build_ready TOOL CTX: TOOL builds CTX as bench/built and the result runs.
build_ready() {
  as_user "$1" pull -q "$REG/busybox:latest" >/dev/null &&
    as_user "$1" build -q -t bench/built "$2" >/dev/null &&
    [ "$(as_user "$1" run --rm bench/built 2>/dev/null)" = built ]
}

# Every step from the cache: parse, context digest, cache lookups, tag.
bench_build_cached() {
  local t args=()
  make_build_ctx || return 1
  for t in roost podman; do
    if build_ready $t "$OUT_DIR/buildctx"; then
      args+=(-n $t "$t build -q -t bench/built $OUT_DIR/buildctx")
    else partial $t; fi
  done
  hf build-cached -N --warmup 3 --runs 20 "${args[@]}"
}

# The same with --no-cache: one RUN container, a COPY layer, the config steps, the commit.
bench_build_nocache() {
  local t args=()
  make_build_ctx || return 1
  for t in roost podman; do
    if build_ready $t "$OUT_DIR/buildctx"; then
      args+=(-n $t "$t build -q --no-cache -t bench/built $OUT_DIR/buildctx")
    else partial $t; fi
  done
  hf build-nocache -N --warmup 2 --runs 10 "${args[@]}"
  for t in roost podman; do as_user $t image prune -f >/dev/null 2>&1; done
}

# A cached rebuild of `COPY files /files` with 10,000 small files in the context: change detection
# without re-reading unchanged files.
bench_build_ctx_10k() {
  local t args=() d=$OUT_DIR/buildctx10k
  rm -rf "$d" && mkdir -p "$d/files" || return 1
  for i in $(seq 0 99); do
    mkdir -p "$d/files/d$i"
    for j in $(seq 0 99); do echo "$i-$j" >"$d/files/d$i/f$j"; done
  done
  printf 'FROM %s\nCOPY files /files\nRUN echo built > /built\nCMD ["cat", "/built"]\n' \
    "$REG/busybox:latest" >"$d/Containerfile"
  chown -R "$TESTUSER:" "$d"
  for t in roost podman; do
    if build_ready $t "$d"; then
      args+=(-n $t "$t build -q -t bench/built $d")
    else partial $t; fi
  done
  hf build-ctx-10k -N --warmup 2 --runs 10 "${args[@]}"
}

# --- helpers --------------------------------------------------------------------------------

# Runs a command as the test user with a clean environment, from a directory the user can read.
as_user() {
  (cd "$OUT_DIR" && runuser -u "$TESTUSER" -- env -i PATH="$BIN_DIR:$SYS_PATH" HOME="$UHOME" \
    XDG_RUNTIME_DIR="$RUN_DIR" LANG=C.UTF-8 "$@")
}

# Tags busybox 50 times in TOOL's store (roost or podman), from an empty store.
tag_50() {
  local tool=$1
  as_user "$tool" rmi -a -f >/dev/null &&
    as_user "$tool" pull -q "$REG/busybox:latest" >/dev/null &&
    as_user sh -c "for i in \$(seq 50); do $tool tag $REG/busybox:latest localhost/bench/img\$i:latest || exit 1; done"
}

# expect_lines MIN PATTERN CMD...: CMD (as the test user) prints at least MIN lines matching
# PATTERN. Guards against timing a command that does nothing (an unimplemented verb exiting 0).
expect_lines() {
  local min=$1 pat=$2 n; shift 2
  n=$(as_user "$@" 2>/dev/null | grep -c -- "$pat")
  [ "$n" -ge "$min" ] && return 0
  echo "sanity check failed: \`${*@Q}\` printed $n lines matching \`$pat\`, expected at least $min"
  return 1
}

# partial TOOL: TOOL failed its check; the benchmark runs without it and is reported as failed.
partial() { echo "skipping $1 in this benchmark: it failed its check"; PARTIAL+=("$1"); }

# hf NAME HYPERFINE-ARGS...: runs hyperfine as the test user and keeps its exports. Fails when
# there is nothing left to time or a tool was left out (partial).
hf() {
  local name=$1; shift
  printf '%s\n' "$@" | grep -qx -- -n || { echo "nothing to time in $name"; return 1; }
  as_user hyperfine --style basic --export-markdown "$OUT_DIR/$name.md" --export-json "$OUT_DIR/$name.json" "$@" ||
    return 1
  cp "$OUT_DIR/$name.md" "$OUT_DIR/$name.json" "$RESULTS/"
  [ ${#PARTIAL[@]} = 0 ] || { echo "$name: timed without ${PARTIAL[*]}"; return 1; }
}

setup() {
  echo "== setup: test world (with debian:bookworm)"
  "$REPO/tests/world.sh" --debian || return 1
  echo "== setup: rootless podman for $TESTUSER"
  "$REPO/bench/podman-peer.sh" "$TESTUSER" || return 1
  echo "== setup: cargo build --release"
  cargo build --release || return 1
  mkdir -p "$BIN_DIR" && chmod 0755 "$BIN_DIR" &&
    install -m 0755 "$REPO/target/release/roost" "$BIN_DIR/roost"
}

user_dirs() {
  UID_=$(id -u "$TESTUSER") || { echo "no user $TESTUSER: run tests/world.sh" >&2; return 1; }
  UHOME=$(getent passwd "$TESTUSER" | cut -d: -f6)
  RUN_DIR=/run/user/$UID_
  if [ ! -d "$RUN_DIR" ]; then
    RUN_DIR=/tmp/roost-bench-run-$UID_
    mkdir -p "$RUN_DIR"
  fi
  chown "$TESTUSER:" "$RUN_DIR" && chmod 0700 "$RUN_DIR"
  rm -rf "$OUT_DIR" && mkdir -p "$OUT_DIR" "$RESULTS" && chown "$TESTUSER:" "$OUT_DIR"
}

main() {
  [ "${1:-}" = --list ] && { printf '%s\n' "${ALL[@]}"; exit 0; }
  [ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root (it sets up the world and runs as $TESTUSER)" >&2; exit 1; }
  local names=("$@"); [ ${#names[@]} = 0 ] && names=("${ALL[@]}")
  for n in "${names[@]}"; do
    declare -F "bench_${n//-/_}" >/dev/null || { echo "unknown benchmark $n (have: ${ALL[*]})" >&2; exit 2; }
  done
  if [ "${BENCH_SKIP_SETUP:-0}" != 1 ]; then setup || { echo "bench/run.sh: setup failed" >&2; exit 1; }; fi
  user_dirs || exit 1
  echo "== versions: $(as_user roost --version 2>&1 | head -1); $(as_user podman --version 2>&1)"

  local failed=() n
  for n in "${names[@]}"; do
    echo; echo "== benchmark $n"
    rm -f "$RESULTS/$n.md" "$RESULTS/$n.json"
    PARTIAL=()
    if ! "bench_${n//-/_}"; then
      echo "FAILED: benchmark $n (see the output above)"
      failed+=("$n")
    fi
  done

  echo; echo "== results ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r))"
  for n in "${names[@]}"; do
    echo; echo "### $n"
    if [ -f "$RESULTS/$n.md" ]; then cat "$RESULTS/$n.md"; else echo "(failed: nothing timed)"; fi
  done
  [ ${#failed[@]} = 0 ] || { echo; echo "failed: ${failed[*]}"; exit 1; }
}

main "$@"
