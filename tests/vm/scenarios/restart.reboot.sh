#!/usr/bin/env bash
# --restart=always|unless-stopped after a reboot (second half, see restart.sh): roost-restart.service
# ran at boot through lingering and started the always and unless-stopped containers again, but not
# the unless-stopped one the user had stopped, nor the one without a policy.
set -euo pipefail

R=~/.local/bin/roost
status() { $R inspect --format '{{.State.Status}}' "$1"; }
running() { [ "$(status "$1")" = running ]; }
diagnose() {
  [ $? = 0 ] && return
  systemctl --user status roost-restart.service 2>&1 | tail -20 || true
  journalctl --user -u roost-restart.service --no-pager 2>&1 | tail -30 || true
  $R ps -a --format '{{.Names}} {{.Status}}' 2>&1 || true
  for c in r-always r-unless r-stopped r-no; do
    echo "$c: $($R inspect --format '{{json .State}}' "$c" 2>&1)"
  done
}
trap diagnose EXIT
wait_for 180 running r-always
wait_for 180 running r-unless
say "r-always and r-unless run again"
systemctl --user is-active --quiet roost-restart.service || fail "roost-restart.service is not active"
# They really run (not a stale record): a command runs in each.
expect_eq hi "$($R exec r-always echo hi)" "exec in r-always"
expect_eq hi "$($R exec r-unless echo hi)" "exec in r-unless"
running r-stopped && fail "r-stopped (stopped by the user, unless-stopped) came back"
expect_eq created "$(status r-no)" "r-no (no restart policy) after the reboot"
systemctl --user disable roost-restart.service 2>&1
systemctl --user stop roost-restart.service
$R rm -f -t 0 r-always r-unless r-stopped r-no >/dev/null
