#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the VM lab's boot files under $VM_BUILD (default build/vm):
#
#   vmlinux            uncompressed kernel, extracted once from the bzImage
#                      (PVH entry: saves the xz decompression under TCG)
#   base.cpio          the system part of the initramfs: busybox, bash, dash,
#                      iproute2, e2fsprogs, xfsprogs, fio, coreutils, kmod,
#                      parts of util-linux, dmsetup, drbd-utils, their
#                      libraries, and a /lib/modules/$KVER tree with only the
#                      modules the tests need; rebuilt only when an input
#                      changes (see base_key)
#   project.cpio       /georep: georep.ko ($GEOREP_VM_KO if set), build/user/bin, selftests/ and the
#                      libraries those programs need that base.cpio lacks;
#                      rebuilt when one of its inputs is newer than it
#   initrd.cpio        base.cpio + project.cpio, what qemu loads; the command
#                      of a run comes through fw_cfg (see run), so this file
#                      stays the same from run to run
#
# Usage: mkinitramfs.sh [--force] [--link DEST]
#   --force      rebuild everything
#   --link DEST  hard-link (or copy) the resulting initrd.cpio to DEST while
#                still holding the build lock, so a concurrent build with
#                another GEOREP_VM_KO cannot swap it before qemu reads it
# Prints nothing but errors unless V=1. Concurrent runs serialize on
# $VM_BUILD/lock.
#
# The archives are uncompressed on purpose: the kernel unpacks a plain newc
# archive at memcpy speed, while gunzip of the same ~35 MB costs seconds
# under TCG.

set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$SELF_DIR/../.." && pwd)
# Debian's newest 6.1 kernel with both its image and its modules (the one
# `make deps` installed and `make module` built against)
KVER=${KVER:-$(for v in $(ls /lib/modules 2>/dev/null | grep -- '-amd64$' | sort -V); do
	[ -e "/boot/vmlinuz-$v" ] && [ -e "/lib/modules/$v/build" ] && echo "$v"
done | tail -n1)}
KVER=${KVER:-6.1.0-56-amd64}
VM_BUILD=${VM_BUILD:-$TOP/build/vm}
FORCE=0
LINK=
while [ $# -gt 0 ]; do
	case $1 in
	--force) FORCE=1; shift ;;
	--link) LINK=$2; shift 2 ;;
	*) echo "usage: mkinitramfs.sh [--force] [--link DEST]" >&2; exit 2 ;;
	esac
done

log() { [ "${V:-0}" = 0 ] || echo "mkinitramfs: $*" >&2; }
die() { echo "mkinitramfs: $*" >&2; exit 1; }

# Modules the lab provides, closed over modules.dep and modules.softdep.
MODULES=(
	virtio_pci virtio_blk virtio_net virtio_rng qemu_fw_cfg
	loop veth sch_netem sch_fq sch_ingress ifb act_mirred cls_matchall
	dm-mod dm-flakey dm-log-writes dm-delay
	drbd ext4 xfs libcrc32c crc32c_generic crc32c-intel tls
	sha256-ssse3 sha512-ssse3
	tcrypt
)

# Binaries that must be there; a missing one fails the build.
REQUIRED_BINS=(
	/bin/busybox /bin/bash /bin/dash
	/sbin/tc /sbin/ip /usr/bin/ss /sbin/bridge
	/sbin/mke2fs /sbin/mkfs.ext4 /sbin/e2fsck /sbin/fsck.ext4 /sbin/debugfs
	/sbin/dumpe2fs /sbin/tune2fs
	/sbin/mkfs.xfs /sbin/xfs_repair
	/usr/bin/fio
	/bin/kmod /sbin/modprobe /sbin/insmod /sbin/rmmod /sbin/lsmod /sbin/modinfo
	/sbin/depmod
	/sbin/losetup /sbin/blockdev /sbin/blkdiscard /bin/mount /bin/umount
	/usr/bin/nsenter /usr/bin/unshare /bin/findmnt /bin/lsblk /usr/bin/flock
	/usr/bin/setsid /bin/dmesg /sbin/blkid /sbin/wipefs /usr/bin/fallocate
	/usr/bin/taskset
	/sbin/dmsetup /sbin/ldconfig
)

