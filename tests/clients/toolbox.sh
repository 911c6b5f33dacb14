#!/bin/bash
# toolbox (Debian's podman-toolbox), unchanged, driving roost through a `podman` symlink first on PATH.
# Env: IMAGE (a toolbox image, pulled already), NAME (the container).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(command -v podman)" != /usr/bin/podman ] || fail "podman resolves to Debian's podman, not roost"
run() { echo "+ $*" >&2; "$@"; }

run toolbox -y create -i "$IMAGE" "$NAME"
uid=$(run toolbox run -c "$NAME" id -u | tr -d '\r')
[ "$uid" = "$(id -u)" ] || fail "id -u in the toolbox: \`$uid\`, want $(id -u)"
run toolbox rm --force "$NAME"
if podman container exists "$NAME"; then fail "toolbox $NAME still exists after toolbox rm"; fi
echo OK
