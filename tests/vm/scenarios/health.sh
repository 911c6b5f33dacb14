#!/usr/bin/env bash
# Healthchecks with a systemd user manager: each container's checks run from a transient timer
# (`roost-health-ID.timer`, as podman's), not from its monitor; a failing check turns the container
# unhealthy within interval × retries, and the timer goes when the container does.
set -euo pipefail

wait_until() { # SECONDS CMD...: poll CMD until it succeeds
    local limit=$1; shift
    for _ in $(seq $((limit * 5))); do "$@" && return 0; sleep 0.2; done
    return 1
}
health() { roost inspect --format '{{.State.Health.Status}}' "$1"; }
is_health() { [ "$(health "$1")" = "$2" ]; }
timer_active() { systemctl --user is-active --quiet "roost-health-$1.timer"; }

bad=$(roost run -d --health-cmd false --health-interval 1s --health-retries 2 "$BUSYBOX" sleep 300)
good=$(roost run -d --health-cmd 'echo fine' --health-interval 1s "$BUSYBOX" sleep 300)
timer_active "$bad" || fail "no systemd timer for $bad: $(systemctl --user list-timers --all 2>&1)"
timer_active "$good" || fail "no systemd timer for $good"
# The monitor runs no checks of its own here: it holds no timerfd.
mon=$(roost inspect --format '{{.State.ConmonPid}}' "$bad")
if ls -l "/proc/$mon/fd" | grep -q timerfd; then fail "the monitor of $bad has a timer too"; fi
wait_until 60 is_health "$bad" unhealthy || fail "never unhealthy: $(roost inspect --format '{{json .State.Health}}' "$bad")"
wait_until 60 is_health "$good" healthy || fail "never healthy: $(roost inspect --format '{{json .State.Health}}' "$good")"
expect_eq "$(roost ps --filter health=unhealthy --format '{{.ID}}')" "${bad:0:12}"
roost rm -f -t 0 "$bad" "$good" >/dev/null
wait_until 30 bash -c "! systemctl --user is-active --quiet roost-health-$bad.timer" || fail "the timer of $bad outlived it"
