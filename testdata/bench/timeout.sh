#!/usr/bin/env bash
# timeout.sh BIN - how exactly and how fast `smtpprobe timeout --phase all` measures a real
# Postfix's smtpd_timeout in the lab (testdata/lab/lab.sh, README.md "The lab").
#
# One lab with --smtpd-timeout 3s; BENCH_RUNS runs of `timeout ok.lab.example -4 --phase all
# --json` inside the client namespace (all traffic stays in 198.18.0.0/15). Per run: the wall
# time (fork to exit), the report's duration_ms, the sum and the maximum of the six phase
# timeouts, and the largest error of a phase against the configured 3000 ms. Then the medians
# and the goals:
#   wall <= T + 1 s                 the phases run in parallel sessions, not one after another
#   error <= max(100 ms, 1 % of T)  every phase, every run
# This is a report, not a test: it exits 0 when a goal is missed, non-zero only when the
# harness itself fails (prerequisite missing, lab did not come up, unreadable output, ...).
#
# Environment:
#   BENCH_RUNS=5   measured runs (1 to 100)
#
# Prerequisites: root, lab.sh check, jq.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

PROG=timeout.sh
SELF=$(readlink -f "$0")
HERE=$(dirname "$SELF")
LAB=$HERE/../lab/lab.sh
DNS=198.18.3.53
T_MS=3000 # the lab's smtpd_timeout
PHASES=(banner ehlo mail rcpt data body)

# shellcheck source=lib.sh
. "$HERE/lib.sh"

bench_args "$@"
command -v jq >/dev/null 2>&1 || missing+=("jq (Debian package jq)")
bench_missing

BENCH_RUNS=${BENCH_RUNS:-5}
[[ $BENCH_RUNS =~ ^[0-9]+$ && $BENCH_RUNS -ge 1 && $BENCH_RUNS -le 100 ]] || die "BENCH_RUNS=$BENCH_RUNS: want an integer from 1 to 100"

SCRIPT_START=$(now_us)
WORK=$(mktemp -d /tmp/smtpprobe-bench-timeout.XXXXXX)
LAB_ID=""
bench_cleanup_on_exit "$WORK"

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "smtpprobe benchmark: idle-timeout discovery (testdata/bench/timeout.sh)"
echo "machine:  $(nproc) CPUs${cpu:+ ($cpu)}, $(uname -sr)"
echo "peer:     Postfix $(postconf -d -h mail_version 2>/dev/null || echo '?') in the lab, smtpd_timeout = ${T_MS} ms"
echo "tool:     $BENCH_BIN timeout ok.lab.example -4 --phase all --json"

if ! labenv=$(timeout 180 bash "$LAB" up --smtpd-timeout 3s 2>"$WORK/lab.log"); then
	LAB_ID=$(sed -n 's/^LAB_ID=//p' <<<"${labenv:-}")
	tail -n 20 "$WORK/lab.log" >&2
	die "lab.sh up failed"
fi
LAB_ID=$(sed -n 's/^LAB_ID=//p' <<<"$labenv")
LAB_CLIENT_NS=$(sed -n 's/^LAB_CLIENT_NS=//p' <<<"$labenv")
lab_t=$(sed -n 's/^LAB_SMTPD_TIMEOUT=//p' <<<"$labenv")
[[ -n $LAB_ID && -n $LAB_CLIENT_NS ]] || die "lab.sh up printed no LAB_ID/LAB_CLIENT_NS"
[[ $lab_t == 3s ]] || die "lab smtpd_timeout is \"$lab_t\", want 3s"
echo "lab:      $LAB_ID up in $((($(now_us) - SCRIPT_START) / 1000)) ms; $BENCH_RUNS runs"
echo

TOL_MS=$(awk -v t="$T_MS" 'BEGIN { x = t / 100; print (x > 100 ? x : 100) }')
WALL_GOAL_MS=$((T_MS + 1000))

