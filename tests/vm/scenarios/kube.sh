#!/usr/bin/env bash
# kube play's resources.limits on u1's delegated cgroup v2 subtree (the build machine, cgroup v1,
# only warns and ignores them, as podman does): memory and cpu limits reach the container's cgroup;
# a secret given as env and as a file; kube down leaves no pod or container.
set -euo pipefail
pod=kube-$$
dir=$(mktemp -d)
trap 'roost kube down "$dir/pod.yaml" >/dev/null 2>&1 || true; roost secret rm --ignore "$pod-s" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

printf 's3cr3t' | roost secret create "$pod-s" - >/dev/null
cat > "$dir/pod.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $pod
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: $BUSYBOX
    command: ["sleep", "600"]
    resources:
      limits:
        memory: 64Mi
        cpu: 500m
YAML

say "kube play with limits"
roost kube play "$dir/pod.yaml" >/dev/null
expect_eq 67108864 "$(roost inspect --format '{{.HostConfig.Memory}}' "$pod-c")" "HostConfig.Memory"
expect_eq 67108864 "$(roost exec "$pod-c" cat /sys/fs/cgroup/memory.max)" "memory.max inside"
expect_eq "50000 100000" "$(roost exec "$pod-c" cat /sys/fs/cgroup/cpu.max)" "cpu.max inside"

say "a secret as env and as a file"
expect_eq "s3cr3t s3cr3t" \
  "$(roost run --rm --secret "$pod-s,type=env,target=PW" --secret "$pod-s" "$BUSYBOX" sh -c "echo \$PW \$(cat /run/secrets/$pod-s)")" \
  "secret inside"

say "kube down"
roost kube down "$dir/pod.yaml" >/dev/null
[ -z "$(roost pod ps -q)" ] || fail "pods left after kube down: $(roost pod ps)"
[ -z "$(roost ps -aq)" ] || fail "containers left after kube down: $(roost ps -a)"
