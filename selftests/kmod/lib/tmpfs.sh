# SPDX-License-Identifier: GPL-2.0
#
# drop_tmpfs DIR: tear down a test's tmpfs work directory (sourced by
# ktap.sh and volume.bash). Its pages are RAM: one left mounted costs every
# later test of the boot (kmod/run_tests.sh fails the test that leaves one).
# Detaches every loop device on a file under DIR (tests make them in $(...)
# subshells, where a list of them does not reach the cleanup), unmounts
# with a few retries for processes just killed, and if something still
# holds it, names the holders and unmounts lazily (freed when they exit).

# the processes with a file or their cwd under $1 (pid and name each)
tmpfs_holders() {
	local p
	for p in /proc/[0-9]*; do
		ls -l "$p/cwd" "$p/fd" 2>/dev/null | grep -qF -- "$1" &&
			echo -n "${p#/proc/} $(cat "$p/comm" 2>/dev/null); "
	done
}

# is $1 a mount point (the VM has no mountpoint(1))
tmpfs_mounted() { awk -v d="$1" '$2 == d { f = 1 } END { exit !f }' /proc/mounts; }

drop_tmpfs() {
	local d=$1 l i
	[ -n "$d" ] || return 0
	tmpfs_mounted "$d" || { rmdir "$d" 2>/dev/null; return 0; }
	for l in $(losetup -n -O NAME,BACK-FILE 2>/dev/null |
		   awk -v t="$d/" 'index($2, t) == 1 { print $1 }'); do
		losetup -d "$l" 2>/dev/null
	done
	for i in 1 2 3 4 5; do
		umount "$d" 2>/dev/null && break
		sleep 0.2
	done
	if tmpfs_mounted "$d"; then
		l=$(tmpfs_holders "$d")
		echo "# $d still busy, held by ${l:-no process (a device over its files?)}:" \
			"unmounted lazily" >&2
		umount -l "$d" 2>/dev/null
	fi
	rmdir "$d" 2>/dev/null
	return 0
}
