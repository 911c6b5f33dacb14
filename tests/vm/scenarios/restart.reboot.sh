#!/usr/bin/env bash
# --restart=always|unless-stopped after a reboot (second half, see restart.sh): roost-restart.service
# ran at boot through lingering and started the always and unless-stopped containers again, but not
# the unless-stopped one the user had stopped, nor the one without a policy.
set -euo pipefail

R=~/.local/bin/roost
status() { $R inspect --format '{{.State.Status}}' "$1"; }
running() { [ "$(status "$1")" = running ]; }
wait_for 180 running r-always
wait_for 180 running r-unless
say "r-always and r-unless run again"
systemctl --user is-active --quiet roost-restart.service || fail "roost-restart.service: $(systemctl --user status roost-restart.service 2>&1)"
# They really run (not a stale record): a command runs in each.
expect_eq hi "$($R exec r-always echo hi)" "exec in r-always"
expect_eq hi "$($R exec r-unless echo hi)" "exec in r-unless"
running r-stopped && fail "r-stopped (stopped by the user, unless-stopped) came back"
running r-no && fail "r-no (no restart policy) came back"
expect_eq exited "$(status r-no)" "r-no after the reboot"
$R rm -f -t 0 r-always r-unless r-stopped r-no >/dev/null
systemctl --user disable roost-restart.service 2>&1
