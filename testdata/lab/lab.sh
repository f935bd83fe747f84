#!/usr/bin/env bash
# lab.sh - a network-namespace lab for smtpprobe's end-to-end tests (README.md, "The lab").
#
#   client ──── r1 ════ r2 ──── server
#   198.18.1.0/24   198.18.2.0/24    198.18.3.0/24
#   2001:db8:1::/64 2001:db8:2::/64  2001:db8:3::/64
#                   (bottleneck MTU)
#
# The server namespace holds:
#   198.18.3.10  2001:db8:3::10  Postfix (mx1.lab.example), STARTTLS, smtpd_timeout from --smtpd-timeout
#   198.18.3.20  2001:db8:3::20  tcp/25 silently dropped by nftables  -> connect-timeout
#   198.18.3.30  2001:db8:3::30  nothing listens                      -> refused (RST)
#   198.18.3.40  2001:db8:3::40  Postfix smtpd that rejects EHLO/HELO -> rejected (5xx)
#   198.18.3.53  2001:db8:3::53  dnsmasq serving lab.example
#   198.18.3.41-.65, ::54, ::55  no-STARTTLS Postfix, DNSSEC, validating unbound (LAB_POLICY_DNS), MTA-STS (policy.sh)
#   198.18.3.70-.74, ::70-::74   Exim, sendmail, OpenSMTPD, postscreen, tarpit (servers.sh)
# 198.18.99.1 / 2001:db8:99::1 (unreachable.lab.example) have no route on r1 -> ICMP unreachable.
# ICMP rejections of tcp/25 (nftables reject with icmpx ...; other ports answer as usual, RST):
#   198.18.3.21  2001:db8:3::21  prohibited.lab.example   the server rejects: admin-prohibited (3/13, ICMPv6 1/1)
#   198.18.3.22  2001:db8:3::22  filtered.lab.example     r2 rejects: admin-prohibited, from 198.18.2.2 / 2001:db8:2::2
#   198.18.3.23  2001:db8:3::23  hostunreach.lab.example  r2 rejects: host-unreachable (3/1, ICMPv6 1/3)
#   198.18.3.24  2001:db8:3::24  netunreach.lab.example   r2 rejects: no-route (net unreachable 3/0, ICMPv6 1/0)
#   198.18.3.25  2001:db8:3::25  hostreject.lab.example   the server rejects: host-unreachable (3/1, ICMPv6 1/3);
#                                the server keeps Linux's ICMP rate limit (about 1/s per destination after
#                                a burst of 6), the routers have none (but see ptb-limit)
# Hops from the client: 1 r1 (198.18.1.1, 2001:db8:1::1), 2 r2 (198.18.2.2, 2001:db8:2::2), 3 the server.
#
# Usage:
#   lab.sh up [--mtu N] [--smtpd-timeout S] [--icmp drop|allow] [--icmp-reverse drop|allow]
#             [--clamp on|off] [--loss N] [--in-flow-delay S]
#                        build a lab; print KEY=VALUE lines on stdout (everything else on stderr):
#                        LAB_ID LAB_CLIENT_NS LAB_R1_NS LAB_R2_NS LAB_SERVER_NS LAB_DIR LAB_DNS
#                        LAB_DNS6 LAB_MAILLOG LAB_TLS_CERT LAB_TLS_CHAIN LAB_MTU LAB_SMTPD_TIMEOUT
#                        LAB_ICMP LAB_ICMP_REVERSE LAB_CLAMP LAB_LOSS LAB_IN_FLOW_DELAY
#                        defaults: --mtu 1400 --smtpd-timeout 5s --icmp allow --icmp-reverse allow
#                        --clamp off --loss 0 --in-flow-delay 1s (Postfix's stock default)
#                        LAB_TLS_CERT is the lab root CA (trust it with SSL_CERT_FILE); Postfix
#                        serves the chain LAB_TLS_CHAIN: leaf, then the intermediate CA (several KB)
#                        --quick: the core lab only (no policy.sh services: signed zone, unbound,
#                        MTA-STS), 2048-bit CA keys; up in a few seconds
#                        --cheat-sheet: then print every lab target and its expected verdict on stderr
#   lab.sh cheat-sheet [ID]
#                        every lab target, what it is and the verdict to expect (`make lab` prints it)
#   lab.sh client2 ID    add a second client namespace (198.18.4.2, 2001:db8:4::2) behind r1, whose
#                        tcp/25 r1 drops (an ISP's port-25 block); prints LAB_CLIENT2_NS=...
#   lab.sh down ID       tear a lab down (idempotent)
#   lab.sh icmp ID drop|allow
#                        drop|allow ICMP frag-needed / ICMPv6 packet-too-big on r1 (PMTU black hole
#                        for client->server traffic)
#   lab.sh icmp-reverse ID drop|allow
#                        the same on r2, for the ICMP r2 sends toward the server (black hole for
#                        server->client traffic)
#   lab.sh clamp ID on|off
#                        MSS clamping on r1: tcp flags syn tcp option maxseg size set rt mtu
#   lab.sh loss ID N     drop N % (0..50) of forwarded TCP packets at random on r2, both ways
#                        (nftables numgen; this kernel has no netem); 0 removes the rule
#   lab.sh mtu ID N      set the bottleneck (r1-r2) MTU
#   lab.sh udp ID drop|allow
#                        drop|allow UDP to ports 33434-33534 (traceroute's, and smtpprobe's DF datagrams)
#                        on r2, towards the server: no port unreachable comes back, so ICMP delivery
#                        cannot be tested without TCP (issue 17); the lab starts with allow
#   lab.sh ptb-limit ID N|off
#                        r1 sends at most N ICMP frag-needed / packet-too-big a second (nftables
#                        "limit rate over N/second" drop on its output), as routers rate-limit ICMP
#   lab.sh bottleneck2 ID N|off
#                        a second, silent bottleneck on r2 toward the server: forwarded packets
#                        larger than N bytes (IPv4 total length, IPv6 payload + 40) are dropped
#                        without ICMP, while r1's bottleneck answers as set by icmp
#   lab.sh middlebox ID on|off
#                        a TLS-inspecting middlebox on r1 (issue 18): drop client->server segments to
#                        tcp/25 whose payload starts a TLS ClientHello (record type 0x16, handshake
#                        type 0x01) in a packet over 1000 bytes, IPv4 and IPv6; other segments pass
#   lab.sh env ID        print the KEY=VALUE lines of a running lab again
#   lab.sh list          print the ids of labs whose namespaces exist
#   lab.sh check         exit non-zero, one line per missing prerequisite
#
# Only 198.18.0.0/15 and 2001:db8::/32 are used, only inside namespaces this script creates.
# Nothing is added to the root namespace and nothing routes out of the lab.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" # ip, nft, postfix, dnsmasq live there; root via plain su lacks them

