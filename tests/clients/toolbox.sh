#!/bin/bash
# toolbox (Debian's podman-toolbox), unchanged, driving roost through a `podman` symlink first on PATH.
# Env: IMAGE (a toolbox image, pulled already), NAME (the container).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(command -v podman)" != /usr/bin/podman ] || fail "podman resolves to Debian's podman, not roost"
run() { echo "+ $*" >&2; "$@"; }
# toolbox binds the D-Bus system socket into the container and fails without one; a machine with no
# D-Bus daemon (CI) gets a stand-in path.
if [ ! -S /run/dbus/system_bus_socket ]; then
  export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$HOME/system_bus_socket"
  touch "$HOME/system_bus_socket"
fi

run toolbox -y create -i "$IMAGE" "$NAME"
podman container exists "$NAME" || fail "toolbox create made no container $NAME"
uid=$(run toolbox run -c "$NAME" id -u | tr -d '\r')
[ "$uid" = "$(id -u)" ] || fail "id -u in the toolbox: \`$uid\`, want $(id -u)"
run toolbox rm --force "$NAME"
if podman container exists "$NAME"; then fail "toolbox $NAME still exists after toolbox rm"; fi
echo OK
