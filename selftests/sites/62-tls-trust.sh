#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Trust between sites over the kernel ledgers (issue 9 in the VM lab;
# e2e_tls.py and e2e_rollover.py play the same natively). The sites run
# mutual TLS 1.3.
#
# Hostile peers at a site's replication port, from another site's
# namespace (georep-wirepoke --tls-*): a plain-TCP client, a self-signed
# certificate, one signed by another CA, an expired one signed by the
# cluster's CA, and a valid certificate of another site than the hello
# claims: each is refused, the target logs one line naming the peer's
# address and the reason. No daemon dies, every link stays up, nothing is
# written, every ledger verifies. A record replayed inside a valid session
# (the impostor's own certificate and name) is refused by the target's
# kernel ledger and replication goes on: a write commits on all three.
#
# Then the cluster moves to a new CA without downtime (admin-guide.rst,
# "Rolling over certificates and the CA"), fio writing and verifying at the
# primary throughout: the CA file becomes old + new CA, SIGHUP everywhere;
# each site in turn gets a certificate and key of the new CA in place,
# SIGHUP there; the CA file becomes the new CA alone, SIGHUP everywhere.
# After each step every link was renewed (its "ups" grew) and is up over
# TLS 1.3 naming its peer. A certificate of the old CA is refused at the
# end. No write fails, the primary and its term do not change, every site
# verifies its ledger and holds the same data.
#
# Last, a man in the middle (georep-mitm) between two sites flips one byte
# of their TLS stream: the receiver drops that connection with a TLS error,
# the sites connect again, writes commit everywhere, the receiver's ledger
# verifies.

set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"

sites_init sites-tls

HELLO="--cluster sites --versions 1..1"

# the impostors' identities, made with the openssl command: $T/bad/
hostile_certs() {
	local d=$T/bad
	mkdir -p "$d/other" "$d/old" || return 1
	# signed by a CA of their own
	{ tls_make_ca "$d/other" && tls_make_site "$d/other" bravo; } >/dev/null 2>&1 ||
		return 1
	# self-signed
	(umask 077 && openssl genpkey -algorithm ed25519 -out "$d/self.key") || return 1
	openssl req -config "$T/pki/openssl.cnf" -x509 -new -key "$d/self.key" \
		-subj /CN=bravo -addext subjectAltName=DNS:bravo -days 30 \
		-out "$d/self.crt" 2>/dev/null || return 1
	# the cluster's CA, valid until yesterday
	cp -p "$T/pki/ca.crt" "$T/pki/ca.key" "$T/pki/openssl.cnf" "$d/old/" || return 1
	tls_make_site "$d/old" bravo -1 >/dev/null 2>&1 || return 1
	openssl x509 -in "$d/old/bravo.crt" -noout -enddate
}

# poke_as CRT KEY FROM TO LOG: a TLS client with CRT from FROM's namespace
# at TO, saying hello as bravo; refused in the handshake with LOG at TO
poke_as() {
	local crt=$1 key=$2 from=$3 to=$4 logged=$5
	poke "$from" "$to" closed "$logged" --tls-ca "$T/pki/ca.crt" \
		--tls-cert "$crt" --tls-key "$key" --hello bravo --site-id 2 $HELLO
}

plain_tcp_refused() {
	poke bravo charlie closed 'tls handshake: not TLS' --hello bravo --site-id 2 $HELLO
}

self_signed_refused() {
	poke_as "$T/bad/self.crt" "$T/bad/self.key" bravo alpha \
		'bad certificate chain: self-signed certificate'
}

other_ca_refused() {
	poke_as "$T/bad/other/bravo.crt" "$T/bad/other/bravo.key" bravo charlie \
		'bad certificate chain'
}

expired_refused() {
	poke_as "$T/bad/old/bravo.crt" "$T/bad/old/bravo.key" bravo alpha \
		'bad certificate chain: certificate has expired'
}

# charlie's own valid identity, a hello that claims bravo
other_sites_cert_refused() {
	local want='wrong name: hello claims site "bravo" but the certificate is for "charlie"'

	poke charlie alpha "$want" "$want" $(peer_tls charlie) --hello bravo --site-id 2 $HELLO
}

# the "ups" counters of the links of SITES..., in one line
ups() {
	local s
	for s in "$@"; do
		ctl "$s" status --json | jq -r '[.cluster.peers[] | .ups] | map(tostring) | join(" ")'
	done | tr '\n' ' '
}

# renewed BEFORE SITES...: every link of SITES came up again since BEFORE
# (their ups)
renewed() {
	local -a was now
	local i
	read -r -a was <<<"$1"
	shift
	read -r -a now <<<"$(ups "$@")"
	[ "${#now[@]}" = "${#was[@]}" ] || return 1
	for i in "${!was[@]}"; do
		[ "${now[$i]}" -gt "${was[$i]}" ] || return 1
	done
}

hup() {
	local s pid
	for s in "$@"; do
		eval "pid=\${PID_$s:-}"
		kill -HUP "$pid" || return 1
	done
}

# step SITES...: SIGHUP SITES, then every link renewed within a minute,
# then every link of every site up over TLS 1.3 naming its peer
step() {
	local before t0=$SECONDS
	before=$(ups "$@")
	hup "$@" || return 1
	wait_for 60 renewed "$before" "$@" ||
		{ echo "links not renewed, ups $before -> $(ups "$@")"; return 1; }
	echo "links of $* renewed within $((SECONDS - t0)) s"
	grep -h "SIGHUP: TLS credentials reloaded" $(printf "$T/%s.log " "$@") | tail -n 1
	links_tls
}

