# policy.sh - the lab's transport-policy part (issue 12): a DNSSEC-signed zone, a validating
# resolver and MTA-STS policy servers, all inside the lab's server namespace. Sourced by lab.sh
# (it uses lab.sh's nsx, addr, wait_until, log and die).
#
#   198.18.3.54  2001:db8:3::54  unbound, authoritative only (auth-zone) for
#                                sec.lab.example   signed with ldns-signzone (ECDSA P-256, NSEC)
#                                plain.lab.example unsigned
#   198.18.3.55  2001:db8:3::55  unbound, validating resolver (LAB_POLICY_DNS): trust anchor =
#                                sec.lab.example's KSK; sec. and plain.lab.example forwarded to .54,
#                                everything else (lab.example, reverse zones) forwarded to dnsmasq
#                                (.53). It never iterates: "." is a forward zone to dnsmasq, its root
#                                hints name only a lab address, and the namespace has no route out.
#   198.18.3.60-.63              openssl s_server -WWW, one MTA-STS policy each (port 443), with a
#                                certificate from the lab intermediate CA (trusted via LAB_TLS_CERT)
#   198.18.3.64                  mta-sts host with nothing listening (policy fetch fails)
#   198.18.3.41                  lab.sh's Postfix smtpd without STARTTLS (smtpd_tls_security_level=none)
#   198.18.3.42                  lab.sh's Postfix smtpd with its own leaf (policy_master_cf): issued
#                                by the lab intermediate CA for mx-ta, mx-ta-spki and
#                                mx-ta-bad.sec.lab.example (not mx-ta-name), chain leaf + intermediate
#
# Mail domains (MX -> Postfix at 198.18.3.10, whose certificate names mx1.lab.example only):
#   dane-ok.sec.lab.example        MX mx-ok.sec.lab.example, TLSA 3 1 1 = Postfix's key (match)
#   dane-bad.sec.lab.example       MX mx-bad.sec.lab.example, TLSA 3 1 1 = another key (mismatch)
#   dane-unsigned.plain.lab.example MX mx.plain.lab.example, TLSA 3 1 1 = Postfix's key, unsigned
#   sts-enforce.plain.lab.example  MX mx1.lab.example, enforce, mx: mx1.lab.example; TLS-RPT
#   sts-unlisted.plain.lab.example MX mx1.lab.example, enforce, mx: mail.example.net
#   sts-badcert.plain.lab.example  MX nocert.plain.lab.example, enforce, mx: *.plain.lab.example
#   sts-testing.plain.lab.example  MX nocert.plain.lab.example, testing, mx: *.plain.lab.example
#   sts-nofetch.plain.lab.example  MX mx1.lab.example, TXT record, policy host refuses port 443
#   dane-notls.sec.lab.example     MX mx-notls.sec.lab.example (no STARTTLS), TLSA 3 1 1
#   sts-notls.plain.lab.example    MX notls.plain.lab.example (no STARTTLS), enforce, mx: *.plain.lab.example
#   opportunistic.plain.lab.example MX nocert.plain.lab.example, no policy at all
#   cleartext.plain.lab.example    MX notls.plain.lab.example (no STARTTLS), no policy at all
#   insecure-mx.plain.lab.example  MX mx-bad.sec.lab.example: secure TLSA (mismatch) behind an
#                                  unsigned MX RRset, which senders do not use (RFC 7672 §2.2.1)
#   DANE-TA(2), all MX at 198.18.3.42 (RFC 7672 §3.1.2, §3.2.2):
#   dane-ta.sec.lab.example        MX mx-ta.sec.lab.example, TLSA 2 0 1 = the intermediate (match)
#   dane-ta-spki.sec.lab.example   MX mx-ta-spki.sec.lab.example, TLSA 2 1 1 = the intermediate's key
#   dane-ta-bad.sec.lab.example    MX mx-ta-bad.sec.lab.example, TLSA 2 1 1 = another CA (mismatch)
#   dane-ta-name.sec.lab.example   MX mx-ta-name.sec.lab.example, TLSA 2 0 1 = the intermediate, but
#                                  the leaf does not name mx-ta-name (mismatch: the name check)
#   dane-ta-cname.sec.lab.example  MX mx-ta-alias.sec.lab.example, a CNAME to mx-ta: TLSA at the
#                                  expanded name, whose name the leaf carries (RFC 7672 §2.2.3)

