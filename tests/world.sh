#!/usr/bin/env bash
# Builds roost's offline test world (run as root; idempotent; ~1 min from scratch, well under a second when ready):
#   - packages the tests and the runtime need (uidmap, fuse-overlayfs, slirp4netns, passt, docker-registry, ...)
#   - an unprivileged test user with /etc/subuid and /etc/subgid ranges, and a second one
#   - two real registries (Debian's docker-registry, distribution v2) on loopback:
#       127.0.0.1:$PORT      anonymous
#       127.0.0.1:$AUTHPORT  htpasswd basic auth (user `roost`, password `hunter2`), for login/logout tests
#   - the VM tier's guest image (tests/vm/build.sh)
#   - test images made by independent tools (umoci + skopeo), pushed there and saved as archives:
#       busybox:latest   one layer: busybox-static + applet links, /etc/passwd with root and user(1000)
#       layered:latest   busybox + a layer that adds /etc/layer2, /opt/data/f and deletes /bin/wget (whiteout)
#       debian:bookworm  debootstrap minbase (~200 MB unpacked, one ~63 MB gzip layer); only with --debian (benchmarks)
#       compose-base:bookworm, devbox:bookworm   debootstrap images for the client tests (see clients_world)
# Usage: tests/world.sh [--debian]   Env: TB (work dir, default /tmp/roost-world), PORT (5000), AUTHPORT (5001),
#        TESTUSER (roosttest), TESTUSER2 (roosttest2, a second user for the privacy tests)
# Adapted from the workplace's shared testbed recipe.
set -euo pipefail
TB=${TB:-/tmp/roost-world}; PORT=${PORT:-5000}; AUTHPORT=${AUTHPORT:-5001}; TESTUSER=${TESTUSER:-roosttest}; TESTUSER2=${TESTUSER2:-roosttest2}; TESTUSER3=${TESTUSER3:-roostnosub}
WITH_DEBIAN=0; [ "${1:-}" = --debian ] && WITH_DEBIAN=1
REG=127.0.0.1:$PORT; AREG=127.0.0.1:$AUTHPORT
[ "$(id -u)" = 0 ] || { echo "tests/world.sh: run as root (it installs packages and creates the test user)" >&2; exit 1; }
mkdir -p "$TB"; chmod 0755 "$TB"

pkgs="uidmap slirp4netns libslirp0 passt netavark aardvark-dns iptables fuse-overlayfs fuse3 docker-registry skopeo umoci busybox-static jq curl apache2-utils
      libseccomp-dev pkg-config util-linux procps hyperfine socat iperf3 gcc libc6-dev
      tmux bash-completion podman zsh fish openssl"
[ $WITH_DEBIAN = 1 ] && pkgs="$pkgs debootstrap"
missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 $missing >/dev/null
fi

# Host programs the busybox image lacks (socat, for UDP), with their loader and libraries, to bind
# into containers: /tools/ld-linux-x86-64.so.2 --library-path /tools /tools/socat ...
mkdir -p "$TB/tools"
for bin in /usr/bin/socat; do
  cp -L "$bin" "$TB/tools/"
  for lib in $(ldd "$bin" | awk '/=>/{print $3} /ld-linux/{print $1}'); do cp -L "$lib" "$TB/tools/"; done
done
# A static helper that tries TIOCSTI on its stdio and /dev/tty (tests/it/security.rs).
src=$(dirname "$0")/it/tiocsti.c
if [ ! -x "$TB/tools/tiocsti" ] || [ "$src" -nt "$TB/tools/tiocsti" ]; then
  cc -static -O2 -o "$TB/tools/tiocsti" "$src"
fi
chmod -R a+rX "$TB/tools"

# Most distros ship these 0666; some VMs ship them 0600, which breaks slirp4netns/pasta and FUSE for users.
chmod 0666 /dev/net/tun /dev/fuse 2>/dev/null || true

id "$TESTUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TESTUSER"
for f in /etc/subuid /etc/subgid; do grep -q "^$TESTUSER:" $f || echo "$TESTUSER:200000:65536" >> $f; done
# A second user, for the tests of what one user can see of another's containers (tests/it/privacy.rs).
id "$TESTUSER2" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TESTUSER2"
for f in /etc/subuid /etc/subgid; do grep -q "^$TESTUSER2:" $f || echo "$TESTUSER2:300000:65536" >> $f; done
# A user without subordinate ids (as many LDAP/SSSD accounts are): roost maps only their own id.
# useradd gives new users ranges where login.defs asks it to: taken away again.
id "$TESTUSER3" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TESTUSER3"
sed -i "/^$TESTUSER3:/d" /etc/subuid /etc/subgid

