#!/usr/bin/env bash
# The default rootless network (pasta in this guest) and a published port answered from the guest.
set -euo pipefail
name=web-$$
trap 'roost rm -f "$name" >/dev/null 2>&1 || true' EXIT

say "addresses inside a container on the default network"
addrs=$(roost run --rm "$BUSYBOX" ip -o addr)
echo "$addrs"
# pasta copies the guest's uplink (dummy0, 192.0.2.10) into the container's namespace.
expect_contains "$addrs" "192.0.2.10" "the container's addresses (pasta copies the uplink)"

say "run -d -p 18080:80 busybox httpd"
roost run -d --name "$name" -p 18080:80 "$BUSYBOX" \
  sh -c 'mkdir -p /www && echo hello over pasta > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
wait_for 60 curl -sf http://127.0.0.1:18080/index.html
body=$(curl -sf http://127.0.0.1:18080/index.html)
expect_eq "hello over pasta" "$body" "the page served through the published port"
expect_contains "$(roost port "$name")" "18080" "roost port"
roost rm -f "$name" >/dev/null
trap - EXIT
