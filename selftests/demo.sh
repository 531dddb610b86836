#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo, guest side. Part 1: a ledger volume replicated from site A to site B,
# with ext4 mounted at A; site A is lost; B takes over with a higher term,
# mounts the filesystem, and every synced file is there with the right
# checksum. Both sites live in this one kernel (two volumes, four loop
# devices); the records travel through the log streams exactly as georepd
# ships them between machines (georep-pump plays the daemon's part).
#
#   site A: vol-a (primary, term 1)  --records-->  site B: vol-b (secondary)
#
# Part 2: the same story with three sites and georepd doing it all
# (election, shipping, commit, failover): selftests/sites/run.sh.
# Part 3: the Merkle trees, a final checkpoint and an inclusion proof
# verified offline (selftests/sites/70-merkle.sh).

set -eu
say() { printf '\n=== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

w=$(mktemp -d /tmp/demo.XXXXXX)
mount -t tmpfs -o size=700m tmpfs "$w"
keys=$w/keys
export GEOREP_KEY_DIR=$keys
mkdir -m 700 "$keys"
. /georep/selftests/kmod/lib/module.sh
grep -q '^georep ' /proc/modules || georep_load /georep/georep.ko
modprobe loop

loopdev() { truncate -s "$2" "$w/$1" && losetup -f --show "$w/$1"; }
a_data=$(loopdev a-data 256M); a_log=$(loopdev a-log 128M)
b_data=$(loopdev b-data 256M); b_log=$(loopdev b-log 128M)

say "site A: create the ledger volume, primary in term 1"
run georepctl volume create vol-a --data "$a_data" --log "$a_log" --format \
	--role primary --term 1 --site-id 1 --key-dir "$keys"
say "site B: a secondary replica of the same ledger (same uuid and seal keys)"
run georep-mkreplica vol-a vol-b --data "$b_data" --log "$b_log" \
	--key-dir "$keys" --site-id 2

say "site A: mkfs.ext4, mount, write a tree of files, sync"
run mkfs.ext4 -q /dev/georep/vol-a
mkdir -p /mnt/a /mnt/b
run mount /dev/georep/vol-a /mnt/a
for i in $(seq 1 40); do
	mkdir -p "/mnt/a/dir$((i % 5))"
	head -c $((i * 3000)) /dev/urandom > "/mnt/a/dir$((i % 5))/file$i"
done
cp -r /georep/Documentation /mnt/a/docs
run sync
(cd /mnt/a && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$w/sums"
echo "$(wc -l < "$w/sums") files, checksums recorded"

say "replicate: ship site A's records to site B, which checks and applies them"
run georep-pump /dev/georep/vol-a.log /dev/georep/vol-b.log --commit-to vol-b
run georepctl status

say "the ledger at site A: one record per write, hash-chained and sealed"
georepctl ledger dump vol-a | head -n 8
echo "..."
run georepctl ledger verify vol-a

say "site A fails: it is fenced (demoted to secondary in term 2) and can no longer write"
run georepctl volume set vol-a --role secondary --term 2
if dd if=/dev/zero of=/dev/georep/vol-a bs=4k count=1 oflag=direct 2>"$w/err"; then
	echo "FAIL: the fenced site accepted a write"; exit 1
fi
echo "write at site A refused: $(tail -n1 "$w/err")"
umount -l /mnt/a || true

say "site B takes over: primary in term 2, mount, check every file"
run georepctl volume set vol-b --role primary --term 2
run mount /dev/georep/vol-b /mnt/b
run umount /mnt/b
run fsck.ext4 -n -f /dev/georep/vol-b
run mount /dev/georep/vol-b /mnt/b
(cd /mnt/b && sha256sum -c --quiet "$w/sums") && \
	echo "all $(wc -l < "$w/sums") files present with the right checksums at site B"
echo "written at site B after failover" > /mnt/b/after-failover && sync
run georepctl status vol-b
run georepctl ledger verify vol-b

umount /mnt/b
georepctl volume delete vol-b
georepctl volume delete vol-a 2>/dev/null || true
losetup -D 2>/dev/null || true
umount "$w" 2>/dev/null || true

say "part 2: three sites (network namespaces, 5 ms links), one georepd each"
echo "the sites trust one CA (made with openssl, one Ed25519 key and certificate"
echo "per site) and talk mutual TLS 1.3, changing keys every 4 MiB; georepd runs"
echo "consensus per volume over the kernel ledgers; the primary site is killed"
echo "and another takes over with every synced file intact"
/georep/selftests/sites/run.sh 10-failover

say "part 3: proofs: every site's Merkle tree over its ledger, checkpoints final"
echo "once the leader's signature and a majority's cosignatures are on them, and"
echo "an inclusion proof of one write verified offline with the sites' public keys"
/georep/selftests/sites/run.sh 70-merkle

say "demo done"
