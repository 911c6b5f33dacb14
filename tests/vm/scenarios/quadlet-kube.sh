#!/usr/bin/env bash
# Quadlet `.kube` units in u1's systemd user manager: the unit runs `roost kube play --replace
# --service-container=true FILE` (Type=notify, NotifyAccess=all) and `ExecStopPost=roost kube down
# FILE`. `systemctl --user start` returns once the pod's container runs; the unit's main process is
# the service container's monitor; `systemctl --user stop` leaves no pod or container. A pod whose
# container exits ends its unit: inactive by default (ExitCodePropagation=none), failed with the
# container's exit code under ExitCodePropagation=any. A unit with ConfigMap=, PublishPort= and
# AutoUpdate= serves the ConfigMap's page on the published port, and `auto-update` restarts it onto
# a new local image.
set -euo pipefail
bin=$HOME/.cargo/bin
src=$HOME/kube-src
mkdir -p "$bin" "$src"
# The units call the binary that installed them (as in quadlet.sh).
install -m 0755 "$(command -v roost)" "$bin/roost"
trap 'systemctl --user stop app.service ends.service web.service >/dev/null 2>&1 || true' EXIT

# pod NAME COMMAND: a one-container Pod that is not restarted.
pod() {
  cat > "$src/$1.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: $BUSYBOX
    command: ["sh", "-c", "$2"]
YAML
}

nothing_left() {
  [ -z "$(roost pod ps -q)" ] || fail "pods left after $1: $(roost pod ps)"
  [ -z "$(roost ps -aq)" ] || fail "containers left after $1: $(roost ps -a)"
}

pod app "exec sleep 600"
printf '[Kube]\nYaml=%s\n' "$src/app.yaml" > "$src/app.kube"
pod ends "while [ ! -e /tmp/stop ]; do sleep 0.2; done; exit 3"
printf '[Kube]\nYaml=%s\n' "$src/ends.yaml" > "$src/ends.kube"
say "quadlet install app.kube ends.kube"
"$bin/roost" quadlet install "$src/app.kube" "$src/ends.kube" >/dev/null
[ -f "$HOME/.config/containers/systemd/app.kube" ] || fail "app.kube not installed"
systemctl --user daemon-reload
unit=$(systemctl --user cat app.service)
expect_contains "$unit" "--service-container=true" "app.service"
expect_contains "$unit" "Type=notify" "app.service"
# A user manager cannot wait for the system's network-online.target: roost's helper stands in.
expect_contains "$unit" "After=roost-user-wait-network-online.service" "app.service"

say "systemctl --user start app"
systemctl --user start app.service
# `start` of a Type=notify unit returns once READY=1 came: the pod's container runs already.
expect_eq "active" "$(systemctl --user is-active app.service)" "app.service after start"
expect_eq "active" "$(systemctl --user is-active roost-user-wait-network-online.service)" "the network helper"
running=$(roost ps --format '{{.Names}}')
expect_contains "$running" "app-main" "running containers"
service=$(echo "$running" | grep -- '-service$') || fail "no service container: $(roost ps -a)"
expect_eq "true $(systemctl --user show -p MainPID --value app.service)" \
  "$(roost inspect --format '{{.IsService}} {{.State.ConmonPid}}' "$service")" \
  "IsService, and the unit's main pid (the service container's monitor)"

say "systemctl --user stop app"
systemctl --user stop app.service
expect_eq "inactive" "$(systemctl --user is-active app.service || true)" "app.service after stop"
nothing_left "systemctl --user stop"

say "a pod whose container exits: the unit ends, inactive"
systemctl --user start ends.service
expect_eq "active" "$(systemctl --user is-active ends.service)" "ends.service after start"
roost exec ends-main touch /tmp/stop
wait_for 60 sh -c '[ "$(systemctl --user is-active ends.service)" = inactive ]'
expect_eq "0" "$(systemctl --user show -p ExecMainStatus --value ends.service)" "main status (ExitCodePropagation=none)"
nothing_left "the pod's end"

say "ExitCodePropagation=any: the unit fails with the container's exit code"
printf '[Kube]\nYaml=%s\nExitCodePropagation=any\n' "$src/ends.yaml" > "$src/ends.kube"
"$bin/roost" quadlet install --replace "$src/ends.kube" >/dev/null
systemctl --user daemon-reload
systemctl --user start ends.service
expect_eq "active" "$(systemctl --user is-active ends.service)" "ends.service after start"
roost exec ends-main touch /tmp/stop
wait_for 60 sh -c '[ "$(systemctl --user is-active ends.service)" = failed ]'
expect_eq "3" "$(systemctl --user show -p ExecMainStatus --value ends.service)" "main status (ExitCodePropagation=any)"
nothing_left "the failed unit"
systemctl --user reset-failed ends.service

say "ConfigMap=, PublishPort= and AutoUpdate=: the page is served, auto-update restarts the unit"
img=localhost/kube-web:latest
roost tag "$BUSYBOX" "$img"
cat > "$src/web.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: httpd
    image: $img
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports:
    - containerPort: 80
    volumeMounts:
    - {name: www, mountPath: /www}
  volumes:
  - name: www
    configMap: {name: pages}
YAML
cat > "$src/pages.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: pages
data:
  index.html: hello from a kube unit
YAML
printf '[Kube]\nYaml=%s\nConfigMap=%s\nPublishPort=127.0.0.1:18081:80\nAutoUpdate=httpd/local\n' \
  "$src/web.yaml" "$src/pages.yaml" > "$src/web.kube"
"$bin/roost" quadlet install "$src/web.kube" >/dev/null
systemctl --user daemon-reload
systemctl --user start web.service || fail "web.service: $(systemctl --user status web.service 2>&1)"
wait_for 30 curl -sf http://127.0.0.1:18081/index.html
expect_eq "hello from a kube unit" "$(curl -sf http://127.0.0.1:18081/index.html)" "HTTP answer (ConfigMap=, PublishPort=)"
expect_eq "web.service web-httpd false" \
  "$(roost auto-update --dry-run --format '{{.Unit}} {{.ContainerName}} {{.Updated}}')" "nothing new yet"
roost run --name web-src "$BUSYBOX" touch /new >/dev/null
roost commit -q web-src "$img" >/dev/null
expect_eq "web.service web-httpd true" \
  "$(roost auto-update --format '{{.Unit}} {{.ContainerName}} {{.Updated}}')" "auto-update of the kube unit"
expect_eq "active" "$(systemctl --user is-active web.service)" "web.service after the update"
roost exec web-httpd test -e /new || fail "the restarted pod does not run the new image"
wait_for 30 curl -sf http://127.0.0.1:18081/index.html
systemctl --user stop web.service
roost rm -f web-src >/dev/null
nothing_left "systemctl --user stop web"
"$bin/roost" quadlet rm app ends web >/dev/null