# Nice to have: taken when installed.
OPTIONAL_BINS=(
	/usr/sbin/drbdadm /usr/sbin/drbdsetup /usr/sbin/drbdmeta
	/usr/lib/drbd/drbdadm-84 /usr/lib/drbd/drbdsetup-84
	/usr/bin/jq /usr/bin/gojq /usr/bin/strace /usr/bin/openssl /sbin/xfs_db /usr/sbin/xfs_io
)
# GEOREP_VM_PERF=1 (selftests/bench/sites.sh --profile): perf as well, from
# Debian's linux-perf (about 30 MB with its libraries, so not by default)
[ "${GEOREP_VM_PERF:-0}" = 1 ] && OPTIONAL_BINS+=(/usr/bin/perf)

# Everything coreutils installs in /usr/bin (dd with oflag=direct,dsync,
# sha256sum, stat, timeout, stdbuf...): GNU versions, not busybox's.
coreutils_bins() {
	dpkg -L coreutils | grep -E '^/(usr/)?bin/[^/]+$' || true
}

# add_path ROOT PATH: copy PATH into ROOT at the same place, keeping symlinks
# as symlinks (and adding what they point to).
add_path() {
	local root=$1 p=$2 target dir

	[ -e "$root$p" ] || [ -L "$root$p" ] && return 0
	dir=$(dirname "$p")
	mkdir -p "$root$dir"
	if [ -L "$p" ]; then
		target=$(readlink "$p")
		ln -s "$target" "$root$p"
		case $target in
		/*) add_path "$root" "$target" ;;
		*) add_path "$root" "$dir/$target" ;;
		esac
	else
		cp -p "$p" "$root$p"
	fi
}

# add_libs ROOT FILE...: the shared libraries of each FILE (ldd), including
# the dynamic loader.
add_libs() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		[ -f "$f" ] || continue
		# static binaries and scripts: ldd fails, nothing to add
		{ ldd "$f" 2>/dev/null || true; } | awk '
			$2 == "=>" && $3 ~ /^\// { print $3; next }
			$1 ~ /^\// { print $1 }' |
		while read -r lib; do
			add_path "$root" "$lib"
		done
	done
}

# Base key: hash of everything base.cpio is made from. The installed package
# set stands for the binaries, libraries and kernel modules.
base_key() {
	{
		echo "$KVER perf=${GEOREP_VM_PERF:-0}"
		cat "$SELF_DIR/mkinitramfs.sh" "$SELF_DIR/init"
		dpkg-query -W -f='${Package} ${Version}\n'
	} | sha256sum | cut -d' ' -f1
}

extract_vmlinux() {
	local bz=/boot/vmlinuz-$KVER out=$VM_BUILD/vmlinux off

	[ -s "$out" ] && [ "$out" -nt "$bz" ] && return 0
	[ -r "$bz" ] || die "$bz not readable"
	log "extracting vmlinux from $bz"
	# Debian's 6.1 bzImage carries an xz-compressed ELF: try every xz
	# stream header until one decompresses to an ELF file.
	for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bz" | cut -d: -f1); do
		tail -c "+$((off + 1))" "$bz" | xz -dc --single-stream \
			>"$out.tmp" 2>/dev/null || true
		if [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
			mv "$out.tmp" "$out"
			return 0
		fi
	done
	rm -f "$out.tmp"
	die "no xz-compressed ELF found in $bz"
}

build_base() {
	local key root p mods=() kd=/lib/modules/$KVER

	key=$(base_key)
	if [ $FORCE = 0 ] && [ -s "$VM_BUILD/base.cpio" ] &&
	   [ "$(cat "$VM_BUILD/base.key" 2>/dev/null)" = "$key" ]; then
		return 0
	fi
	log "building base.cpio"
	root=$VM_BUILD/base.root
	rm -rf "$root"
	mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{proc,sys,dev,tmp,run,root,mnt,etc,var}
	# usrmerge layout, like the host, so copied symlinks resolve
	ln -s usr/bin "$root/bin"
	ln -s usr/sbin "$root/sbin"
	ln -s usr/lib "$root/lib"
	ln -s usr/lib64 "$root/lib64"
	chmod 1777 "$root/tmp"

	for p in "${REQUIRED_BINS[@]}"; do
		[ -e "$p" ] || die "$p missing (make deps)"
		add_path "$root" "$p"
	done
	for p in "${OPTIONAL_BINS[@]}"; do
		[ -e "$p" ] && add_path "$root" "$p"
	done
	for p in $(coreutils_bins); do
		add_path "$root" "$p"
	done
	# stdbuf preloads this
	[ -e /usr/libexec/coreutils/libstdbuf.so ] &&
		add_path "$root" /usr/libexec/coreutils/libstdbuf.so
	add_libs "$root" $(find "$root/usr" -type f -perm -u+x | sed "s|^$root||")
	# The guest's jq is gojq when the host has it: jq 1.6 parses its
	# builtins at every start, 210 ms of a vCPU under TCG against 35 ms for
	# gojq (Documentation/vm-lab.rst, "Measured facts"); the lab's scripts
	# call jq in every polling loop. jq 1.6 stays as jq-1.6.
	if [ -e "$root/usr/bin/gojq" ] && [ -e "$root/usr/bin/jq" ]; then
		mv "$root/usr/bin/jq" "$root/usr/bin/jq-1.6"
		ln -s gojq "$root/usr/bin/jq"
	fi

	# Busybox applets as the last resort on PATH (see init): the GNU and
	# iproute2 tools above win, and /bin/sh is dash as on Debian.
	mkdir -p "$root/usr/libexec/busybox"
	for p in $(/bin/busybox --list); do
		ln -s /bin/busybox "$root/usr/libexec/busybox/$p"
	done
	ln -sf dash "$root/usr/bin/sh"

	# Kernel modules: the closure of MODULES over modules.dep and
	# modules.softdep, as modprobe itself computes it.
	for p in "${MODULES[@]}"; do
		mods+=($(modprobe -S "$KVER" --show-depends "$p" | awk '$1 == "insmod" { print $2 }'))
	done
	for p in $(printf '%s\n' "${mods[@]}" | sort -u); do
		add_path "$root" "$p"
	done
	for p in modules.builtin modules.builtin.modinfo modules.order; do
		cp "$kd/$p" "$root$kd/"
	done
	depmod -b "$root" "$KVER"

	# /etc: enough for mount, ld.so and the tools
	ln -s /proc/self/mounts "$root/etc/mtab"
	echo 'root:x:0:0:root:/root:/bin/bash' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	echo georep-vm >"$root/etc/hostname"
	printf '/usr/lib/x86_64-linux-gnu\n/usr/local/lib\n' >"$root/etc/ld.so.conf"
	mkdir -p "$root/etc/georep/keys" "$root/var/tmp" "$root/var/run"
	ldconfig -r "$root"

	install -m 0755 "$SELF_DIR/init" "$root/init"

	# /dev/console must exist before /init runs (devtmpfs is mounted by
	# init itself), so the archive carries the node.
	mknod -m 0600 "$root/dev/console" c 5 1
	mknod -m 0666 "$root/dev/null" c 1 3

	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0) >"$VM_BUILD/base.cpio.tmp"
	mv "$VM_BUILD/base.cpio.tmp" "$VM_BUILD/base.cpio"
	(cd "$root" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort) >"$VM_BUILD/base.list"
	echo "$key" >"$VM_BUILD/base.key"
	rm -rf "$root"
}

# /georep: the module, the programs, the selftests; libraries the programs
# need that the base archive does not have go to their usual place.
project_inputs() {
	local ko=${GEOREP_VM_KO:-$TOP/georep.ko} p

	for p in "$ko" "$TOP/build/user/bin" "$TOP/build/user/test" \
		 "$TOP/selftests" "$TOP/Documentation"; do
		[ -e "$p" ] && echo "$p"
	done
}

project_fresh() {
	local out=$VM_BUILD/project.cpio

	[ -s "$out" ] && [ "$out" -nt "$VM_BUILD/base.cpio" ] || return 1
	# same module path as last time, nothing newer (directories get a new
	# mtime when an entry is added or removed)
	[ "$(cat "$VM_BUILD/project.ko" 2>/dev/null)" = "${GEOREP_VM_KO:-$TOP/georep.ko}" ] || return 1
	[ -z "$(find $(project_inputs) -newer "$out" -print -quit 2>/dev/null)" ]
}

build_project() {
	local root=$VM_BUILD/project.root bins=()

	if [ $FORCE = 0 ] && project_fresh; then
		return 0
	fi
	log "building project.cpio"
	rm -rf "$root"
	mkdir -p "$root/georep/bin" "$root/usr" "$root/etc/georep-vm"
	ln -s usr/lib "$root/lib"
	ln -s usr/lib64 "$root/lib64"
	ln -s usr/bin "$root/bin"
	ln -s usr/sbin "$root/sbin"
	# GEOREP_VM_KO: put another build of the module at /georep/georep.ko
	local ko=${GEOREP_VM_KO:-$TOP/georep.ko}
	[ -f "$ko" ] && cp -p "$ko" "$root/georep/georep.ko"
	if [ -d "$TOP/build/user/bin" ]; then
		cp -pr "$TOP/build/user/bin/." "$root/georep/bin/"
		mapfile -t bins < <(find "$root/georep/bin" -type f)
	fi
	if [ -d "$TOP/build/user/test" ]; then
		mkdir -p "$root/georep/test"
		cp -pr "$TOP/build/user/test/." "$root/georep/test/"
	fi
	cp -pr "$TOP/selftests" "$root/georep/"
	[ -d "$TOP/Documentation" ] && cp -pr "$TOP/Documentation" "$root/georep/"

	if [ ${#bins[@]} -gt 0 ]; then
		local libroot=$VM_BUILD/project.libs lib
		rm -rf "$libroot"
		mkdir -p "$libroot"/usr/{bin,sbin,lib,lib64}
		ln -s usr/lib "$libroot/lib"
		ln -s usr/lib64 "$libroot/lib64"
		add_libs "$libroot" "${bins[@]}"
		# keep only what base.cpio lacks
		(cd "$libroot/usr" && find . \( -type f -o -type l \) | sed 's|^\./|usr/|') |
			LC_ALL=C sort | comm -23 - "$VM_BUILD/base.list" |
		while read -r lib; do
			mkdir -p "$root/$(dirname "$lib")"
			cp -P "$libroot/$lib" "$root/$lib"
		done
		rm -rf "$libroot"
	fi
	# drop the helper symlinks, base.cpio has them
	rm -f "$root"/{lib,lib64,bin,sbin}
	if [ -n "$(find "$root/usr" -type f -print -quit)" ]; then
		# ld.so.cache for the merged tree: regenerated by init (ldconfig)
		touch "$root/etc/georep-vm/ldconfig"
	fi

	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0) >"$VM_BUILD/project.cpio"
	echo "${GEOREP_VM_KO:-$TOP/georep.ko}" >"$VM_BUILD/project.ko"
	rm -rf "$root"
	cat "$VM_BUILD/base.cpio" "$VM_BUILD/project.cpio" >"$VM_BUILD/initrd.cpio.tmp"
	mv "$VM_BUILD/initrd.cpio.tmp" "$VM_BUILD/initrd.cpio"
}

mkdir -p "$VM_BUILD"
exec 9>"$VM_BUILD/lock"
flock 9
extract_vmlinux
build_base
build_project
if [ -n "$LINK" ]; then
	ln -f "$VM_BUILD/initrd.cpio" "$LINK" 2>/dev/null ||
		cp "$VM_BUILD/initrd.cpio" "$LINK"
fi
