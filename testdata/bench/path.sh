#!/usr/bin/env bash
# path.sh BIN - time `smtpprobe path` next to mtr --tcp --port 25 --report (Debian mtr-tiny) and
# tcptraceroute (Debian tcptraceroute) on the lab's path (testdata/lab/lab.sh, issue 13), with
# the hop where the SYNs stop known in advance:
#
#   target            what happens to SYNs to tcp/25           the right stop (TTL address)
#   198.18.3.10       answered (Postfix)                       3 198.18.3.10
#   198.18.3.20       dropped by the server's nftables         2 198.18.2.2  (last answering hop)
#   198.18.3.21       rejected by the server, admin-prohibited 3 198.18.3.21
#   198.18.3.22       rejected by r2, admin-prohibited         3 198.18.2.2
#   2001:db8:3::20    dropped by the server's nftables         2 2001:db8:2::2
#
# Tools, each with its defaults, round-robin, inside the lab's client namespace (so all
# traffic stays in the lab):
#   a) smtpprobe path TARGET --json
#   b) mtr --tcp --port 25 --report -n TARGET       (10 cycles, 1 s apart)
#   c) tcptraceroute -n TARGET 25                   (3 probes per hop, 3 s wait, 30 hops;
#                                                    IPv4 only)
# Measured per run: wall time (fork/exec to exit), probes sent (smtpprobe: path_end.probes +
# compare_probes; mtr: the Snt column summed over the hops; tcptraceroute: 3 per hop line),
# and whether the last answering hop (TTL and address) is the right one.
#
# mtr's report takes about 10 s and more a run, and tcptraceroute walks all 30 hops on a
# dropped target (about 250 s), so they get fewer runs (BENCH_MTR_RUNS, BENCH_TCPTR_DROP_RUNS).
#
# This is a report, not a test: it exits 0 when a goal is missed, non-zero only when the
# harness itself fails (prerequisite missing, lab did not come up, ...).
#
# Environment:
#   BENCH_RUNS=5              smtpprobe runs per target, and tcptraceroute's on answering targets
#   BENCH_MTR_RUNS=2          mtr runs per target
#   BENCH_TCPTR_DROP_RUNS=1   tcptraceroute runs on the dropped target
#   BENCH_TOOL_TIMEOUT=300    seconds before a run is killed
#
# Prerequisites: root, lab.sh check, python3, mtr (mtr-tiny), tcptraceroute.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

PROG=path.sh
SELF=$(readlink -f "$0")
HERE=$(dirname "$SELF")
LAB=$HERE/../lab/lab.sh

TARGETS=(198.18.3.10 198.18.3.20 198.18.3.21 198.18.3.22 2001:db8:3::20)
declare -A WANT=([198.18.3.10]="3 198.18.3.10" [198.18.3.20]="2 198.18.2.2" [198.18.3.21]="3 198.18.3.21"
	[198.18.3.22]="3 198.18.2.2" [2001:db8:3::20]="2 2001:db8:2::2")
declare -A KIND=([198.18.3.10]="open" [198.18.3.20]="dropped" [198.18.3.21]="reject@server"
	[198.18.3.22]="reject@r2" [2001:db8:3::20]="dropped v6")

# shellcheck source=lib.sh
. "$HERE/lib.sh"

# ------------------------------------------------------------------ inner: in the client ns

