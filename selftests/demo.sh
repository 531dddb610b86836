#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo, guest side: what a sysadmin does and sees, with georepd and
# georepctl only. Three sites (network namespaces alpha, bravo and charlie,
# 5 ms apart, one kernel; selftests/sites/lib.sh) with blank disks, a CA
# and a certificate per site, one configuration file; georepd creates the
# replicated volume (day one), ext4 goes on it at the primary, the primary
# site fails, another takes over with every file intact, every site's
# ledger verifies, and a final checkpoint, cosigned by a majority, proves a
# write to an auditor offline. georepd's eBPF programs pace each
# replication link and steer the volume's service address to the primary:
# a client reaches the primary, and after the failover the new one, at the
# same address.

set -u
. /georep/selftests/kmod/lib/module.sh
grep -q '^georep ' /proc/modules || georep_load /georep/georep.ko || exit 1
. /georep/selftests/sites/lib.sh

say() { printf '\n=== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { echo "demo FAILED: $*"; show_logs 20; exit 1; }
# client S: connect from S's namespace and its clients' cgroup to the
# volume's service address, print the answer
client() {
	in_site "$1" bash -c "echo \$\$ >'$SITES_CG/app-$1/cgroup.procs' &&
		exec 3<>/dev/tcp/$SERVICE_IP/8080 && timeout 3 cat <&3" 2>&1
}

sites_init demo
SITES_DAY_ONE=yes
VT_VOLS="alpha.$VOL bravo.$VOL charlie.$VOL"
# the lab's disks are loop devices on tmpfs, which log an error for every
# WRITE_ZEROES they cannot do: no zeroing by mkfs nor by ext4's lazy init
MKFS_OPTS="-E nodiscard,lazy_itable_init=1,lazy_journal_init=1"
MOUNT_OPTS="-o noinit_itable"

say "three sites, alpha, bravo and charlie, each in its own network namespace, 5 ms apart, 200 Mbit/s"
sites_network >/dev/null 2>&1 && sites_cgroup2 && sites_shape 200 1000 >/dev/null 2>&1 ||
	die "network"
echo "(each site sends through the fq qdisc, which keeps the pace program's departure times)"
for s in $SITES; do
	eval "D_$s=\$(vt_loop data-$s 256)" && eval "L_$s=\$(vt_loop log-$s 128)" ||
		die "loop devices"
	eval "echo \"  $s: data \$D_$s, log \$L_$s (blank)\""
done

say "a cluster CA, and an Ed25519 key and certificate for each site"
run georepctl site ca --out "$T/pki" || die "site ca"
for s in $SITES; do
	run georepctl site init "$s" --ca-cert "$T/pki/ca.crt" --ca-key "$T/pki/ca.key" \
		--out "$T/pki" || die "site init $s"
done
echo "(each site keeps its own .key, mode 0600; ca.crt goes to every site)"

say "one configuration file, the same at every site: sites, addresses, the volume's devices"
# pacing: every replication link at 100 Mbit/s; routing: the volume's service
# address, a backend per site, and at each site the cgroup of its clients
SERVICE_IP=10.44.100.1
SITES_SERVICE=$SERVICE_IP:8080
for s in $SITES; do
	mkdir -p "$SITES_CG/app-$s" || die "cgroup"
	eval "SITES_EXTRA_$s='\"route_cgroup\": \"$SITES_CG/app-$s\"'"
done
sites_config site_extra='"pace_mbit": 100' >/dev/null || die "config"
run cat "$T/cluster.json"
run georepctl config check "$T/cluster.json" || die "config check"

say "a service at every site on port 8080 (here: it answers its site's name)"
for s in $SITES; do
	in_site "$s" busybox nc -ll -p 8080 -e echo "the service at $s" &
	PIDS="$PIDS $!"
done

say "start georepd at every site; no volume exists yet: the daemons create it"
SITES_GEOREPD_ARGS="--bpf on"
for s in $SITES; do
	echo "$ georepd --config $T/cluster.json --site $s --key-dir $T/keys-$s --bpf on ...  (in gr-$s)"
	start_site "$s"
done
P=$(wait_primary 90) || die "no primary"
grep -h "formatted on\|from site" "$T"/*.log | sed 's/^/  /'
echo "  primary: $P (elected by the sites; no uuid or key was copied by hand)"
run ctl "$P" status

say "eBPF at the primary: admission, pacing per peer, and the route of the service address"
wait_for 30 eval 'ctl "$P" bpf status | grep -q "service .* -> $P "' || die "no route to $P"
run ctl "$P" bpf status
C=$(for s in $SITES; do [ "$s" != "$P" ] && echo "$s"; done | head -n 1)
say "a client at $C (in its cgroup) connects to the service address $SITES_SERVICE"
echo "$ exec 3<>/dev/tcp/$SERVICE_IP/8080; cat <&3   (at $C)"
client "$C" | grep -x "the service at $P" || die "the client did not reach $P"

say "at the primary: mkfs.ext4, mount, a tree of files, sync"
dev=/dev/georep/$P.$VOL
run mkfs.ext4 -q $MKFS_OPTS "$dev" || die "mkfs"
mkdir -p "$T/mnt-$P"
run mount $MOUNT_OPTS "$dev" "$T/mnt-$P" || die "mount"
for i in $(seq 1 30); do
	mkdir -p "$T/mnt-$P/dir$((i % 4))"
	head -c $((i * 4000)) /dev/urandom >"$T/mnt-$P/dir$((i % 4))/file$i"
done
cp -r /georep/Documentation "$T/mnt-$P/docs"
run sync
(cd "$T/mnt-$P" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/sums"
echo "  $(wc -l <"$T/sums") files, checksums recorded"
run ctl "$P" status
echo "$ georepctl bpf status --site $P   (its pace program, while the files replicated)"
ctl "$P" bpf status | sed -n '/^pace/,$p'

say "site $P fails: its daemon is killed and its links are cut"
umount -l "$T/mnt-$P"
kill_site "$P" && cut_links "$P" || die "kill $P"
NEWP=$(wait_primary 60 "$P") || die "no new primary"
echo "  new primary: $NEWP"
run ctl "$NEWP" status

say "the client at $C connects to the same service address: the new primary answers"
wait_for 30 eval 'ctl "$C" bpf status | grep -q "service .* -> $NEWP "' || die "no route to $NEWP"
client "$C" | grep -x "the service at $NEWP" || die "the client did not reach $NEWP"
echo "$ georepctl bpf status --site $C   (its route program)"
ctl "$C" bpf status | sed -n '/^route/,/^pace/p' | sed '$d'

say "site $NEWP mounts the file system: every file is there"
dev=/dev/georep/$NEWP.$VOL
run fsck.ext4 -n -f "$dev" >/dev/null || die "fsck"
mkdir -p "$T/mnt-$NEWP"
run mount $MOUNT_OPTS "$dev" "$T/mnt-$NEWP" || die "mount at $NEWP"
(cd "$T/mnt-$NEWP" && sha256sum -c --quiet "$T/sums") || die "checksums"
echo "  all $(wc -l <"$T/sums") files with the right checksums at $NEWP"
umount "$T/mnt-$NEWP"

say "every surviving site's ledger verifies, each with its own copy of the seal key"
for s in $SITES; do
	[ "$s" = "$P" ] && continue
	run georepctl ledger verify "$s.$VOL" --key-dir "$T/keys-$s" || die "verify $s"
done

say "finality: checkpoints signed by the leader, final once a majority of sites cosigned"
for i in $(seq 60); do
	c=$(site_rep_get "$NEWP" .commit_seq)
	[ "$(site_rep_get "$NEWP" .final_seq)" = "$c" ] && break
	sleep 0.5
done
echo "  at $NEWP: commit_seq $c, final_seq $(site_rep_get "$NEWP" .final_seq)"
run cat "$T/state-$NEWP/$VOL.final"

say "an auditor checks that record 3 is in the ledger, offline, with only the sites' public keys"
for s in $SITES; do
	openssl x509 -in "$T/pki/$s.crt" -pubkey -noout >"$T/$s.pub"
	georepctl proof vkey "$T/$s.pub" "georep/sites/$s" >>"$T/trust"
done
echo "$ georepctl proof inclusion $VOL 3 --site $NEWP > proof"
ctl "$NEWP" proof inclusion "$VOL" 3 >"$T/proof" || die "proof"
cat "$T/proof"
run georepctl proof verify "$T/proof" --trust "$T/trust" --quorum 2 || die "proof verify"

if dmesg | grep -q "WRITE_ZEROES\|I/O error"; then
	dmesg | grep "WRITE_ZEROES\|I/O error" | tail -n 3
	die "kernel errors during the demo"
fi
say "demo done"
