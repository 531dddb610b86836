# SPDX-License-Identifier: GPL-2.0
#
# Nested KTAP helpers for the selftests/kmod/*.sh scripts, sourced by them
# (bash). Results are counted in $n and $failed.
#
#   check NAME CMD...       run CMD in this shell (so it may set what the
#                           cleanup needs), print its output (kept in $outf)
#                           as "    # " diagnostics, then the KTAP line
#   result R NAME           the KTAP line for a result known already: R is 0
#                           or "ok" for a pass, anything else a failure
#   need_georep [PROG...]   exit $KSFT_SKIP unless each PROG is on PATH and
#                           georep.ko is loaded; loads the loop module
#   ktap_tmpfs TAG MiB      mounts a tmpfs on a new /tmp/TAG.XXXXXX and
#                           echoes its path (echoed before the mount, so a
#                           cleanup can remove the directory if it fails)
#   drop_loops DEV...       detach these loop devices (empty ones skipped)
#   drop_tmpfs DIR          unmount and remove DIR (nothing when empty)

KSFT_SKIP=4
n=0
failed=0

result() {
	n=$((n + 1))
	if [ "$1" = 0 ] || [ "$1" = ok ]; then
		echo "    ok $n $2"
	else
		echo "    not ok $n $2"
		failed=$((failed + 1))
	fi
}

check() {
	local name=$1 rc t0=$SECONDS
	shift
	"$@" >"$outf" 2>&1
	rc=$?
	sed 's/^/    # /' "$outf"
	# where a scenario's time goes (make check stays under 40 minutes)
	echo "    # $name: $((SECONDS - t0)) s"
	result $rc "$name"
}

need_georep() {
	local prog
	for prog in "$@"; do
		command -v "$prog" >/dev/null || { echo "$prog not on PATH"; exit $KSFT_SKIP; }
	done
	grep -q '^georep ' /proc/modules || { echo "georep.ko not loaded"; exit $KSFT_SKIP; }
	modprobe loop 2>/dev/null
}

ktap_tmpfs() {
	local dir
	dir=$(mktemp -d "/tmp/$1.XXXXXX") || return 1
	echo "$dir"
	mount -t tmpfs -o size="$2"m tmpfs "$dir"
}

drop_loops() {
	local l
	for l in "$@"; do
		[ -n "$l" ] && losetup -d "$l" 2>/dev/null
	done
	return 0
}

# drop_tmpfs DIR
. "$(dirname "${BASH_SOURCE[0]}")/tmpfs.sh"
