# Shared by the lab benchmarks (mx.sh, timeout.sh, mtu.sh, path.sh, check.sh); sourced after
# PROG and LAB are set.

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
now_us() { local t=$EPOCHREALTIME; printf '%s' "${t/./}"; } # bash 5: no fork

# bench_args BIN: checks the one argument and the prerequisites every lab
# benchmark shares (root, the lab, bash 5), sets BENCH_BIN, and leaves in
# the array `missing` what is absent, for the caller to add its own tools
# and call bench_missing.
bench_args() {
	[[ $# -eq 1 ]] || { echo "usage: $PROG BIN   (e.g. bin/smtpprobe)" >&2; exit 2; }
	BENCH_BIN=$(readlink -f "$1" 2>/dev/null || true)
	missing=()
	[[ $(id -u) -eq 0 ]] || missing+=("not root (the lab needs network namespaces)")
	[[ -n $BENCH_BIN && -x $BENCH_BIN ]] || missing+=("no executable $1 (run make build)")
	local labmiss
	if ! labmiss=$(bash "$LAB" check 2>&1); then
		missing+=("lab.sh check: $(tr '\n' ';' <<<"$labmiss" | sed 's/;$//')")
	fi
	[[ ${BASH_VERSINFO[0]} -ge 5 ]] || missing+=("bash >= 5 (EPOCHREALTIME)")
}

# bench_missing exits with one line naming everything that is missing.
bench_missing() {
	if ((${#missing[@]})); then
		(IFS=';'; printf '%s: prerequisites missing: %s\n' "$PROG" "${missing[*]}" >&2)
		exit 1
	fi
}

# bench_cleanup_on_exit DIR takes the lab LAB_ID down and removes the
# work directory DIR when the script ends, however it ends; the exit code
# is kept.
bench_cleanup_on_exit() {
	_bench_work=$1
	trap _bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
}

_bench_cleanup() {
	local rc=$?
	if [[ -n ${LAB_ID:-} ]]; then
		bash "$LAB" down "$LAB_ID" >>"$_bench_work/lab.log" 2>&1 || printf '%s: lab.sh down %s failed\n' "$PROG" "$LAB_ID" >&2
	fi
	rm -rf "$_bench_work"
	exit "$rc"
}

# bench_stats DECIMALS NONE: "median min max" of the numbers on stdin, one a
# line, each with DECIMALS decimals; NONE when there are none. Each script's
# med_min_max picks its precision and its empty answer.
bench_stats() {
	sort -g | awk -v d="$1" -v none="$2" '{ a[NR] = $1 }
		END {
			if (NR == 0) { print none; exit }
			m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			f = "%." d "f %." d "f %." d "f\n"
			printf f, m, a[1], a[NR]
		}'
}

# median: the first field of the script's med_min_max.
median() { med_min_max | awk '{print $1}'; }
