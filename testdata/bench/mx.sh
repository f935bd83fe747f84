#!/usr/bin/env bash
# mx.sh BIN - time `smtpprobe mx` next to swaks and check_smtp against the lab's real
# Postfix (testdata/lab/lab.sh, README.md "The lab"), with medians over repeated runs and peak RSS.
#
# Every tool runs inside the lab's client namespace, so all traffic stays in the lab
# (198.18.0.0/15); runs are interleaved round-robin so that drift hits every tool alike.
# This is a report, not a test: it exits 0 when a goal is missed, non-zero only when the
# harness itself fails (prerequisite missing, lab did not come up, ...).
#
# Environment:
#   BENCH_RUNS=11         measured runs per variant (after one unmeasured warm-up round)
#   BENCH_MIXED_RUNS=2    runs against mixed.lab.example (one address times out after 2 s)
#   BENCH_BUDGET=75       seconds for the measured rounds; later rounds are skipped
#   BENCH_VERIFY_RUNS=5   --json verification runs of the full smtpprobe check
#
# Prerequisites: root, lab.sh check, swaks, monitoring-plugins-basic (check_smtp),
# GNU time (/usr/bin/time).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

PROG=mx.sh
SELF=$(readlink -f "$0")
HERE=$(dirname "$SELF")
LAB=$HERE/../lab/lab.sh
CHECK_SMTP=/usr/lib/nagios/plugins/check_smtp
GNUTIME=/usr/bin/time
MX=198.18.3.10
DNS=198.18.3.53

# shellcheck source=lib.sh
. "$HERE/lib.sh"

# ------------------------------------------------------------------ variants
# id | tool | TLS? | what it does
VARIANTS=(a b c d e f)
declare -A TOOL=(
	[a]="smtpprobe mx" [b]="smtpprobe mx --no-starttls --no-ptr"
	[c]="swaks" [d]="swaks -tls" [e]="check_smtp" [f]="check_smtp -S"
)
declare -A TLS=([a]=1 [b]=0 [c]=0 [d]=1 [e]=0 [f]=1)
declare -A WHAT=(
	[a]="MX+A, connect, EHLO, STARTTLS, EHLO, QUIT, PTR+FCrDNS"
	[b]="MX+A, connect, EHLO, QUIT"
	[c]="connect, EHLO, MAIL, RCPT, QUIT"
	[d]="connect, EHLO, STARTTLS, EHLO, MAIL, RCPT, QUIT"
	[e]="connect, EHLO, QUIT"
	[f]="connect, EHLO, STARTTLS, EHLO, QUIT"
)

# variant_cmd ID: the command line of a variant in CMD.
variant_cmd() {
	local sp=(mx ok.lab.example -4 --resolver "$DNS" --connect-timeout 2s --timeout 10s)
	local sw=(swaks --server "$MX" --to postmaster@lab.example --quit-after RCPT --timeout 10)
	case $1 in
	a) CMD=("$BENCH_BIN" "${sp[@]}") ;;
	b) CMD=("$BENCH_BIN" "${sp[@]}" --no-starttls --no-ptr) ;;
	c) CMD=("${sw[@]}") ;;
	d) CMD=("${sw[@]}" -tls) ;;
	e) CMD=("$CHECK_SMTP" -H "$MX" -t 10) ;;
	f) CMD=("$CHECK_SMTP" -H "$MX" -t 10 -S) ;;
	*) die "unknown variant $1" ;;
	esac
}

# ------------------------------------------------------------------ inner: in the client ns

# run_one ID ROUND: run a variant once, append "ID ROUND WALL_US RSS_KIB RC OK" to results.
run_one() {
	local id=$1 round=$2 t0 t1 rc=0 rss ok=0 out=$BENCH_WORK/out.$id tf=$BENCH_WORK/time.$id
	variant_cmd "$id"
	t0=$(now_us)
	timeout -k 2 30 "$GNUTIME" -f '%M' -o "$tf" "${CMD[@]}" >"$out" 2>&1 </dev/null || rc=$?
	t1=$(now_us)
	rss=$(tail -n 1 "$tf" 2>/dev/null || true)
	[[ $rss =~ ^[0-9]+$ ]] || rss=0
	case $id in
	a | b | c | d) [[ $rc -eq 0 ]] && ok=1 ;;
	e | f) [[ $rc -eq 0 ]] && grep -q '^SMTP OK' "$out" && ok=1 ;;
	esac
	if [[ $ok -ne 1 && ! -e $BENCH_WORK/fail.$id ]]; then
		{ echo "exit $rc: ${CMD[*]}"; tail -n 5 "$out"; } >"$BENCH_WORK/fail.$id"
	fi
	if [[ $round -gt 0 ]]; then
		echo "$id $round $((t1 - t0)) $rss $rc $ok" >>"$BENCH_WORK/results"
	fi
}

