#!/usr/bin/env bash
# `roost doctor` in a set-up that has everything (systemd, cgroup v2 with delegation, lingering,
# subordinate ids, every helper): no check fails.
set -euo pipefail
roost doctor || fail "roost doctor exited $?"
json=$(roost doctor --format json)
# Every check's status, without jq (not in the guest): one "status": line per check.
statuses=$(echo "$json" | grep -o '"status": *"[a-z]*"' | sed 's/.*"\([a-z]*\)"$/\1/' | sort | uniq -c)
echo "statuses: $statuses"
if echo "$json" | grep -q '"status": *"fail"'; then fail "a check failed: $json"; fi
for check in subuid subgid newuidmap newgidmap overlay cgroup-v2 cgroup-delegation linger xdg-runtime-dir libslirp pasta; do
  echo "$json" | tr -d '\n' | grep -q "\"name\": *\"$check\", *\"status\": *\"ok\"" || fail "check $check is not ok: $json"
done
