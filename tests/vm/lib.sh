# Helpers for the VM scenarios (tests/vm/scenarios/*.sh): bash sources this file before each
# scenario (BASH_ENV), which runs with `set -euo pipefail` as u1 inside u1's systemd user manager.

# fail MESSAGE...: the scenario fails with MESSAGE.
fail() { echo "FAILED: $*" >&2; exit 1; }

# expect_eq EXPECTED ACTUAL [WHAT]
expect_eq() {
  [ "$1" = "$2" ] || fail "${3:-value}: expected \`$1\`, got \`$2\`"
}

# expect_contains TEXT NEEDLE [WHAT]
expect_contains() {
  case "$1" in *"$2"*) ;; *) fail "${3:-output} does not contain \`$2\`: $1" ;; esac
}

# wait_for SECONDS COMMAND...: run COMMAND until it succeeds; fail after SECONDS.
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$end" ]; then
      echo "   last try of: $*" >&2
      "$@" 2>&1 | sed 's/^/   | /' | tail -20 >&2
      fail "timed out after ${limit}s waiting for: $*"
    fi
    sleep 0.2
  done
}

# say WORDS...: a progress line in the scenario's output.
say() { echo "-- [${SECONDS}s] $*"; }
