#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bad input: a malformed configuration (syntax error, wrong field type,
# unknown site in a volume's replicas) is refused by `georepctl config check`
# and by georepd with its JSON path, and georepd exits without touching a
# volume; georepctl commands naming an unknown site or volume, or with a bad
# option, fail with a message naming it; strangers on a site's replication
# port (garbage bytes, a header of an old protocol version, a hello offering
# only future versions, absurd lengths), sent from another site's namespace
# by georep-wirepoke, get an ERROR frame naming the problem and a close, and
# the daemon logs the peer's address and the reason; garbage after a valid
# hello closes that link with the reason logged, and the real peer's link
# comes back. Through all of it every daemon keeps running and serving its
# real peers, no site's written_seq moves, every ledger verifies. Then a
# record replayed by a peer posing as the leader of a later term (the
# target's last record, its seq moved on: georep-wirepoke --replay-last) is refused by
# the target's kernel ledger, the target logs it and drops that connection
# and keeps replicating; a write afterwards still commits on all three sites.

set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"

sites_init sites-badinput

# expect_fail WANT CMD...: CMD exits non-zero and its output holds WANT
expect_fail() {
	local want=$1 rc
	shift
	"$@" >"$T/.cmd" 2>&1
	rc=$?
	echo "\$ $* -> exit $rc"
	sed 's/^/  /' "$T/.cmd"
	[ "$rc" != 0 ] || { echo "expected a failure"; return 1; }
	grep -qF -- "$want" "$T/.cmd" || { echo "expected: $want"; return 1; }
}

# the kernel's view of the three volumes, and each site's written_seq
kernel_view() {
	local s
	for s in $SITES; do
		vol_json "$s" | grep -v '"open_count"' || return 1
	done
}
bad_configs() {
	local before f want
	before=$(kernel_view) || return 1
	# syntax error: the file cut in the middle of the sites
	head -c 200 "$T/cluster.json" >"$T/bad-syntax.json"
	# wrong type: a site_id as a string
	sed 's/"site_id": 2,/"site_id": "two",/' "$T/cluster.json" >"$T/bad-type.json"
	# a volume replica at a site that does not exist
	sed 's/"charlie": {"data"/"delta": {"data"/' "$T/cluster.json" >"$T/bad-site.json"
	for f in syntax type site; do
		case $f in
		syntax) want='$: invalid JSON at line' ;;
		type) want='$.sites[1].site_id: expected an integer, got a string' ;;
		site) want='$.volumes[0].replicas.delta: unknown site "delta"' ;;
		esac
		expect_fail "$want" georepctl config check "$T/bad-$f.json" || return 1
		expect_fail "$want" in_site alpha georepd --config "$T/bad-$f.json" \
			--site alpha --state-dir "$T/state-bad" --foreground \
			--ledger kernel || return 1
		grep -qF "refusing to start" "$T/.cmd" || return 1
		[ ! -e "$T/state-bad" ] || { echo "georepd made $T/state-bad"; return 1; }
	done
	[ "$(kernel_view)" = "$before" ] || { echo "a volume changed"; kernel_view; return 1; }
}

cli_errors() {
	local other
	other=$(for s in $SITES; do [ "$s" != "$P" ] && echo "$s"; done | head -n1)
	expect_fail 'site "nosuchsite" has no replica of volume "vol0"' \
		ctl "$P" switchover "$VOL" nosuchsite || return 1
	expect_fail 'unknown volume "nosuchvolume"' \
		ctl "$P" switchover nosuchvolume "$other" || return 1
	expect_fail 'nosuchvolume' georepctl status nosuchvolume || return 1
	expect_fail 'nosuchvolume' ctl "$P" status nosuchvolume || return 1
	expect_fail "unknown option '--bogus'" ctl "$P" status --bogus || return 1
	expect_fail "unknown option '--bogus'" ctl "$P" switchover "$VOL" "$other" --bogus ||
		return 1
	expect_fail "unknown command 'frobnicate'" georepctl frobnicate
}

hex() { od -An -v -tx1 | tr -d ' \n'; }

