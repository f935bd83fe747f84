#!/usr/bin/env bash
# fuzz.sh TIME - run every fuzz target of the module for TIME each (e.g. 60s, or
# 3000x for a number of executions).
# The targets are found with `go test -list`, so a new Fuzz function needs no
# change here. A crasher is written by go test to the package's
# testdata/fuzz/FuzzX/ and fails the run: keep it there as a regression seed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:?usage: fuzz.sh TIME (such as 60s or 3000x)}
GO=${GO:-go}
total=0
for pkg in $($GO list ./...); do
	for fn in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		printf 'fuzz %s %s (%s)\n' "$pkg" "$fn" "$fuzztime"
		ok=0
		for try in 1 2; do
			if out=$($GO test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
				ok=1
				break
			fi
			# A real failure names its input ("Failing input written to
			# testdata/fuzz/..."). go test's fuzzing coordinator can also end
			# with a bare "context deadline exceeded" when its time runs out
			# mid-execution; that is no crasher, so try once more.
			if grep -q 'Failing input written' <<<"$out" || ! grep -q 'context deadline exceeded' <<<"$out"; then
				break
			fi
			printf '  (coordinator deadline, no failing input; trying again)\n'
		done
		if ((!ok)); then
			printf '%s\n' "$out"
			exit 1
		fi
		execs=$(printf '%s\n' "$out" | sed -n 's/.*execs: \([0-9]*\).*/\1/p' | tail -1)
		printf '  %s execs\n' "${execs:-?}"
		total=$((total + 1))
	done
done
printf 'fuzz: %d targets, %s each: no crasher\n' "$total" "$fuzztime"
