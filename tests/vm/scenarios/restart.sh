#!/usr/bin/env bash
# --restart=always|unless-stopped after a reboot (first half): containers with each policy (and an
# unless-stopped one the user stopped, and one without a policy), roost-restart.service installed
# by `roost system restart-unit` and enabled. restart.reboot.sh checks them after the reboot.
# roost is copied to ~/.local/bin first, as a cargo user's ~/.cargo/bin/roost: the unit names the
# roost it was installed by, and /share may not be mounted yet when the user manager starts.
set -euo pipefail

mkdir -p ~/.local/bin
install -m 0755 "$(command -v roost)" ~/.local/bin/roost
R=~/.local/bin/roost
$R run -d --name r-always --restart=always "$BUSYBOX" sleep 100000 >/dev/null
$R run -d --name r-unless --restart=unless-stopped "$BUSYBOX" sleep 100000 >/dev/null
$R run -d --name r-stopped --restart=unless-stopped "$BUSYBOX" sleep 100000 >/dev/null
$R run -d --name r-no "$BUSYBOX" sleep 100000 >/dev/null
$R stop -t 0 r-stopped >/dev/null
say "containers up"

unit=$($R system restart-unit 2>/dev/null)
expect_eq "$HOME/.config/systemd/user/roost-restart.service" "$unit" "installed unit"
expect_contains "$(cat "$unit")" "ExecStart=$HOME/.local/bin/roost \$LOGGING start --all" "the unit"
systemctl --user daemon-reload
systemctl --user enable roost-restart.service 2>&1
# Started now (as at boot) it leaves the running ones alone and the stopped one stopped.
systemctl --user start roost-restart.service
systemctl --user is-active --quiet roost-restart.service || fail "roost-restart.service: $(systemctl --user status roost-restart.service 2>&1)"
expect_eq running "$($R inspect --format '{{.State.Status}}' r-always)" "r-always"
expect_eq exited "$($R inspect --format '{{.State.Status}}' r-stopped)" "r-stopped"
say "roost-restart.service enabled"