# summarize TOOL FILE: "PROBES STOP_TTL STOP_ADDR" for a run's output ("-" where there is none).
summarize() {
	python3 - "$1" "$2" <<-'PY'
		import json, re, sys
		tool, path = sys.argv[1], sys.argv[2]
		text = open(path, errors="replace").read()
		if tool == "smtpprobe":
		    try:
		        e = json.loads(text)["results"][0]["path_end"]
		    except Exception:
		        print("- - -"); sys.exit(0)
		    probes = e.get("probes", 0) + e.get("compare_probes", 0)
		    if e.get("answer") == "silent":
		        print(probes, e.get("last_ttl", "-"), e.get("last_address", "-"))
		    else:
		        print(probes, e.get("ttl", "-"), e.get("address", "-"))
		    sys.exit(0)
		if tool == "mtr":
		    probes, last = 0, None
		    for m in re.finditer(r"^\s*(\d+)\.\|--\s+(\S+)\s+\S+\s+(\d+)", text, re.M):
		        probes += int(m.group(3))
		        if m.group(2) != "???":
		            last = (m.group(1), m.group(2))
		    print(probes or "-", *(last or ("-", "-")))
		    sys.exit(0)
		# tcptraceroute: " 3  198.18.2.2  0.083 ms !A ..." or " 3  * * *"
		probes, last = 0, None
		for m in re.finditer(r"^\s*(\d+)\s+(.*)$", text, re.M):
		    probes += 3
		    a = re.match(r"(\d+\.\d+\.\d+\.\d+)", m.group(2).strip())
		    if a:
		        last = (m.group(1), a.group(1))
		print(probes or "-", *(last or ("-", "-")))
	PY
}

# run_one TARGET ID ROUND: run a tool once, append "TARGET ID ROUND WALL_US RC <summarize>".
run_one() {
	local tg=$1 id=$2 round=$3 t0 t1 rc=0 out=$BENCH_WORK/out.$2 tool cmd
	case $id in
	a) cmd=("$BENCH_BIN" path "$tg" --json) tool=smtpprobe ;;
	b) cmd=(mtr --tcp --port 25 --report -n "$tg") tool=mtr ;;
	c) cmd=(tcptraceroute -n "$tg" 25) tool=tcptraceroute ;;
	*) die "unknown tool $id" ;;
	esac
	t0=$(now_us)
	timeout -k 2 "$BENCH_TOOL_TIMEOUT" "${cmd[@]}" >"$out" 2>"$out.err" </dev/null || rc=$?
	t1=$(now_us)
	echo "$tg $id $round $((t1 - t0)) $rc $(summarize "$tool" "$out")" >>"$BENCH_WORK/results"
	local bad=0
	case $id in
	a) [[ $rc -le 2 ]] || bad=1 ;;
	*) [[ $rc -eq 0 ]] || bad=1 ;;
	esac
	if ((bad)) && [[ ! -e $BENCH_WORK/fail.$id ]]; then
		{ echo "exit $rc: ${cmd[*]}"; tail -n 5 "$out"; tail -n 5 "$out.err"; } >"$BENCH_WORK/fail.$id"
	fi
}

