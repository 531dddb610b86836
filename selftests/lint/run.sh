#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Static checks of the kernel module, as KTAP: checkpatch --strict over
# kmod/ and include/uapi/, and sparse over the module build. checkpatch.pl
# is taken from Debian's linux-source-6.1 at run time, never kept in the tree.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$top/build/lint
src=/usr/src/linux-source-6.1.tar.xz
kdir=${KDIR:-$(ls -d /lib/modules/*-amd64/build 2>/dev/null | sort -V | tail -n1)}
mkdir -p "$work"

echo "KTAP version 1"
echo "1..2"

if [ ! -x "$work/scripts/checkpatch.pl" ]; then
	tar -xJf "$src" -C "$work" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch' 2>/dev/null
fi
checkpatch() {
	"$work/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
		--ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES,LINUX_VERSION_CODE"$1" \
		-f "${@:2}" 2>&1 | grep -E ': (ERROR|WARNING|CHECK):'
}
# BIT() is not exported to userspace: the uapi header spells its masks out
out=$(checkpatch "" "$top"/kmod/*.[ch]; checkpatch ",BIT_MACRO" "$top"/include/uapi/linux/georep.h \
	"$top"/include/uapi/linux/georep_bpf.h)
if [ -z "$out" ]; then
	echo "ok 1 checkpatch --strict kmod/"
else
	echo "$out" | sed 's/^/# /'
	echo "not ok 1 checkpatch --strict kmod/"
fi

if ! command -v sparse >/dev/null; then
	echo "ok 2 sparse # SKIP sparse not installed"
	exit 0
fi
out=$(make -C "$kdir" M="$top" C=2 CF=-D__CHECK_ENDIAN__ modules 2>&1)
rc=$?
warn=$(echo "$out" | grep -E '^/.*: (warning|error):' | grep "$top/kmod/")
if [ $rc -eq 0 ] && [ -z "$warn" ]; then
	echo "ok 2 sparse"
else
	echo "$out" | grep -E 'warning|error' | sed 's/^/# /'
	echo "not ok 2 sparse"
fi