PROG=lab.sh
ID_RE='^spl[0-9a-f]{5}$'
DNS4=198.18.3.53
DNS6=2001:db8:3::53
# shellcheck source=policy.sh
source "$(dirname "${BASH_SOURCE[0]}")/policy.sh" # issue 12: signed zone, validating unbound, MTA-STS
# shellcheck source=servers.sh
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh" # issue 18: Exim, sendmail, OpenSMTPD, postscreen, tarpit

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() {
	sed -n '/^# Usage:/,/^# Only/p' "$0" | sed -e 's/^# \{0,1\}//' -e '/^Only/d' >&2
	exit 2
}

lab_dir() { printf '/tmp/smtpprobe-lab-%s' "$1"; }
ns_of() { printf '%s-%s' "$1" "$2"; } # ns_of ID client|r1|r2|server
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

check_id() {
	[[ $1 =~ $ID_RE ]] || die "bad lab id \"$1\": want spl followed by 5 hex digits"
}

# wait_until TRIES SLEEP CMD...: run CMD until it succeeds, at most TRIES times.
wait_until() {
	local tries=$1 pause=$2 i
	shift 2
	for ((i = 0; i < tries; i++)); do
		if "$@"; then return 0; fi
		sleep "$pause"
	done
	return 1
}

# ---------------------------------------------------------------- check

cmd_check() {
	local missing=0 t
	if [[ $(id -u) -ne 0 ]]; then
		echo "not root: the lab needs root to create network namespaces"
		missing=1
	fi
	for t in ip nft postfix postconf dnsmasq openssl timeout "${POLICY_TOOLS[@]}"; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "missing command: $t"
			missing=1
		fi
	done
	local sp
	if ! sp=$(servers_check); then
		echo "$sp"
		missing=1
	fi
	if [[ ! -e /proc/self/ns/net ]]; then
		echo "no network namespace support: /proc/self/ns/net is missing"
		missing=1
	elif [[ $(id -u) -eq 0 ]] && command -v ip >/dev/null 2>&1; then
		local probe="splchk$$"
		if ip netns add "$probe" >/dev/null 2>&1; then
			ip netns del "$probe" >/dev/null 2>&1 || true
		else
			echo "no network namespace support: ip netns add failed"
			missing=1
		fi
	fi
	return "$missing"
}

# ---------------------------------------------------------------- down

# kill_ns_pids NS: end every process in namespace NS (all of them were started by this lab).
kill_ns_pids() {
	local ns=$1 pids i
	pids=$(ip netns pids "$ns" 2>/dev/null || true)
	[[ -n $pids ]] || return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for ((i = 0; i < 30; i++)); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[[ -n $pids ]] || return 0
		sleep 0.1
	done
	log "$ns: killing stubborn processes: $pids"
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	wait_until 20 0.1 test -z "$(ip netns pids "$ns" 2>/dev/null || true)" || log "$ns: processes left: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
}

down_lab() {
	local id=$1 dir role ns
	dir=$(lab_dir "$id")
	ns=$(ns_of "$id" server)
	if [[ -f $dir/postfix/main.cf && -e /run/netns/$ns ]]; then
		timeout 20 ip netns exec "$ns" postfix -c "$dir/postfix" stop >>"$dir/postfix.ctl.log" 2>&1 || true
	fi
	if [[ -s $dir/dnsmasq.pid ]]; then
		local pid
		pid=$(<"$dir/dnsmasq.pid")
		# only if that pid really is a dnsmasq inside this lab
		if [[ $pid =~ ^[0-9]+$ ]] && ip netns pids "$ns" 2>/dev/null | grep -qx "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	fi
	for role in server r2 r1 client client2; do
		ns=$(ns_of "$id" "$role")
		if [[ -e /run/netns/$ns ]]; then
			kill_ns_pids "$ns"
			ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
		fi
		rm -rf "/etc/netns/$ns"
	done
	rm -rf "$dir"
}