POLICY_AUTH4=198.18.3.54
POLICY_AUTH6=2001:db8:3::54
POLICY_DNS4=198.18.3.55
POLICY_DNS6=2001:db8:3::55
POLICY_TOOLS=(unbound ldns-keygen ldns-signzone ldns-key2ds drill)
# name:address:mode:mx patterns (comma-separated); mode "-" serves no policy
POLICY_STS=(
	"sts-enforce:60:enforce:mx1.lab.example"
	"sts-unlisted:61:enforce:mail.example.net"
	"sts-badcert:62:enforce:*.plain.lab.example"
	"sts-testing:63:testing:*.plain.lab.example"
	"sts-nofetch:64:-:"
	"sts-notls:65:enforce:*.plain.lab.example"
)
POLICY_NOTLS4=198.18.3.41
POLICY_TA4=198.18.3.42

# policy_addrs: the addresses lab.sh puts on the server's interface.
policy_addrs() {
	printf '%s\n' "$POLICY_NOTLS4/24" "$POLICY_TA4/24" "$POLICY_AUTH4/24" "$POLICY_AUTH6/64" "$POLICY_DNS4/24" "$POLICY_DNS6/64"
	local s
	for s in "${POLICY_STS[@]}"; do
		IFS=: read -r _ last _ _ <<<"$s"
		printf '198.18.3.%s/24\n' "$last"
	done
}

# spki_sha256 CERT: the hex SHA-256 of the certificate's SubjectPublicKeyInfo (TLSA 3 1 1 data).
spki_sha256() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1
}

# cert_sha256 CERT: the hex SHA-256 of the whole certificate (TLSA 2 0 1 data).
cert_sha256() {
	openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1
}

