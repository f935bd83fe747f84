#!/usr/bin/env bash
# servers.sh - the lab's receiving servers beyond Postfix (issue 18). lab.sh sources it;
# run directly, it prepares the host:
#
#   servers.sh prepare   download Exim, sendmail and OpenSMTPD (Debian packages) with
#                        apt-get download and extract them into $SERVERS_CACHE (idempotent);
#                        create the system users they run as. Debian's exim4, sendmail and
#                        opensmtpd conflict with postfix (mail-transport-agent), so they are
#                        never installed, only run extracted with the configs in mta/.
#   servers.sh check     exit non-zero, one line per missing prerequisite
#
# In the server namespace of a lab (each with its own config, its own short idle timeout):
#   198.18.3.70  2001:db8:3::70  Exim 4 (exim.lab.example), smtp_receive_timeout 9s
#   198.18.3.71  2001:db8:3::71  sendmail 8 (sendmail.lab.example), Timeout.command 6s, Timeout.datablock 7s
#   198.18.3.72  2001:db8:3::72  OpenSMTPD (opensmtpd.lab.example), fixed 300 s session timeout
#   198.18.3.73  2001:db8:3::73  Postfix postscreen (postscreen.lab.example) in front of the lab smtpd:
#                                220- teaser, postscreen_greet_wait 3s, deep protocol tests (a new
#                                client gets 450 4.3.2 at RCPT, its next session passes)
#   198.18.3.74  2001:db8:3::74  tarpit (tarpit.lab.example): the Exim above, banner delayed 4 s

SERVERS_CACHE=${SMTPPROBE_MTA_CACHE:-/var/cache/smtpprobe-lab/mta}
SERVERS_DEBS=(exim4-daemon-light sendmail-bin sendmail-cf opensmtpd)
SERVERS_USERS=(Debian-exim opensmtpd opensmtpq)
SERVERS_MTA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/mta"
# name:last octet (IPv4 198.18.3.N, IPv6 2001:db8:3::N)
SERVERS_HOSTS=(exim:70 sendmail:71 opensmtpd:72 postscreen:73 tarpit:74)
SERVERS_TARPIT_DELAY=4s
SERVERS_GREET_WAIT=3s

servers_exim() { printf '%s/root/usr/sbin/exim4' "$SERVERS_CACHE"; }
servers_sendmail() { printf '%s/root/usr/libexec/sendmail/sendmail' "$SERVERS_CACHE"; }
servers_smtpd() { printf '%s/root/usr/sbin/smtpd' "$SERVERS_CACHE"; }

servers_log() { printf 'servers.sh: %s\n' "$*" >&2; }

# servers_check: the missing prerequisites, one line each; non-zero if any.
servers_check() {
	local missing=0 b u
	for b in "$(servers_exim)" "$(servers_sendmail)" "$(servers_smtpd)"; do
		if [[ ! -x $b ]]; then
			echo "missing $b (run testdata/lab/servers.sh prepare)"
			missing=1
		elif ldd "$b" 2>/dev/null | grep -q 'not found'; then
			echo "$b lacks libraries: $(ldd "$b" | awk '/not found/ {print $1}' | tr '\n' ' ')"
			missing=1
		fi
	done
	[[ -d $SERVERS_CACHE/root/usr/share/sendmail/cf/m4 ]] || { echo "missing sendmail-cf under $SERVERS_CACHE"; missing=1; }
	command -v m4 >/dev/null 2>&1 || { echo "missing command: m4 (sendmail's config)"; missing=1; }
	command -v unshare >/dev/null 2>&1 || { echo "missing command: unshare"; missing=1; }
	for u in "${SERVERS_USERS[@]}"; do
		id "$u" >/dev/null 2>&1 || { echo "missing user: $u (run testdata/lab/servers.sh prepare)"; missing=1; }
	done
	return "$missing"
}

