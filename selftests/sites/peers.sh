# SPDX-License-Identifier: GPL-2.0
#
# Hostile peers at a site's replication port, for the scenarios that play
# them (60-bad-input over plain TCP, 62-tls-trust over mutual TLS): the
# baseline, georep-wirepoke from another site's namespace with the check of
# its reply and of the target's log line, the replayed record, and the
# checks that nothing was harmed. Sourced after lib.sh; P is the primary.

# the TLS identity of site S for georep-wirepoke ("" over plain TCP)
peer_tls() {
	[ "${SITES_TLS:-yes}" = yes ] || return 0
	echo "--tls-ca $T/pki/ca.crt --tls-cert $T/pki/$1.crt --tls-key $T/pki/$1.key"
}

written() {
	local s
	for s in $SITES; do
		echo "$s $(vol_num "$s" written_seq)"
	done
}


# a first write, committed and applied everywhere: the baseline
settle() {
	local dev=/dev/georep/$P.$VOL seq s i
	dd if=/dev/urandom of="$dev" bs=4096 count=16 oflag=direct status=none || return 1
	seq=$(vol_num "$P" written_seq)
	for s in $SITES; do
		vt_wait_applied "$s.$VOL" "$seq" || return 1
	done
	# nothing more pending: the same numbers twice, a second apart
	for i in $(seq 1 20); do
		BASE=$(written)
		sleep 1
		[ "$(written)" = "$BASE" ] && break
	done
	echo "$BASE"
}


# poke FROM TO WANT_REPLY WANT_LOG ARGS...: georep-wirepoke from site FROM's
# namespace to site TO's replication port; the reply must hold WANT_REPLY and
# end with the close, TO's log must gain a line naming FROM's address and
# WANT_LOG
poke() {
	local from=$1 to=$2 reply=$3 logged=$4 lines
	shift 4
	lines=$(wc -l <"$T/$to.log")
	in_site "$from" georep-wirepoke --wait 8000 "$@" "$(site_ip "$to"):$PORT" \
		>"$T/.poke" 2>&1
	echo "\$ georep-wirepoke $* $(site_ip "$to"):$PORT (from $from)"
	sed 's/^/  /' "$T/.poke"
	grep -qF -- "$reply" "$T/.poke" || { echo "expected reply: $reply"; return 1; }
	[ "$(tail -n1 "$T/.poke")" = closed ] || { echo "connection not closed"; return 1; }
	sleep 0.5
	tail -n +"$((lines + 1))" "$T/$to.log" | grep -F "$(site_ip "$from"):" |
		grep -F -- "$logged" || { echo "no log line at $to: $logged"; return 1; }
}


# IMP TGT, neither of them the primary, IMP dialing TGT.
non_primary_pair() {
	local pair
	for pair in "alpha bravo" "alpha charlie" "bravo charlie"; do
		set -- $pair
		[ "$1" != "$P" ] && [ "$2" != "$P" ] && break
	done
	echo "$1 $2"
}

site_id() {
	case $1 in alpha) echo 1 ;; bravo) echo 2 ;; charlie) echo 3 ;; esac
}


# A record replayed in a new session by a peer posing as the leader of the
# next term (with TLS: a session of the impostor's own valid identity): the target's kernel ledger refuses it (chain and seal), the
# target logs the record, the peer and the reason, refuses the connection
# and goes on replicating (before: "replication stopped: ledger refused
# record N", for good).
replayed_record() {
	local imp tgt term fseq lines
	read -r imp tgt < <(non_primary_pair)
	term=$(site_rep_get "$tgt" .term) || return 1
	fseq=$(($(vol_num "$tgt" written_seq) + 1))
	lines=$(wc -l <"$T/$tgt.log")
	in_site "$imp" georep-wirepoke --wait 8000 $(peer_tls "$imp") --hello "$imp" \
		--site-id "$(site_id "$imp")" \
		--cluster sites --versions 1..1 --replay-last "/dev/georep/$tgt.$VOL.log" \
		--volume "$VOL" --term $((term + 1)) --to "$(site_id "$tgt")" \
		"$(site_ip "$tgt"):$PORT" >"$T/.poke" 2>&1
	echo "\$ georep-wirepoke --hello $imp ... --replay-last /dev/georep/$tgt.$VOL.log --term $((term + 1)), at $tgt"
	sed 's/^/  /' "$T/.poke"
	grep -qF "# sent record $fseq " "$T/.poke" || { echo "record $fseq not sent"; return 1; }
	grep -qF 'volume frame refused' "$T/.poke" || { echo "no refusal"; return 1; }
	[ "$(tail -n1 "$T/.poke")" = closed ] || { echo "connection not closed"; return 1; }
	sleep 0.5
	tail -n +"$((lines + 1))" "$T/$tgt.log" | grep -F "record $fseq from $imp refused: " |
		grep -F "consensus rebuilt from the ledger" ||
		{ echo "no log line at $tgt"; tail -n 20 "$T/$tgt.log"; return 1; }
	if tail -n +"$((lines + 1))" "$T/$tgt.log" | grep -F "replication stopped"; then
		return 1
	fi
	[ "$(site_rep_get "$tgt" .records_refused)" -ge 1 ] || return 1
	# the APPEND's later term deposes the leader: one is elected again
	wait_for 30 writable_primary || { echo "no writable primary after it"; return 1; }
	echo "primary after it: $(primary_site)"
}

# one site is primary, and its georepd accepts writes
writable_primary() {
	local p
	p=$(primary_site) && [ "$(site_rep_get "$p" .writable)" = true ]
}

# every daemon alive and answering with both peers up, nothing written
unharmed() {
	local s pid now i
	for s in $SITES; do
		eval "pid=\${PID_$s:-}"
		kill -0 "$pid" 2>/dev/null || { echo "georepd at $s (pid $pid) died"; return 1; }
		for i in $(seq 1 30); do
			ctl "$s" status --json >"$T/.st" || return 1
			grep -q '"peers_up": 2' "$T/.st" && break
			sleep 0.5
		done
		grep -q '"peers_up": 2' "$T/.st" || { echo "$s: a peer is down"; cat "$T/.st"; return 1; }
	done
	now=$(written)
	echo "$now"
	[ "$now" = "$BASE" ] || { echo "written_seq moved, was: $BASE"; return 1; }
	share_keys || return 1
	for s in $SITES; do
		georepctl ledger verify "$s.$VOL" --key-dir "$KEYS" || return 1
	done
}

still_replicating() {
	local p seq s
	p=$(primary_site) || return 1
	dd if=/dev/urandom of="/dev/georep/$p.$VOL" bs=4096 count=8 seek=64 oflag=direct \
		status=none || return 1
	seq=$(vol_num "$p" written_seq)
	for s in $SITES; do
		vt_wait_applied "$s.$VOL" "$seq" || return 1
	done
	written
}
