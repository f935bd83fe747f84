#!/usr/bin/env bash
# mtu.sh BIN - time `smtpprobe mtu` next to tracepath(8) on the lab's bottlenecked path
# (testdata/lab/lab.sh, DESIGN.md §1 PMTU black hole, §2 "Bracket the path MTU", §5).
#
# One lab, bottleneck MTU 1400 on r1-r2, two paths:
#   black-holed   r1 drops ICMP frag-needed (icmp drop): full-size DF packets vanish
#   open          ICMP passes (icmp allow): PMTUD works
# On each path, round-robin, BENCH_RUNS runs of
#   a) smtpprobe mtu ok.lab.example -4 --json                (defaults)
#   b) smtpprobe mtu ok.lab.example -4 --json --parallel 1
#   c) tracepath -n 198.18.3.10                              (defaults; UDP, not the SMTP path)
# with the client's route cache flushed before every run, so no run inherits a path MTU
# learned by the one before. Every tool runs inside the lab's client namespace, so all
# traffic stays in the lab (198.18.0.0/15).
#
# tracepath with its defaults on the black-holed path walks all 30 hops, about 3 s each
# (about 90 s a run), so it runs only BENCH_TRACEPATH_BLACKHOLE_RUNS times there.
#
# This is a report, not a test: it exits 0 when a goal is missed, non-zero only when the
# harness itself fails (prerequisite missing, lab did not come up, ...).
#
# Environment:
#   BENCH_RUNS=5                      runs per tool and path
#   BENCH_TRACEPATH_BLACKHOLE_RUNS=1  tracepath runs on the black-holed path
#   BENCH_TRACEPATH_TIMEOUT=150       seconds before a tracepath run is killed
#   BENCH_IN_FLOW_DELAY=              if set (e.g. 0), postconf in_flow_delay for the lab's
#                                     Postfix (see the note the report prints)
#
# Prerequisites: root, lab.sh check, python3, tracepath (Debian package iputils-tracepath).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

PROG=mtu.sh
SELF=$(readlink -f "$0")
HERE=$(dirname "$SELF")
LAB=$HERE/../lab/lab.sh
MX=198.18.3.10
WANT=1400

# shellcheck source=lib.sh
. "$HERE/lib.sh"

# ------------------------------------------------------------------ inner: in the client ns

# flush: forget path MTUs learned by earlier runs.
flush() {
	ip -4 route flush cache >/dev/null 2>&1 || return 1
	ip -6 route flush cache >/dev/null 2>&1 || return 1
}

# summarize TOOL FILE: "pmtu sessions rounds exact" (or "- - - -") for the run's output.
summarize() {
	python3 - "$1" "$2" <<-'PY'
		import json, re, sys
		tool, path = sys.argv[1], sys.argv[2]
		text = open(path, errors="replace").read()
		if tool == "tracepath":
		    m = re.search(r"Resume: pmtu (\d+)(?: hops (\d+))?", text)
		    probes = len(re.findall(r"^\s*\d+\??:", text, re.M))
		    pmtu = m.group(1) if m else "-"
		    hops = m.group(2) if m and m.group(2) else "-"
		    print(pmtu, probes, hops, "-")
		    sys.exit(0)
		try:
		    r = json.loads(text)["results"][0]
		except Exception:
		    print("- - - -")
		    sys.exit(0)
		b = r.get("bracket") or [None, None]
		exact = "1" if (r.get("path_mtu") is not None and len(b) == 2 and b[0] == r["path_mtu"]
		                and b[1] is not None and b[1] == b[0] + 1) else "0"
		print(r.get("path_mtu") if r.get("path_mtu") is not None else "-",
		      r.get("sessions", "-"), r.get("rounds", "-"), exact)
	PY
}