# servers_prepare: download and extract the packages once; create the users.
servers_prepare() {
	local p deb
	mkdir -p "$SERVERS_CACHE/debs" "$SERVERS_CACHE/root"
	for p in "${SERVERS_DEBS[@]}"; do
		[[ -f $SERVERS_CACHE/debs/$p.done ]] && continue
		# apt-get download needs current package lists: on failure, update them once and retry.
		if ! (cd "$SERVERS_CACHE/debs" && rm -f "${p}"_*.deb && timeout 300 apt-get download -q "$p") >&2; then
			timeout 600 apt-get update -q >&2 || true
			(cd "$SERVERS_CACHE/debs" && rm -f "${p}"_*.deb && timeout 300 apt-get download -q "$p") >&2 ||
				{ servers_log "apt-get download $p failed"; return 1; }
		fi
		for deb in "$SERVERS_CACHE/debs/${p}"_*.deb; do
			dpkg-deb -x "$deb" "$SERVERS_CACHE/root"
		done
		touch "$SERVERS_CACHE/debs/$p.done"
	done
	chmod 755 "$SERVERS_CACHE" "$SERVERS_CACHE/root"
	# The users the packages' postinst would create (exim's is compiled in).
	for p in "${SERVERS_USERS[@]}"; do
		id "$p" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$p"
	done
	servers_check
}

# servers_addrs: the CIDRs the server namespace gets.
servers_addrs() {
	local h
	for h in "${SERVERS_HOSTS[@]}"; do
		printf '198.18.3.%s/24\n2001:db8:3::%s/64\n' "${h##*:}" "${h##*:}"
	done
}

# servers_dns_args: dnsmasq host records (appended to DNSMASQ_ARGS).
servers_dns_args() {
	local h
	for h in "${SERVERS_HOSTS[@]}"; do
		DNSMASQ_ARGS+=(--host-record="${h%%:*}.lab.example,198.18.3.${h##*:},2001:db8:3::${h##*:}")
		DNSMASQ_ARGS+=(--mx-host="${h%%:*}.lab.example,${h%%:*}.lab.example,10")
	done
}

