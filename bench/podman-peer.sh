#!/usr/bin/env bash
# Configures Debian's rootless podman (runc + cgroupfs) for USER as the side-by-side peer in
# roost's benchmarks, against the registries of tests/world.sh. Run as root (idempotent):
#   bench/podman-peer.sh [USER] [REGISTRY...]     defaults: roosttest 127.0.0.1:5000 127.0.0.1:5001
# Adapted from the shared testbed's recipe (../shared/testbed/podman-peer.sh beside this repository).
set -euo pipefail
U=${1:-roosttest}; shift || true
REGS=("$@"); [ ${#REGS[@]} = 0 ] && REGS=(127.0.0.1:5000 127.0.0.1:5001)
H=$(getent passwd "$U" | cut -d: -f6)
[ -n "$H" ] || { echo "podman-peer.sh: no user $U (run tests/world.sh first)" >&2; exit 1; }
missing=$(for p in podman runc; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 $missing >/dev/null
fi
mkdir -p "$H/.config/containers"
for r in "${REGS[@]}"; do printf '[[registry]]\nlocation = "%s"\ninsecure = true\n\n' "$r"; done \
  > "$H/.config/containers/registries.conf"
printf '[storage]\ndriver = "overlay"\n' > "$H/.config/containers/storage.conf"
# crun 1.8 refuses hybrid cgroups ("cgroups in hybrid mode not supported"); runc + cgroupfs works.
printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n' \
  > "$H/.config/containers/containers.conf"
chown -R "$U:" "$H/.config"
echo "podman configured for $U (registries: ${REGS[*]})"