garbage() {
	poke bravo alpha 'bad frame magic 0x20544547' 'closed before hello: bad frame magic' \
		--hex "$(printf 'GET / HTTP/1.1\r\nHost: alpha\r\n\r\n' | hex)" || return 1
	# random bytes: whatever the first 24 say, the answer names a bad header
	poke charlie bravo 'error 1 (protocol): ' 'closed before hello: ' \
		--hex "$(head -c 64 /dev/urandom | hex)" || return 1
	# less than a header, then silence: closed at the hello timeout
	poke charlie alpha 'closed' 'closed before hello: no hello within 5000 ms' \
		--hex "$(printf 'SSH-2.0-' | hex)"
}

old_version() {
	# a hello framed with protocol version 0: refused from the header alone
	poke bravo charlie 'unsupported protocol version 0 (this site speaks 1..6)' \
		'unsupported protocol version 0' \
		--hello bravo --site-id 2 --cluster sites --hdr-version 0 || return 1
	# a hello that offers only versions this site does not speak
	poke bravo charlie \
		'error 2 (version): no common protocol version: site "bravo" speaks 7..8, this site 1..6' \
		'no common protocol version' \
		--hello bravo --site-id 2 --cluster sites --versions 7..8
}

absurd_length() {
	poke alpha charlie 'hello frame: length 4294967295 exceeds the limit of 16777216' \
		'length 4294967295 exceeds the limit' \
		--hello alpha --site-id 1 --cluster sites --hdr-length 0xffffffff || return 1
	poke alpha charlie 'hello frame: length 1048576 exceeds the 1024 allowed at this point' \
		'exceeds the 1024 allowed' \
		--hello alpha --site-id 1 --cluster sites --hdr-length 0x100000
}

# A configured site's valid hello (plain TCP does not authenticate peers
# yet), then garbage: sent from that site's own namespace to a site it dials,
# neither of them the primary. The connection replaces the real one, the
# garbage closes it with the reason, and the real one comes back.
garbage_after_hello() {
	local imp tgt lines id
	read -r imp tgt < <(non_primary_pair)
	id=$(site_id "$imp")
	lines=$(wc -l <"$T/$tgt.log")
	in_site "$imp" georep-wirepoke --wait 8000 --hello "$imp" \
		--site-id "$id" --cluster sites \
		--hex "$(printf '\xde\xad\xbe\xef%.0s' 1 2 3 4 5 6 7 8 | hex)" \
		"$(site_ip "$tgt"):$PORT" >"$T/.poke" 2>&1
	echo "\$ georep-wirepoke --hello $imp ... then 32 bytes of garbage, at $tgt"
	sed 's/^/  /' "$T/.poke"
	grep -q "^hello site=$tgt " "$T/.poke" || { echo "no hello from $tgt"; return 1; }
	grep -qF 'error 1 (protocol): bad frame magic 0xefbeadde' "$T/.poke" || return 1
	[ "$(tail -n1 "$T/.poke")" = closed ] || { echo "connection not closed"; return 1; }
	sleep 0.5
	tail -n +"$((lines + 1))" "$T/$tgt.log" |
		grep -F "peer $imp down: bad frame magic 0xefbeadde" ||
		{ echo "no log line at $tgt"; return 1; }
}

check network sites_network || exit 1
check volumes sites_volumes || exit 1
check config sites_config tls=no || exit 1
check bad_config_refused_with_json_path_volumes_untouched bad_configs
check leader_elected_volume_primary elect || exit 1
check baseline_write_applied_everywhere settle || exit 1
check cli_unknown_site_volume_option_errors cli_errors
check garbage_on_replication_port_dropped_and_logged garbage
check old_and_future_protocol_versions_refused old_version
check absurd_frame_lengths_refused absurd_length
check garbage_after_a_valid_hello_closes_that_link garbage_after_hello
check daemons_alive_peers_up_nothing_written unharmed
check replayed_record_refused_replication_goes_on replayed_record
check writes_still_commit_on_all_sites still_replicating
[ "$failed" = 0 ]