# run_one PATH ID ROUND: flush, run a tool once, append
# "PATH ID ROUND WALL_US RC PMTU SESSIONS ROUNDS EXACT" to results.
run_one() {
	local path=$1 id=$2 round=$3 t0 t1 rc=0 out=$BENCH_WORK/out.$1.$2 tool=smtpprobe
	local cmd
	case $id in
	a) cmd=("$BENCH_BIN" mtu ok.lab.example -4 --json) ;;
	b) cmd=("$BENCH_BIN" mtu ok.lab.example -4 --json --parallel 1) ;;
	c) cmd=(timeout -k 2 "$BENCH_TRACEPATH_TIMEOUT" tracepath -n "$MX") tool=tracepath ;;
	*) die "unknown tool $id" ;;
	esac
	flush || die "ip route flush cache failed in the client namespace"
	t0=$(now_us)
	timeout -k 2 $((BENCH_TRACEPATH_TIMEOUT + 10)) "${cmd[@]}" >"$out" 2>"$out.err" </dev/null || rc=$?
	t1=$(now_us)
	echo "$path $id $round $((t1 - t0)) $rc $(summarize "$tool" "$out")" >>"$BENCH_WORK/results"
	if [[ $id == a && $path == blackholed ]]; then
		cp "$out" "$BENCH_WORK/last.blackholed.a.json"
	fi
	if [[ ! -e $BENCH_WORK/fail.$path.$id ]]; then
		local bad=0
		case $id in
		a | b) [[ $rc -eq 0 || $rc -eq 2 ]] || bad=1 ;;
		c) [[ $rc -eq 0 ]] || bad=1 ;;
		esac
		if ((bad)); then
			{ echo "exit $rc: ${cmd[*]}"; tail -n 5 "$out"; tail -n 5 "$out.err"; } >"$BENCH_WORK/fail.$path.$id"
		fi
	fi
}

