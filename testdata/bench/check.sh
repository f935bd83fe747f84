#!/usr/bin/env bash
# check.sh - time `smtpprobe check` over 1,000 targets (loopback go-smtp servers and an
# in-process DNS zone) and, beside it, a shell loop of check_smtp over the same targets.
#
# The peers come from TestBenchPeers (cmd/smtpprobe/e2e/benchpeers_test.go): 1,000 domains
# t0000.bench.example ... each with one MX among 50 go-smtp servers on 127.0.1.1-50 (one
# port), served by probetest's DNS server on 127.0.0.1. Module mx with no_ptr, no_starttls and
# no_policy (check_smtp does no reverse DNS, STARTTLS or MTA-STS/DANE lookups; the servers offer
# no STARTTLS, which is a WARNING when it is tried); parallel 64, per_host 4.
#
# Per smtpprobe run: wall (fork to exit), peak RSS (GNU time %M), sessions/s = results / wall;
# median over BENCH_RUNS runs. check_smtp: one sequential loop (it checks one host per
# process, as a cron loop or a Nagios host list would run it), wall and checks/s.
# Goals (the issue): wall <= 10 s and peak RSS <= 100 MiB for 1,000 targets.
# This is a report, not a test: it exits 0 when a goal is missed, non-zero only when the
# harness itself fails (prerequisite missing, peers did not come up, wrong results, ...).
# All traffic stays on loopback.
#
# Environment:
#   BENCH_RUNS=5   measured smtpprobe runs (1 to 20), after one warm-up run
#
# Prerequisites: go, jq, GNU time (/usr/bin/time), monitoring-plugins-basic (check_smtp).
set -euo pipefail
export LC_ALL=C

PROG=check.sh
SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/../.." && pwd)
CHECK_SMTP=/usr/lib/nagios/plugins/check_smtp
GNUTIME=/usr/bin/time

# shellcheck source=lib.sh
. "$(dirname "$SELF")/lib.sh" # die, now_us, bench_stats