start_registry() { # name addr [htpasswd]
  local name=$1 addr=$2 auth=${3:-}
  curl -s -o /dev/null "http://$addr/v2/" && return 0
  { echo "version: 0.1"
    echo "log: {level: warn}"
    echo "storage: {filesystem: {rootdirectory: $TB/$name-data}, delete: {enabled: true}}"
    echo "http: {addr: $addr}"
    [ -n "$auth" ] && echo "auth: {htpasswd: {realm: roost-test, path: $auth}}"
  } > "$TB/$name.yml"
  nohup /usr/bin/docker-registry serve "$TB/$name.yml" > "$TB/$name.log" 2>&1 &
  echo $! > "$TB/$name.pid"
  for _ in $(seq 100); do curl -s -o /dev/null "http://$addr/v2/" && return 0; sleep 0.1; done
  echo "registry $name did not start; see $TB/$name.log" >&2; exit 1
}
[ -f "$TB/htpasswd" ] || htpasswd -Bbn roost hunter2 > "$TB/htpasswd"
start_registry registry "$REG"
start_registry authregistry "$AREG" "$TB/htpasswd"

if [ ! -d "$TB/oci" ]; then
  rm -rf "$TB/bbroot" "$TB/b1" "$TB/b2"
  r=$TB/bbroot; mkdir -p $r/{bin,etc,tmp,root,home/user,proc,sys,dev}
  cp /bin/busybox $r/bin/busybox
  for a in $($r/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > $r/etc/passwd
  printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' > $r/etc/group
  chmod 1777 $r/tmp; chown 1000:1000 $r/home/user
  umoci init --layout "$TB/oci"
  umoci new --image "$TB/oci:busybox"
  umoci unpack --image "$TB/oci:busybox" "$TB/b1" >/dev/null
  rm -rf "$TB/b1/rootfs"; cp -a $r "$TB/b1/rootfs"
  umoci repack --image "$TB/oci:busybox" "$TB/b1"
  umoci config --image "$TB/oci:busybox" --config.cmd sh \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --architecture amd64 --os linux \
    --config.label org.roost.test=busybox
  umoci unpack --image "$TB/oci:busybox" "$TB/b2" >/dev/null
  echo layer2 > "$TB/b2/rootfs/etc/layer2"; rm "$TB/b2/rootfs/bin/wget"
  mkdir -p "$TB/b2/rootfs/opt/data"; echo x > "$TB/b2/rootfs/opt/data/f"
  umoci repack --image "$TB/oci:layered" "$TB/b2"
  rm -rf "$TB/b1" "$TB/b2" "$TB/bbroot"
fi
# The layout's tags, read once: `umoci ls | grep -q` would fail under pipefail when grep exits first (SIGPIPE).
tags() { umoci ls --layout "$TB/oci"; }
if [ $WITH_DEBIAN = 1 ] && ! tags | grep -x debian >/dev/null; then
  [ -d "$TB/debian-rootfs" ] || debootstrap --variant=minbase bookworm "$TB/debian-rootfs" \
      "$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian)" >/dev/null
  rm -rf "$TB/b3"
  umoci new --image "$TB/oci:debian"
  umoci unpack --image "$TB/oci:debian" "$TB/b3" >/dev/null
  rm -rf "$TB/b3/rootfs"; cp -a "$TB/debian-rootfs" "$TB/b3/rootfs"
  umoci repack --image "$TB/oci:debian" "$TB/b3"
  umoci config --image "$TB/oci:debian" --config.cmd bash \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --architecture amd64 --os linux
  rm -rf "$TB/b3"
fi
# Push each umoci tag to the registries, and save oci-archive/docker-archive copies for load tests.
mkdir -p "$TB/archives"
while read -r tag ref; do
  tags | grep -x "$tag" >/dev/null || continue
  skopeo copy -q --dest-tls-verify=false "oci:$TB/oci:$tag" "docker://$REG/$ref" </dev/null
  [ "$tag" = debian ] || skopeo copy -q --dest-tls-verify=false --dest-creds roost:hunter2 "oci:$TB/oci:$tag" "docker://$AREG/$ref" </dev/null
  [ -f "$TB/archives/$tag.oci.tar" ] || skopeo copy -q "oci:$TB/oci:$tag" "oci-archive:$TB/archives/$tag.oci.tar:$ref" </dev/null
  [ -f "$TB/archives/$tag.docker.tar" ] || skopeo copy -q "oci:$TB/oci:$tag" "docker-archive:$TB/archives/$tag.docker.tar:$REG/$ref" </dev/null
done <<LIST
busybox busybox:latest
layered layered:latest
debian debian:bookworm
LIST
chmod -R a+rX "$TB/archives"
# Real clients that drive `podman` (tests/it/clients.rs): podman-compose from PyPI in a venv, Debian's
# distrobox and toolbox (podman-toolbox pulls in Debian's podman; the tests put a `podman -> roost`
# symlink first on PATH), and two offline Debian images they can start with no network inside:
#   compose-base:bookworm  python3-flask, python3-redis, redis-server (both services of the compose test)
#   devbox:bookworm        what distrobox-init 1.4 and `toolbox init-container` otherwise install
#                          (sudo, passwd, procps, util-linux, capsh, ...); label com.github.containers.toolbox=true
# The rootfs tarballs are cached in $TB/rootfs, so only the first run pays for debootstrap (~6-7 min).
clients_world() {
  local p missing="" venv=$TB/venv
  for p in python3-venv distrobox podman-toolbox debootstrap; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 $missing >/dev/null
  fi
  if [ "$("$venv/bin/podman-compose" --version 2>/dev/null | awk '/podman-compose version/{print $3; exit}')" != 1.6.0 ]; then
    [ -x "$venv/bin/pip" ] || /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check podman-compose==1.6.0
  fi
  chmod -R a+rX "$venv"
  local mirror
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  mkdir -p "$TB/rootfs"
  local tag extra label
  while read -r tag extra label; do
    tags | grep -x "$tag" >/dev/null && continue
    if [ ! -f "$TB/rootfs/$tag.tar" ]; then
      rm -rf "$TB/rootfs/$tag"
      debootstrap --variant=minbase --include="$extra" bookworm "$TB/rootfs/$tag" "$mirror" >/dev/null
      rm -rf "$TB/rootfs/$tag"/var/cache/apt/archives/*.deb "$TB/rootfs/$tag"/var/lib/apt/lists/*_Packages
      tar -C "$TB/rootfs/$tag" --numeric-owner -cf "$TB/rootfs/$tag.tar.tmp" . && mv "$TB/rootfs/$tag.tar.tmp" "$TB/rootfs/$tag.tar"
      rm -rf "$TB/rootfs/$tag"
    fi
    rm -rf "$TB/b-$tag"
    umoci new --image "$TB/oci:$tag"
    umoci unpack --image "$TB/oci:$tag" "$TB/b-$tag" >/dev/null
    tar -C "$TB/b-$tag/rootfs" --numeric-owner -xpf "$TB/rootfs/$tag.tar"
    umoci repack --image "$TB/oci:$tag" "$TB/b-$tag"
    umoci config --image "$TB/oci:$tag" --config.cmd bash \
      --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --architecture amd64 --os linux \
      ${label:+--config.label "$label"}
    rm -rf "$TB/b-$tag"
  done <<LIST
compose-base python3-flask,python3-redis,redis-server
devbox sudo,libcap2-bin,procps,util-linux,mount,passwd,diffutils,findutils,less,lsof,bc,time,wget,curl,pinentry-curses,gnupg,ncurses-base,libnss-myhostname com.github.containers.toolbox=true
LIST
  for tag in compose-base devbox; do
    skopeo inspect --tls-verify=false "docker://$REG/$tag:bookworm" >/dev/null 2>&1 ||
      skopeo copy -q --dest-tls-verify=false "oci:$TB/oci:$tag" "docker://$REG/$tag:bookworm" </dev/null
  done
}
clients_world

# The VM tier's guest image (tests/vm/build.sh: cached in /var/cache/roost-vm, rebuilt when the
# script changes; about 2 minutes from scratch, nothing when ready).
"$(dirname "$0")/vm/build.sh"

echo "test world ready: registries http://$REG and http://$AREG (roost/hunter2), user $TESTUSER, archives in $TB/archives"
