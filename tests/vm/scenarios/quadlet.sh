#!/usr/bin/env bash
# Quadlet for a user who installed roost with cargo (no generator in /usr/lib/systemd/user-generators):
# `roost quadlet install` writes the units to ~/.config/systemd/user. A busybox httpd `.container` with
# PublishPort= and a `.volume` it serves a file from: `systemctl --user start web` returns once the
# container runs (Type=notify, --sdnotify=conmon: roost's monitor is the main process and says READY),
# HTTP answers on 127.0.0.1, `systemctl --user stop web` removes the container. The unit is enabled
# (WantedBy=default.target): quadlet.reboot.sh checks that it is back after a reboot. A second unit
# (Notify=healthy) stays `activating` until its healthcheck passes, then becomes active.
set -euo pipefail
bin=$HOME/.cargo/bin
mkdir -p "$bin" "$HOME/quadlet-src"
# The units call the binary that installed them: one on the root file system, as `cargo install` puts it.
install -m 0755 "$(command -v roost)" "$bin/roost"
trap 'systemctl --user stop ready.service >/dev/null 2>&1 || true' EXIT

cat > "$HOME/quadlet-src/web.container" <<UNIT
[Unit]
Description=busybox web server

[Container]
Image=$BUSYBOX
PublishPort=127.0.0.1:8080:80
Volume=www.volume:/www:ro
Exec=httpd -f -p 80 -h /www

[Install]
WantedBy=default.target
UNIT
printf '[Volume]\n' > "$HOME/quadlet-src/www.volume"

say "quadlet install"
"$bin/roost" quadlet install "$HOME/quadlet-src" >/dev/null
[ -f "$HOME/.config/containers/systemd/web.container" ] || fail "web.container not installed"
[ -L "$HOME/.config/systemd/user/default.target.wants/web.service" ] || fail "web.service not enabled"
expect_contains "$("$bin/roost" quadlet list)" "web.service" "quadlet list"
systemctl --user daemon-reload

say "the volume's unit, and a page in the volume"
systemctl --user start www-volume.service
roost volume inspect systemd-www >/dev/null || fail "www-volume.service made no volume systemd-www"
roost run --rm -v systemd-www:/www "$BUSYBOX" sh -c 'echo hello from quadlet > /www/index.html'

say "systemctl --user start web"
systemctl --user start web.service
# `start` of a Type=notify unit returns once it is active: the container runs already.
expect_eq "active" "$(systemctl --user is-active web.service)" "web.service after start"
expect_eq "running" "$(roost inspect --format '{{.State.Status}}' systemd-web)" "the container"
expect_eq "$(roost inspect --format '{{.State.ConmonPid}}' systemd-web)" \
  "$(systemctl --user show -p MainPID --value web.service)" "the unit's main pid (roost's monitor)"
expect_eq "web.service" "$(roost inspect --format '{{index .Config.Labels "PODMAN_SYSTEMD_UNIT"}}' systemd-web)" "PODMAN_SYSTEMD_UNIT label"
wait_for 30 curl -sf http://127.0.0.1:8080/index.html
expect_eq "hello from quadlet" "$(curl -sf http://127.0.0.1:8080/index.html)" "HTTP answer"
say "$(systemctl --user status web.service --no-pager 2>&1 | head -3 | tr '\n' ' ')"

say "systemctl --user stop web"
systemctl --user stop web.service
if roost container exists systemd-web; then fail "the container outlived its unit: $(roost ps -a)"; fi
expect_eq "inactive" "$(systemctl --user is-active web.service || true)" "web.service after stop"
# Enabled: back after the reboot (quadlet.reboot.sh).

say "Notify=healthy: activating until the healthcheck passes"
cat > "$HOME/quadlet-src/ready.container" <<UNIT
[Container]
Image=$BUSYBOX
Exec=sleep 600
Notify=healthy
HealthCmd=test -e /tmp/ready
HealthInterval=1s

# The guest runs under TCG, often beside other work: the checks below take longer than systemd's
# default 90 s start timeout there, after which systemd would stop the unit mid-test.
[Service]
TimeoutStartSec=600
UNIT
"$bin/roost" quadlet install "$HOME/quadlet-src/ready.container" >/dev/null
systemctl --user daemon-reload
systemctl --user start --no-block ready.service
wait_for 60 sh -c '[ "$(roost inspect --format "{{.State.Status}}" systemd-ready 2>/dev/null)" = running ]'
# The check cannot pass before /tmp/ready exists: systemd must still wait.
wait_for 30 sh -c '[ "$(roost inspect --format "{{.State.Health.Status}}" systemd-ready)" = starting ] || [ "$(roost inspect --format "{{.State.Health.Status}}" systemd-ready)" = unhealthy ]'
expect_eq "activating" "$(systemctl --user is-active ready.service || true)" "ready.service before its check passes"
roost exec systemd-ready touch /tmp/ready
wait_for 60 sh -c '[ "$(systemctl --user is-active ready.service)" = active ]'
expect_eq "healthy" "$(roost inspect --format '{{.State.Health.Status}}' systemd-ready)" "health once active"
systemctl --user stop ready.service
"$bin/roost" quadlet rm ready >/dev/null
[ ! -e "$HOME/.config/systemd/user/ready.service" ] || fail "quadlet rm left ready.service"