missing=()
command -v go >/dev/null 2>&1 || missing+=("go")
command -v jq >/dev/null 2>&1 || missing+=("jq (Debian package jq)")
[[ -x $GNUTIME ]] || missing+=("$GNUTIME (Debian package time)")
[[ -x $CHECK_SMTP ]] || missing+=("$CHECK_SMTP (Debian package monitoring-plugins-basic)")
[[ ${BASH_VERSINFO[0]} -ge 5 ]] || missing+=("bash >= 5 (EPOCHREALTIME)")
if ((${#missing[@]})); then
	(IFS=';'; printf '%s: prerequisites missing: %s\n' "$PROG" "${missing[*]}" >&2)
	exit 1
fi
BENCH_RUNS=${BENCH_RUNS:-5}
[[ $BENCH_RUNS =~ ^[0-9]+$ && $BENCH_RUNS -ge 1 && $BENCH_RUNS -le 20 ]] || die "BENCH_RUNS=$BENCH_RUNS: want an integer from 1 to 20"

# 64 sessions at once plus DNS sockets: well inside the usual 1024, but raise the soft
# limit where the hard limit allows, so a low default does not skew the run.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null || true

SCRIPT_START=$(now_us)
WORK=$(mktemp -d /tmp/smtpprobe-bench-check.XXXXXX)
PEERS=$WORK/peers
PEERS_PID=""
cleanup() {
	local rc=$? i
	if [[ -n $PEERS_PID ]]; then
		mkdir -p "$PEERS" && touch "$PEERS/stop"
		for ((i = 0; i < 100; i++)); do
			kill -0 "$PEERS_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$PEERS_PID" 2>/dev/null; then
			printf '%s: peers did not stop; ending them\n' "$PROG" >&2
			[[ -s $PEERS/pid ]] && kill "$(<"$PEERS/pid")" 2>/dev/null || true
			kill "$PEERS_PID" 2>/dev/null || true
		fi
		wait "$PEERS_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

cd "$ROOT"
BIN=$WORK/smtpprobe
go build -o "$BIN" ./cmd/smtpprobe || die "go build failed"
# Compile the peers before starting them, so the wait below is for the servers only.
go test -count=1 -run '^$' ./cmd/smtpprobe/e2e/ >/dev/null || die "go test (compile) failed"

SMTPPROBE_BENCH_PEERS=$PEERS go test -count=1 -timeout 8m -run '^TestBenchPeers$' -v ./cmd/smtpprobe/e2e/ >"$WORK/peers.log" 2>&1 &
PEERS_PID=$!
for ((i = 0; i < 600; i++)); do
	[[ -e $PEERS/ready ]] && break
	kill -0 "$PEERS_PID" 2>/dev/null || { tail -n 20 "$WORK/peers.log" >&2; die "the peers exited before they were ready"; }
	sleep 0.1
done
[[ -e $PEERS/ready ]] || { tail -n 20 "$WORK/peers.log" >&2; die "the peers were not ready after 60 s"; }
CFG=$PEERS/check.yaml
N_TARGETS=$(wc -l <"$PEERS/targets.txt")
N_SERVERS=$(sort -u -k1,1 "$PEERS/targets.txt" | wc -l)

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "smtpprobe benchmark: check over $N_TARGETS targets (testdata/bench/check.sh)"
echo "machine:  $(nproc) CPUs${cpu:+ ($cpu)}, $(uname -sr), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
echo "peers:    $N_TARGETS domains, one MX each among $N_SERVERS go-smtp servers (127.0.1.x, one port), DNS $(<"$PEERS/ready") (probetest, in process)"
echo "tools:    smtpprobe ($(go version | awk '{print $3}')), $("$CHECK_SMTP" -V 2>/dev/null | head -n 1)"
echo "config:   $(grep -E '^(parallel|per_host):' "$CFG" | tr '\n' ' ')module mx: no_ptr, no_starttls, no_policy; $BENCH_RUNS runs after one warm-up; ulimit -n $(ulimit -n)"
echo

# run_check I: one smtpprobe run; appends "I WALL_US RSS_KIB RC RESULTS OKCHECKS CHECKS DURATION_MS".
run_check() {
	local i=$1 t0 t1 rc=0 out=$WORK/check.$1.json
	t0=$(now_us)
	timeout -k 2 120 "$GNUTIME" -f '%M' -o "$WORK/time.$i" "$BIN" check --config "$CFG" --json >"$out" 2>"$WORK/check.$i.err" </dev/null || rc=$?
	t1=$(now_us)
	local rss res ok n dur
	rss=$(tail -n 1 "$WORK/time.$i")
	[[ $rss =~ ^[0-9]+$ ]] || rss=0
	read -r res ok n dur < <(jq -r '[(.results | length), ([.checks[] | select(.status == "OK")] | length), (.checks | length), .duration_ms] | @tsv' "$out" 2>/dev/null || echo "0 0 0 0")
	echo "$i $((t1 - t0)) $rss $rc $res $ok $n $dur" >>"$WORK/runs"
}

: >"$WORK/runs"
run_check 0 # warm-up: page cache, the peers' goroutines
: >"$WORK/runs"
for ((i = 1; i <= BENCH_RUNS; i++)); do run_check "$i"; done

# One loop of check_smtp over the same targets (connect, banner, EHLO, QUIT per process).
ok_smtp=0
fail_smtp=""
t0=$(now_us)
while read -r ip port; do
	if out=$("$CHECK_SMTP" -H "$ip" -p "$port" -t 10 2>&1) && [[ $out == "SMTP OK"* ]]; then
		ok_smtp=$((ok_smtp + 1))
	elif [[ -z $fail_smtp ]]; then
		fail_smtp="$ip:$port: $out"
	fi
done <"$PEERS/targets.txt"
t1=$(now_us)
smtp_wall_us=$((t1 - t0))

touch "$PEERS/stop"
for ((i = 0; i < 100; i++)); do [[ -s $PEERS/served ]] && break; sleep 0.1; done

# ------------------------------------------------------------------ report

# med_min_max: "median min max" of the numbers on stdin ("0 0 0" for none).
med_min_max() { bench_stats 2 "0 0 0"; }
read -r wall_med wall_min wall_max < <(awk '{ print $2 / 1e6 }' "$WORK/runs" | med_min_max)
read -r rss_med rss_min rss_max < <(awk '{ print $3 / 1024 }' "$WORK/runs" | med_min_max)
read -r sps_med _ _ < <(awk '$2 > 0 { print $5 / ($2 / 1e6) }' "$WORK/runs" | med_min_max)
read -r dur_med _ _ < <(awk '{ print $8 / 1000 }' "$WORK/runs" | med_min_max)
runs_good=$(awk -v n="$N_TARGETS" '$4 == 0 && $5 == n && $6 == n && $7 == n { g++ } END { print g + 0 }' "$WORK/runs")
read -r _ _ _ rc1 res1 ok1 n1 _ < <(tail -n 1 "$WORK/runs")
smtp_wall=$(awk -v u="$smtp_wall_us" 'BEGIN { printf "%.2f", u / 1e6 }')
smtp_rate=$(awk -v u="$smtp_wall_us" -v n="$N_TARGETS" 'BEGIN { printf "%.0f", n / (u / 1e6) }')

fmt='%-44s %10s %17s %9s %12s %9s\n'
printf "$fmt" "tool" "wall s" "(min-max)" "RSS MiB" "sessions/s" "ok"
printf "$fmt" "--------------------------------------------" "----------" "-----------------" "---------" "------------" "---------"
printf "$fmt" "smtpprobe check --json (median of $BENCH_RUNS)" "$wall_med" "($wall_min-$wall_max)" "$rss_med" "$sps_med" "$ok1/$n1"
printf "$fmt" "check_smtp, shell loop (one run)" "$smtp_wall" "" "-" "$smtp_rate" "$ok_smtp/$N_TARGETS"
echo
echo "smtpprobe: $runs_good/$BENCH_RUNS runs exited 0 with $N_TARGETS results and $N_TARGETS OK checks; in-process duration_ms median ${dur_med} s; RSS max $rss_max MiB"
awk -v a="$wall_med" -v b="$smtp_wall" -v ra="$sps_med" -v rb="$smtp_rate" 'BEGIN {
	if (a > 0 && b > 0) printf "ratio:     smtpprobe wall = %.3fx check_smtp loop (%.1fx faster); sessions/s %.1fx\n", a / b, b / a, ra / rb }'
[[ -s $PEERS/served ]] && echo "peers:     $(awk '{ printf "%d SMTP sessions, %d DNS queries served in all (warm-up, runs and check_smtp included)", $1, $2 }' "$PEERS/served")"
[[ -z $fail_smtp ]] || echo "check_smtp first failure: $fail_smtp"
if ((runs_good != BENCH_RUNS)); then
	echo "smtpprobe runs (i wall_us rss_kib rc results ok_checks checks duration_ms):"
	sed 's/^/    /' "$WORK/runs"
	for f in "$WORK"/check.*.err; do [[ -s $f ]] && { echo "$f:"; head -n 5 "$f"; }; done
fi

echo
echo "goals:"
goal() { # goal LABEL VALUE LIMIT UNIT
	local pass
	pass=$(awk -v v="$2" -v l="$3" 'BEGIN { print (v <= l ? "PASS" : "MISS") }')
	printf '  %-4s  %-52s %s %s  (goal <= %s %s)\n' "$pass" "$1" "$2" "$4" "$3" "$4"
}
goal "smtpprobe check, $N_TARGETS targets: median wall" "$wall_med" 10 "s"
goal "smtpprobe check, $N_TARGETS targets: median peak RSS" "$rss_med" 100 "MiB"
echo
echo "total: $((($(now_us) - SCRIPT_START) / 1000000)) s (build and peers included)"

# The harness fails when smtpprobe or check_smtp did not do the right thing.
((runs_good == BENCH_RUNS)) || die "smtpprobe check did not report $N_TARGETS OK checks in every run"
((ok_smtp == N_TARGETS)) || die "check_smtp failed on $((N_TARGETS - ok_smtp)) targets"
