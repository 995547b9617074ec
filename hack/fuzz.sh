#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time each (FUZZTIME,
# default 10s), so the parsers that take outside input (request bodies, SSE,
# metric text, KV events, key files, traces) meet new inputs on every CI
# run; the seed corpora already run in make test. A crash is written to the
# package's testdata/fuzz/ as go test does, and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  pkg=./$(dirname "${file#./}")
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
    echo "fuzz $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
