#!/usr/bin/env bash
# Fuzz campaign: runs every Go fuzz target of the repository for FUZZTIME
# each (default 30s) and prints a table of targets, executions and
# failures. A failing input is written by Go under the package's
# testdata/fuzz/<Target>/ and stays there: commit it with the fix, and it
# runs in every `go test` from then on.
#
#   deploy/local/fuzz.sh                 every target, 30s each
#   FUZZTIME=5m deploy/local/fuzz.sh ./connectors/...   a longer campaign of some
#
# The seeds and committed corpora run in `make test` anyway; this is the
# search for new inputs.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
fuzztime=${FUZZTIME:-30s}
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

printf '%-48s %-28s %12s %10s  %s\n' package target execs new result
failed=0
while read -r pkg; do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  for target in $targets; do
    log=$out/$(echo "$pkg.$target" | tr '/' '_').log
    if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
      result=ok
    else
      result=FAIL
      failed=$((failed + 1))
    fi
    # The last progress line: "fuzz: elapsed: 30s, execs: 123456 (4115/sec), new interesting: 7 (total: 40)"
    last=$(grep 'fuzz: elapsed' "$log" | tail -1)
    execs=$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$last")
    new=$(sed -n 's/.*new interesting: \([0-9]*\).*/\1/p' <<<"$last")
    printf '%-48s %-28s %12s %10s  %s\n' "${pkg#github.com/accrue/accrue/}" "$target" "${execs:--}" "${new:--}" "$result"
    if [ "$result" = FAIL ]; then
      sed -n '/--- FAIL\|panic:\|Failing input written to/p' "$log" | head -20 | sed 's/^/    /'
    fi
  done
done < <(go list "${pkgs[@]}")

if [ "$failed" -gt 0 ]; then
  echo "$failed target(s) failed; their inputs are under testdata/fuzz/ (git status shows them)"
  exit 1
fi
