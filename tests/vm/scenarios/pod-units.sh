#!/usr/bin/env bash
# `generate systemd --new --files` for a pod under the real user manager: the pod's unit and its
# container's unit are installed in ~/.config/systemd/user; `systemctl --user start pod-P` makes the
# pod (the units recreate it: --new), starts it and, through Requires=, the container's unit; both units
# are active and the container runs. `systemctl --user stop pod-P` stops the container's unit too
# (its BindsTo=) and removes the pod and its container. The units name the roost on the root file system
# (~/.local/bin, as a cargo user's), since /share is only this job's. The pod has --shm-size 8m: its
# container sees an 8 MB /dev/shm (Linux 6.1's open_tree/move_mount).
set -euo pipefail
bin=$HOME/.local/bin
mkdir -p "$bin" "$HOME/.config/systemd/user"
install -m 0755 "$(command -v roost)" "$bin/roost"
R=$bin/roost
pod=pu$$
ctr=$pod-c
trap 'systemctl --user stop "pod-$pod.service" >/dev/null 2>&1 || true' EXIT

# --shm-size: the pod's one sized /dev/shm (the infra's tmpfs, cloned into each member), carried
# into the generated units by the pod's create command.
$R pod create --name "$pod" --shm-size 8m >/dev/null
$R create --pod "$pod" --name "$ctr" "$BUSYBOX" sleep 100000 >/dev/null
cd "$HOME/.config/systemd/user"
say "generate systemd --new --files --name $pod"
files=$($R generate systemd --new --files --name "$pod")
echo "$files" | sed 's/^/     /'
[ -f "pod-$pod.service" ] && [ -f "container-$ctr.service" ] || fail "unit files not written: $(ls)"
expect_contains "$(cat "pod-$pod.service")" "Requires=container-$ctr.service" "the pod's unit"
# --new: the units make the pod and container themselves.
$R pod rm -f -t 0 "$pod" >/dev/null
[ -z "$($R ps -aq)" ] || fail "containers left after pod rm: $($R ps -a)"
systemctl --user daemon-reload

say "systemctl --user start pod-$pod"
systemctl --user start "pod-$pod.service" ||
  fail "pod-$pod.service: $(systemctl --user status "pod-$pod.service" 2>&1 | tail -20)"
wait_for 60 systemctl --user is-active --quiet "container-$ctr.service"
expect_eq active "$(systemctl --user is-active "pod-$pod.service")" "pod unit"
expect_eq running "$($R inspect --format '{{.State.Status}}' "$ctr")" "the container"
expect_eq Running "$($R pod inspect --format '{{.State}}' "$pod")" "the pod"
expect_eq 8192 "$($R exec "$ctr" df -k /dev/shm | awk 'NR == 2 {print $2}')" "the pod's /dev/shm in kB"

say "systemctl --user stop pod-$pod"
systemctl --user stop "pod-$pod.service"
expect_eq inactive "$(systemctl --user is-active "container-$ctr.service" || true)" "container unit after the pod's stop"
[ -z "$($R pod ps -q)" ] || fail "pods left after stop: $($R pod ps)"
[ -z "$($R ps -aq)" ] || fail "containers left after stop: $($R ps -a)"
rm -f "pod-$pod.service" "container-$ctr.service"
systemctl --user daemon-reload