# servers_master_cf DIR: the postscreen services of the lab Postfix. postscreen_access_list
# is empty (its default permit_mynetworks would wave the lab's client through), each address
# family has its own cache (one postscreen process per cache file), and the deep protocol
# tests are on, as on busy sites; the smtpd behind it is the lab's ordinary smtpd.
servers_master_cf() {
	local d=$1 fam a
	local o="-o syslog_name=postfix/postscreen -o postscreen_access_list= -o postscreen_greet_action=enforce"
	o+=" -o postscreen_greet_wait=$SERVERS_GREET_WAIT -o postscreen_pipelining_enable=yes"
	o+=" -o postscreen_non_smtp_command_enable=yes -o postscreen_bare_newline_enable=yes"
	o+=" -o postscreen_dnsbl_sites= -o postscreen_tls_security_level=none -o postscreen_command_time_limit=8s"
	for fam in 4:198.18.3.73 6:[2001:db8:3::73]; do
		a=${fam#*:}
		printf '%s:smtp inet n - n - 1 postscreen %s -o postscreen_cache_map=btree:%s/data/postscreen_cache%s\n' "$a" "$o" "$d" "${fam%%:*}"
	done
	printf 'smtpd pass - - n - - smtpd -o syslog_name=postfix/postscreen-smtpd\n'
}

# servers_up DIR NS: start Exim, sendmail and OpenSMTPD in namespace NS.
servers_up() {
	local d=$1 ns=$2 md a
	local problems
	problems=$(servers_check) || die "servers prerequisites missing: $(tr '\n' ';' <<<"$problems")"

	# Exim, as root with its own config (-C); it drops to Debian-exim.
	md=$d/exim
	mkdir -p "$md/spool"
	chown -R Debian-exim:Debian-exim "$md"
	sed -e "s|@DIR@|$md|g" -e "s|@TARPIT@|$SERVERS_TARPIT_DELAY|g" "$SERVERS_MTA_DIR/exim.conf" >"$md/exim.conf"
	chmod 644 "$md/exim.conf"
	"$(servers_exim)" -C "$md/exim.conf" -bV >"$md/check.log" 2>&1 || { cat "$md/check.log" >&2; die "exim rejects its config"; }
	ip netns exec "$ns" "$(servers_exim)" -C "$md/exim.conf" -bd </dev/null >"$md/start.log" 2>&1 3>&- ||
		{ cat "$md/start.log" "$md"/*log >&2 2>/dev/null; die "exim did not start"; }

	# sendmail: its .cf made from mta/sendmail.mc with the sendmail-cf macros.
	md=$d/sendmail
	mkdir -p "$md/mqueue"
	chmod 700 "$md/mqueue"
	printf 'sendmail.lab.example\nlab.example\n' >"$md/local-host-names"
	printf 'postmaster: root\nMAILER-DAEMON: postmaster\n' >"$md/aliases"
	: >"$md/statistics"
	sed -e "s|@DIR@|$md|g" "$SERVERS_MTA_DIR/sendmail.mc" >"$md/sendmail.mc"
	m4 -D_CF_DIR_="$SERVERS_CACHE/root/usr/share/sendmail/cf/" "$SERVERS_CACHE/root/usr/share/sendmail/cf/m4/cf.m4" \
		"$md/sendmail.mc" >"$md/sendmail.cf" 2>"$md/m4.log" || { cat "$md/m4.log" >&2; die "m4 could not make sendmail.cf"; }
	# sendmail looks its own host name up and, when that fails, sleeps a
	# minute and retries ("My unqualified host name ... unknown"): it runs
	# in its own UTS namespace named sendmail.lab.example, which the lab's
	# DNS resolves.
	local sm=(unshare --uts bash -c 'hostname sendmail.lab.example && exec "$@"' sendmail "$(servers_sendmail)" -C "$md/sendmail.cf")
	ip netns exec "$ns" "${sm[@]}" -bi </dev/null >"$md/newaliases.log" 2>&1 3>&- ||
		{ cat "$md/newaliases.log" >&2; die "sendmail could not build its aliases"; }
	ip netns exec "$ns" "${sm[@]}" -L sm-mta -bd -q1h </dev/null >"$md/start.log" 2>&1 3>&- ||
		{ cat "$md/start.log" >&2; die "sendmail did not start"; }

	# OpenSMTPD: its spool, chroot and control socket paths are compiled in
	# (/var/spool/smtpd, /var/lib/opensmtpd/empty, /var/run/smtpd.sock), so it runs in a
	# private mount namespace with fresh tmpfs there; nothing on the host is touched.
	md=$d/opensmtpd
	mkdir -p "$md"
	cp "$SERVERS_MTA_DIR/smtpd.conf" "$md/smtpd.conf"
	chmod 644 "$md/smtpd.conf"
	ip netns exec "$ns" unshare --mount --propagation private bash -c '
		set -e
		mount -t tmpfs -o mode=755 tmpfs /var/spool
		mount -t tmpfs -o mode=755 tmpfs /var/lib
		mount -t tmpfs -o mode=755 tmpfs /run
		mkdir -p /var/spool/smtpd /var/lib/opensmtpd/empty
		chmod 711 /var/spool/smtpd
		"$1" -n -f "$2" && exec "$1" -d -f "$2"' opensmtpd "$(servers_smtpd)" "$md/smtpd.conf" \
		</dev/null >"$md/smtpd.log" 2>&1 3>&- &
	disown || true

	for a in 198.18.3.70 2001:db8:3::70 198.18.3.71 2001:db8:3::71 198.18.3.72 2001:db8:3::72 198.18.3.73 2001:db8:3::73; do
		if ! wait_until 100 0.1 nsx "$ns" timeout 1 bash -c "exec 5<>/dev/tcp/$a/25" 2>/dev/null; then
			tail -n 20 "$d"/opensmtpd/smtpd.log "$d"/exim/*log "$d"/sendmail/start.log >&2 2>/dev/null || true
			die "nothing answers on [$a]:25"
		fi
	done
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	export PATH="$PATH:/usr/sbin:/sbin"
	case ${1:-} in
	prepare) servers_prepare ;;
	check) servers_check ;;
	*) printf 'usage: %s prepare|check\n' "$0" >&2; exit 2 ;;
	esac
fi