# One row per run: run wall_ms duration_ms sum_ms max_ms maxerr_ms phases_ok exit
: >"$WORK/rows"
: >"$WORK/errors" # phase error_ms, every run
fmt='%4s  %9s  %11s  %12s  %11s  %14s  %-42s  %s\n'
printf "$fmt" run "wall ms" duration_ms "sum phases" "max phase" "max |error| ms" "error per phase, ms (banner..body)" exit
printf "$fmt" ---- --------- ----------- ------------ ----------- -------------- ------------------------------------------ ----
for ((i = 1; i <= BENCH_RUNS; i++)); do
	rc=0
	t0=$(now_us)
	timeout -k 2 60 ip netns exec "$LAB_CLIENT_NS" "$BENCH_BIN" timeout ok.lab.example -4 --phase all --json \
		--resolver "$DNS" --connect-timeout 2s --timeout 10s >"$WORK/run.json" 2>"$WORK/run.err" </dev/null || rc=$?
	t1=$(now_us)
	wall_ms=$(awk -v u="$((t1 - t0))" 'BEGIN { printf "%.1f", u / 1000 }')
	if ! jq -e '.results | length == 6' "$WORK/run.json" >/dev/null 2>&1; then
		echo "run $i: exit $rc, want six results; stdout:" >&2
		head -c 2000 "$WORK/run.json" >&2
		sed 's/^/  stderr: /' "$WORK/run.err" >&2
		die "unreadable output from smtpprobe"
	fi
	# "phase timeout_ms closed_by" per result; a phase that measured nothing prints null.
	jq -r '.results[] | "\(.phase) \(.timeout_ms // "null") \(.closed_by // "-")"' "$WORK/run.json" >"$WORK/phases"
	dur=$(jq -r '.duration_ms' "$WORK/run.json")
	read -r sum mx maxerr ok per < <(awk -v t="$T_MS" -v tol="$TOL_MS" '
		{ if ($2 == "null") { bad++; per = per " " $1 "=none"; next }
		  e = $2 - t; a = e < 0 ? -e : e
		  sum += $2; if ($2 > mx) mx = $2; if (a > maxerr) maxerr = a
		  if (a > tol || $3 != "421") bad++
		  per = per sprintf(" %+.1f", e) }
		END { printf "%.1f %.1f %.1f %d %s\n", sum, mx, maxerr, (bad ? 0 : 1), substr(per, 2) }' "$WORK/phases")
	awk -v t="$T_MS" '$2 != "null" { printf "%s %.3f\n", $1, $2 - t }' "$WORK/phases" >>"$WORK/errors"
	echo "$i $wall_ms $dur $sum $mx $maxerr $ok $rc" >>"$WORK/rows"
	printf "$fmt" "$i" "$wall_ms" "$dur" "$sum" "$mx" "$maxerr" "$per" "$rc"
done

# median of column N of rows
median() {
	awk -v c="$1" '{ print $c }' "$WORK/rows" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR == 0) { print 0; exit }
		      m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f\n", m }'
}
printf "$fmt" ---- --------- ----------- ------------ ----------- -------------- ------------------------------------------ ----
printf "$fmt" med "$(median 2)" "$(median 3)" "$(median 4)" "$(median 5)" "$(median 6)" "" ""

echo
echo "per phase, error vs ${T_MS} ms over $BENCH_RUNS runs: median (min .. max)"
for p in "${PHASES[@]}"; do
	awk -v p="$p" '$1 == p { print $2 }' "$WORK/errors" | sort -g | awk -v p="$p" '{ a[NR] = $1 }
		END { if (NR == 0) { printf "  %-6s  no measurement\n", p; exit }
		      m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		      printf "  %-6s  %+8.3f ms  (%+.3f .. %+.3f)\n", p, m, a[1], a[NR] }'
done

worst_wall=$(awk '{ print $2 }' "$WORK/rows" | sort -g | tail -n 1)
worst_err=$(awk '{ print $6 }' "$WORK/rows" | sort -g | tail -n 1)
all_ok=$(awk '{ s += $7 } END { print s + 0 }' "$WORK/rows")
echo
echo "goals (T = ${T_MS} ms):"
goal() { # goal LABEL VALUE LIMIT
	local pass
	pass=$(awk -v v="$2" -v l="$3" 'BEGIN { print (v <= l ? "PASS" : "MISS") }')
	printf '  %-4s  %-55s %s ms  (goal <= %s ms)\n' "$pass" "$1" "$2" "$3"
}
goal "median wall <= T + 1 s" "$(median 2)" "$WALL_GOAL_MS"
goal "worst wall <= T + 1 s" "$worst_wall" "$WALL_GOAL_MS"
goal "median of max |error| <= max(100 ms, 1 %)" "$(median 6)" "$TOL_MS"
goal "worst |error| of any phase <= max(100 ms, 1 %)" "$worst_err" "$TOL_MS"
acc=PASS
((all_ok == BENCH_RUNS)) || acc=MISS
printf '  %-4s  %-55s %s/%s runs\n' "$acc" "every phase measured, closed by 421, within tolerance" "$all_ok" "$BENCH_RUNS"
echo
echo "wall = fork/exec to exit inside the client namespace; duration_ms = the report's own; error = timeout_ms - ${T_MS}."
echo "total: $((($(now_us) - SCRIPT_START) / 1000)) ms (lab up and down included)"
