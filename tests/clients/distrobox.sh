#!/bin/bash
# distrobox 1.4 (Debian's), unchanged, driving roost through a `podman` symlink first on PATH.
# Env: IMAGE (a distrobox-ready image, pulled already), NAME (the box).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(command -v podman)" != /usr/bin/podman ] || fail "podman resolves to Debian's podman, not roost"
run() { echo "+ $*" >&2; "$@"; }

run distrobox create -i "$IMAGE" -n "$NAME" --yes --no-entry
podman container exists "$NAME" || fail "distrobox create made no container $NAME"
uid=$(run distrobox enter "$NAME" -- id -u | tr -d '\r')
[ "$uid" = "$(id -u)" ] || fail "id -u in the box: \`$uid\`, want $(id -u)"
run distrobox enter "$NAME" -- touch "$HOME/x"
[ -f "$HOME/x" ] || fail "~/x made in the box is not in the real HOME"
[ "$(stat -c %u "$HOME/x")" = "$(id -u)" ] || fail "~/x is owned by $(stat -c %u "$HOME/x"), not $(id -u)"
run distrobox enter "$NAME" -- sudo -n true || fail "sudo -n true failed in the box"
run distrobox rm "$NAME" --force
if podman container exists "$NAME"; then fail "box $NAME still exists after distrobox rm"; fi
echo OK
