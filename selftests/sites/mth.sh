# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# An RFC 9162 Merkle Tree Hash in bash with openssl, independent of
# georep's own code, for 70-merkle.sh to recompute a site's root from its
# ledger dump. Few processes, which TCG makes slow: one openssl for all
# the leaves, one a level of the tree. Tested on the host against the RFC
# 6962 reference tree by mth_test.sh.
#
#   mth_leaves DIR HEX...   the leaf hashes of the leaf inputs HEX (lowercase
#                           hex, "" for an empty leaf) into the array H
#   mth_root DIR            the tree hash of H on stdout
#
# DIR is a scratch directory (emptied).

# write the bytes of the hex string $1 to the file $2 (no process)
mth_hex_to_file() {
	local i esc=""
	for ((i = 0; i < ${#1}; i += 2)); do
		esc+="\\x${1:i:2}"
	done
	printf %b "$esc" >"$2"
}

# the SHA-256 of each file given, in order, into the array MTH_SUMS
mth_sums() {
	local line
	MTH_SUMS=()
	[ $# = 0 ] && return 0
	while read -r line; do
		MTH_SUMS+=("${line:0:64}")
	done < <(openssl dgst -sha256 -r "$@")
	[ ${#MTH_SUMS[@]} = $# ]
}

# mth_hash_all DIR PREFIX HEX...: MTH_SUMS[i] = SHA-256(PREFIX || HEX[i])
mth_hash_all() {
	local dir=$1 pre=$2 i=0 h
	local -a files=()
	shift 2
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	for h in "$@"; do
		# names sort as they were given: openssl answers in argument order
		mth_hex_to_file "$pre$h" "$dir/$i" || return 1
		files+=("$dir/$i")
		i=$((i + 1))
	done
	mth_sums "${files[@]}"
}

mth_leaves() {
	local dir=$1
	shift
	mth_hash_all "$dir" 00 "$@" || return 1
	H=("${MTH_SUMS[@]}")
}

# Bottom up, a level at a time: nodes paired left to right, a last odd
# node carried up unchanged. That is the tree of RFC 9162 2.1.1, whose
# left subtree is always the largest power of two below the size. The
# empty tree hashes the empty string.
mth_root() {
	local dir=$1 i n
	local -a level=("${H[@]}") pairs
	if [ ${#level[@]} = 0 ]; then
		mth_sums /dev/null && echo "${MTH_SUMS[0]}"
		return
	fi
	while [ ${#level[@]} -gt 1 ]; do
		n=${#level[@]}
		pairs=()
		for ((i = 0; i + 1 < n; i += 2)); do
			pairs+=("${level[i]}${level[i + 1]}")
		done
		mth_hash_all "$dir" 01 "${pairs[@]}" || return 1
		[ $((n % 2)) = 1 ] && MTH_SUMS+=("${level[n - 1]}")
		level=("${MTH_SUMS[@]}")
	done
	echo "${level[0]}"
}
