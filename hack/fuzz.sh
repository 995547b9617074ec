#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time each (FUZZTIME,
# default 10s), so the parsers that take outside input (request bodies, SSE,
# metric text, KV events, key files, traces) meet new inputs on every CI
# run; the seed corpora already run in make test. A crash is written to the
# package's testdata/fuzz/ as go test does, and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
# inputs DIR: how many corpus files DIR holds (0 when it does not exist).
inputs() { { ls "$1" 2>/dev/null || true; } | wc -l; }
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  pkg=./$(dirname "${file#./}")
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
    echo "fuzz $pkg $target ($fuzztime)"
    corpus=$pkg/testdata/fuzz/$target
    before=$(inputs "$corpus")
    if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
      echo "$out"
      # go test reports "context deadline exceeded" when an input is still
      # running as fuzztime ends; a real failure writes its input to the
      # corpus folder, so only a new file there fails the run.
      if [[ "$out" == *"context deadline exceeded"* && $(inputs "$corpus") -eq $before ]]; then
        echo "fuzz $pkg $target: stopped by fuzztime mid-input (no failing input written); not a failure"
        continue
      fi
      exit 1
    fi
    echo "$out" | tail -1
  done
done
