#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the kernel selftests (selftests/kmod/*.sh) against georep.ko, KTAP.
#
#   run_tests.sh [NAME...]      NAME: 00-lab, 00-lab.sh or a path
#
# Loads $GEOREP/georep.ko (GEOREP defaults to /georep, the VM lab's copy of
# the tree), runs each script in sorted order (default: every *.sh here but
# this one), unloads the module and checks the kernel log. One KTAP line per
# script plus a last one, "module-unload", for rmmod and the kernel log.
#
# A script's output is printed as KTAP diagnostics ("# " + line); lines that
# already carry the 4-space indent of nested KTAP are kept as they are.
# Script status: 0 pass, 4 skip, anything else fail. A script also fails when
# the kernel logs a BUG, WARNING, Oops or a leak while it runs, or when it
# runs longer than KMOD_TEST_TIMEOUT seconds (default 600).
#
# Exit status: 0 when nothing failed, 1 otherwise.

set -u

GEOREP=${GEOREP:-/georep}
export GEOREP
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib/module.sh"
SELF=$(basename "${BASH_SOURCE[0]}")
KO=${GEOREP_KO:-$GEOREP/georep.ko}
TIMEOUT=${KMOD_TEST_TIMEOUT:-600}
KSFT_SKIP=4

# Kernel log lines that fail a test. "still has objects" is what
# kmem_cache_destroy() says when a cache is destroyed with live objects.
BAD_KMSG='BUG:|WARNING:|Oops|general protection fault|Kernel panic|kernel BUG|Call Trace:|still has objects|memory leak|leaked|UBSAN:|KASAN:|refcount_t:|INFO: task .* blocked'
# Taint bits that mean the kernel complained (D die, W warning, L soft
# lockup, B bad page, M machine check); O and E (out-of-tree, unsigned) are
# expected for georep.ko.
BAD_TAINT=$(( (1 << 4) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14) ))

tests=()
if [ $# -gt 0 ]; then
	for a in "$@"; do
		case $a in
		*/*) tests+=("$a") ;;
		*.sh) tests+=("$HERE/$a") ;;
		*) tests+=("$HERE/$a.sh") ;;
		esac
	done
else
	for t in $(cd "$HERE" && LC_ALL=C ls -- *.sh); do
		[ "$t" = "$SELF" ] || tests+=("$HERE/$t")
	done
fi

total=$(( ${#tests[@]} + 1 ))
failed=0
n=0

echo "KTAP version 1"
echo "1..$total"

# kmsg_mark: number of kernel log lines now; kmsg_since MARK: lines after it
kmsg_mark() { dmesg 2>/dev/null | wc -l; }
kmsg_since() { dmesg 2>/dev/null | tail -n "+$(( $1 + 1 ))"; }

# bad_kmsg MARK: print the offending kernel log lines since MARK, if any
bad_kmsg() {
	kmsg_since "$1" | grep -E "$BAD_KMSG"
}

# whole_kmsg MARK: a report with a stack (a hung task, a warning) is many
# lines, and only its first matches BAD_KMSG: print the kernel log since
# MARK, its last 300 lines, when it has one
whole_kmsg() {
	kmsg_since "$1" | grep -qE 'Call Trace:|blocked for more than' || return 0
	echo "# the kernel log since the test began (last 300 lines):"
	kmsg_since "$1" | tail -n 300 | sed 's/^/# kmsg| /'
}

# blocked_tasks: at a timeout, the kernel stacks of the tasks in D state
# (from /proc, not sysrq: its "Call Trace" would fail module-unload too)
blocked_tasks() {
	local p st
	for p in /proc/[0-9]*; do
		st=$(awk '/^State:/ { print $2 }' "$p/status" 2>/dev/null)
		[ "$st" = D ] || continue
		echo "# blocked: ${p#/proc/} $(cat "$p/comm" 2>/dev/null)"
		sed 's/^/#   /' "$p/stack" 2>/dev/null
	done
}

taint() { cat /proc/sys/kernel/tainted 2>/dev/null || echo 0; }

result() {		# result STATUS NAME [DIRECTIVE]
	n=$((n + 1))
	case $1 in
	ok) echo "ok $n $2${3:+ # $3}" ;;
	*) echo "not ok $n $2${3:+ # $3}"; failed=$((failed + 1)) ;;
	esac
}

tname() { local b=${1##*/}; echo "${b%.sh}"; }

# --- load -----------------------------------------------------------------

taint0=$(taint)
mark0=$(kmsg_mark)
load_err=
if [ ! -f "$KO" ]; then
	load_err="$KO not found (make module)"
else
	if grep -q '^georep ' /proc/modules 2>/dev/null; then
		echo "# georep already loaded: unloading it first"
		rmmod georep 2>&1 | sed 's/^/# /'
	fi
	if ! out=$(georep_load "$KO" 2>&1); then
		load_err="insmod $KO failed: $out"
	fi
