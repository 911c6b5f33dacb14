#!/usr/bin/env bash
# run --rm, and a detached container's life (run -d, logs, stop, rm), as u1 inside its systemd user
# manager; reports the cgroups the container's processes get (the `cgroups` scenario checks placement
# precisely): they must stay inside u1's user@1000.service subtree.
set -euo pipefail
name=basic-$$
trap 'roost rm -f "$name" >/dev/null 2>&1 || true' EXIT

say "storage driver: $(roost info --format '{{.Store.GraphDriverName}} ({{.Store.GraphDriverNote}})')"
say "run --rm"
expect_eq "hello from the vm" "$(roost run --rm "$BUSYBOX" echo hello from the vm)" "run --rm output"
say "this job's cgroup: $(cat /proc/self/cgroup)"
say "a container's /proc/self/cgroup: $(roost run --rm "$BUSYBOX" cat /proc/self/cgroup)"

say "run -d"
roost run -d --name "$name" "$BUSYBOX" \
  sh -c 'echo started; trap "echo got TERM; exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
wait_for 60 sh -c "roost logs $name | grep -q started"
expect_eq "running" "$(roost inspect --format '{{.State.Status}}' "$name")" "state after run -d"
# The guest's kernel (Debian 12's 6.1) has no `lowerdir+`: the kernel overlay through mount(2)'s option
# string, not fuse-overlayfs.
expect_eq "overlay" "$(roost inspect --format '{{.GraphDriver.Name}}' "$name")" "the container's storage driver"
pid=$(roost inspect --format '{{.State.Pid}}' "$name")
[ "$pid" -gt 0 ] || fail "a running container with pid $pid"
cg=$(cat "/proc/$pid/cgroup")
say "the detached container's process $pid is in: $cg"
expect_contains "$cg" "/user.slice/user-1000.slice/user@1000.service/" "the container's cgroup"

say "stop"
roost stop -t 20 "$name" >/dev/null
expect_eq "exited" "$(roost inspect --format '{{.State.Status}}' "$name")" "state after stop"
expect_contains "$(roost logs "$name")" "got TERM" "logs after stop"
say "rm"
roost rm "$name" >/dev/null
[ -z "$(roost ps -a -q --filter name="$name")" ] || fail "container $name is still listed after rm"