start_writes() {
	local s
	P=$(wait_primary 30) || return 1
	TERM0=$(site_rep_get "$P" .term) || return 1
	echo "primary $P, term $TERM0"
	mkdir -p "$T/old" && cp -p "$T/pki/ca.crt" "$T/pki/bravo.crt" "$T/pki/bravo.key" "$T/old/"
	{ tls_make_ca "$T/pki2" && for s in $SITES; do tls_make_site "$T/pki2" "$s"; done; } \
		>/dev/null 2>&1 || return 1
	# last, so that a failure above leaves no writer running
	sites_writer roll &
	WRITER=$!
}

ca_bundle() {
	cat "$T/old/ca.crt" "$T/pki2/ca.crt" >"$T/pki/ca.crt.new" &&
	mv "$T/pki/ca.crt.new" "$T/pki/ca.crt" && step $SITES
}

new_site_certs() {
	local s
	for s in $SITES; do
		cp -p "$T/pki2/$s.crt" "$T/pki/$s.crt.new" && mv "$T/pki/$s.crt.new" "$T/pki/$s.crt" &&
		cp -p "$T/pki2/$s.key" "$T/pki/$s.key.new" && mv "$T/pki/$s.key.new" "$T/pki/$s.key" &&
		step "$s" || return 1
	done
}

new_ca_alone() {
	cp "$T/pki2/ca.crt" "$T/pki/ca.crt.new" && mv "$T/pki/ca.crt.new" "$T/pki/ca.crt" &&
	step $SITES
}

old_ca_refused() {
	poke charlie alpha closed 'bad certificate chain' --tls-ca "$T/pki/ca.crt" \
		--tls-cert "$T/old/bravo.crt" --tls-key "$T/old/bravo.key" \
		--hello bravo --site-id 2 --cluster sites --versions 1..1
}

no_write_failed_same_leader() {
	local s seq
	sites_writer_stop roll "$WRITER" || return 1
	[ "$(primary_site)" = "$P" ] || { echo "primary moved to $(primary_site)"; return 1; }
	[ "$(site_rep_get "$P" .term)" = "$TERM0" ] || { echo "term moved from $TERM0"; return 1; }
	seq=$(vol_num "$P" written_seq)
	for s in $SITES; do
		vt_wait_applied "$s.$VOL" "$seq" || return 1
	done
	share_keys || return 1
	for s in $SITES; do
		georepctl ledger verify "$s.$VOL" --key-dir "$KEYS" | tail -n 1 || return 1
	done
	data_identical
}

# a man in the middle (georep-mitm in TGT's namespace; IMP, which dials
# TGT, restarted with a config that gives the relay's port as TGT's
# address; neither is the primary) flips one byte of the TLS stream: TGT
# drops that connection with a TLS error, the next one comes up, every
# daemon keeps serving, writes commit everywhere, TGT's ledger verifies
mitm_flip() {
	local imp tgt ip mport=$((PORT + 11)) lines s pid
	read -r imp tgt < <(non_primary_pair)
	ip=$(site_ip "$tgt")
	sed "s/\"$ip:$PORT\"/\"$ip:$mport\"/" "$T/cluster.json" >"$T/cluster-mitm.json"
	grep -q "$ip:$mport" "$T/cluster-mitm.json" || return 1
	# $! must be georep-mitm itself (not in_site, a function)
	ip netns exec "gr-$tgt" georep-mitm --after 3000 "$ip:$mport" "$ip:$PORT" \
		>"$T/mitm.out" 2>&1 &
	PIDS="$PIDS $!"
	lines=$(wc -l <"$T/$tgt.log")
	kill_site "$imp" || return 1
	eval "SITES_CONFIG_$imp=\$T/cluster-mitm.json"
	start_site "$imp"
	echo "$imp dials $tgt through georep-mitm at $ip:$mport"
	wait_for 30 grep -q "^accepted 3 " "$T/mitm.out" || { cat "$T/mitm.out"; return 1; }
	wait_for 30 links_tls >/dev/null || return 1
	cat "$T/mitm.out"
	grep -q "^flipped byte .* of connection 1 " "$T/mitm.out" || return 1
	tail -n +"$((lines + 1))" "$T/$tgt.log" | grep "peer $imp down: .*TLS error" ||
		{ echo "no TLS error at $tgt"; return 1; }
	for s in $SITES; do
		eval "pid=\${PID_$s:-}"
		kill -0 "$pid" 2>/dev/null || { echo "georepd at $s died"; return 1; }
	done
	still_replicating || return 1
	# what the relay carried went to $tgt: its ledger
	share_keys && georepctl ledger verify "$tgt.$VOL" --key-dir "$KEYS"
}

check network sites_network || exit 1
check volumes sites_volumes || exit 1
check config sites_config || exit 1
check leader_elected_volume_primary elect || exit 1
check baseline_write_applied_everywhere settle || exit 1
check hostile_certificates_made hostile_certs || exit 1
check plain_tcp_client_refused plain_tcp_refused
check self_signed_certificate_refused self_signed_refused
check certificate_of_another_ca_refused other_ca_refused
check expired_certificate_refused expired_refused
check certificate_of_another_site_refused other_sites_cert_refused
check daemons_alive_peers_up_nothing_written unharmed
check replayed_record_in_a_valid_session_refused replayed_record
check writes_still_commit_on_all_sites still_replicating
check tls_links_up links_tls || exit 1
check writes_start_new_ca_made start_writes || exit 1
check ca_file_old_plus_new_every_site_renewed ca_bundle
check each_site_certificate_of_the_new_ca new_site_certs
check ca_file_new_alone_every_site_renewed new_ca_alone
check certificate_of_the_old_ca_refused old_ca_refused
check no_write_failed_same_leader_same_data no_write_failed_same_leader
check mitm_flipped_byte_drops_connection mitm_flip
[ "$failed" = 0 ]
