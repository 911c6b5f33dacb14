#!/bin/bash
# podman-compose 1.6.0, unchanged and in its default (pod) mode, driving roost through a `podman` symlink
# first on PATH: a two-service project (web built from a Containerfile, redis) built, started, queried,
# inspected and torn down; then up again after down, with web waiting for redis's healthcheck.
# Env: REG (registry host:port), HOSTPORT (a free port), PODMAN_COMPOSE (the client).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(command -v podman)" != /usr/bin/podman ] || fail "podman resolves to Debian's podman, not roost"
pc() { echo "+ podman-compose $*" >&2; "$PODMAN_COMPOSE" "$@"; }

mkdir -p "$HOME/shop" && cd "$HOME/shop"
cat > app.py <<'PY'
import redis
from flask import Flask
app = Flask(__name__)
cache = redis.Redis(host="redis", port=6379)
@app.route("/")
def hello():
    return "visits %d\n" % cache.incr("hits")
PY
cat > Containerfile <<CF
FROM $REG/compose-base:bookworm
WORKDIR /app
COPY app.py .
ENV FLASK_APP=app.py
CMD ["python3", "-m", "flask", "run", "--host", "0.0.0.0", "--port", "5000"]
CF
cat > compose.yaml <<YML
services:
  web:
    build: .
    ports: ["$HOSTPORT:5000"]
    depends_on: [redis]
    stop_signal: SIGINT
  redis:
    image: $REG/compose-base:bookworm
    command: ["redis-server", "--protected-mode", "no", "--save", ""]
YML

pc build
podman image exists shop_web || podman image exists localhost/shop_web || fail "build made no shop_web image"
pc up -d
pc ps | tee ps.out
grep -q shop_web_1 ps.out || fail "ps does not list shop_web_1"
grep -q shop_redis_1 ps.out || fail "ps does not list shop_redis_1"

# The app answers once flask is up and redis is reachable by its service name.
for _ in $(seq 900); do
  curl -fsS "http://127.0.0.1:$HOSTPORT/" > /dev/null 2>&1 && break
  sleep 0.1
done
prev=0
for i in 1 2 3; do
  body=$(curl -fsS "http://127.0.0.1:$HOSTPORT/") || fail "request $i to 127.0.0.1:$HOSTPORT failed"
  n=${body#visits }
  [ "$n" -gt "$prev" ] || fail "counter did not rise: request $i answered \`$body\` after $prev"
  prev=$n
done
echo "counter reached $prev"

pc logs web | tee logs.out
grep -q 'GET / HTTP' logs.out || fail "logs of web show no request"
pc exec -T redis redis-cli get hits | tee exec.out
[ "$(tr -d '\r\n' < exec.out)" = "$prev" ] || fail "exec redis-cli get hits: \`$(cat exec.out)\`, want $prev"

# down leaves nothing: no containers, pods, networks, published ports.
check_down() {
  pc down
  left=$(podman ps -a --format '{{.Names}}' | grep '^shop_' || true)
  [ -z "$left" ] || fail "containers left after down: $left"
  pods=$(podman pod ps --format '{{.Name}}' | grep 'shop' || true)
  [ -z "$pods" ] || fail "pods left after down: $pods"
  nets=$(podman network ls --format '{{.Name}}' | grep '^shop_' || true)
  [ -z "$nets" ] || fail "networks left after down: $nets"
  if (exec 3<>"/dev/tcp/127.0.0.1/$HOSTPORT") 2>/dev/null; then fail "port $HOSTPORT still answers after down"; fi
}
check_down

# Up again after down, web waiting on redis's healthcheck (`wait --condition=healthy`).
cat > compose.yaml <<YML
services:
  web:
    build: .
    ports: ["$HOSTPORT:5000"]
    depends_on:
      redis: {condition: service_healthy}
    stop_signal: SIGINT
  redis:
    image: $REG/compose-base:bookworm
    command: ["redis-server", "--protected-mode", "no", "--save", ""]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      retries: 30
YML
pc up -d 2> up.err || { cat up.err >&2; fail "second up failed"; }
cat up.err >&2
! grep -q "Ignored redis condition" up.err || fail "podman-compose ignored the service_healthy condition"
[ "$(podman inspect --format '{{.State.Health.Status}}' shop_redis_1)" = healthy ] ||
  fail "web started before redis was healthy"
podman pod exists pod_shop || fail "up made no pod pod_shop"
for _ in $(seq 900); do
  curl -fsS "http://127.0.0.1:$HOSTPORT/" > /dev/null 2>&1 && break
  sleep 0.1
done
body=$(curl -fsS "http://127.0.0.1:$HOSTPORT/") || fail "request after the second up failed"
[ "${body#visits }" -ge 1 ] || fail "second up answered \`$body\`"
check_down
echo OK