fi
if [ -n "$load_err" ]; then
	echo "# $load_err"
	kmsg_since "$mark0" | tail -n 20 | sed 's/^/# kmsg: /'
	for t in "${tests[@]}"; do
		result fail "$(tname "$t")" "georep.ko did not load"
	done
	result fail module-unload "georep.ko did not load"
	exit 1
fi
ver=$(modinfo -F version "$KO" 2>/dev/null)
echo "# georep.ko loaded${ver:+ (version $ver)}: $(grep '^georep ' /proc/modules)"

# --- tests ----------------------------------------------------------------

# the volumes the module has now
vol_names() {
	georepctl status --json 2>/dev/null |
		sed -n 's/.*"name": "\([^"]*\)".*/\1/p'
}

# the tmpfs work directories tests mount under /tmp, and loop devices
tmp_mounts() { awk '$2 ~ "^/tmp/" && $3 == "tmpfs" { print $2 }' /proc/mounts; }
loop_devs() { losetup -n -O NAME 2>/dev/null; }

# leftovers: volumes the module still has, nodes under /dev/georep, and
# the tmpfs work directories and loop devices a test made (their pages
# are RAM: a few left behind run a later test out of memory)
leftovers() {
	local v n m l
	v=$(vol_names | tr '\n' ' ')
	n=$(ls /dev/georep 2>/dev/null | tr '\n' ' ')
	m=$(tmp_mounts | tr '\n' ' ')
	l=$(loop_devs | tr '\n' ' ')
	[ -n "$v$n$m$l" ] &&
		echo "volumes: ${v:-none}; /dev/georep: ${n:-empty}; tmpfs: ${m:-none}; loop: ${l:-none}"
}

clean_leftovers() {
	local v m l
	for v in $(vol_names); do
		umount "/dev/georep/$v" 2>/dev/null
		georepctl volume delete "$v" >/dev/null 2>&1
	done
	rm -f /dev/georep/* 2>/dev/null
	for l in $(loop_devs); do
		losetup -d "$l" 2>/dev/null
	done
	for m in $(tmp_mounts); do
		umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
}

mem_avail() { awk '/^MemAvailable/ { print int($2 / 1024) " MiB" }' /proc/meminfo; }

for t in "${tests[@]}"; do
	name=$(tname "$t")
	if [ ! -f "$t" ]; then
		echo "# $t: no such test"
		result fail "$name"
		continue
	fi
	mark=$(kmsg_mark)
	start=$SECONDS
	# each script gets a fresh shell in /tmp; its output goes through the
	# prefixer line by line, so a hung script still shows what it did
	(cd /tmp && exec timeout -k 10 "$TIMEOUT" bash "$t") </dev/null 2>&1 |
		while IFS= read -r line; do
			case $line in
			"    "*) printf '%s\n' "$line" ;;
			*) printf '# %s\n' "$line" ;;
			esac
		done
	rc=${PIPESTATUS[0]}
	timed_out=
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		timed_out=1
		blocked_tasks
	fi
	echo "# $name: exit $rc after $((SECONDS - start))s, $(mem_avail) available"
	# a test cleans up after itself: a volume or node left behind fails
	# it (and is removed, so that the next test starts clean)
	left=$(leftovers)
	if [ -n "$left" ]; then
		echo "# $name left behind: $left"
		clean_leftovers
	fi
	if [ -n "$timed_out" ]; then
		whole_kmsg "$mark"
		result fail "$name" "timeout after ${TIMEOUT}s"
	elif bad=$(bad_kmsg "$mark"); then
		printf '%s\n' "$bad" | sed 's/^/# kmsg: /'
		whole_kmsg "$mark"
		result fail "$name" "kernel log: BUG/WARNING/Oops/leak"
	elif [ -n "$left" ] && [ "$rc" != $KSFT_SKIP ]; then
		result fail "$name" "left volumes or nodes behind"
	elif [ "$rc" = 0 ]; then
		result ok "$name"
	elif [ "$rc" = $KSFT_SKIP ]; then
		result ok "$name" SKIP
	else
		result fail "$name"
	fi
done

# --- unload and kernel log ------------------------------------------------

problems=()
if ! out=$(rmmod georep 2>&1); then
	problems+=("rmmod georep failed: $out")
	echo "# /proc/modules: $(grep '^georep ' /proc/modules)"
fi
if grep -q '^georep ' /proc/modules 2>/dev/null; then
	problems+=("georep still loaded")
fi
if bad=$(bad_kmsg "$mark0"); then
	printf '%s\n' "$bad" | sed 's/^/# kmsg: /'
	problems+=("kernel log has BUG/WARNING/Oops/leak lines")
fi
taint1=$(taint)
new_taint=$(( (taint1 & ~taint0) & BAD_TAINT ))
if [ $new_taint != 0 ]; then
	problems+=("kernel tainted: $taint0 -> $taint1")
fi
if [ ${#problems[@]} = 0 ]; then
	result ok module-unload
else
	for p in "${problems[@]}"; do
		echo "# $p"
	done
	result fail module-unload
fi

echo "# $((n - failed))/$n passed"
[ $failed = 0 ]
