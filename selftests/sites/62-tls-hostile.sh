#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile TLS peers over the kernel ledgers (issue 9's hostile cases in the
# VM lab; e2e_tls.py plays them natively, with the man in the middle). The
# sites run mutual TLS 1.3. At a site's replication port, from another
# site's namespace (georep-wirepoke --tls-*): a plain-TCP client, a
# self-signed certificate, one signed by another CA, an expired one signed
# by the cluster's CA, and a valid certificate of another site than the
# hello claims: each is refused, the target logs one line naming the
# peer's address and the reason. No daemon dies, every link stays up,
# nothing is written, every ledger verifies. Then a record replayed inside
# a valid session (the impostor's own certificate and name) is refused by
# the target's kernel ledger and replication goes on: a write afterwards
# commits on all three sites.

set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"

sites_init sites-tls-hostile

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
[ "$failed" = 0 ]
