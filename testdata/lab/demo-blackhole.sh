#!/usr/bin/env bash
# demo-blackhole.sh [SMTPPROBE] - the PMTU black hole of the third field report, on screen
# (README.md, "A demo of the black hole"; `make demo-blackhole`). Needs root.
#
# Builds the lab of lab.sh (--quick: client - r1 - r2 - server, real Postfix, a 1400-byte
# link between the routers) with the ICMP "fragmentation needed" dropped on both routers:
# a PMTU black hole in both directions. Runs mx, mtu and path against it, explains each
# output, and tears everything down, also on Ctrl-C. About 10 to 20 seconds.
# Exit 0 when every verdict was the expected one, 1 otherwise.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${1:-smtpprobe}
[[ $bin == */* ]] && bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
command -v "$bin" >/dev/null 2>&1 || { echo "demo-blackhole: no smtpprobe binary at \"$bin\" (make build first)" >&2; exit 1; }
if [[ $(id -u) -ne 0 ]]; then
	echo "demo-blackhole: needs root to build network namespaces: sudo make demo-blackhole (make demo runs without)" >&2
	exit 1
fi

bold=$'\e[1m' off=$'\e[0m'
[[ -t 1 && -z ${NO_COLOR:-} ]] || bold='' off=''
say() { printf '%s\n' "$*" | fold -s -w 78; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }

started=$SECONDS
LAB_ID=""
cleanup() {
	if [[ -n $LAB_ID ]]; then
		bash "$here/lab.sh" down "$LAB_ID" >/dev/null 2>&1 || true
		say "(lab $LAB_ID torn down: namespaces, Postfix and dnsmasq are gone)"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Building the lab: client - r1 - r2 - server, link r1-r2 with MTU 1400"
say "Routers r1 and r2 drop ICMP type 3 code 4 (\"fragmentation needed\"), as a firewall that blocks all ICMP does: packets above 1400 bytes vanish without a word, in both directions."
env=$(bash "$here/lab.sh" up --quick --icmp drop --icmp-reverse drop 2>/dev/null) || { echo "demo-blackhole: lab.sh up failed; run testdata/lab/lab.sh check" >&2; exit 1; }
while IFS='=' read -r k v; do
	case $k in LAB_ID | LAB_CLIENT_NS | LAB_DNS) printf -v "$k" '%s' "$v" ;; esac
done <<<"$env"
say "Up in $((SECONDS - started)) s: lab $LAB_ID; the probe runs in namespace $LAB_CLIENT_NS, DNS $LAB_DNS."

fails=0
# run WANT_EXIT ARGS...: show the command, run it in the client namespace, check the exit code.
run() {
	local want=$1 rc=0
	shift
	printf '\n$ smtpprobe %s\n' "$*"
	ip netns exec "$LAB_CLIENT_NS" "$bin" "$@" --resolver "$LAB_DNS" || rc=$?
	if [[ $rc -eq $want ]]; then
		say "(exit $rc, as expected)"
	else
		say "(exit $rc; expected $want)"
		fails=$((fails + 1))
	fi
}

step "1. mx: what a sending MTA meets"
run 2 mx ok.lab.example -4
say "The greeting and EHLO are small and pass. The TLS ClientHello does not fit in one 1400-byte packet: its full-size segment vanishes, is retransmitted, vanishes again. A sender would log a TLS timeout; smtpprobe names it pmtu-blackhole within a few hundred milliseconds, says which write stalled and the largest size acknowledged, and shows that the same hello in smaller writes completes."

step "2. mtu: the size, in both directions"
run 2 mtu mx1.lab.example -4
say "mtu brackets the path MTU on port 25 itself, with DF set and the MSS clamped per session: the bracket [1400, 1401] means 1400-byte packets arrive and 1401-byte ones vanish, and no ICMP came back: a black hole, not working PMTU discovery. It tests the reverse direction too (the server's certificate chain toward us), and locates the small link between two hops. Fix: let ICMP type 3 code 4 through, or clamp the MSS on the router."

step "3. path: the route is fine, the size is not"
run 0 path mx1.lab.example -4
say "path sends SYNs with TTL 1, 2, 3 on port 25 and reads each router's time-exceeded: r1, r2, then the server's SYN-ACK. Small packets reach the server, so no filter blocks port 25; the problem is size alone. On a port-25 filter, path names the hop where SYNs stop instead."

step "Done in $((SECONDS - started)) s"
if ((fails)); then
	say "$fails verdict(s) differed from the expected ones."
	exit 1
fi
say "Every verdict was the expected one: mx and mtu CRITICAL pmtu-blackhole (exit 2), path OK (exit 0)."
