#!/usr/bin/env bash
# Runs in the guest as u1 inside u1's systemd user manager (tests/vm/run.sh puts it in the share):
# loads the busybox archive into u1's store, then runs each scenario named in /share/scenarios.list
# with a timeout, printing `ok NAME` or `FAIL NAME` and the scenario's output. Exit 1 if any failed.
# In the second boot (/share/phase is 2: see run.sh) the store is already loaded and it runs the
# NAME.reboot.sh half of each scenario that has one, printing `ok NAME.reboot` / `FAIL NAME.reboot`.
set -uo pipefail
S=/share
[ -f "$S/env" ] && . "$S/env"
export PATH=$S/bin:$PATH
up() { cut -d' ' -f1 /proc/uptime; }
echo "job: started ${SECONDS}s into the job, $(up) s after boot, as $(id -un) in $(cat /proc/self/cgroup)"
phase=$(cat "$S/phase" 2>/dev/null || echo 1)
if [ "$phase" = 1 ] && ! out=$(roost load -i "$S/busybox.tar" 2>&1); then
  echo "FAIL load: roost load -i busybox.tar"; echo "$out" | sed 's/^/    /'; exit 1
fi
BUSYBOX=$(cat "$S/busybox.name"); export BUSYBOX
echo "job: boot $phase, $BUSYBOX loaded at $(up) s"
failed=0
log=$(mktemp)
# A scenario that failed half-way leaves its containers, pods and containers.conf behind; the next
# scenario must not inherit them (one failure would otherwise fail every later scenario too).
reset_user_state() {
  echo "    (after the failure: removing its containers, pods, volumes and containers.conf)"
  roost pod rm -af -t 0 >/dev/null 2>&1
  roost rm -af -t 0 >/dev/null 2>&1
  roost volume prune -f >/dev/null 2>&1
  rm -f "$HOME/.config/containers/containers.conf"
}
while read -r name; do
  [ -n "$name" ] || continue
  if [ "$phase" = 2 ]; then
    [ -f "$S/scenarios/$name.reboot.sh" ] || continue
    name=$name.reboot
  fi
  start=$SECONDS
  BASH_ENV=$S/lib.sh timeout -k 10 "${SCENARIO_TIMEOUT:-600}" bash "$S/scenarios/$name.sh" >"$log" 2>&1
  rc=$?
  took=$((SECONDS - start))
  if [ $rc = 0 ]; then
    echo "ok $name (${took}s)"
  else
    failed=1
    [ $rc = 124 ] && echo "    (timed out after ${SCENARIO_TIMEOUT:-600}s)" >>"$log"
    echo "FAIL $name (exit $rc, ${took}s)"
    reset_user_state >>"$log" 2>&1
  fi
  sed 's/^/    /' "$log"
done < "$S/scenarios.list"
rm -f "$log"
echo "job: done at $(up) s after boot"
exit $failed
