#!/usr/bin/env bash
# After the reboot: the enabled Quadlet unit web.service (quadlet.sh) was started at boot by u1's
# lingering manager, and serves the page from its volume again.
set -euo pipefail
wait_for 120 sh -c '[ "$(systemctl --user is-active web.service)" = active ]'
expect_eq "running" "$(roost inspect --format '{{.State.Status}}' systemd-web)" "the container after reboot"
wait_for 30 curl -sf http://127.0.0.1:8080/index.html
expect_eq "hello from quadlet" "$(curl -sf http://127.0.0.1:8080/index.html)" "HTTP answer after reboot"
systemctl --user stop web.service
if roost container exists systemd-web; then fail "the container outlived its unit"; fi
