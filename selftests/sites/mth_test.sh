#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mth.sh, the Merkle Tree Hash 70-merkle.sh recomputes roots with, against
# the RFC 6962 reference tree (user/lib/tests/data/merkle): the root of
# every size 0..8, and the leaf hashes of all 8 leaves. On the host, no VM.
# KTAP.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VEC=$HERE/../../user/lib/tests/data/merkle/rfc6962-reference-tree.json
. "$HERE/mth.sh"

n=0
failed=0
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
	fi
}

dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
mapfile -t leaves < <(jq -r '.leaf_inputs[]' "$VEC")
mapfile -t roots < <(jq -r '.roots[]' "$VEC")
mapfile -t want < <(jq -r '.node_hashes_by_level[0][]' "$VEC")

echo "KTAP version 1"
echo "1..$((${#roots[@]} + 1))"
[ ${#leaves[@]} = 8 ] && [ ${#roots[@]} = 9 ] || { echo "# $VEC: not the tree it was"; exit 1; }

mth_leaves "$dir/l" "${leaves[@]}"
[ "${H[*]}" = "${want[*]}" ]
result $? leaf_hashes_of_8_leaves

for size in "${!roots[@]}"; do
	mth_leaves "$dir/l" "${leaves[@]:0:size}"
	got=$(mth_root "$dir/n")
	[ "$got" = "${roots[size]}" ] || echo "# size $size: got $got, want ${roots[size]}"
	[ "$got" = "${roots[size]}" ]
	result $? "root_of_size_$size"
done
[ $failed = 0 ]