# inner ROUND: one round over the targets and tools, the starting tool rotated.
inner() {
	local round=$1 tg i k
	for tg in "${TARGETS[@]}"; do
		local ids=(a)
		((round <= BENCH_MTR_RUNS)) && ids+=(b)
		if [[ $tg != *:* ]]; then
			if [[ ${KIND[$tg]} == dropped* ]]; then
				((round <= BENCH_TCPTR_DROP_RUNS)) && ids+=(c)
			else
				ids+=(c)
			fi
		fi
		for ((i = 0; i < ${#ids[@]}; i++)); do
			k=$(((i + round) % ${#ids[@]}))
			run_one "$tg" "${ids[$k]}" "$round"
		done
	done
}

if [[ ${1:-} == __inner ]]; then
	inner "$2"
	exit 0
fi

# ------------------------------------------------------------------ outer

bench_args "$@"
command -v python3 >/dev/null 2>&1 || missing+=("python3")
command -v mtr >/dev/null 2>&1 || missing+=("mtr (Debian package mtr-tiny)")
command -v tcptraceroute >/dev/null 2>&1 || missing+=("tcptraceroute (Debian package tcptraceroute)")
bench_missing

BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_MTR_RUNS=${BENCH_MTR_RUNS:-2}
BENCH_TCPTR_DROP_RUNS=${BENCH_TCPTR_DROP_RUNS:-1}
BENCH_TOOL_TIMEOUT=${BENCH_TOOL_TIMEOUT:-300}
for v in BENCH_RUNS BENCH_MTR_RUNS BENCH_TCPTR_DROP_RUNS BENCH_TOOL_TIMEOUT; do
	[[ ${!v} =~ ^[0-9]+$ && ${!v} -le 1000 ]] || die "$v=${!v}: want an integer from 0 to 1000"
done
((BENCH_RUNS >= 1)) || die "BENCH_RUNS=$BENCH_RUNS: want at least 1"
((BENCH_MTR_RUNS <= BENCH_RUNS && BENCH_TCPTR_DROP_RUNS <= BENCH_RUNS)) || die "BENCH_MTR_RUNS and BENCH_TCPTR_DROP_RUNS: want at most BENCH_RUNS"
((BENCH_TOOL_TIMEOUT >= 1)) || die "BENCH_TOOL_TIMEOUT=$BENCH_TOOL_TIMEOUT: want at least 1"

SCRIPT_START=$(now_us)
BENCH_WORK=$(mktemp -d /tmp/smtpprobe-bench-path.XXXXXX)
LAB_ID=""
bench_cleanup_on_exit "$BENCH_WORK"

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "smtpprobe benchmark: where SYNs stop (testdata/bench/path.sh)"
echo "machine:  $(nproc) CPUs${cpu:+ ($cpu)}, $(uname -sr)"
gover=$(go version "$BENCH_BIN" 2>/dev/null | awk '{print $NF}' || true)
echo "tools:    smtpprobe ($BENCH_BIN${gover:+, $gover}), $(mtr --version 2>&1 | head -n 1), $(tcptraceroute -h 2>&1 | sed -n 's/^\(tcptraceroute [^ ]*\).*/\1/p' | head -n 1)"

if ! labenv=$(timeout 180 bash "$LAB" up 2>"$BENCH_WORK/lab.log"); then
	LAB_ID=$(sed -n 's/^LAB_ID=//p' <<<"${labenv:-}")
	tail -n 20 "$BENCH_WORK/lab.log" >&2
	die "lab.sh up failed"
fi
LAB_ID=$(sed -n 's/^LAB_ID=//p' <<<"$labenv")
LAB_CLIENT_NS=$(sed -n 's/^LAB_CLIENT_NS=//p' <<<"$labenv")
[[ -n $LAB_ID && -n $LAB_CLIENT_NS ]] || die "lab.sh up printed no LAB_ID/LAB_CLIENT_NS"
echo "lab:      $LAB_ID up in $((($(now_us) - SCRIPT_START) / 1000)) ms; hops r1, r2, server; $BENCH_RUNS smtpprobe runs per target,"
echo "          mtr $BENCH_MTR_RUNS, tcptraceroute $BENCH_RUNS ($BENCH_TCPTR_DROP_RUNS on the dropped target); round-robin"
echo

export BENCH_BIN BENCH_WORK BENCH_TOOL_TIMEOUT BENCH_MTR_RUNS BENCH_TCPTR_DROP_RUNS
: >"$BENCH_WORK/results"
for ((i = 1; i <= BENCH_RUNS; i++)); do
	timeout -k 5 $((6 * BENCH_TOOL_TIMEOUT + 60)) ip netns exec "$LAB_CLIENT_NS" bash "$SELF" __inner "$i" || die "the measuring loop failed in round $i"
done
[[ -s $BENCH_WORK/results ]] || die "no measurements recorded"

# ------------------------------------------------------------------ report

# med_min_max: "median min max" of the numbers on stdin ("- - -" for none).
med_min_max() { bench_stats 1 "- - -"; }
R=$BENCH_WORK/results
# Columns of R: 1 target 2 id 3 round 4 wall_us 5 rc 6 probes 7 stop_ttl 8 stop_addr
col() { awk -v t="$1" -v id="$2" -v c="$3" '$1 == t && $2 == id { print $c }' "$R"; }

declare -A NAME=([a]="smtpprobe path" [b]="mtr --tcp --port 25 --report" [c]="tcptraceroute")
fmt='%-16s %-15s %-30s %4s %-26s %9s %9s %7s %s\n'
printf "$fmt" "target" "kind" "tool" "runs" "median ms (min-max)" "x mtr" "x tcptr" "probes" "right stop"
printf "$fmt" "----------------" "---------------" "------------------------------" "----" "--------------------------" "---------" "---------" "-------" "----------"
for tg in "${TARGETS[@]}"; do
	mtrmed=$(col "$tg" b 4 | awk '{ print $1 / 1000 }' | median)
	trmed=$(col "$tg" c 4 | awk '{ print $1 / 1000 }' | median)
	for id in a b c; do
		n=$(col "$tg" "$id" 1 | wc -l)
		((n > 0)) || continue
		read -r med mn mx < <(col "$tg" "$id" 4 | awk '{ print $1 / 1000 }' | med_min_max)
		r1=- r2=-
		if [[ $id == a ]]; then
			[[ $mtrmed != - ]] && r1=$(awk -v a="$med" -v b="$mtrmed" 'BEGIN { printf "%.4f", a / b }')
			[[ $trmed != - ]] && r2=$(awk -v a="$med" -v b="$trmed" 'BEGIN { printf "%.4f", a / b }')
		fi
		read -r wttl waddr <<<"${WANT[$tg]}"
		right=$(awk -v t="$tg" -v id="$id" -v wt="$wttl" -v wa="$waddr" '$1 == t && $2 == id { n++; if ($7 == wt && $8 == wa) ok++ } END { printf "%d/%d", ok, n }' "$R")
		printf "$fmt" "$tg" "${KIND[$tg]}" "${id}) ${NAME[$id]}" "$n" "$med ($mn-$mx)" "$r1" "$r2" "$(col "$tg" "$id" 6 | median)" "$right"
	done
done
echo "wall = fork/exec to exit inside the client namespace; x mtr, x tcptr = smtpprobe's median / that tool's median"
echo "on the same target; probes = median SYNs (TCP probes) sent per run; right stop = runs whose last answering hop"
echo "(TTL and address) is the one in the table above."
echo
echo "per-run stops (ttl address), in run order:"
for tg in "${TARGETS[@]}"; do
	for id in a b c; do
		runs=$(awk -v t="$tg" -v id="$id" '$1 == t && $2 == id { printf "%s/%s(%.0fms,exit %s) ", $7, $8, $4 / 1000, $5 }' "$R")
		[[ -n $runs ]] && printf '  %-16s %-32s %s\n' "$tg" "${id}) ${NAME[$id]}" "$runs"
	done
done
for f in "$BENCH_WORK"/fail.*; do
	[[ -e $f ]] || continue
	echo "first failure of ${NAME[${f##*/fail.}]}:"
	sed 's/^/    /' "$f"
done
echo
echo "goal: the right stop in a median <= 1000 ms on every target, faster than mtr and tcptraceroute:"
for tg in "${TARGETS[@]}"; do
	med=$(col "$tg" a 4 | awk '{ print $1 / 1000 }' | median)
	read -r wttl waddr <<<"${WANT[$tg]}"
	right=$(awk -v t="$tg" -v wt="$wttl" -v wa="$waddr" '$1 == t && $2 == "a" { n++; if ($7 == wt && $8 == wa) ok++ } END { print (n > 0 && ok == n) ? "yes" : "no" }' "$R")
	faster=yes
	for id in b c; do
		other=$(col "$tg" "$id" 4 | awk '{ print $1 / 1000 }' | median)
		[[ $other == - ]] && continue
		awk -v a="$med" -v b="$other" 'BEGIN { exit !(a < b) }' || faster=no
	done
	met=no
	[[ $right == yes ]] && awk -v a="$med" 'BEGIN { exit !(a <= 1000) }' && [[ $faster == yes ]] && met=yes
	printf '  %-16s %-15s median %s ms, right stop in every run: %s, faster than both: %s -> %s\n' "$tg" "${KIND[$tg]}" "$med" "$right" "$faster" "$([[ $met == yes ]] && echo met || echo MISSED)"
done