# json_field FILE KEY: the first top-level-ish "KEY": value of a Go-indented JSON document.
json_field() {
	{ tr -d ' \n\t' <"$1" | grep -o "\"$2\":[^,}]*" | head -n 1 | cut -d: -f2- | tr -d '"'; } 2>/dev/null || true
}

# json_phases FILE: "name ms" per line for every "phases" object, prefixed by the result index.
json_phases() {
	awk '/"phases": \{/ { n++; in_p = 1; next }
		in_p && /\}/ { in_p = 0; next }
		in_p { gsub(/[",]/, ""); sub(/:/, ""); print n, $1, $2 }' "$1"
}

inner() {
	local runs=$BENCH_RUNS deadline round i k id start
	start=$(now_us)
	deadline=$((start + BENCH_BUDGET * 1000000))
	: >"$BENCH_WORK/results"

	# Warm-up round (not measured): page cache, Postfix smtpd processes, dnsmasq.
	for id in "${VARIANTS[@]}"; do run_one "$id" 0; done
	rm -f "$BENCH_WORK"/fail.* # the warm-up does not count, its failures would show again

	for ((round = 1; round <= runs; round++)); do
		if (($(now_us) > deadline)); then
			echo "budget of ${BENCH_BUDGET}s used up after $((round - 1)) rounds" >"$BENCH_WORK/budget"
			break
		fi
		# Rotate the starting variant each round so none always runs first.
		for ((i = 0; i < ${#VARIANTS[@]}; i++)); do
			k=$(((i + round) % ${#VARIANTS[@]}))
			run_one "${VARIANTS[$k]}" "$round"
		done
	done

	# Verification: the full check must be ok, with TLS and forward-confirmed PTR.
	: >"$BENCH_WORK/verify"
	: >"$BENCH_WORK/phases"
	local j rc t0 t1 o v f
	for ((j = 1; j <= BENCH_VERIFY_RUNS; j++)); do
		variant_cmd a
		rc=0
		t0=$(now_us)
		timeout -k 2 30 "${CMD[@]}" --json >"$BENCH_WORK/verify.json" 2>"$BENCH_WORK/verify.err" </dev/null || rc=$?
		t1=$(now_us)
		o=$(json_field "$BENCH_WORK/verify.json" outcome)
		v=$(json_field "$BENCH_WORK/verify.json" version)
		f=$(json_field "$BENCH_WORK/verify.json" fcrdns)
		echo "a $rc ${o:-none} ${v// /_} ${f:-none} $((t1 - t0)) $(json_field "$BENCH_WORK/verify.json" duration_ms)" >>"$BENCH_WORK/verify"
		json_phases "$BENCH_WORK/verify.json" | awk '{print $2, $3}' >>"$BENCH_WORK/phases"
		cp "$BENCH_WORK/verify.json" "$BENCH_WORK/verify.a.json"
	done
	variant_cmd b
	rc=0
	t0=$(now_us)
	timeout -k 2 30 "${CMD[@]}" --json >"$BENCH_WORK/verify.json" 2>"$BENCH_WORK/verify.err" </dev/null || rc=$?
	t1=$(now_us)
	o=$(json_field "$BENCH_WORK/verify.json" outcome)
	v=$(json_field "$BENCH_WORK/verify.json" version)
	echo "b $rc ${o:-none} ${v:-none} - $((t1 - t0)) $(json_field "$BENCH_WORK/verify.json" duration_ms)" >>"$BENCH_WORK/verify"

	# mixed.lab.example: ok (.10), connect-timeout (.20, SYNs dropped), refused (.30).
	: >"$BENCH_WORK/mixed"
	for ((j = 1; j <= BENCH_MIXED_RUNS; j++)); do
		rc=0
		t0=$(now_us)
		timeout -k 2 30 "$GNUTIME" -f '%M' -o "$BENCH_WORK/time.mixed" "$BENCH_BIN" mx mixed.lab.example -4 \
			--resolver "$DNS" --connect-timeout 2s --timeout 10s --json \
			>"$BENCH_WORK/mixed.json" 2>"$BENCH_WORK/mixed.err" </dev/null || rc=$?
		t1=$(now_us)
		local outs
		outs=$(tr -d ' \n\t' <"$BENCH_WORK/mixed.json" | grep -o '"address":"[^"]*","port":[0-9]*,"preference":[0-9]*,"outcome":"[a-z-]*"' |
			sed 's/"address":"\([^"]*\)".*"outcome":"\([a-z-]*\)"/\1=\2/' | sort | tr '\n' ' ') || true
		echo "$j $((t1 - t0)) $(tail -n 1 "$BENCH_WORK/time.mixed" 2>/dev/null || echo 0) $rc $(json_field "$BENCH_WORK/mixed.json" duration_ms) ${outs:-none}" >>"$BENCH_WORK/mixed"
	done
}

if [[ ${1:-} == __inner ]]; then
	inner
	exit 0
fi

# ------------------------------------------------------------------ outer

bench_args "$@"
command -v swaks >/dev/null 2>&1 || missing+=("swaks (Debian package swaks)")
[[ -x $CHECK_SMTP ]] || missing+=("$CHECK_SMTP (Debian package monitoring-plugins-basic)")
[[ -x $GNUTIME ]] || missing+=("$GNUTIME (Debian package time)")
bench_missing

BENCH_RUNS=${BENCH_RUNS:-11}
BENCH_MIXED_RUNS=${BENCH_MIXED_RUNS:-2}
BENCH_BUDGET=${BENCH_BUDGET:-75}
BENCH_VERIFY_RUNS=${BENCH_VERIFY_RUNS:-5}
for v in BENCH_RUNS BENCH_MIXED_RUNS BENCH_BUDGET BENCH_VERIFY_RUNS; do
	[[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 && ${!v} -le 1000 ]] || die "$v=${!v}: want an integer from 1 to 1000"
done

SCRIPT_START=$(now_us)
BENCH_WORK=$(mktemp -d /tmp/smtpprobe-bench.XXXXXX)
LAB_ID=""
bench_cleanup_on_exit "$BENCH_WORK"

# Header: the machine, the peer, the tools.
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "smtpprobe benchmark: lab run (testdata/bench/mx.sh)"
echo "machine:  $(nproc) CPUs${cpu:+ ($cpu)}, $(uname -sr), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
echo "peer:     Postfix $(postconf -d -h mail_version 2>/dev/null || echo '?') in the lab server namespace (mx1.lab.example, $MX), via client-r1-r2-server"
gover=$(go version "$BENCH_BIN" 2>/dev/null | awk '{print $NF}' || true)
echo "tools:    smtpprobe ($BENCH_BIN${gover:+, $gover}), $(swaks --version 2>/dev/null | head -n 1), $("$CHECK_SMTP" -V 2>/dev/null | head -n 1)"

# One lab for every run.
if ! labenv=$(timeout 180 bash "$LAB" up 2>"$BENCH_WORK/lab.log"); then
	LAB_ID=$(sed -n 's/^LAB_ID=//p' <<<"${labenv:-}")
	tail -n 20 "$BENCH_WORK/lab.log" >&2
	die "lab.sh up failed"
fi
LAB_ID=$(sed -n 's/^LAB_ID=//p' <<<"$labenv")
LAB_CLIENT_NS=$(sed -n 's/^LAB_CLIENT_NS=//p' <<<"$labenv")
LAB_TLS_CERT=$(sed -n 's/^LAB_TLS_CERT=//p' <<<"$labenv")
[[ -n $LAB_ID && -n $LAB_CLIENT_NS && -n $LAB_TLS_CERT ]] || die "lab.sh up printed no LAB_ID/LAB_CLIENT_NS/LAB_TLS_CERT"
echo "lab:      $LAB_ID up in $((($(now_us) - SCRIPT_START) / 1000)) ms; $BENCH_RUNS runs per variant, round-robin, after one warm-up round"
echo

# Measure inside the client namespace. smtpprobe trusts the lab's self-signed certificate
# (SSL_CERT_FILE; the system directory /etc/ssl/certs is still loaded, as in real use), so
# a healthy run exits 0; swaks and check_smtp do not verify certificates at all.
export BENCH_BIN BENCH_WORK BENCH_RUNS BENCH_MIXED_RUNS BENCH_BUDGET BENCH_VERIFY_RUNS
if ! SSL_CERT_FILE=$LAB_TLS_CERT timeout -k 5 $((BENCH_BUDGET + 120)) \
	ip netns exec "$LAB_CLIENT_NS" bash "$SELF" __inner; then
	die "the measuring loop failed"
fi
[[ -s $BENCH_WORK/results ]] || die "no measurements recorded"

# ------------------------------------------------------------------ report

# med_min_max: "median min max" of the numbers on stdin ("0 0 0" for none).
med_min_max() { bench_stats 1 "0 0 0"; }

# stats ID: "median_ms min_ms max_ms median_rss_mib ok n" over the variant's runs.
stats() {
	local r=$BENCH_WORK/results wall rss
	wall=$(awk -v id="$1" '$1 == id { print $3 / 1000 }' "$r" | med_min_max)
	rss=$(awk -v id="$1" '$1 == id { print $4 / 1024 }' "$r" | med_min_max)
	echo "$wall ${rss%% *} $(awk -v id="$1" '$1 == id { n++; ok += $6 } END { print ok + 0, n + 0 }' "$r")"
}

declare -A MED MIN MAX RSS OK N
for id in "${VARIANTS[@]}"; do
	read -r MED[$id] MIN[$id] MAX[$id] RSS[$id] OK[$id] N[$id] < <(stats "$id")
done
ratio() { # ratio ID: median wall vs swaks of the same TLS-ness
	local ref=c
	[[ ${TLS[$1]} -eq 1 ]] && ref=d
	awk -v a="${MED[$1]}" -v b="${MED[$ref]}" -v r="${TOOL[$ref]}" 'BEGIN { if (b > 0) printf "%.2fx %s", a / b, r; else print "-" }'
}

fmt='%-40s %-51s %9s %7s %7s %9s %7s  %s\n'
printf "$fmt" "tool / variant" "what it does" "median ms" "min" "max" "RSS MiB" "ok/N" "wall vs swaks (same TLS)"
printf "$fmt" "----------------------------------------" "---------------------------------------------------" "---------" "-------" "-------" "---------" "-------" "------------------------"
for id in "${VARIANTS[@]}"; do
	printf "$fmt" "$id) ${TOOL[$id]}" "${WHAT[$id]}" "${MED[$id]}" "${MIN[$id]}" "${MAX[$id]}" "${RSS[$id]}" "${OK[$id]}/${N[$id]}" "$(ratio "$id")"
done
[[ -f $BENCH_WORK/budget ]] && echo "note: $(cat "$BENCH_WORK/budget")"
echo "wall = fork/exec to exit of the tool inside the client namespace (includes /usr/bin/time and timeout(1), alike for all); RSS = peak resident set (GNU time %M)."
for id in "${VARIANTS[@]}"; do
	if [[ -f $BENCH_WORK/fail.$id ]]; then
		echo "first failure of $id) ${TOOL[$id]}:"
		sed 's/^/    /' "$BENCH_WORK/fail.$id"
	fi
done

# Verification runs and where smtpprobe's time goes.
echo
echo "verification (--json runs, not timed above):"
verify_bad=0
while read -r id rc outcome version fcrdns wall_us dur; do
	good=0
	if [[ $id == a ]]; then
		[[ $rc -eq 0 && $outcome == ok && $version == TLS* && $fcrdns == true ]] && good=1
		desc="outcome=$outcome tls=${version//_/ } fcrdns=$fcrdns"
	else
		[[ $rc -eq 0 && $outcome == ok && $version == none ]] && good=1
		desc="outcome=$outcome tls=$version"
	fi
	((good)) || verify_bad=$((verify_bad + 1))
	printf '  %s) %-40s exit %s, %s, wall %.1f ms, in-process duration_ms %s  %s\n' "$id" "${TOOL[$id]}" "$rc" "$desc" \
		"$(awk -v u="$wall_us" 'BEGIN {print u / 1000}')" "${dur:-?}" "$( ((good)) && echo OK || echo WRONG)"
done <"$BENCH_WORK/verify"
if [[ -s $BENCH_WORK/phases ]]; then
	echo "  a) phases over the verification runs, ms, median (min-max); DNS and PTR lookups are outside them:"
	line="   "
	for p in connect banner ehlo starttls ehlo_tls quit; do
		m=$(awk -v p="$p" '$1 == p { print $2 }' "$BENCH_WORK/phases" | med_min_max)
		[[ $m == "0 0 0" ]] && continue
		read -r pmed pmin pmax <<<"$m"
		line+=" $p $pmed ($pmin-$pmax)"
		if [[ $p == ehlo_tls ]] && awk -v a="$pmin" -v b="$pmax" 'BEGIN { exit !(b >= 30 && a < 10) }'; then
			ehlo_note="  note: ehlo_tls is bimodal (${pmin} ms or ${pmax} ms). About 40 ms is Linux's delayed-ACK timer: check
        TcpExtDelayedACKs (nstat) in the client namespace; a reply held back by Nagle on the server
        until the client acknowledges the TLS 1.3 session tickets looks like this."
		fi
	done
	echo "$line"
	[[ -z ${ehlo_note:-} ]] || echo "$ehlo_note"
fi

echo
echo "mixed.lab.example (ok 198.18.3.10, SYNs dropped 198.18.3.20, refused 198.18.3.30), --connect-timeout 2s, all addresses in parallel:"
mixed_bad=0
while read -r j wall_us rss rc dur outs; do
	good=0
	if [[ $rc -eq 1 && $outs == *"198.18.3.10=ok"* && $outs == *"198.18.3.20=connect-timeout"* && $outs == *"198.18.3.30=refused"* ]] &&
		((wall_us < 3000000)); then
		good=1
	fi
	((good)) || mixed_bad=$((mixed_bad + 1))
	printf '  run %s: wall %.0f ms (bound: connect-timeout 2000 ms + the rest of the ok session), duration_ms %s, peak RSS %.1f MiB, exit %s (want 1), %s %s\n' \
		"$j" "$(awk -v u="$wall_us" 'BEGIN {print u / 1000}')" "${dur:-?}" "$(awk -v k="$rss" 'BEGIN {print k / 1024}')" "$rc" "$outs" \
		"$( ((good)) && echo OK || echo WRONG)"
done <"$BENCH_WORK/mixed"

# Goals.
echo
echo "goals:"
goal() { # goal LABEL VALUE OP LIMIT UNIT
	local pass
	pass=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { print ((op == "<=" ? v <= l : v >= l) ? "PASS" : "MISS") }')
	printf '  %-4s  %-58s %s %s  (goal %s %s %s)\n' "$pass" "$1" "$2" "$5" "$3" "$4" "$5"
}
wall_ratio() { awk -v a="${MED[$1]}" -v b="${MED[$2]}" 'BEGIN { r = 99; if (b > 0) r = a / b; printf "%.2f", r }'; }
goal "smtpprobe median wall <= 0.5x swaks, STARTTLS (a vs d)" "$(wall_ratio a d)" "<=" 0.5 "x"
goal "smtpprobe median wall <= 0.5x swaks, plain (b vs c)" "$(wall_ratio b c)" "<=" 0.5 "x"
rss_max=$(awk -v a="${RSS[a]}" -v b="${RSS[b]}" 'BEGIN { print (a > b ? a : b) }')
goal "smtpprobe median peak RSS <= 20 MiB (worse of a, b)" "$rss_max" "<=" 20 "MiB"
ok_all=$((OK[a] + OK[b]))
n_all=$((N[a] + N[b]))
acc="PASS"
((ok_all == n_all && verify_bad == 0 && mixed_bad == 0)) || acc="MISS"
printf '  %-4s  %-58s %s\n' "$acc" "smtpprobe did the right thing in every run" "$ok_all/$n_all timed, $((BENCH_VERIFY_RUNS + 1 - verify_bad))/$((BENCH_VERIFY_RUNS + 1)) verified, $((BENCH_MIXED_RUNS - mixed_bad))/$BENCH_MIXED_RUNS mixed"
echo
echo "total: $((($(now_us) - SCRIPT_START) / 1000000)) s (lab up and down included)"