cmd_down() {
	[[ $# -eq 1 ]] || usage
	check_id "$1"
	down_lab "$1"
	log "lab $1 is down"
}

# ---------------------------------------------------------------- icmp / mtu / clamp / loss

NFT_TABLE=smtpprobe_lab

# Both routers get the same table; each switch owns its chains, so that one
# switch never undoes another:
#   forward, output  the PMTU black hole (ICMP drop)
#   clamp            MSS clamping (r1 only)
#   loss             random loss (r2 only)
router_table() {
	nsx "$1" nft -f - <<-EOF
		table inet $NFT_TABLE {
			chain forward { type filter hook forward priority 0; policy accept; }
			chain output { type filter hook output priority 0; policy accept; }
			chain clamp { type filter hook forward priority mangle; policy accept; }
			chain loss { type filter hook forward priority -10; policy accept; }
		}
	EOF
}

# set_icmp NS drop|allow: the PMTU black hole. A router itself generates the frag-needed /
# packet-too-big for traffic whose egress is the bottleneck link (r1 for client->server,
# r2 for server->client), so the drop sits on its output hook as well as on forward
# (ICMP from further along the path).
set_icmp() {
	local ns=$1 mode=$2 rules=""
	if [[ $mode == drop ]]; then
		local c
		for c in forward output; do
			rules+="add rule inet $NFT_TABLE $c icmp type destination-unreachable icmp code frag-needed counter drop"$'\n'
			rules+="add rule inet $NFT_TABLE $c icmpv6 type packet-too-big counter drop"$'\n'
		done
	fi
	nsx "$ns" nft -f - <<-EOF
		flush chain inet $NFT_TABLE forward
		flush chain inet $NFT_TABLE output
		$rules
	EOF
}

# set_clamp NS on|off: rewrite the MSS option of forwarded SYNs (and SYN-ACKs) to what the
# route allows. nftables' "rt mtu" takes the smaller of the route towards the packet's
# destination and the route back to its source (like iptables TCPMSS --clamp-mss-to-pmtu),
# so on r1 both the client's SYN and the server's SYN-ACK are clamped to the bottleneck.
set_clamp() {
	local ns=$1 mode=$2 rules=""
	if [[ $mode == on ]]; then
		rules="add rule inet $NFT_TABLE clamp tcp flags syn tcp option maxseg size set rt mtu counter"
	fi
	nsx "$ns" nft -f - <<-EOF
		flush chain inet $NFT_TABLE clamp
		$rules
	EOF
}

# set_loss NS N: drop N % of forwarded TCP packets at random (both directions). Only TCP:
# the lab's DNS and ICMP stay clean, so a loss test measures what TCP does with loss.
set_loss() {
	local ns=$1 n=$2 rules=""
	if ((n > 0)); then
		rules="add rule inet $NFT_TABLE loss meta l4proto tcp numgen random mod 100 < $n counter drop"
	fi
	nsx "$ns" nft -f - <<-EOF
		flush chain inet $NFT_TABLE loss
		$rules
	EOF
}

set_state() { # set_state DIR KEY VALUE: keep lab.env current
	local f=$1/lab.env
	[[ -f $f ]] || return 0
	sed -i "s|^$2=.*|$2=$3|" "$f"
}

# running_router ID ROLE: the namespace of a running lab's router, or die.
running_router() {
	check_id "$1"
	local ns
	ns=$(ns_of "$1" "$2")
	[[ -e /run/netns/$ns ]] || die "lab $1 is not running"
	printf '%s' "$ns"
}

cmd_icmp() {
	[[ $# -eq 2 ]] || usage
	[[ $2 == drop || $2 == allow ]] || die "icmp mode \"$2\": want drop or allow"
	local ns
	ns=$(running_router "$1" r1)
	set_icmp "$ns" "$2"
	set_state "$(lab_dir "$1")" LAB_ICMP "$2"
	log "lab $1: icmp $2"
}

cmd_icmp_reverse() {
	[[ $# -eq 2 ]] || usage
	[[ $2 == drop || $2 == allow ]] || die "icmp-reverse mode \"$2\": want drop or allow"
	local ns
	ns=$(running_router "$1" r2)
	set_icmp "$ns" "$2"
	set_state "$(lab_dir "$1")" LAB_ICMP_REVERSE "$2"
	log "lab $1: icmp-reverse $2"
}

cmd_clamp() {
	[[ $# -eq 2 ]] || usage
	[[ $2 == on || $2 == off ]] || die "clamp mode \"$2\": want on or off"
	local ns
	ns=$(running_router "$1" r1)
	set_clamp "$ns" "$2"
	set_state "$(lab_dir "$1")" LAB_CLAMP "$2"
	log "lab $1: clamp $2"
}

valid_loss() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 <= 50)); }

cmd_loss() {
	[[ $# -eq 2 ]] || usage
	valid_loss "$2" || die "loss \"$2\": want a percentage from 0 to 50"
	local ns
	ns=$(running_router "$1" r2)
	set_loss "$ns" "$((10#$2))"
	set_state "$(lab_dir "$1")" LAB_LOSS "$((10#$2))"
	log "lab $1: loss $((10#$2)) %"
}

valid_mtu() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 >= 1280 && 10#$1 <= 1500)); }

set_mtu() { # set_mtu ID N
	local id=$1 mtu=$2 role
	nsx "$(ns_of "$id" r1)" ip link set dev r1-r2 mtu "$mtu"
	nsx "$(ns_of "$id" r2)" ip link set dev r2-r1 mtu "$mtu"
	# forget learned path MTUs so the next probe starts fresh
	for role in client r1 r2 server; do
		nsx "$(ns_of "$id" "$role")" ip -4 route flush cache 2>/dev/null || true
		nsx "$(ns_of "$id" "$role")" ip -6 route flush cache 2>/dev/null || true
	done
}

cmd_mtu() {
	[[ $# -eq 2 ]] || usage
	check_id "$1"
	valid_mtu "$2" || die "mtu \"$2\": want an integer from 1280 to 1500 (IPv6 needs >= 1280)"
	[[ -e /run/netns/$(ns_of "$1" r1) ]] || die "lab $1 is not running"
	set_mtu "$1" "$((10#$2))"
	set_state "$(lab_dir "$1")" LAB_MTU "$((10#$2))"
	log "lab $1: bottleneck mtu $((10#$2))"
}

cmd_env() {
	[[ $# -eq 1 ]] || usage
	check_id "$1"
	local f
	f=$(lab_dir "$1")/lab.env
	[[ -f $f ]] || die "lab $1 is not running"
	cat "$f"
}

cmd_list() {
	ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^\(spl[0-9a-f]\{5\}\)-client$/\1/p'
}

# ---------------------------------------------------------------- ICMP rate limit, second bottleneck (issue 17)

# set_ptb_limit NS N|off: the router's own frag-needed / packet-too-big go out at most N a
# second; the rest are dropped (a chain of its own, so icmp's flush never undoes it).
set_ptb_limit() {
	local ns=$1 n=$2 rules=""
	if [[ $n != off ]]; then
		rules="add rule inet $NFT_TABLE ptblimit icmp type destination-unreachable icmp code frag-needed limit rate over $n/second burst 1 packets counter drop"$'\n'
		rules+="add rule inet $NFT_TABLE ptblimit icmpv6 type packet-too-big limit rate over $n/second burst 1 packets counter drop"
	fi
	nsx "$ns" nft -f - <<-EOF
		add chain inet $NFT_TABLE ptblimit { type filter hook output priority 10; policy accept; }
		flush chain inet $NFT_TABLE ptblimit
		$rules
	EOF
}

# set_bottleneck2 NS N|off: drop forwarded packets above N bytes toward the server, silently.
set_bottleneck2() {
	local ns=$1 n=$2 rules=""
	if [[ $n != off ]]; then
		rules="add rule inet $NFT_TABLE bottleneck2 oifname r2-s ip length > $n counter drop"$'\n'
		rules+="add rule inet $NFT_TABLE bottleneck2 oifname r2-s ip6 length > $((n - 40)) counter drop"
	fi
	nsx "$ns" nft -f - <<-EOF
		add chain inet $NFT_TABLE bottleneck2 { type filter hook forward priority 5; policy accept; }
		flush chain inet $NFT_TABLE bottleneck2
		$rules
	EOF
}

cmd_ptb_limit() {
	[[ $# -eq 2 ]] || usage
	[[ $2 == off || $2 =~ ^[1-9][0-9]{0,3}$ ]] || die "ptb-limit \"$2\": want a rate a second (1..9999) or off"
	local ns
	ns=$(running_router "$1" r1)
	set_ptb_limit "$ns" "$2"
	log "lab $1: ptb-limit $2"
}

cmd_bottleneck2() {
	[[ $# -eq 2 ]] || usage
	[[ $2 == off ]] || valid_mtu "$2" || die "bottleneck2 \"$2\": want a size from 1280 to 1500 or off"
	local ns
	ns=$(running_router "$1" r2)
	set_bottleneck2 "$ns" "$2"
	log "lab $1: bottleneck2 $2"
}

# ---------------------------------------------------------------- middlebox (issue 18)

# set_middlebox NS on|off: the firewall of the post-quantum field reports (openssl/openssl#27557,
# AWS Network Firewall with Suricata 6, tldr.fail), per segment: a forwarded segment to tcp/25
# whose TCP payload begins a TLS handshake record (@ih,0,8: content type 22) holding a
# ClientHello (@ih,40,8: handshake type 1), in an IP packet over 1000 bytes (meta length, the
# IPv4 total length or the IPv6 payload plus its 40-byte header), is dropped. A ClientHello
# with an X25519MLKEM768 key share (about 1.5 KB) fills a full-size segment and vanishes;
# a classical one (about 300 bytes) passes, and so does every segment that does not begin
# a ClientHello (the rest of a split hello, the mtu probe's data after its first segment).
# Its own chain on r1, so that the other switches never undo it.
set_middlebox() {
	local ns=$1 mode=$2 rules=""
	if [[ $mode == on ]]; then
		rules="add rule inet $NFT_TABLE middlebox meta l4proto tcp tcp dport 25 meta length > 1000 @ih,0,8 0x16 @ih,40,8 0x01 counter drop"
	fi
	nsx "$ns" nft -f - <<-EOF
		add chain inet $NFT_TABLE middlebox { type filter hook forward priority 5; policy accept; }
		flush chain inet $NFT_TABLE middlebox
		$rules
	EOF
}

cmd_middlebox() {
	[[ $# -eq 2 ]] || usage
	[[ $2 == on || $2 == off ]] || die "middlebox mode \"$2\": want on or off"
	local ns f
	ns=$(running_router "$1" r1)
	set_middlebox "$ns" "$2"
	f=$(lab_dir "$1")/lab.env
	if [[ -f $f ]] && ! grep -q '^LAB_MIDDLEBOX=' "$f"; then
		printf 'LAB_MIDDLEBOX=off\n' >>"$f"
	fi
	set_state "$(lab_dir "$1")" LAB_MIDDLEBOX "$2"
	log "lab $1: middlebox $2"
}

# ---------------------------------------------------------------- udp (issue 17)

# set_udp NS drop|allow: a table of its own on r2, so that no other switch undoes it.
UDP_TABLE=smtpprobe_lab_udp
set_udp() {
	local ns=$1 mode=$2
	nsx "$ns" nft -f - <<-EOF
		table inet $UDP_TABLE {
			chain forward { type filter hook forward priority 0; policy accept; }
		}
		flush chain inet $UDP_TABLE forward
	EOF
	if [[ $mode == drop ]]; then
		nsx "$ns" nft add rule inet "$UDP_TABLE" forward udp dport 33434-33534 counter drop
	fi
}

cmd_udp() {
	[[ $# -eq 2 ]] || usage
	[[ $2 == drop || $2 == allow ]] || die "udp mode \"$2\": want drop or allow"
	local ns
	ns=$(running_router "$1" r2)
	set_udp "$ns" "$2"
	log "lab $1: udp $2"
}

# ---------------------------------------------------------------- rejections (issue 13)

# The ICMP rejections: addresses on the server whose tcp/25 SYNs are rejected with ICMP by
# the server itself or by r2 (see the header). Each side gets its own chain, so that
# the other switches (which flush their own chains) never undo them.
REJECT_SERVER=(21:admin-prohibited 25:host-unreachable)
REJECT_R2=(22:admin-prohibited 23:host-unreachable 24:no-route)
REJECT_NAMES=(21:prohibited 22:filtered 23:hostunreach 24:netunreach 25:hostreject)

reject_rules() { # reject_rules CHAIN LAST:KIND...
	local chain=$1 r
	shift
	for r in "$@"; do
		printf 'add rule inet %s %s ip daddr 198.18.3.%s tcp dport 25 counter reject with icmpx type %s\n' "$NFT_TABLE" "$chain" "${r%%:*}" "${r##*:}"
		printf 'add rule inet %s %s ip6 daddr 2001:db8:3::%s tcp dport 25 counter reject with icmpx type %s\n' "$NFT_TABLE" "$chain" "${r%%:*}" "${r##*:}"
	done
}

setup_rejections() { # setup_rejections SERVER_NS R2_NS
	local s=$1 r2=$2 r
	for r in "${REJECT_NAMES[@]}"; do
		addr "$s" s-r2 "198.18.3.${r%%:*}/24" "2001:db8:3::${r%%:*}/64"
	done
	nsx "$s" nft -f - <<-EOF
		add chain inet $NFT_TABLE rejects { type filter hook input priority 10; policy accept; }
		$(reject_rules rejects "${REJECT_SERVER[@]}")
	EOF
	nsx "$r2" nft -f - <<-EOF
		add chain inet $NFT_TABLE rejects { type filter hook forward priority 10; policy accept; }
		$(reject_rules rejects "${REJECT_R2[@]}")
	EOF
}

rejection_dns_args() {
	local r
	for r in "${REJECT_NAMES[@]}"; do
		DNSMASQ_ARGS+=(--host-record="${r##*:}.lab.example,198.18.3.${r%%:*},2001:db8:3::${r%%:*}")
	done
}

# ---------------------------------------------------------------- a second vantage point (issue 20)

# cmd_client2 ID: a second client namespace, ID-client2 (198.18.4.2/24, 2001:db8:4::2/64),
# behind r1 like the first, whose tcp/25 r1 drops as an ISP blocking port 25 does: the
# same server seen from a place where port 25 is filtered near the client. Other ports
# (an exporter on 198.18.4.2:9465) stay reachable from the rest of the lab.
cmd_client2() {
	[[ $# -eq 1 ]] || usage
	local r1 c2
	r1=$(running_router "$1" r1)
	c2=$(ns_of "$1" client2)
	[[ ! -e /run/netns/$c2 ]] || die "lab $1 already has $c2"
	ip netns add "$c2"
	nsx "$c2" ip link set dev lo up
	nsx "$c2" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
	mkdir -p "/etc/netns/$c2"
	printf 'nameserver %s\nnameserver %s\noptions timeout:1 attempts:1\n' "$DNS4" "$DNS6" >"/etc/netns/$c2/resolv.conf"
	link "$1" "$c2" c2-r1 "$r1" r1-c2
	addr "$c2" c2-r1 198.18.4.2/24 2001:db8:4::2/64
	addr "$r1" r1-c2 198.18.4.1/24 2001:db8:4::1/64
	nsx "$c2" ip -4 route add 198.18.0.0/15 via 198.18.4.1
	nsx "$c2" ip -6 route add 2001:db8::/32 via 2001:db8:4::1
	nsx "$(ns_of "$1" r2)" ip -4 route add 198.18.4.0/24 via 198.18.2.1
	nsx "$(ns_of "$1" r2)" ip -6 route add 2001:db8:4::/64 via 2001:db8:2::1
	nsx "$r1" nft -f - <<-EOF
		add chain inet $NFT_TABLE port25block { type filter hook forward priority 5; policy accept; }
		add rule inet $NFT_TABLE port25block iifname "r1-c2" tcp dport 25 counter drop
	EOF
	set_state "$(lab_dir "$1")" LAB_CLIENT2_NS "$c2"
	grep -q '^LAB_CLIENT2_NS=' "$(lab_dir "$1")/lab.env" || echo "LAB_CLIENT2_NS=$c2" >>"$(lab_dir "$1")/lab.env"
	log "lab $1: second client $c2 (198.18.4.2, 2001:db8:4::2) behind r1, tcp/25 dropped at r1"
	printf 'LAB_CLIENT2_NS=%s\n' "$c2"
}

# ---------------------------------------------------------------- cheat sheet (issue 20)

# CHEAT: "ARGS|EXIT|what it is and the verdict", one per lab target. The e2e test
# TestLabCheatSheet runs every line in a lab and checks its exit code.
CHEAT=(
	"mx ok.lab.example|0|OK: mx1 (198.18.3.10, 2001:db8:3::10), Postfix with STARTTLS"
	"mx mixed.lab.example|1|WARNING: mx1 ok, dropped (connect-timeout, SYNs die after hop 2), closed (refused)"
	"mx down.lab.example|2|CRITICAL: no exchanger answers: dropped and closed"
	"mx reject.lab.example|2|CRITICAL rejected: a Postfix that answers EHLO and HELO with 554"
	"mx cname.lab.example|1|WARNING mx-cname: the MX is a CNAME (RFC 2181 §10.3)"
	"mx literal.lab.example|1|WARNING: the MX is an IP address, not a host name"
	"mx implicit.lab.example|0|OK: no MX, mail goes to the A/AAAA (implicit MX, RFC 5321 §5.1)"
	"mx nullmx.lab.example|2|CRITICAL null-mx: MX 0 . (RFC 7505)"
	"mx nosuch.lab.example|2|CRITICAL dns-error: NXDOMAIN"
	"mx unreach.lab.example|2|CRITICAL unreachable: r1 has no route (ICMP net unreachable)"
	"mx prohibited.lab.example|2|CRITICAL unreachable: the server rejects port 25 (ICMP admin-prohibited)"
	"mx filtered.lab.example|2|CRITICAL unreachable: r2 (hop 2) rejects port 25 (admin-prohibited)"
	"mx hostunreach.lab.example|2|CRITICAL unreachable: r2 answers host-unreachable"
	"mx netunreach.lab.example|2|CRITICAL unreachable: r2 answers net-unreachable"
	"mx 198.18.3.10|0|OK: an address, probed without an MX lookup"
	"session ok.lab.example --to postmaster@lab.example|0|OK: a transaction up to the body, no mail delivered"
	"timeout mx1.lab.example --phase ehlo|1|WARNING server-timeout: Postfix hangs up after smtpd_timeout (5 s)"
	"timeout exim.lab.example --phase ehlo -4|1|WARNING server-timeout: Exim's 421 after smtp_receive_timeout (9 s), advice in Exim's words"
	"timeout sendmail.lab.example --phase ehlo -4|1|WARNING server-timeout: sendmail's bare FIN after Timeout.command (6 s)"
	"session postscreen.lab.example -4 --retry-deferral|0|OK: postscreen's 220- teaser, 450 4.3.2 to a new client, the retry passes"
	"session tarpit.lab.example -4|0|OK greeting-delayed: the banner comes 4 s late (a tarpit); with --timeout 2s: greeting-timeout"
	"mtu mx1.lab.example -4|0|OK pmtud-working: path MTU 1400 (bottleneck r1-r2); after lab.sh icmp ID drop: CRITICAL pmtu-blackhole"
	"path mx1.lab.example -4|0|OK: hop 1 r1, hop 2 r2, SYN-ACK at hop 3"
	"path dropped.lab.example -4|2|CRITICAL connect-timeout: SYNs to 198.18.3.20 die after hop 2, port 587 answers"
	"path filtered.lab.example -4|2|CRITICAL unreachable: admin-prohibited from hop 2 (198.18.2.2)"
)

# cheat_sheet [ID]: print the sheet, with the commands for lab ID (placeholders without one).
cheat_sheet() {
	local ns='$LAB_CLIENT_NS' e args code what
	[[ -n ${1:-} ]] && ns=$(ns_of "$1" client)
	printf '\nLab targets: run each in the client namespace with the lab resolver, e.g.\n'
	printf '  ip netns exec %s smtpprobe mx ok.lab.example --resolver %s\n\n' "$ns" "$DNS4"
	printf '  %-58s %-5s %s\n' "COMMAND (+ --resolver $DNS4)" EXIT "WHAT IT IS, THE VERDICT TO EXPECT"
	for e in "${CHEAT[@]}"; do
		IFS='|' read -r args code what <<<"$e"
		printf '  %-58s %-5s %s\n' "smtpprobe $args" "$code" "$what"
	done
	printf '\n  Switches: lab.sh icmp ID drop (forward PMTU black hole), icmp-reverse ID drop,\n'
	printf '  clamp ID on, loss ID N, mtu ID N; policy cases (MTA-STS, DANE): README, "MTA-STS, DANE and TLS-RPT".\n'
	[[ -n ${1:-} ]] && printf '  Tear down: make lab-down LAB_ID=%s\n' "$1"
	return 0
}

cmd_cheat_sheet() {
	[[ $# -le 1 ]] || usage
	[[ $# -eq 0 ]] || check_id "$1"
	cheat_sheet "$@"
}

# ---------------------------------------------------------------- up

LAB_ID=""
UP_DONE=0
# --quick (issue 20: the black-hole demo): the core lab only, without policy.sh's
# services, and 2048-bit CA keys (4096-bit ones take seconds to generate).
QUICK=0
CA_BITS=4096

on_up_exit() {
	local rc=$?
	if [[ $UP_DONE -ne 1 && -n $LAB_ID ]]; then
		log "lab $LAB_ID failed to come up (exit $rc); cleaning up"
		down_lab "$LAB_ID" || true
	fi
}

new_id() {
	local i id
	for ((i = 0; i < 20; i++)); do
		id="spl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-5)"
		if [[ ! -e /run/netns/$id-client && ! -e $(lab_dir "$id") ]]; then
			printf '%s' "$id"
			return 0
		fi
	done
	die "could not find a free lab id"
}

# link ID A AIF B BIF: a veth pair created directly inside the two namespaces.
link() {
	ip link add "$3" netns "$2" type veth peer name "$5" netns "$4"
}

addr() { # addr NS IF CIDR...
	local ns=$1 ifc=$2 a
	shift 2
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			nsx "$ns" ip -6 addr add "$a" dev "$ifc" nodad
		else
			nsx "$ns" ip -4 addr add "$a" dev "$ifc"
		fi
	done
	nsx "$ns" ip link set dev "$ifc" up
}

# make_chain DIR: root.crt (the trust anchor), inter.crt, mx1.crt, mx1.key and
# chain.pem (leaf then intermediate, what Postfix serves).
make_chain() {
	local d=$1
	(
		set -e
		cd "$d"
		openssl req -x509 -newkey "rsa:$CA_BITS" -nodes -days 30 -subj "/O=smtpprobe lab/CN=smtpprobe lab root CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
			-keyout root.key -out root.crt
		openssl req -new -newkey "rsa:$CA_BITS" -nodes -subj "/O=smtpprobe lab/CN=smtpprobe lab intermediate CA R1" \
			-keyout inter.key -out inter.csr
		printf '%s\n' basicConstraints=critical,CA:TRUE,pathlen:0 keyUsage=critical,keyCertSign,cRLSign \
			subjectKeyIdentifier=hash authorityKeyIdentifier=keyid:always \
			"certificatePolicies=2.23.140.1.2.1" >inter.ext
		openssl x509 -req -in inter.csr -CA root.crt -CAkey root.key -CAcreateserial -days 30 \
			-extfile inter.ext -out inter.crt
		openssl req -new -newkey rsa:2048 -nodes -subj /CN=mx1.lab.example -keyout mx1.key -out mx1.csr
		printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment \
			extendedKeyUsage=serverAuth,clientAuth subjectKeyIdentifier=hash authorityKeyIdentifier=keyid:always \
			"certificatePolicies=2.23.140.1.2.1" \
			"authorityInfoAccess=OCSP;URI:http://ocsp.lab.example/,caIssuers;URI:http://ca.lab.example/inter.crt" \
			"crlDistributionPoints=URI:http://ca.lab.example/inter.crl" \
			subjectAltName=DNS:mx1.lab.example,DNS:implicit.lab.example,DNS:alias.lab.example >mx1.ext
		openssl x509 -req -in mx1.csr -CA inter.crt -CAkey inter.key -CAcreateserial -days 30 \
			-extfile mx1.ext -out mx1.crt
		cat mx1.crt inter.crt >chain.pem
		chmod 600 mx1.key inter.key root.key
		rm -f ./*.csr ./*.ext ./*.srl
	) >/dev/null 2>&1
}

write_postfix_config() {
	local dir=$1 timeout=$2 in_flow_delay=$3 pf=$1/postfix
	mkdir -p "$pf" "$dir/spool" "$dir/data" "$dir/tls"
	chmod 755 "$pf" "$dir/spool"
	chown postfix:postfix "$dir/data"
	chmod 700 "$dir/data"
	# A chain of realistic size, as a public CA issues it: a lab root CA (4096-bit RSA),
	# an intermediate (4096-bit RSA, signed by the root) and the leaf (2048-bit RSA,
	# signed by the intermediate). Postfix serves leaf + intermediate (about 3 KB of
	# certificates, a STARTTLS flight of 3-4 KB); clients that should verify it trust the
	# root (LAB_TLS_CERT), e.g. a Go program run with SSL_CERT_FILE=$LAB_TLS_CERT. The
	# leaf's SANs cover every name an MX lookup can lead to for this server: mx1, the
	# implicit MX and the CNAME'd alias.
	make_chain "$dir/tls" || die "openssl could not make the lab certificate chain"
	((QUICK)) || policy_smtpd_certs "$dir" || die "openssl could not make the DANE-TA server's certificates" # policy.sh
	cat >"$pf/main.cf" <<-EOF
		# smtpprobe lab instance; not the host's Postfix. Generated by lab.sh.
		compatibility_level = 3.6
		queue_directory = $dir/spool
		data_directory = $dir/data
		meta_directory = /etc/postfix
		mail_owner = postfix
		setgid_group = postdrop
		myhostname = mx1.lab.example
		mydomain = lab.example
		myorigin = lab.example
		mydestination = lab.example, mx1.lab.example, ok.lab.example, mixed.lab.example, implicit.lab.example, cname.lab.example, literal.lab.example, postscreen.lab.example
		inet_interfaces = 198.18.3.10, 2001:db8:3::10
		inet_protocols = all
		mynetworks = 198.18.0.0/15 [2001:db8::]/32
		smtpd_banner = \$myhostname ESMTP Postfix (smtpprobe lab)
		smtpd_timeout = $timeout
		# Flow control as a stock Postfix has it (default 1s unless lab.sh up
		# --in-flow-delay says otherwise): every session that reaches DATA
		# and is abandoned (mtu probes, session without --deliver) takes a
		# queue-manager token that only queued mail gives back, and once they
		# are gone each new message waits in_flow_delay before its DATA.
		in_flow_delay = $in_flow_delay
		smtpd_peername_lookup = no
		biff = no
		append_dot_mydomain = no
		readme_directory = no
		# Never deliver anywhere: local mail is discarded, everything else is an error.
		relayhost =
		default_transport = error:5.7.1 smtpprobe lab delivers nothing outside
		relay_transport = error:5.7.1 smtpprobe lab delivers nothing outside
		local_transport = discard:smtpprobe lab
		alias_maps =
		alias_database =
		local_recipient_maps = inline:{ postmaster=ok, root=ok, abuse=ok, greylist=ok }
		smtpd_relay_restrictions = reject_unauth_destination
		# greylist@lab.example is answered the way a greylisting policy
		# server (postgrey) answers a first attempt: a transient 450.
		smtpd_recipient_restrictions = check_recipient_access inline:{ { greylist@lab.example = 450 4.2.0 Greylisted, see the retry delay of 300 seconds } }
		message_size_limit = 10240000
		maillog_file = $dir/maillog
		maillog_file_prefixes = $dir
		smtpd_tls_security_level = may
		smtpd_tls_chain_files = $dir/tls/mx1.key, $dir/tls/chain.pem
		smtpd_tls_loglevel = 1
		smtpd_tls_session_cache_database =
		smtp_tls_security_level = none
	EOF

	# No chroot (nothing to copy into it), no smtp/lmtp client services at all.
	local rejectopts="-o syslog_name=postfix/reject -o myhostname=reject.lab.example -o smtpd_delay_reject=no -o smtpd_helo_required=yes -o smtpd_helo_restrictions=reject -o smtpd_tls_security_level=none"
	cat >"$pf/master.cf" <<-EOF
		# service type  private unpriv  chroot  wakeup  maxproc command + args
		198.18.3.10:smtp      inet  n - n - - smtpd
		[2001:db8:3::10]:smtp inet  n - n - - smtpd
		198.18.3.40:smtp      inet  n - n - - smtpd $rejectopts
		[2001:db8:3::40]:smtp inet  n - n - - smtpd $rejectopts
		$( ((QUICK)) || echo "198.18.3.41:smtp      inet  n - n - - smtpd -o syslog_name=postfix/notls -o smtpd_tls_security_level=none")
		$( ((QUICK)) || policy_master_cf "$dir")
		$( ((QUICK)) || servers_master_cf "$dir")
		pickup    unix  n       -       n       60      1       pickup
		cleanup   unix  n       -       n       -       0       cleanup
		qmgr      unix  n       -       n       300     1       qmgr
		tlsmgr    unix  -       -       n       1000?   1       tlsmgr
		rewrite   unix  -       -       n       -       -       trivial-rewrite
		bounce    unix  -       -       n       -       0       bounce
		defer     unix  -       -       n       -       0       bounce
		trace     unix  -       -       n       -       0       bounce
		verify    unix  -       -       n       -       1       verify
		flush     unix  n       -       n       1000?   0       flush
		proxymap  unix  -       -       n       -       -       proxymap
		proxywrite unix -       -       n       -       1       proxymap
		showq     unix  n       -       n       -       -       showq
		error     unix  -       -       n       -       -       error
		retry     unix  -       -       n       -       -       error
		discard   unix  -       -       n       -       -       discard
		anvil     unix  -       -       n       -       1       anvil
		scache    unix  -       -       n       -       1       scache
		postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
}

dnsmasq_args() {
	local h
	DNSMASQ_ARGS=(
		--no-resolv --no-hosts --conf-file=/dev/null --bind-interfaces
		--listen-address="$DNS4,$DNS6" --port=53
		--local=/lab.example/ --domain-needed
		--user=root --group=root
		--pid-file="$1/dnsmasq.pid" --log-facility="$1/dnsmasq.log" --log-queries
		--local-ttl=60
	)
	for h in mx1:10 dropped:20 closed:30 reject:40; do
		DNSMASQ_ARGS+=(--host-record="${h%%:*}.lab.example,198.18.3.${h##*:},2001:db8:3::${h##*:}")
	done
	DNSMASQ_ARGS+=(
		--host-record=ns.lab.example,$DNS4,$DNS6
		--host-record=unreachable.lab.example,198.18.99.1,2001:db8:99::1
		--mx-host=ok.lab.example,mx1.lab.example,10
		--mx-host=mixed.lab.example,mx1.lab.example,10
		--mx-host=mixed.lab.example,dropped.lab.example,20
		--mx-host=mixed.lab.example,closed.lab.example,30
		--mx-host=down.lab.example,dropped.lab.example,10
		--mx-host=down.lab.example,closed.lab.example,20
		--mx-host=reject.lab.example,reject.lab.example,10
		--mx-host=cname.lab.example,alias.lab.example,10
		--cname=alias.lab.example,mx1.lab.example
		--mx-host=literal.lab.example,198.18.3.10,10
		--mx-host=unreach.lab.example,unreachable.lab.example,10
		# RFC 7505 null MX: preference 0, exchange "." (the root label). dnsmasq answers
		# NXDOMAIN for a name that has only --dns-rr records, so each such name also
		# gets a TXT record: other types then get NOERROR/NODATA, as in a real zone.
		--dns-rr=nullmx.lab.example,15,000000
		--txt-record=nullmx.lab.example,"v=spf1 -all"
		# implicit MX (RFC 5321 §5.1): A and AAAA, no MX (NOERROR/NODATA), and no PTR
		# (so 198.18.3.10 keeps the single PTR mx1.lab.example). Raw rdata in hex.
		--txt-record=implicit.lab.example,"v=spf1 a -all"
		--dns-rr=implicit.lab.example,1,c612030a
		--dns-rr=implicit.lab.example,28,20010db8000300000000000000000010
	)
	rejection_dns_args
	servers_dns_args
}

cmd_up() {
	local mtu=1400 smtpd_timeout=5s icmp=allow icmp_reverse=allow clamp=off loss=0 in_flow_delay=1s cheat=0
	while [[ $# -gt 0 ]]; do
		case $1 in
		--quick) QUICK=1; CA_BITS=2048; shift ;;
		--cheat-sheet) cheat=1; shift ;;
		--icmp-reverse) [[ $# -ge 2 ]] || usage; icmp_reverse=$2; shift 2 ;;
		--icmp-reverse=*) icmp_reverse=${1#*=}; shift ;;
		--clamp) [[ $# -ge 2 ]] || usage; clamp=$2; shift 2 ;;
		--clamp=*) clamp=${1#*=}; shift ;;
		--loss) [[ $# -ge 2 ]] || usage; loss=$2; shift 2 ;;
		--loss=*) loss=${1#*=}; shift ;;
		--in-flow-delay) [[ $# -ge 2 ]] || usage; in_flow_delay=$2; shift 2 ;;
		--in-flow-delay=*) in_flow_delay=${1#*=}; shift ;;
		--mtu) [[ $# -ge 2 ]] || usage; mtu=$2; shift 2 ;;
		--mtu=*) mtu=${1#*=}; shift ;;
		--smtpd-timeout) [[ $# -ge 2 ]] || usage; smtpd_timeout=$2; shift 2 ;;
		--smtpd-timeout=*) smtpd_timeout=${1#*=}; shift ;;
		--icmp) [[ $# -ge 2 ]] || usage; icmp=$2; shift 2 ;;
		--icmp=*) icmp=${1#*=}; shift ;;
		*) log "unknown option \"$1\""; usage ;;
		esac
	done
	valid_mtu "$mtu" || die "--mtu \"$mtu\": want an integer from 1280 to 1500 (IPv6 needs >= 1280)"
	mtu=$((10#$mtu))
	[[ $smtpd_timeout =~ ^[0-9]+[smh]?$ ]] || die "--smtpd-timeout \"$smtpd_timeout\": want seconds, e.g. 5 or 5s"
	[[ $smtpd_timeout =~ [smh]$ ]] || smtpd_timeout=${smtpd_timeout}s
	[[ $icmp == drop || $icmp == allow ]] || die "--icmp \"$icmp\": want drop or allow"
	[[ $icmp_reverse == drop || $icmp_reverse == allow ]] || die "--icmp-reverse \"$icmp_reverse\": want drop or allow"
	[[ $clamp == on || $clamp == off ]] || die "--clamp \"$clamp\": want on or off"
	valid_loss "$loss" || die "--loss \"$loss\": want a percentage from 0 to 50"
	loss=$((10#$loss))
	[[ $in_flow_delay =~ ^[0-9]+(ms|s)?$ ]] || die "--in-flow-delay \"$in_flow_delay\": want seconds, e.g. 1s or 0"
	[[ $in_flow_delay =~ (ms|s)$ ]] || in_flow_delay=${in_flow_delay}s
	local problems
	if ! problems=$(cmd_check); then
		die "prerequisites missing: $(tr '\n' ';' <<<"$problems")"
	fi

	# stdout carries only the final KEY=VALUE lines.
	exec 3>&1 1>&2
	trap on_up_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	LAB_ID=$(new_id)
	local id=$LAB_ID dir
	dir=$(lab_dir "$id")
	local C R1 R2 S
	C=$(ns_of "$id" client) R1=$(ns_of "$id" r1) R2=$(ns_of "$id" r2) S=$(ns_of "$id" server)
	log "building lab $id in $dir"
	mkdir -m 755 "$dir"

	local ns
	for ns in "$C" "$R1" "$R2" "$S"; do
		ip netns add "$ns"
		nsx "$ns" ip link set dev lo up
		nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
	done
	for ns in "$R1" "$R2"; do
		nsx "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
			net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
	done
	# resolv.conf inside the client and server namespaces only (ip netns exec bind-mounts it)
	for ns in "$C" "$S"; do
		mkdir -p "/etc/netns/$ns"
		printf 'nameserver %s\nnameserver %s\noptions timeout:1 attempts:1\n' "$DNS4" "$DNS6" >"/etc/netns/$ns/resolv.conf"
	done

	link "$id" "$C" c-r1 "$R1" r1-c
	link "$id" "$R1" r1-r2 "$R2" r2-r1
	link "$id" "$R2" r2-s "$S" s-r2
	nsx "$R1" ip link set dev r1-r2 mtu "$mtu"
	nsx "$R2" ip link set dev r2-r1 mtu "$mtu"

	addr "$C" c-r1 198.18.1.2/24 2001:db8:1::2/64
	addr "$R1" r1-c 198.18.1.1/24 2001:db8:1::1/64
	addr "$R1" r1-r2 198.18.2.1/24 2001:db8:2::1/64
	addr "$R2" r2-r1 198.18.2.2/24 2001:db8:2::2/64
	addr "$R2" r2-s 198.18.3.1/24 2001:db8:3::1/64
	local last
	local v4=() v6=()
	for last in 10 20 30 40 53; do
		v4+=("198.18.3.$last/24")
		v6+=("2001:db8:3::$last/64")
	done
	# shellcheck disable=SC2046
	addr "$S" s-r2 "${v4[@]}" "${v6[@]}" $( ((QUICK)) || policy_addrs) $( ((QUICK)) || servers_addrs)

	# Static routes, lab prefixes only: no default route anywhere, so nothing leaves the lab.
	nsx "$C" ip -4 route add 198.18.0.0/15 via 198.18.1.1
	nsx "$C" ip -6 route add 2001:db8::/32 via 2001:db8:1::1
	nsx "$R1" ip -4 route add 198.18.3.0/24 via 198.18.2.2
	nsx "$R1" ip -6 route add 2001:db8:3::/64 via 2001:db8:2::2
	nsx "$R2" ip -4 route add 198.18.1.0/24 via 198.18.2.1
	nsx "$R2" ip -6 route add 2001:db8:1::/64 via 2001:db8:2::1
	nsx "$S" ip -4 route add 198.18.0.0/15 via 198.18.3.1
	nsx "$S" ip -6 route add 2001:db8::/32 via 2001:db8:3::1

	# The routers' switches: PMTU black holes (r1 forward, r2 reverse), clamping (r1), loss (r2).
	router_table "$R1"
	router_table "$R2"
	set_icmp "$R1" "$icmp"
	set_icmp "$R2" "$icmp_reverse"
	set_clamp "$R1" "$clamp"
	set_loss "$R2" "$loss"
	# server: .20 / ::20 swallow everything to tcp/25 (connect-timeout target).
	nsx "$S" nft -f - <<-EOF
		table inet $NFT_TABLE {
			chain input {
				type filter hook input priority 0; policy accept;
				ip daddr 198.18.3.20 tcp dport 25 counter drop
				ip6 daddr 2001:db8:3::20 tcp dport 25 counter drop
			}
		}
	EOF

	setup_rejections "$S" "$R2"

	# dnsmasq
	dnsmasq_args "$dir"
	if ! nsx "$S" dnsmasq "${DNSMASQ_ARGS[@]}" </dev/null >"$dir/dnsmasq.start.log" 2>&1 3>&-; then
		cat "$dir/dnsmasq.start.log" >&2
		die "dnsmasq did not start"
	fi

	# Postfix
	write_postfix_config "$dir" "$smtpd_timeout" "$in_flow_delay"
	if ! timeout 60 ip netns exec "$S" postfix -c "$dir/postfix" start </dev/null >"$dir/postfix.ctl.log" 2>&1 3>&-; then
		cat "$dir/postfix.ctl.log" >&2
		[[ -f $dir/maillog ]] && tail -n 20 "$dir/maillog" >&2
		die "postfix did not start"
	fi
	local a
	for a in 198.18.3.10 2001:db8:3::10 198.18.3.40 2001:db8:3::40; do
		if ! wait_until 100 0.1 nsx "$S" timeout 1 bash -c "exec 5<>/dev/tcp/$a/25" 2>/dev/null; then
			[[ -f $dir/maillog ]] && tail -n 20 "$dir/maillog" >&2
			die "postfix does not answer on [$a]:25"
		fi
	done
	wait_until 50 0.1 test -s "$dir/dnsmasq.pid" || die "dnsmasq wrote no pid file"
	((QUICK)) || policy_up "$dir" "$S" # policy.sh
	((QUICK)) || servers_up "$dir" "$S" # servers.sh

	cat >"$dir/lab.env" <<-EOF
		LAB_ID=$id
		LAB_CLIENT_NS=$C
		LAB_R1_NS=$R1
		LAB_R2_NS=$R2
		LAB_SERVER_NS=$S
		LAB_DIR=$dir
		LAB_DNS=$DNS4
		LAB_DNS6=$DNS6
		LAB_MAILLOG=$dir/maillog
		LAB_TLS_CERT=$dir/tls/root.crt
		LAB_TLS_CHAIN=$dir/tls/chain.pem
		LAB_MTU=$mtu
		LAB_SMTPD_TIMEOUT=$smtpd_timeout
		LAB_ICMP=$icmp
		LAB_ICMP_REVERSE=$icmp_reverse
		LAB_CLAMP=$clamp
		LAB_LOSS=$loss
		LAB_IN_FLOW_DELAY=$in_flow_delay
	EOF
	((QUICK)) || cat "$dir/policy.env" >>"$dir/lab.env"
	UP_DONE=1
	log "lab $id is up (mtu $mtu, smtpd_timeout $smtpd_timeout, icmp $icmp, icmp-reverse $icmp_reverse, clamp $clamp, loss $loss %, in_flow_delay $in_flow_delay); tear down with: $0 down $id"
	cat "$dir/lab.env" >&3
	((cheat == 0)) || cheat_sheet "$id" # on stderr: stdout keeps only KEY=VALUE lines
}

main() {
	[[ $# -ge 1 ]] || usage
	local cmd=$1
	shift
	case $cmd in
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	icmp) cmd_icmp "$@" ;;
	icmp-reverse) cmd_icmp_reverse "$@" ;;
	clamp) cmd_clamp "$@" ;;
	loss) cmd_loss "$@" ;;
	mtu) cmd_mtu "$@" ;;
	udp) cmd_udp "$@" ;;
	middlebox) cmd_middlebox "$@" ;;
	ptb-limit) cmd_ptb_limit "$@" ;;
	bottleneck2) cmd_bottleneck2 "$@" ;;
	env) cmd_env "$@" ;;
	list) cmd_list "$@" ;;
	check) cmd_check ;;
	cheat-sheet) cmd_cheat_sheet "$@" ;;
	client2) cmd_client2 "$@" ;;
	-h | --help | help) usage ;;
	*) log "unknown command \"$cmd\""; usage ;;
	esac
}

main "$@"
