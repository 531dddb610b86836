#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host test of georep-logreplay on a dm-log-writes log made here (the format
# of drivers/md/dm-log-writes.c, written by python3): list names every
# entry, replay to a point writes exactly the entries before it, --subset
# keeps only writes before the next flush and is reproducible from its
# seed, and a damaged log or bad arguments are refused. Prints KTAP.
#
#   user/tools/logreplay_test.sh [BINDIR]   (default: build/user/bin of this tree)

BIN=${1:-${GEOREP_BIN:-$(cd "$(dirname "$0")/../../build/user/bin" 2>/dev/null && pwd)}}
LR=$BIN/georep-logreplay
n=0
failed=0
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
	fi
}

echo "KTAP version 1"
echo "1..8"

# mklog FILE [NR_ENTRIES_OVERRIDE]: 512-byte sectors; entries:
#  0 write sector 0 "A"x512   1 write sector 1 "B"x512   2 flush
#  3 fua sector 2 "C"x512     4 mark "m1"                5 write sector 3 "D"
#  6 write sector 4 "E"       7 discard sector 0 nr 1    8 flush
mklog() {
	python3 - "$1" "${2:-}" <<'PY'
import struct, sys
ss = 512
ents = [(0, 1, 0, b"A"), (1, 1, 0, b"B"), (0, 0, 1, None), (2, 1, 2, b"C"),
        (0, 0, 8, b"m1"), (3, 1, 0, b"D"), (4, 1, 0, b"E"), (0, 1, 4, None),
        (0, 0, 1, None)]
nr = int(sys.argv[2]) if sys.argv[2] else len(ents)
out = bytearray(struct.pack("<QQQI", 0x6a736677736872, 1, nr, ss).ljust(ss, b"\0"))
for sector, nrs, flags, data in ents:
    if flags & 8:    # a mark: its text in the entry's block
        out += (struct.pack("<QQQQ", sector, nrs, flags, len(data)) + data).ljust(ss, b"\0")
        continue
    out += struct.pack("<QQQQ", sector, nrs, flags, 0).ljust(ss, b"\0")
    if data is not None and not flags & 4:
        out += data * ss
open(sys.argv[1], "wb").write(out)
PY
}

if ! command -v python3 >/dev/null || [ ! -x "$LR" ]; then
	for i in $(seq 1 8); do echo "ok $i logreplay # SKIP python3 or $LR missing"; done
	exit 0
fi

mklog "$T/log"
"$LR" list "$T/log" >"$T/list" 2>&1
diff -u - "$T/list" <<'EOF2' | sed 's/^/# /'
0 write 0 1
1 write 1 1
2 flush 0 0
3 fua 2 1
4 mark 0 0 m1
5 write 3 1
6 write 4 1
7 discard 0 1
8 flush 0 0
EOF2
ok "${PIPESTATUS[0]}" "list names every entry with its kind, sectors and mark"

# dev content as a string of the first byte of each of 6 sectors (. = zero)
state() { python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print("".join(chr(d[i*512]) if d[i*512] else "." for i in range(6)))' "$1"; }

truncate -s 3072 "$T/dev"
"$LR" replay "$T/log" "$T/dev" --to 4 && [ "$(state "$T/dev")" = "ABC..." ]
ok $? "replay --to 4 writes entries 0..3 only ($(state "$T/dev"))"

"$LR" replay "$T/log" "$T/dev" --from 4 --to 9 && [ "$(state "$T/dev")" = ".BCDE." ]
ok $? "replay --from 4 --to 9 goes on from there; a discard is zeros ($(state "$T/dev"))"

# subsets of entries 5, 6, 7 (stop at the flush, 8); the same seed twice
good=0
for seed in 1 2 3 4 5 6 7 8; do
	truncate -s 0 "$T/s1" "$T/s2"; truncate -s 3072 "$T/s1" "$T/s2"
	"$LR" replay "$T/log" "$T/s1" --to 5 --subset $seed >/dev/null &&
		"$LR" replay "$T/log" "$T/s2" --to 5 --subset $seed >/dev/null &&
		cmp -s "$T/s1" "$T/s2" || good=1
	case $(state "$T/s1") in
	ABC...|ABCD..|ABC.E.|ABCDE.|.BC...|.BCD..|.BC.E.|.BCDE.) ;;
	*) echo "# seed $seed: $(state "$T/s1")"; good=1 ;;
	esac
done
ok $good "--subset keeps some writes before the next flush, the same for one seed"

# from entry 3 on the window holds the FUA entry 3 (C) before 5, 6, 7: a
# state that keeps D, E or the discard keeps C too (they may have been
# issued because C completed); every seed, then all four states seen
good=0
seen=
for seed in $(seq 1 40); do
	truncate -s 0 "$T/s1"; truncate -s 3072 "$T/s1"
	"$LR" replay "$T/log" "$T/s1" --to 3 --subset $seed >/dev/null || good=1
	st=$(state "$T/s1")
	case $st in
	AB....|ABC...|ABCD..|ABC.E.|ABCDE.|.BC...|.BCD..|.BC.E.|.BCDE.) ;;
	*) echo "# seed $seed: $st (a write kept without the FUA before it)"; good=1 ;;
	esac
	case " $seen " in *" $st "*) ;; *) seen="$seen $st" ;; esac
done
for st in AB.... ABC... .BCDE.; do
	case " $seen " in *" $st "*) ;; *) echo "# state $st never chosen (seen:$seen)"; good=1 ;; esac
done
ok $good "--subset keeps a FUA entry logged before any write it keeps"

mklog "$T/short" 12
"$LR" list "$T/short" >/dev/null 2>"$T/err"; rc=$?
grep -q "entry 9 is past the end of the log" "$T/err" && [ $rc = 1 ]
ok $? "a log claiming more entries than it holds: exit 1 naming the entry"

printf 'not a log' >"$T/bad"
"$LR" list "$T/bad" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "not a dm-log-writes log" "$T/err"
ok $? "not a log: exit 1 with the reason"

"$LR" replay "$T/log" "$T/dev" --to x 2>/dev/null; r1=$?
"$LR" replay "$T/log" "$T/dev" 2>/dev/null; r2=$?
"$LR" replay "$T/log" "$T/dev" --to 99 2>/dev/null; r3=$?
[ $r1 = 2 ] && [ $r2 = 2 ] && [ $r3 = 1 ]
ok $? "usage errors exit 2 (--to x: $r1, no --to: $r2), --to past the log exits 1 ($r3)"

[ $failed = 0 ]
