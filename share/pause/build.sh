#!/bin/sh
# Rebuild roost's pod infra process from pause.S (needs binutils): a static, libc-free x86-64 ELF.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
as --64 -o "$tmp/pause.o" pause.S
ld -static -nostdlib -s --build-id=none -z noexecstack -o "$tmp/pause" "$tmp/pause.o"
cp "$tmp/pause" pause-x86_64
rm -rf "$tmp"
