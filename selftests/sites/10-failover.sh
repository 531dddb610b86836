#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Losing the primary site: a 3-site quorum volume (the sites linked by
# mutual TLS 1.3, each peer proving its name), ext4 made and filled at
# the primary the daemons elect, then the primary site is killed (daemon
# SIGKILL, links cut). Another site must become primary within
# FAILOVER_MAX_S; the file system is mounted there, every synced file has
# its checksum and fsck -n is clean.

set -u
. "$(dirname "$0")/lib.sh"
FAILOVER_MAX_S=20	# qemu TCG, GEOREPD_ELECTION_MS=3000

sites_init sites-failover

fill() {
	local dev=/dev/georep/$P.$VOL i
	mkfs.ext4 -q -F "$dev" || return 1
	mkdir -p "$T/mnt-$P" && mount "$dev" "$T/mnt-$P" || return 1
	for i in 1 2 3 4 5 6; do
		head -c $((i * 1000000)) /dev/urandom >"$T/mnt-$P/f$i" || return 1
	done
	sync || return 1
	(cd "$T/mnt-$P" && sha256sum f*) >"$T/sums" || return 1
	cat "$T/sums"
}

kill_primary() {
	local t0 t1
	kill_site "$P" && cut_links "$P" || return 1
	t0=$(now_s)
	NEWP=$(wait_primary $FAILOVER_MAX_S "$P") || return 1
	t1=$(now_s)
	echo "failover $P -> $NEWP in $(elapsed "$t0" "$t1") s (bound ${FAILOVER_MAX_S} s)"
	echo "(one kernel serves the three sites: $P's volume still says primary in"
	echo " its old term, fenced by the term; its site is gone)"
	ctl "$NEWP" status
}

mount_new() {
	fsck.ext4 -n "/dev/georep/$NEWP.$VOL" || return 1
	mkdir -p "$T/mnt-$NEWP"
	mount "/dev/georep/$NEWP.$VOL" "$T/mnt-$NEWP" || return 1
	(cd "$T/mnt-$NEWP" && sha256sum -c "$T/sums")
}

check network sites_network || exit 1
check volumes sites_volumes || exit 1
check config sites_config || exit 1
check leader_elected_volume_primary elect || exit 1
check links_mutual_tls13 links_tls
check mkfs_and_fill_at_primary fill || exit 1
check tls_key_updates_during_replication tls_rekeyed "$P"
check kill_primary_site_new_primary kill_primary || exit 1
check fsck_mount_at_new_primary_checksums mount_new
[ "$failed" = 0 ]