# policy_smtpd_certs DIR: before Postfix starts (lab.sh write_postfix_config), the DANE-TA
# server's leaf from the lab intermediate CA (DIR/policy/ta.key, ta-chain.pem: leaf then
# intermediate, so the trust anchor is in the chain, RFC 7672 §3.1.2), and another CA that
# issued nothing the lab serves (other-ca.crt, the TLSA of dane-ta-bad).
policy_smtpd_certs() {
	local d=$1 pd=$1/policy
	mkdir -p "$pd"
	(
		set -e
		cd "$pd"
		openssl req -new -newkey rsa:2048 -nodes -subj /CN=mx-ta.sec.lab.example -keyout ta.key -out ta.csr
		printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment \
			extendedKeyUsage=serverAuth \
			subjectAltName=DNS:mx-ta.sec.lab.example,DNS:mx-ta-spki.sec.lab.example,DNS:mx-ta-bad.sec.lab.example >ta.ext
		openssl x509 -req -in ta.csr -CA "$d/tls/inter.crt" -CAkey "$d/tls/inter.key" -CAcreateserial \
			-days 30 -extfile ta.ext -out ta.crt
		cat ta.crt "$d/tls/inter.crt" >ta-chain.pem
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
			-subj "/O=smtpprobe lab/CN=smtpprobe lab other CA" -addext basicConstraints=critical,CA:TRUE \
			-keyout other-ca.key -out other-ca.crt
		chmod 600 ta.key other-ca.key
		rm -f ta.csr ta.ext "$d"/tls/*.srl
	) >/dev/null 2>&1
}

# policy_master_cf DIR: lab.sh's master.cf line of the DANE-TA smtpd.
policy_master_cf() {
	printf '%s:smtp inet n - n - - smtpd -o syslog_name=postfix/dane-ta -o { smtpd_tls_chain_files = %s, %s }\n' \
		"$POLICY_TA4" "$1/policy/ta.key" "$1/policy/ta-chain.pem"
}

# policy_certs DIR: the MTA-STS servers' certificate, from the lab intermediate CA.
policy_certs() {
	local d=$1 pd=$1/policy s name sans=""
	for s in "${POLICY_STS[@]}"; do
		name=${s%%:*}
		sans+="${sans:+,}DNS:mta-sts.$name.plain.lab.example"
	done
	(
		set -e
		cd "$pd"
		openssl req -new -newkey rsa:2048 -nodes -subj /CN=mta-sts.plain.lab.example -keyout mta-sts.key -out mta-sts.csr
		printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment \
			extendedKeyUsage=serverAuth subjectAltName="$sans" >mta-sts.ext
		openssl x509 -req -in mta-sts.csr -CA "$d/tls/inter.crt" -CAkey "$d/tls/inter.key" -CAcreateserial \
			-days 30 -extfile mta-sts.ext -out mta-sts.crt
		rm -f mta-sts.csr mta-sts.ext "$d"/tls/*.srl
	) >/dev/null 2>&1
}

# policy_zones DIR: the two zone files, sec.lab.example signed.
policy_zones() {
	local d=$1 pd=$1/policy good bad ta taspki other s name last ksk zsk
	good=$(spki_sha256 "$d/tls/mx1.crt")
	bad=$(spki_sha256 "$d/tls/root.crt") # a key Postfix does not have, as after a botched rollover
	ta=$(cert_sha256 "$d/tls/inter.crt")
	taspki=$(spki_sha256 "$d/tls/inter.crt")
	other=$(spki_sha256 "$pd/other-ca.crt")
	for s in "$good" "$bad" "$ta" "$taspki" "$other"; do
		[[ $s =~ ^[0-9a-f]{64}$ ]] || return 1
	done
	cat >"$pd/sec.lab.example.zone" <<-EOF
		\$ORIGIN sec.lab.example.
		\$TTL 60
		@ IN SOA ns.sec.lab.example. hostmaster.sec.lab.example. 1 3600 600 86400 60
		@ IN NS ns
		ns IN A $POLICY_AUTH4
		dane-ok IN MX 10 mx-ok
		mx-ok IN A 198.18.3.10
		_25._tcp.mx-ok IN TLSA 3 1 1 $good
		dane-bad IN MX 10 mx-bad
		mx-bad IN A 198.18.3.10
		_25._tcp.mx-bad IN TLSA 3 1 1 $bad
		dane-notls IN MX 10 mx-notls
		mx-notls IN A $POLICY_NOTLS4
		_25._tcp.mx-notls IN TLSA 3 1 1 $good
		dane-ta IN MX 10 mx-ta
		mx-ta IN A $POLICY_TA4
		_25._tcp.mx-ta IN TLSA 2 0 1 $ta
		dane-ta-spki IN MX 10 mx-ta-spki
		mx-ta-spki IN A $POLICY_TA4
		_25._tcp.mx-ta-spki IN TLSA 2 1 1 $taspki
		dane-ta-bad IN MX 10 mx-ta-bad
		mx-ta-bad IN A $POLICY_TA4
		_25._tcp.mx-ta-bad IN TLSA 2 1 1 $other
		dane-ta-name IN MX 10 mx-ta-name
		mx-ta-name IN A $POLICY_TA4
		_25._tcp.mx-ta-name IN TLSA 2 0 1 $ta
		dane-ta-cname IN MX 10 mx-ta-alias
		mx-ta-alias IN CNAME mx-ta
	EOF
	{
		cat <<-EOF
			\$ORIGIN plain.lab.example.
			\$TTL 60
			@ IN SOA ns.plain.lab.example. hostmaster.plain.lab.example. 1 3600 600 86400 60
			@ IN NS ns
			ns IN A $POLICY_AUTH4
			mx IN A 198.18.3.10
			nocert IN A 198.18.3.10
			notls IN A $POLICY_NOTLS4
			cleartext IN MX 10 notls
			dane-unsigned IN MX 10 mx
			_25._tcp.mx IN TLSA 3 1 1 $good
			opportunistic IN MX 10 nocert
			insecure-mx IN MX 10 mx-bad.sec.lab.example.
			_smtp._tls.sts-enforce IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@lab.example"
		EOF
		for s in "${POLICY_STS[@]}"; do
			IFS=: read -r name last _ _ <<<"$s"
			case $name in
			sts-badcert | sts-testing) printf '%s IN MX 10 nocert\n' "$name" ;;
			sts-notls) printf '%s IN MX 10 notls\n' "$name" ;;
			*) printf '%s IN MX 10 mx1.lab.example.\n' "$name" ;;
			esac
			printf '_mta-sts.%s IN TXT "v=STSv1; id=20261202T%s;"\n' "$name" "$last"
			printf 'mta-sts.%s IN A 198.18.3.%s\n' "$name" "$last"
		done
	} >"$pd/plain.lab.example.zone"
	(
		set -e
		cd "$pd"
		ksk=$(ldns-keygen -a ECDSAP256SHA256 -k sec.lab.example)
		zsk=$(ldns-keygen -a ECDSAP256SHA256 sec.lab.example)
		ldns-signzone -f sec.lab.example.zone.signed sec.lab.example.zone "$zsk" "$ksk"
		cp "$ksk.key" trust-anchor.key
		rm -f ./*.private ./*.ds
	) >/dev/null 2>&1
}

# policy_unbound DIR: the two unbound configurations.
policy_unbound() {
	local pd=$1/policy
	printf '%s\n' ". 3600000 IN NS a.root.lab.invalid." "a.root.lab.invalid. 3600000 IN A 198.18.3.53" >"$pd/root.hints"
	cat >"$pd/auth.conf" <<-EOF
		server:
		    username: ""
		    chroot: ""
		    directory: "$pd"
		    pidfile: "$pd/auth.pid"
		    logfile: "$pd/auth.log"
		    use-syslog: no
		    verbosity: 1
		    num-threads: 1
		    interface: $POLICY_AUTH4
		    interface: $POLICY_AUTH6
		    port: 53
		    access-control: 198.18.0.0/15 allow
		    access-control: 2001:db8::/32 allow
		    module-config: "iterator"
		    root-hints: "$pd/root.hints"
		    # authoritative only: never sends a query anywhere
		    do-not-query-address: 0.0.0.0/0
		    do-not-query-address: ::/0
		remote-control:
		    control-enable: no
		auth-zone:
		    name: "sec.lab.example."
		    zonefile: "$pd/sec.lab.example.zone.signed"
		    for-downstream: yes
		    for-upstream: no
		    fallback-enabled: no
		auth-zone:
		    name: "plain.lab.example."
		    zonefile: "$pd/plain.lab.example.zone"
		    for-downstream: yes
		    for-upstream: no
		    fallback-enabled: no
	EOF
	cat >"$pd/resolver.conf" <<-EOF
		server:
		    username: ""
		    chroot: ""
		    directory: "$pd"
		    pidfile: "$pd/resolver.pid"
		    logfile: "$pd/resolver.log"
		    use-syslog: no
		    verbosity: 1
		    val-log-level: 2
		    num-threads: 1
		    interface: $POLICY_DNS4
		    interface: $POLICY_DNS6
		    port: 53
		    access-control: 198.18.0.0/15 allow
		    access-control: 2001:db8::/32 allow
		    module-config: "validator iterator"
		    trust-anchor-file: "$pd/trust-anchor.key"
		    root-hints: "$pd/root.hints"
		    harden-dnssec-stripped: yes
		    qname-minimisation: no
		    # the lab's reverse zone of 2001:db8::/32 comes from dnsmasq, not unbound's default
		    local-zone: "8.b.d.0.1.0.0.2.ip6.arpa." nodefault
		remote-control:
		    control-enable: no
		forward-zone:
		    name: "sec.lab.example."
		    forward-addr: $POLICY_AUTH4
		forward-zone:
		    name: "plain.lab.example."
		    forward-addr: $POLICY_AUTH4
		forward-zone:
		    name: "."
		    forward-addr: 198.18.3.53
	EOF
}

# policy_www DIR: one document root per MTA-STS server.
policy_www() {
	local pd=$1/policy s name last mode mx m
	for s in "${POLICY_STS[@]}"; do
		IFS=: read -r name last mode mx <<<"$s"
		[[ $mode != - ]] || continue
		mkdir -p "$pd/www/$name/.well-known"
		{
			printf 'version: STSv1\r\nmode: %s\r\n' "$mode"
			for m in ${mx//,/ }; do printf 'mx: %s\r\n' "$m"; done
			printf 'max_age: 86400\r\n'
		} >"$pd/www/$name/.well-known/mta-sts.txt"
	done
}

# policy_up DIR NS: build and start everything; write DIR/policy.env.
policy_up() {
	local d=$1 ns=$2 pd=$1/policy s name last mode a
	mkdir -p "$pd"
	policy_certs "$d" || die "openssl could not make the MTA-STS certificate"
	policy_zones "$d" || die "could not make and sign the policy zones"
	policy_unbound "$d"
	policy_www "$d"
	local conf
	for conf in auth resolver; do
		unbound-checkconf "$pd/$conf.conf" >"$pd/$conf.check.log" 2>&1 || { cat "$pd/$conf.check.log" >&2; die "unbound $conf.conf is invalid"; }
		nsx "$ns" unbound -c "$pd/$conf.conf" </dev/null >"$pd/$conf.start.log" 2>&1 3>&- || { cat "$pd/$conf.start.log" >&2; die "unbound ($conf) did not start"; }
	done
	for s in "${POLICY_STS[@]}"; do
		IFS=: read -r name last mode _ <<<"$s"
		[[ $mode != - ]] || continue
		(cd "$pd/www/$name" && exec ip netns exec "$ns" openssl s_server -quiet -WWW -accept "198.18.3.$last:443" \
			-cert "$pd/mta-sts.crt" -key "$pd/mta-sts.key" -cert_chain "$d/tls/inter.crt") </dev/null >"$pd/$name.log" 2>&1 3>&- &
	done
	for a in "$POLICY_NOTLS4" "$POLICY_TA4"; do
		wait_until 100 0.1 nsx "$ns" timeout 1 bash -c "exec 5<>/dev/tcp/$a/25" 2>/dev/null || die "postfix does not answer on [$a]:25"
	done
	for a in "$POLICY_AUTH4" "$POLICY_DNS4"; do
		wait_until 100 0.1 nsx "$ns" timeout 1 bash -c "exec 5<>/dev/tcp/$a/53" 2>/dev/null || die "unbound does not answer on [$a]:53"
	done
	for s in "${POLICY_STS[@]}"; do
		IFS=: read -r name last mode _ <<<"$s"
		[[ $mode != - ]] || continue
		wait_until 100 0.1 nsx "$ns" timeout 1 bash -c "exec 5<>/dev/tcp/198.18.3.$last/443" 2>/dev/null ||
			die "openssl s_server for $name does not answer on 198.18.3.$last:443"
	done
	# The resolver must validate the signed zone (AD) and not the unsigned one.
	if ! wait_until 30 0.2 policy_ad "$ns" dane-ok.sec.lab.example; then
		tail -n 20 "$pd/resolver.log" >&2 || true
		die "the lab resolver does not validate sec.lab.example (no AD bit)"
	fi
	policy_ad "$ns" dane-unsigned.plain.lab.example && die "the lab resolver sets AD for the unsigned plain.lab.example"
	cat >"$d/policy.env" <<-EOF
		LAB_POLICY_DNS=$POLICY_DNS4
		LAB_POLICY_DNS6=$POLICY_DNS6
		LAB_POLICY_TRUST_ANCHOR=$pd/trust-anchor.key
	EOF
}

# policy_ad NS NAME: the lab resolver answers NAME MX with the AD bit set.
policy_ad() {
	nsx "$1" timeout 5 drill -D -o AD @"$POLICY_DNS4" "$2" MX 2>/dev/null | grep -q '^;; flags: .*\bad\b'
}
