#!/usr/bin/env bash
# The journal as log driver and as event log, with a real journald (persistent, split per user):
# `--log-driver journald` writes each line of the container's output as an entry with podman's fields
# (CONTAINER_ID, CONTAINER_ID_FULL, CONTAINER_NAME, CONTAINER_TAG, SYSLOG_IDENTIFIER, PRIORITY 6/3,
# CONTAINER_PARTIAL_MESSAGE); `roost logs` (--tail, -t, --since, --until, -f) reads them back, and so
# does `journalctl --user`. Events with `--events-backend journald` (and containers.conf's
# events_logger) are PODMAN_* entries that `roost events --stream=false` and journalctl read. Quadlet
# units with LogDriver=journald and LogDriver=passthrough (the output lands in the unit's journal).
# journald takes datagrams asynchronously: each check waits until the entries are there.
set -euo pipefail
bin=$HOME/.cargo/bin
mkdir -p "$bin" "$HOME/quadlet-journald" "$HOME/.config/containers"
install -m 0755 "$(command -v roost)" "$bin/roost"
trap 'systemctl --user stop jlog.service plog.service >/dev/null 2>&1 || true' EXIT

lines() { tr '\n' ' '; }
# count_is N CMD...: CMD prints N lines.
# (CMD must be a program: count_is runs it under timeout, which can't run a shell function.)
count_is() { local n=$1; shift; [ "$(timeout 30 "$@" 2>&1 | grep -c '')" = "$n" ]; }

say "run -d --log-driver journald"
# stdout and stderr are two pipes: the container writes the next line once the log has the previous
# one (a file N appears in a directory shared with it), so that the order across them is defined.
mkdir -p "$HOME/sync"
id=$(timeout 120 roost run -d --network none --name jd --log-driver journald -v "$HOME/sync:/sync" "$BUSYBOX" sh -c '
  step() { while [ ! -e "/sync/$1" ]; do sleep 0.1; done; }
  echo out1; step 1; echo err1 >&2; step 2; echo out2; step 3; echo err2 >&2; step 4; printf "no newline"')
for n in 1 2 3 4; do
  say "line $n"
  wait_for 60 count_is "$n" roost logs jd
  touch "$HOME/sync/$n"
done
expect_eq 0 "$(roost wait jd)" "exit code"
expect_eq journald "$(roost inspect --format '{{.HostConfig.LogConfig.Type}}' jd)" "LogConfig.Type"
wait_for 30 count_is 5 roost logs jd
expect_eq "out1 err1 out2 err2 no newline" "$(roost logs jd 2>&1 | lines)" "logs, in order"
expect_eq "out1 out2 no newline" "$(roost logs jd 2>/dev/null | lines)" "logs' stdout"
expect_eq "err1 err2 " "$(roost logs jd 2>&1 >/dev/null | lines)" "logs' stderr"
expect_eq "err2 no newline" "$(roost logs --tail 2 jd 2>&1 | lines)" "logs --tail 2"
first=$(roost logs -t jd 2>/dev/null | head -1)
[[ $first =~ ^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]+Z\ out1$ ]] || fail "logs -t: $first"
expect_eq "" "$(roost logs --since 2099-01-01T00:00:00Z jd 2>&1)" "logs --since the future"
expect_eq "" "$(roost logs --until 2000-01-01T00:00:00Z jd 2>&1)" "logs --until the past"
expect_eq "out1 err1 out2 err2 no newline" "$(roost logs --since 10m jd 2>&1 | lines)" "logs --since 10m"

say "journalctl --user CONTAINER_NAME=jd"
expect_eq "out1 err1 out2 err2 no newline " "$(journalctl --user -o cat CONTAINER_NAME=jd | lines)" "journalctl"
j=$(journalctl --user -o json CONTAINER_NAME=jd PRIORITY=3 | head -1)
for kv in "\"CONTAINER_ID\":\"${id:0:12}\"" "\"CONTAINER_ID_FULL\":\"$id\"" '"CONTAINER_NAME":"jd"' \
          "\"CONTAINER_TAG\":\"${id:0:12}\"" "\"SYSLOG_IDENTIFIER\":\"${id:0:12}\"" '"MESSAGE":"err1"'; do
  expect_contains "$j" "$kv" "the stderr entry"
done
expect_eq "out1 out2 no newline " "$(journalctl --user -o cat CONTAINER_NAME=jd PRIORITY=6 | lines)" "PRIORITY=6"
expect_eq "no newline " "$(journalctl --user -o cat CONTAINER_NAME=jd CONTAINER_PARTIAL_MESSAGE=true | lines)" "partial"

say "foreground run, --log-opt tag="
expect_eq "fg" "$(roost run --network none --name jfg --log-driver journald --log-opt tag=web "$BUSYBOX" echo fg)" "run's output"
wait_for 30 count_is 1 roost logs jfg
expect_eq "fg" "$(roost logs jfg)" "logs of a foreground run"
expect_eq "fg " "$(journalctl --user -o cat SYSLOG_IDENTIFIER=web CONTAINER_TAG=web CONTAINER_NAME=jfg | lines)" "tag"

