# SPDX-License-Identifier: GPL-2.0
#
# Shared by the host sides of the power-cut tests (crash.sh, crash-truncate.sh).
#
# boot2_report LOG RC: print boot 2's console LOG as the "boot2-recovery"
# test: its KTAP indented as a subtest, everything else as diagnostics, then
# "ok 2" or "not ok 2" from the runner's status RC (returned).

boot2_report() {
	local log=$1 rc=$2
	sed -e 's/\r$//' -e '/^\(ok\|not ok\|KTAP\|1\.\.\)/s/^/    /' \
	    -e '/^    /!{/^#/!s/^/# /}' "$log"
	if [ "$rc" = 0 ]; then
		echo "ok 2 boot2-recovery"
	else
		echo "not ok 2 boot2-recovery"
	fi
	return "$rc"
}
