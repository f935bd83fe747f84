#!/usr/bin/env bash
# fuzz.sh TIME - run every fuzz target of the module for TIME each (e.g. 2s, 60s).
# The targets are found with `go test -list`, so a new Fuzz function needs no
# change here. A crasher is written by go test to the package's
# testdata/fuzz/FuzzX/ and fails the run: keep it there as a regression seed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:?usage: fuzz.sh TIME (such as 2s or 60s)}
GO=${GO:-go}
total=0
for pkg in $($GO list ./...); do
	for fn in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		printf 'fuzz %s %s (%s)\n' "$pkg" "$fn" "$fuzztime"
		out=$($GO test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg" 2>&1) || {
			printf '%s\n' "$out"
			exit 1
		}
		execs=$(printf '%s\n' "$out" | sed -n 's/.*execs: \([0-9]*\).*/\1/p' | tail -1)
		printf '  %s execs\n' "${execs:-?}"
		total=$((total + 1))
	done
done
printf 'fuzz: %d targets, %s each: no crasher\n' "$total" "$fuzztime"
