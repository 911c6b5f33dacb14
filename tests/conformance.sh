#!/usr/bin/env bash
# Conformance: podman's own system tests (the shared kit's run.sh: podman's bats files, unmodified, run as an
# unprivileged user against an offline stand-in of podman's test image) on a roost binary. Run as root.
#   tests/conformance.sh [BINARY] [NAME.bats ...]     (default binary target/debug/roost, default all files)
# With every file, it writes tests/CONFORMANCE.md (per file pass / fail / skip, the total and pass rate, and a
# cause for every failure) and checks the ratchet: the pass count recorded in tests/conformance.ratchet must not
# drop (exit 1 if it does); when it rises, it says how to raise the ratchet. With some files, it only reports.
# Causes: each failure's cause is the error roost printed (or the failed assertion), unless a line of
# tests/conformance.causes ("REGEX<TAB>cause", matched against "FILE: TEST NAME") names it.
# Env: CONFORMANCE_KIT (directory with run.sh; default ../shared/conformance beside the repository), OUT (TAP output, default
#      /tmp/roost-conformance), TESTUSER (passed to run.sh), NORUN=1 (reuse the TAP files already in $OUT;
#      ELAPSED=SECONDS: that run's runtime, for the report).
set -uo pipefail
cd "$(dirname "$0")/.."
KIT=${CONFORMANCE_KIT:-$(cd "$(dirname "$0")/../.." && pwd)/shared/conformance}
export OUT=${OUT:-/tmp/roost-conformance}
BIN=${1:-target/debug/roost}; [ $# -gt 0 ] && shift
RATCHET=tests/conformance.ratchet; REPORT=tests/CONFORMANCE.md; CAUSES=tests/conformance.causes

[ "$(id -u)" = 0 ] || { echo "tests/conformance.sh: run as root (the kit creates and runs as a test user)" >&2; exit 2; }
[ -x "$KIT/run.sh" ] || { echo "tests/conformance.sh: no kit at $KIT (set CONFORMANCE_KIT)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "tests/conformance.sh: no binary $BIN (cargo build first)" >&2; exit 2; }

# The world's stand-in for quay.io/libpod/alpine (mapped to 127.0.0.1:5000/libpod/alpine by the kit's
# registries.conf), the base image of podman's testimage that 070-build.bats pulls by name: the world's
# busybox image, copied there once.
offline_alpine() {
  local reg=127.0.0.1:5000
  skopeo inspect -q --tls-verify=false "docker://$reg/libpod/alpine:latest" >/dev/null 2>&1 && return 0
  skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$reg/busybox:latest" "docker://$reg/libpod/alpine:latest" \
    || echo "tests/conformance.sh: could not provide $reg/libpod/alpine (tests that pull quay.io/libpod/alpine will fail)" >&2
}

start=$SECONDS
if [ "${NORUN:-}" = 1 ]; then
  files=${*:-$(cd "$KIT/podman-system" && ls ./*.bats | sed 's|^\./||')}
  summary=$(for f in $files; do
    t=$OUT/${f%.bats}.tap; p=$(grep -c '^ok ' "$t"); s=$(grep -c '^ok .*# skip' "$t")
    echo "$f pass=$((p - s)) fail=$(grep -c '^not ok ' "$t") skip=$s"
  done)
else
  offline_alpine
  summary=$("$KIT/run.sh" "$BIN" "$@" | tee -a /dev/stderr | grep -E '^[^ ]+\.bats pass=')
fi
elapsed=$((SECONDS - start)); took="Kit runtime here: ${elapsed}s"
[ "${NORUN:-}" = 1 ] && took="Results reused from an earlier run${ELAPSED:+, whose kit runtime here was ${ELAPSED}s}"
[ -n "$summary" ] || { echo "tests/conformance.sh: the kit reported no results" >&2; exit 2; }

total() { awk -v k="$1" '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) n += kv[2] } } END { print n + 0 }' <<<"$summary"; }
pass=$(total pass); fail=$(total fail); skip=$(total skip)
ran=$((pass + fail)); rate=$(awk -v p=$pass -v r=$ran 'BEGIN { printf "%.1f", r ? 100 * p / r : 0 }')
echo "conformance: $pass passed, $fail failed, $skip skipped ($rate% of the tests that ran) in ${elapsed}s"

# One line per failure: "FILE<TAB>TEST NAME<TAB>cause".
failures() {
  for f in $(cut -d' ' -f1 <<<"$summary"); do
    awk -v file="$f" '
      function flush() {
        if (name == "") return
        cause = fail
        if (err != "" && (fail == "" || fail ~ /^FAIL: exit code is/)) cause = err
        if (cause == "") cause = stmt
        if (cause == "") cause = "(no diagnostic in the TAP output)"
        gsub(/\t/, " ", cause); if (length(cause) > 200) cause = substr(cause, 1, 197) "..."
        print file "\t" name "\t" cause
        name = ""
      }
      /^(not )?ok / { flush() }
      /^not ok / { name = $0; sub(/^not ok [0-9]+ (\[[0-9]+\] )?/, "", name); err = fail = stmt = ""; want = 0; body = 1; next }
      /^ok / { body = 0; next }
      !body { next }
      /^# # \[teardown\]/ { body = 0; next }
      /^#   `.*'"'"' failed/ { stmt = $0; sub(/^#   `/, "", stmt); sub(/'"'"' failed.*/, "", stmt); stmt = "failed: " stmt }
      /^# #\| +FAIL: / && fail == "" { fail = $0; sub(/^# #\| +/, "", fail); want = 1; next }
      /^# #\| +expected: / && want { x = $0; sub(/^# #\| +/, "", x); fail = fail "; " x; want = 0 }
      /^# \[[0-9:.]+\] \$ / && fail == "" { err = "" }
      /^# (\[[0-9:.]+\] )?Error: / && fail == "" { err = $0; sub(/^# (\[[0-9:.]+\] )?/, "", err) }
      /^# (\[[0-9:.]+\] )?\[ rc=124/ && fail == "" { err = "timed out" }
      END { flush() }
    ' "$OUT/${f%.bats}.tap"
  done
}
# Apply the hand-written causes: first matching REGEX wins.
classify() {
  awk -F'\t' -v causes="$CAUSES" '
    BEGIN { while ((getline l < causes) > 0) if (l !~ /^#/ && l ~ /\t/) { n++; split(l, kv, "\t"); re[n] = kv[1]; why[n] = kv[2] } }
    { c = $3; for (i = 1; i <= n; i++) if (($1 ": " $2) ~ re[i]) { c = why[i]; break } print $1 "\t" $2 "\t" c }'
}

if [ $# -gt 0 ]; then
  failures | classify | awk -F'\t' '{ print "FAIL " $1 ": " $2 "\n     " $3 }'
  exit 0
fi

{
  echo "# Conformance with podman's system tests"
  echo
  echo "Generated by \`tests/conformance.sh\` (do not edit by hand; causes can be named in tests/conformance.causes)."
  echo "The kit: podman's test/system bats files at podman commit c6580b4a52, unmodified, run as an unprivileged"
  echo "user against an offline stand-in of podman's test image (see the kit's README)."
  echo
  echo "**$pass passed, $fail failed, $skip skipped: $rate% of the $ran tests that ran pass.** ($took.)"
  echo
  echo "| file | pass | fail | skip |"
  echo "|---|---:|---:|---:|"
  sed -E 's/^([^ ]+) pass=([0-9]+) fail=([0-9]+) skip=([0-9]+)$/| \1 | \2 | \3 | \4 |/' <<<"$summary"
  echo "| **total** | **$pass** | **$fail** | **$skip** |"
  echo
  echo "## Failures by cause"
  echo
  # One line per cause (tests joined by \001 for sorting), most frequent first.
  failures | classify | awk -F'\t' '{ n[$3]++; t[$3] = t[$3] "\001  - " $1 ": " $2 } END { for (c in n) printf "%d\t%s\t%s\n", n[c], c, t[c] }' \
    | sort -t$'\t' -k1,1nr -k2 | awk -F'\t' '{ gsub(/\001/, "\n", $3); printf "- **%d**: %s%s\n", $1, $2, $3 }'
} > "$REPORT"
echo "conformance: wrote $REPORT"

recorded=$(grep -Eo '^[0-9]+' "$RATCHET" 2>/dev/null || echo 0)
if [ "$pass" -lt "$recorded" ]; then
  echo "conformance: FAILED: $pass tests pass, fewer than the $recorded recorded in $RATCHET (see $REPORT and the TAP in $OUT)" >&2
  exit 1
elif [ "$pass" -gt "$recorded" ]; then
  echo "conformance: $pass tests pass, more than the $recorded recorded: raise the ratchet with"
  echo "    echo $pass > $RATCHET    (and commit it with $REPORT)"
fi
exit 0
