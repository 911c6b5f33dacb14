#!/usr/bin/env bash
# The default rootless network (roost's built-in one: libslirp is installed in this guest), pasta
# selected by name, and a published port answered from the guest over IPv4 and IPv6.
set -euo pipefail
name=web-$$
trap 'roost rm -f "$name" >/dev/null 2>&1 || true' EXIT

say "addresses inside a container on the default network"
addrs=$(roost run --rm "$BUSYBOX" ip -o addr)
echo "$addrs"
# The built-in network: slirp4netns's addresses on a tap device.
expect_contains "$addrs" "10.0.2.100/24" "the container's addresses (the built-in network)"
expect_contains "$addrs" "fd00::100/64" "the container's IPv6 address (the built-in network)"

say "--network pasta copies the uplink"
addrs=$(roost run --rm --network pasta "$BUSYBOX" ip -o addr)
# pasta copies the guest's uplink (dummy0, 192.0.2.10) into the container's namespace.
expect_contains "$addrs" "192.0.2.10" "the container's addresses (pasta copies the uplink)"

say "run -d -p 18080:80 busybox httpd"
roost run -d --name "$name" -p 18080:80 "$BUSYBOX" \
  sh -c 'mkdir -p /www && echo hello over the default network > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
wait_for 60 curl -sf http://127.0.0.1:18080/index.html
body=$(curl -sf http://127.0.0.1:18080/index.html)
expect_eq "hello over the default network" "$body" "the page served through the published port"
expect_eq "hello over the default network" "$(curl -sf 'http://[::1]:18080/index.html')" "the page over IPv6"
expect_contains "$(roost port "$name")" "18080" "roost port"
roost rm -f "$name" >/dev/null
trap - EXIT
