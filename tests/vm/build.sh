#!/usr/bin/env bash
# Builds the VM tier's guest image (root; idempotent): Debian 12 with systemd and cgroup v2, the
# helpers rootless containers use (uidmap, passt, slirp4netns, fuse-overlayfs, netavark, aardvark-dns,
# iptables), and user `u1` (uid 1000, /etc/subuid and /etc/subgid 100000:65536, lingering, so its
# systemd user manager starts at boot with cpu, memory and pids delegated: Debian's user@.service).
# At boot, unit roost-vm-job runs /share/job.sh (the 9p share tests/vm/run.sh passes) as u1 inside
# that user manager, writes its output to /share/out.log and its status to /share/rc, and powers off.
#
# The image lives in $ROOST_VM_DIR (default /var/cache/roost-vm: kept between runs) with the sha256
# of this script; it is rebuilt when the script changes. About 2-3 minutes from scratch (debootstrap).
#   tests/vm/build.sh          -> $ROOST_VM_DIR/{vmlinuz,initrd.img,root.img,build.sha256}
# Env: ROOST_VM_DIR, ROOST_VM_MIRROR (default: the host's Debian mirror, else deb.debian.org).
set -euo pipefail
DIR=${ROOST_VM_DIR:-/var/cache/roost-vm}
SELF=$(readlink -f "$0")
[ "$(id -u)" = 0 ] || { echo "tests/vm/build.sh: run as root (debootstrap, chroot)" >&2; exit 1; }
hash=$(sha256sum "$SELF" | cut -d' ' -f1)
ready() { [ -f "$DIR/root.img" ] && [ -f "$DIR/vmlinuz" ] && [ -f "$DIR/initrd.img" ] &&
          [ "$(cat "$DIR/build.sha256" 2>/dev/null)" = "$hash" ]; }
ready && { echo "VM image ready in $DIR"; exit 0; }

mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock 9
ready && { echo "VM image ready in $DIR"; exit 0; }   # another build finished while we waited

need="qemu-system-x86 debootstrap e2fsprogs"
missing=$(for p in $need; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 $missing >/dev/null
fi
mirror=${ROOST_VM_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}

start=$SECONDS
new=$DIR.new; rm -rf "$new"; mkdir -p "$new"
R=$new/rootfs
trap 'rm -rf "$new"' EXIT
pkgs=systemd-sysv,systemd,dbus,dbus-user-session,udev,linux-image-amd64,kmod,e2fsprogs,iproute2,procps
pkgs=$pkgs,uidmap,passt,slirp4netns,fuse-overlayfs,fuse3,netavark,aardvark-dns,iptables,curl,ca-certificates
echo "tests/vm/build.sh: debootstrap bookworm from $mirror into $R"
debootstrap --variant=minbase --include="$pkgs" bookworm "$R" "$mirror" >"$new/debootstrap.log" 2>&1 ||
  { tail -20 "$new/debootstrap.log" >&2; exit 1; }

chroot "$R" /bin/sh -ec '
  useradd -m -u 1000 -s /bin/bash u1
  # useradd adds these itself (SUB_UID_MIN): a second, overlapping line would break newuidmap.
  grep -q "^u1:" /etc/subuid || echo u1:100000:65536 >> /etc/subuid
  grep -q "^u1:" /etc/subgid || echo u1:100000:65536 >> /etc/subgid
  mkdir -p /var/lib/systemd/linger /share
  touch /var/lib/systemd/linger/u1
  echo vm > /etc/hostname
  printf "127.0.0.1 localhost\n127.0.1.1 vm\n" > /etc/hosts
  printf "9pnet_virtio\n9p\n" > /etc/modules-load.d/share.conf
  systemctl mask getty@tty1.service serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer \
    >/dev/null 2>&1 || true'
printf '/dev/vda / ext4 defaults 0 1\nshare /share 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0\n' \
  > "$R/etc/fstab"

# The job. `systemd-run --user` starts it as a transient service of u1's user manager, so it and the
# containers it starts land in user@1000.service/app.slice, as a per-user unit's would.
cat > "$R/etc/systemd/system/roost-vm-job.service" <<'UNIT'
[Unit]
Description=Run /share/job.sh as u1 inside u1's systemd user manager
Wants=user@1000.service
After=user@1000.service multi-user.target share.mount roost-vm-net.service
[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/sh -c 'rm -f /share/rc; if [ -f /share/job.sh ]; then systemd-run --machine=u1@ --user --wait --pipe --quiet --collect -p WorkingDirectory=/home/u1 /bin/bash /share/job.sh >/share/out.log 2>&1; echo $? > /share/rc; fi; sync'
ExecStopPost=/bin/systemctl poweroff --no-block
[Install]
WantedBy=multi-user.target
UNIT
# The guest has no NIC (nothing leaves it), but pasta copies the host's addresses and routes and
# refuses to start without a default route: a dummy uplink with one into 192.0.2.0/24 (TEST-NET-1,
# which nothing answers).
cat > "$R/etc/systemd/system/roost-vm-net.service" <<'UNIT'
[Unit]
Description=Dummy uplink for user-mode networking
Before=roost-vm-job.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -ec 'ip link set lo up; ip link add dummy0 type dummy; ip addr add 192.0.2.10/24 dev dummy0; ip link set dummy0 up; ip route add default via 192.0.2.1'
[Install]
WantedBy=multi-user.target
UNIT
chroot "$R" systemctl enable roost-vm-job.service roost-vm-net.service >/dev/null 2>&1

cp "$R"/boot/vmlinuz-* "$new/vmlinuz"
cp "$R"/boot/initrd.img-* "$new/initrd.img"
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*_Packages
mkfs.ext4 -q -d "$R" -F "$new/root.img" 4G
rm -rf "$R"
echo "$hash" > "$new/build.sha256"
rm -rf "$DIR.old"; [ -d "$DIR" ] && mv "$DIR" "$DIR.old"
mv "$new" "$DIR"; rm -rf "$DIR.old"
trap - EXIT
echo "VM image ready in $DIR (built in $((SECONDS - start)) s)"
