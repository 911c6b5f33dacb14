#!/usr/bin/env bash
# The VM tier: boots the guest image (tests/vm/build.sh; built first if missing or stale) once under
# qemu (TCG: no KVM needed) and runs the named scenarios of tests/vm/scenarios/ (default: all) as
# user u1 inside u1's systemd user manager, on cgroup v2 with delegation: what this build machine
# (cgroup v1, no systemd) cannot show. Prints `ok NAME` / `FAIL NAME` with each scenario's output;
# exits 1 if any failed, 125 if the guest never ran the job (then the console log's tail is printed).
#   sudo tests/vm/run.sh [NAME...]      (no NAME: every scenario but the bench-* ones)
# A scenario NAME may have a second half, scenarios/NAME.reboot.sh: then, after every scenario ran, the
# guest is powered off and booted again on the same disk (u1's store, ~/.config and enabled units persist;
# lingering starts u1's manager and its enabled units at boot) and each NAME.reboot.sh runs in that boot.
# Shares with the guest (9p, at /share): the roost binary ($ROOST_BIN, default target/debug/roost),
# a busybox archive saved with that binary from the test registry (tests/world.sh), lib.sh, job.sh
# and the scenarios. The disk is a throw-away snapshot: every run starts from the same image.
# Env: ROOST_BIN, ROOST_VM_DIR (see build.sh), ROOST_VM_TIMEOUT (whole run, default 1800 s),
#      SCENARIO_TIMEOUT (each scenario, default 600 s), ROOST_TEST_REGISTRY (127.0.0.1:5000),
#      ROOST_VM_KEEP=1 (keep the share directory, with the console log, and say where).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DIR=${ROOST_VM_DIR:-/var/cache/roost-vm}
BIN=${ROOST_BIN:-$REPO/target/debug/roost}
REG=${ROOST_TEST_REGISTRY:-127.0.0.1:5000}
[ "$(id -u)" = 0 ] || { echo "tests/vm/run.sh: run as root (qemu, the image cache)" >&2; exit 125; }
[ -x "$BIN" ] || { echo "tests/vm/run.sh: no roost binary at $BIN: run \`cargo build\` or set ROOST_BIN" >&2; exit 125; }

names=("$@")
if [ ${#names[@]} = 0 ]; then
  for f in "$HERE"/scenarios/*.sh; do
    # bench-*.sh print figures (minutes of timing loops under TCG): run them by name.
    case $f in *.reboot.sh|*/bench-*.sh) ;; *) names+=("$(basename "$f" .sh)");; esac
  done
fi
for n in "${names[@]}"; do
  case $n in *.reboot) echo "tests/vm/run.sh: \`$n\` is the second half of \`${n%.reboot}\`: name that" >&2; exit 125;; esac
  [ -f "$HERE/scenarios/$n.sh" ] || { echo "tests/vm/run.sh: no scenario \`$n\` (tests/vm/scenarios/$n.sh)" >&2; exit 125; }
done

# The host's side: qemu-img makes the per-run disk layer (Debian's qemu-utils; a fresh machine may
# have qemu-system-x86 without it).
if ! command -v qemu-img >/dev/null; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 qemu-utils >/dev/null ||
    { echo "tests/vm/run.sh: qemu-img is missing and installing qemu-utils failed" >&2; exit 125; }
fi
ROOST_VM_DIR=$DIR "$HERE/build.sh" || { echo "tests/vm/run.sh: building the VM image failed" >&2; exit 125; }

S=$(mktemp -d /var/tmp/roost-vm-run.XXXXXX)
cleanup() {
  if [ "${ROOST_VM_KEEP:-}" = 1 ]; then echo "tests/vm/run.sh: kept $S"; else rm -rf "$S"; fi
}
trap cleanup EXIT
mkdir -p "$S/bin" "$S/scenarios" "$S/host"
install -m 0755 "$BIN" "$S/bin/roost"
install -m 0644 "$HERE/lib.sh" "$S/lib.sh"
install -m 0755 "$HERE/job.sh" "$S/job.sh"
rebooted=()
for n in "${names[@]}"; do
  install -m 0644 "$HERE/scenarios/$n.sh" "$S/scenarios/$n.sh"; echo "$n"
  if [ -f "$HERE/scenarios/$n.reboot.sh" ]; then
    install -m 0644 "$HERE/scenarios/$n.reboot.sh" "$S/scenarios/$n.reboot.sh"; rebooted+=("$n")
  fi
done > "$S/scenarios.list"
echo "SCENARIO_TIMEOUT=${SCENARIO_TIMEOUT:-600}" > "$S/env"

# The busybox image, saved by this roost from the test registry (the guest has no network).
image=$REG/busybox:latest
h=(--root "$S/host/store" --runroot "$S/host/run")
if ! out=$("$BIN" "${h[@]}" pull -q --tls-verify=false "$image" 2>&1) ||
   ! out=$("$BIN" "${h[@]}" save -o "$S/busybox.tar" "$image" 2>&1); then
  echo "tests/vm/run.sh: could not save $image from the test registry (is tests/world.sh up?):" >&2
  echo "$out" >&2; exit 125
fi
rm -rf "$S/host"
echo "$image" > "$S/busybox.name"
chmod -R a+rX "$S"; chmod 0777 "$S"

# A throw-away copy-on-write layer over the cached image: every run starts from the same image, and a
# reboot (a second boot) sees what the first one wrote.
qemu-img create -q -f qcow2 -b "$DIR/root.img" -F raw "$S/disk.qcow2" ||
  { echo "tests/vm/run.sh: could not create the guest's disk layer in $S" >&2; exit 125; }

# boot PHASE: boots the guest, which runs job.sh (phase 1: the scenarios; phase 2: their .reboot.sh
# halves) and powers off; prints the job's output. Returns the job's exit status, 125 if it never ran.
boot() {
  echo "$1" > "$S/phase"; rm -f "$S/rc" "$S/out.log"
  local start=$SECONDS qemu_rc
  timeout -k 10 "${ROOST_VM_TIMEOUT:-1800}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 4096 -smp 2 \
    -nographic -no-reboot -nic none \
    -kernel "$DIR/vmlinuz" -initrd "$DIR/initrd.img" \
    -drive file="$S/disk.qcow2",if=virtio,format=qcow2 \
    -virtfs local,path="$S",mount_tag=share,security_model=none \
    -append "console=ttyS0 root=/dev/vda rw quiet systemd.unified_cgroup_hierarchy=1" \
    >"$S/console.log" 2>&1 </dev/null
  qemu_rc=$?
  cat "$S/out.log" 2>/dev/null
  if ! [ -f "$S/rc" ]; then
    echo "tests/vm/run.sh: the guest never ran the job (boot $1, qemu exit $qemu_rc after $((SECONDS - start)) s); console log tail:" >&2
    tail -40 "$S/console.log" >&2
    return 125
  fi
  echo "tests/vm/run.sh: boot $1, job and power-off took $((SECONDS - start)) s; job exit $(cat "$S/rc")"
  return "$(cat "$S/rc")"
}

echo "tests/vm/run.sh: booting $DIR for: ${names[*]}"
boot 1; rc=$?
[ $rc = 125 ] && exit 125
if [ ${#rebooted[@]} -gt 0 ]; then
  echo "tests/vm/run.sh: rebooting for the second half of: ${rebooted[*]}"
  boot 2; rc2=$?
  [ $rc2 = 125 ] && exit 125
  [ $rc2 = 0 ] || rc=$rc2
fi
[ "$rc" = 0 ] || exit 1