inner() {
	local path=$1 round tp_runs=$BENCH_RUNS i k id ids
	[[ $path == blackholed ]] && tp_runs=$BENCH_TRACEPATH_BLACKHOLE_RUNS
	for ((round = 1; round <= BENCH_RUNS; round++)); do
		ids=(a b)
		((round <= tp_runs)) && ids+=(c)
		# Rotate the starting tool each round so none always runs first.
		for ((i = 0; i < ${#ids[@]}; i++)); do
			k=$(((i + round) % ${#ids[@]}))
			run_one "$path" "${ids[$k]}" "$round"
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
command -v tracepath >/dev/null 2>&1 || missing+=("tracepath (Debian package iputils-tracepath)")
bench_missing

BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_TRACEPATH_BLACKHOLE_RUNS=${BENCH_TRACEPATH_BLACKHOLE_RUNS:-1}
BENCH_TRACEPATH_TIMEOUT=${BENCH_TRACEPATH_TIMEOUT:-150}
for v in BENCH_RUNS BENCH_TRACEPATH_BLACKHOLE_RUNS BENCH_TRACEPATH_TIMEOUT; do
	[[ ${!v} =~ ^[0-9]+$ && ${!v} -le 1000 ]] || die "$v=${!v}: want an integer from 0 to 1000"
done
((BENCH_RUNS >= 1)) || die "BENCH_RUNS=$BENCH_RUNS: want at least 1"
((BENCH_TRACEPATH_TIMEOUT >= 1)) || die "BENCH_TRACEPATH_TIMEOUT=$BENCH_TRACEPATH_TIMEOUT: want at least 1"
if [[ -n ${BENCH_IN_FLOW_DELAY:-} && ! $BENCH_IN_FLOW_DELAY =~ ^[0-9]+(ms|s)?$ ]]; then
	die "BENCH_IN_FLOW_DELAY=$BENCH_IN_FLOW_DELAY: want a Postfix time like 0, 1s or 500ms"
fi

SCRIPT_START=$(now_us)
BENCH_WORK=$(mktemp -d /tmp/smtpprobe-bench-mtu.XXXXXX)
LAB_ID=""
bench_cleanup_on_exit "$BENCH_WORK"

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "smtpprobe benchmark: path MTU (testdata/bench/mtu.sh)"
echo "machine:  $(nproc) CPUs${cpu:+ ($cpu)}, $(uname -sr)"
gover=$(go version "$BENCH_BIN" 2>/dev/null | awk '{print $NF}' || true)
echo "tools:    smtpprobe ($BENCH_BIN${gover:+, $gover}), $(tracepath -V 2>&1 | head -n 1)"

if ! labenv=$(timeout 180 bash "$LAB" up --mtu "$WANT" --icmp drop 2>"$BENCH_WORK/lab.log"); then
	LAB_ID=$(sed -n 's/^LAB_ID=//p' <<<"${labenv:-}")
	tail -n 20 "$BENCH_WORK/lab.log" >&2
	die "lab.sh up failed"
fi
LAB_ID=$(sed -n 's/^LAB_ID=//p' <<<"$labenv")
LAB_CLIENT_NS=$(sed -n 's/^LAB_CLIENT_NS=//p' <<<"$labenv")
LAB_SERVER_NS=$(sed -n 's/^LAB_SERVER_NS=//p' <<<"$labenv")
LAB_DIR=$(sed -n 's/^LAB_DIR=//p' <<<"$labenv")
[[ -n $LAB_ID && -n $LAB_CLIENT_NS && -n $LAB_SERVER_NS && -n $LAB_DIR ]] || die "lab.sh up printed no LAB_ID/LAB_CLIENT_NS/LAB_SERVER_NS/LAB_DIR"
if [[ -n ${BENCH_IN_FLOW_DELAY:-} ]]; then
	postconf -c "$LAB_DIR/postfix" -e "in_flow_delay=$BENCH_IN_FLOW_DELAY" >>"$BENCH_WORK/lab.log" 2>&1 || die "postconf in_flow_delay failed"
	ip netns exec "$LAB_SERVER_NS" postfix -c "$LAB_DIR/postfix" reload >>"$BENCH_WORK/lab.log" 2>&1 || die "postfix reload failed"
fi
IN_FLOW_DELAY=$(postconf -c "$LAB_DIR/postfix" -h in_flow_delay 2>/dev/null || echo '?')
echo "lab:      $LAB_ID up in $((($(now_us) - SCRIPT_START) / 1000)) ms; bottleneck MTU $WANT on r1-r2, client and server links 1500;"
echo "          Postfix in_flow_delay $IN_FLOW_DELAY; $BENCH_RUNS runs per tool and path (tracepath on the black-holed path: $BENCH_TRACEPATH_BLACKHOLE_RUNS), round-robin, route cache flushed before each"
echo

export BENCH_BIN BENCH_WORK BENCH_RUNS BENCH_TRACEPATH_BLACKHOLE_RUNS BENCH_TRACEPATH_TIMEOUT
: >"$BENCH_WORK/results"
budget=$((BENCH_RUNS * 120 + BENCH_TRACEPATH_BLACKHOLE_RUNS * (BENCH_TRACEPATH_TIMEOUT + 15) + 60))
for path in blackholed open; do
	mode=drop
	[[ $path == open ]] && mode=allow
	bash "$LAB" icmp "$LAB_ID" "$mode" >>"$BENCH_WORK/lab.log" 2>&1 || die "lab.sh icmp $LAB_ID $mode failed"
	timeout -k 5 "$budget" ip netns exec "$LAB_CLIENT_NS" bash "$SELF" __inner "$path" || die "the measuring loop failed on the $path path"
done
[[ -s $BENCH_WORK/results ]] || die "no measurements recorded"

# ------------------------------------------------------------------ report

# med_min_max: "median min max" of the numbers on stdin, one a line ("- - -" for none).
med_min_max() {
	sort -g | awk '{ a[NR] = $1 }
		END {
			if (NR == 0) { print "- - -"; exit }
			m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf "%.0f %.0f %.0f\n", m, a[1], a[NR]
		}'
}
# distinct: the distinct values on stdin, joined with "/".
distinct() { sort -u | paste -sd/ -; }

declare -A NAME=([a]="smtpprobe mtu (defaults)" [b]="smtpprobe mtu --parallel 1" [c]="tracepath -n (defaults)")
R=$BENCH_WORK/results
fmt='%-12s %-30s %5s %-22s %-26s %-10s %s\n'
printf "$fmt" "path" "tool" "runs" "median wall ms (min-max)" "sessions/probes used" "PMTU found" "right? (== $WANT)"
printf "$fmt" "------------" "------------------------------" "-----" "----------------------" "--------------------------" "----------" "----------------"
for path in blackholed open; do
	for id in a b c; do
		n=$(awk -v p="$path" -v id="$id" '$1 == p && $2 == id' "$R" | wc -l)
		((n > 0)) || continue
		read -r med mn mx < <(awk -v p="$path" -v id="$id" '$1 == p && $2 == id { print $4 / 1000 }' "$R" | med_min_max)
		pm=$(awk -v p="$path" -v id="$id" '$1 == p && $2 == id { print $6 }' "$R" | distinct)
		right=$(awk -v p="$path" -v id="$id" -v w="$WANT" '$1 == p && $2 == id { n++; if ($6 == w) ok++ } END { printf "%d/%d", ok, n }' "$R")
		if [[ $id == c ]]; then
			used="$(awk -v p="$path" -v id="$id" '$1 == p && $2 == id { print $7 }' "$R" | distinct) probe lines, $(awk -v p="$path" -v id="$id" '$1 == p && $2 == id { print $8 }' "$R" | distinct) hops"
		else
			used="$(awk -v p="$path" -v id="$id" '$1 == p && $2 == id { print $7 }' "$R" | distinct) sessions, $(awk -v p="$path" -v id="$id" '$1 == p && $2 == id { print $8 }' "$R" | distinct) rounds"
		fi
		printf "$fmt" "$path" "${id}) ${NAME[$id]}" "$n" "$med ($mn-$mx)" "$used" "$pm" "$right"
	done
done
echo "wall = fork/exec to exit inside the client namespace; '-' = no PMTU reported. tracepath probes with UDP, not TCP port 25."
echo
echo "per-run wall ms, in run order:"
for path in blackholed open; do
	for id in a b c; do
		runs=$(awk -v p="$path" -v id="$id" '$1 == p && $2 == id { printf "%.0f(%s) ", $4 / 1000, $5 }' "$R")
		[[ -n $runs ]] && printf '  %-11s %-30s %s  [ms(exit)]\n' "$path" "${id}) ${NAME[$id]}" "$runs"
	done
done
for f in "$BENCH_WORK"/fail.*; do
	[[ -e $f ]] || continue
	echo "first failure of ${f##*/fail.}:"
	sed 's/^/    /' "$f"
done

# Goals: smtpprobe with its defaults on the black-holed path.
echo
echo "goals (smtpprobe mtu with its defaults on the black-holed path, $WANT):"
read -r exact_ok exact_n < <(awk '$1 == "blackholed" && $2 == "a" { n++; if ($6 == 1400 && $9 == 1 && $8 <= 3 && $5 == 2) ok++ } END { print ok + 0, n + 0 }' "$R")
g1=MISS
((exact_n > 0 && exact_ok == exact_n)) && g1=PASS
printf '  %-4s  %-34s %s/%s runs (path_mtu %s, bracket [%s, %s], rounds <= 3, exit 2)\n' "$g1" "exact byte in <= 3 rounds" "$exact_ok" "$exact_n" "$WANT" "$WANT" "$((WANT + 1))"
read -r med mn mx < <(awk '$1 == "blackholed" && $2 == "a" { print $4 / 1000 }' "$R" | med_min_max)
slow=$(awk '$1 == "blackholed" && $2 == "a" && $4 >= 3000000' "$R" | wc -l)
g2=MISS
((exact_n > 0 && slow == 0)) && g2=PASS
printf '  %-4s  %-34s %s/%s runs under 3000 ms (median %s, max %s ms)\n' "$g2" "< 3 s wall" "$((exact_n - slow))" "$exact_n" "$med" "$mx"
if [[ $g2 == MISS && $IN_FLOW_DELAY != 0 && $IN_FLOW_DELAY != 0s ]]; then
	echo "  note: every probe session says RCPT, so Postfix's cleanup creates a queue file, and it pauses"
	echo "        in_flow_delay ($IN_FLOW_DELAY) when no queue-manager token is left. Probe messages are never"
	echo "        queued, so nothing returns tokens: once the first ~100 sessions have used them up, every"
	echo "        round waits about 1 s for the RCPT reply. Compare BENCH_IN_FLOW_DELAY=0."
fi
if [[ -s $BENCH_WORK/last.blackholed.a.json ]]; then
	echo "  last run's rounds:"
	python3 - "$BENCH_WORK/last.blackholed.a.json" <<-'PY'
		import json, sys
		r = json.load(open(sys.argv[1]))["results"][0]
		rounds = {}
		for p in r.get("probes") or []:
		    rounds.setdefault(p["round"], []).append("%d%s" % (p["size"], "+" if p["ok"] else "-"))
		for k in sorted(rounds):
		    print("    round %d: %s" % (k, " ".join(rounds[k])))
		print("    verdict %s, path_mtu %s, bracket %s, icmp_seen %s  (+ delivered, - lost)" % (
		    r.get("verdict"), r.get("path_mtu"), r.get("bracket"), r.get("icmp_seen")))
	PY
fi
echo
echo "total: $((($(now_us) - SCRIPT_START) / 1000000)) s (lab up and down included)"
