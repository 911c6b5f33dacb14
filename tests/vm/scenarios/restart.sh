#!/usr/bin/env bash
# --restart=always|unless-stopped after a reboot (first half): containers with each policy (and an
# unless-stopped one the user stopped, and one without a policy), roost-restart.service installed
# by `roost system restart-unit`, enabled and started: it starts the containers now (so they run in
# its cgroup, not in this job's) as it will at boot. restart.reboot.sh checks them after the reboot.
# roost is copied to ~/.local/bin first, as a cargo user's ~/.cargo/bin/roost: the unit names the
# roost it was installed by, and /share may not be mounted yet when the user manager starts.
set -euo pipefail

mkdir -p ~/.local/bin
install -m 0755 "$(command -v roost)" ~/.local/bin/roost
R=~/.local/bin/roost
status() { $R inspect --format '{{.State.Status}}' "$1"; }
running() { [ "$(status "$1")" = running ]; }
$R create --name r-always --restart=always "$BUSYBOX" sleep 100000 >/dev/null
$R create --name r-unless --restart=unless-stopped "$BUSYBOX" sleep 100000 >/dev/null
$R create --name r-stopped --restart=unless-stopped "$BUSYBOX" sleep 100000 >/dev/null
$R create --name r-no "$BUSYBOX" sleep 100000 >/dev/null

unit=$($R system restart-unit 2>/dev/null)
expect_eq "$HOME/.config/systemd/user/roost-restart.service" "$unit" "installed unit"
expect_contains "$(cat "$unit")" "ExecStart=$HOME/.local/bin/roost \$LOGGING start --all" "the unit"
systemctl --user daemon-reload
systemctl --user enable roost-restart.service 2>&1
systemctl --user start roost-restart.service ||
  fail "roost-restart.service: $(systemctl --user status roost-restart.service 2>&1)"
for c in r-always r-unless r-stopped; do
  running "$c" || fail "$c was not started by roost-restart.service: $(status "$c")"
done
expect_eq created "$(status r-no)" "r-no"
$R stop -t 0 r-stopped >/dev/null
say "roost-restart.service enabled; it started r-always, r-unless, r-stopped (stopped again by the user)"