say "logs -f"
roost run -d --network none --name jf --log-driver journald -v "$HOME/sync:/sync" "$BUSYBOX" \
  sh -c 'echo first; while [ ! -e /sync/go ]; do sleep 0.1; done; echo second >&2' >/dev/null
timeout 120 roost logs -f jf > "$HOME/jf.out" 2>&1 &
follower=$!
wait_for 60 grep -q first "$HOME/jf.out"
touch "$HOME/sync/go"
# `logs -f` ends with the container.
wait "$follower" || fail "logs -f failed: $(cat "$HOME/jf.out")"
expect_eq "first second " "$(lines < "$HOME/jf.out")" "logs -f"

say "containers.conf log_driver = journald"
printf '[containers]\nlog_driver = "journald"\n' > "$HOME/.config/containers/containers.conf"
roost run --network none --name jconf "$BUSYBOX" echo via-conf >/dev/null
expect_eq journald "$(roost inspect --format '{{.HostConfig.LogConfig.Type}}' jconf)" "driver from containers.conf"
wait_for 30 count_is 1 journalctl --user -o cat CONTAINER_NAME=jconf
rm "$HOME/.config/containers/containers.conf"
roost rm jd jfg jf jconf >/dev/null

say "events to the journal"
roost --events-backend journald volume create evv >/dev/null
roost --events-backend journald volume rm evv >/dev/null
ev() { roost --events-backend journald events --stream=false --filter volume=evv "$@"; }
wait_for 30 count_is 2 roost --events-backend journald events --stream=false --filter volume=evv
out=$(ev)
expect_contains "$out" "volume create evv" "events"
expect_contains "$out" "volume remove evv" "events"
expect_eq "" "$(ev --until 2000-01-01T00:00:00Z)" "events --until the past"
expect_eq "2" "$(ev --since 10m --until 2099-01-01T00:00:00Z | wc -l)" "events --since/--until"
j=$(journalctl -o json _UID="$(id -u)" SYSLOG_IDENTIFIER=roost PODMAN_NAME=evv PODMAN_EVENT=remove)
expect_contains "$j" '"PODMAN_TYPE":"volume"' "the journal's event"
expect_eq "" "$(roost events --stream=false --filter volume=evv 2>/dev/null || true)" "the file log has none of them"

say "events_logger = journald in containers.conf"
printf '[engine]\nevents_logger = "journald"\n' > "$HOME/.config/containers/containers.conf"
cid=$(roost run -d --network none --name evc "$BUSYBOX" sh -c 'exit 3')
roost wait evc >/dev/null
died() { roost events --stream=false --filter container=evc --filter event=died "$@"; }
wait_for 30 count_is 1 roost events --stream=false --filter container=evc --filter event=died
expect_contains "$(died --format '{{.ContainerExitCode}}')" "3" "died's exit code"
j=$(journalctl -o json _UID="$(id -u)" PODMAN_ID="$cid" PODMAN_EVENT=died)
expect_contains "$j" '"PODMAN_EXIT_CODE":"3"' "died in the journal"
expect_contains "$j" '"PODMAN_NAME":"evc"' "died in the journal"
roost rm evc >/dev/null
rm "$HOME/.config/containers/containers.conf"

say "Quadlet: LogDriver=journald and LogDriver=passthrough"
for d in journald passthrough; do
  u=${d:0:1}log
  cat > "$HOME/quadlet-journald/$u.container" <<UNIT
[Container]
Image=$BUSYBOX
Network=none
LogDriver=$d
Exec=sh -c 'echo hello-$d; echo oops-$d >&2; exec sleep 1000'
UNIT
done
"$bin/roost" quadlet install "$HOME/quadlet-journald" >/dev/null
systemctl --user daemon-reload
systemctl --user start jlog.service plog.service
wait_for 30 count_is 2 roost logs systemd-jlog
expect_eq "hello-journald " "$(roost logs systemd-jlog 2>/dev/null | lines)" "logs of the journald unit"
expect_eq "oops-journald " "$(roost logs systemd-jlog 2>&1 >/dev/null | lines)" "logs of the journald unit"
wait_for 30 count_is 2 journalctl --user -o cat CONTAINER_NAME=systemd-jlog
wait_for 30 bash -c "journalctl --user -o cat -u plog.service | grep -q oops-passthrough"
expect_contains "$(journalctl --user -o cat -u plog.service)" "hello-passthrough" "the passthrough unit's journal"
if out=$(roost logs systemd-plog 2>&1); then fail "logs of a passthrough container: $out"; fi
expect_contains "$out" "passthrough log driver" "logs of a passthrough container"
systemctl --user stop jlog.service plog.service
# Leave no unit behind for the scenarios after this one.
"$bin/roost" quadlet rm jlog.container plog.container >/dev/null
systemctl --user daemon-reload
