#!/usr/bin/env bash
# auto-update with the local policy (the guest has no registry): a unit runs a labelled container
# (a plain oneshot unit, so the scenario does not depend on `--sdnotify`); a new image committed
# onto its tag is found (`--dry-run`: pending), the unit is restarted on it (`true`); a broken new
# image (its entrypoint cannot run) makes the restarted unit fail, and auto-update tags the previous
# image back and restarts the unit again (`rolled back`).
set -euo pipefail

R=$(command -v roost)
img=localhost/au:latest
roost tag "$BUSYBOX" "$img"
mkdir -p ~/.config/systemd/user
cat > ~/.config/systemd/user/au.service <<UNIT
[Service]
Type=oneshot
RemainAfterExit=yes
Environment=PODMAN_SYSTEMD_UNIT=%n
ExecStartPre=-$R rm -f -t 0 au
ExecStart=$R run -d --name au --label io.containers.autoupdate=local $img sleep 100000
ExecStop=$R rm -f -t 0 au
UNIT
systemctl --user daemon-reload
systemctl --user start au.service || fail "au.service: $(systemctl --user status au.service 2>&1)"
image_of() { roost inspect --format '{{.Image}}' au; }
old=$(image_of)
expect_eq "au.service false" "$(roost auto-update --dry-run --format '{{.Unit}} {{.Updated}}')" "nothing new yet"

roost run --name au-src "$BUSYBOX" touch /new >/dev/null
roost commit -q au-src "$img" >/dev/null
expect_eq "au.service pending" "$(roost auto-update --dry-run --format '{{.Unit}} {{.Updated}}')" "dry run"
expect_eq "au.service true" "$(roost auto-update --format '{{.Unit}} {{.Updated}}')" "update"
good=$(image_of)
[ "$good" != "$old" ] || fail "the unit still runs the old image $old"
roost exec au test -e /new || fail "the restarted container is not the new image"
say "updated to the new image"

roost commit -q -c 'ENTRYPOINT ["/nonexistent"]' au-src "$img" >/dev/null
expect_eq "au.service rolled back" "$(roost auto-update --format '{{.Unit}} {{.Updated}}' 2>/dev/null)" "broken image"
expect_eq "$good" "$(image_of)" "image after the rollback"
expect_eq running "$(roost inspect --format '{{.State.Status}}' au)" "au after the rollback"
say "rolled back from the broken image"
systemctl --user stop au.service
roost rm -f au-src >/dev/null
