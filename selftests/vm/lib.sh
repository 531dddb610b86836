# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared by selftests/vm/run and selftests/vm/multi (sourced, not run): the
# kernel version, the kernel command line and the qemu arguments every lab
# VM boots with.

# Debian's newest 6.1 kernel with both its image and its modules (the one
# `make deps` installed and `make module` built against)
KVER=${KVER:-$(for v in $(ls /lib/modules 2>/dev/null | grep -- '-amd64$' | sort -V); do
	[ -e "/boot/vmlinuz-$v" ] && [ -e "/lib/modules/$v/build" ] && echo "$v"
done | tail -n1)}
KVER=${KVER:-6.1.0-56-amd64}
QEMU=${QEMU:-qemu-system-x86_64}
# qboot: a minimal firmware that starts the kernel faster than SeaBIOS and
# prints nothing on the serial console
if [ -z "${QEMU_BIOS+set}" ] && [ -r /usr/share/qemu/qboot.rom ]; then
	QEMU_BIOS=/usr/share/qemu/qboot.rom
fi

# Under TCG the guest reads the host TSC; give it the frequency so that early
# calibration on a busy host cannot make the guest clock jump.
vm_tsc_khz() {
	local mhz
	mhz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p' | tail -n1)
	[ -n "$mhz" ] || mhz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9.]*\) MHz processor.*/\1/p' | tail -n1)
	[ -n "$mhz" ] && awk -v m="$mhz" 'BEGIN { printf "%d", m * 1000 }'
}

# vm_append VERBOSE: the kernel command line
vm_append() {
	local append khz

	append="console=ttyS0 panic=-1 rdinit=/init random.trust_cpu=on"
	# no_timer_check: qboot leaves the PIT off the IO-APIC, and the kernel's
	# check would only print "MP-BIOS bug: 8254 timer not connected"
	append+=" nokaslr mitigations=off no_timer_check"
	# loglevel=5: KERN_WARNING (4) and worse reach the console, so a
	# WARN()'s "WARNING: CPU: ..." shows (loglevel=4 printed errors only)
	if [ "$1" = 1 ]; then
		append+=" loglevel=7"
	else
		append+=" quiet loglevel=5"
	fi
	khz=$(vm_tsc_khz || true)
	[ -n "$khz" ] && append+=" tsc_early_khz=$khz tsc=reliable"
	echo "$append"
}

# vm_qemu_args SMP MEM INITRD APPEND CMD-FILE MARKER-FILE: sets the array
# VM_QEMU_ARGS, the arguments every lab VM has (no disks, no NICs)
vm_qemu_args() {
	VM_QEMU_ARGS=(
		-accel tcg,thread=multi -cpu max -smp "$1" -m "$2"
		-nographic -no-reboot -no-user-config -nodefaults
		-serial stdio -monitor none -nic none
		-device virtio-rng-pci
		${QEMU_BIOS:+-bios "$QEMU_BIOS"}
		-kernel "$VM_BUILD/vmlinux" -initrd "$3" -append "$4"
		-fw_cfg "name=opt/georep/cmd,file=$5"
		-fw_cfg "name=opt/georep/marker,file=$6"
	)
}

# vm_link_args I N DIR: sets the array VM_LINK_ARGS, VM I's NICs towards
# the other N-1 VMs (selftests/vm/lab.sh; multi keeps its stream links, see
# vm-lab.rst). Each pair has a private link, a virtio-net NIC at each end
# joined by "-netdev dgram" over two AF_UNIX datagram sockets,
# DIR/l<i>-<j>.sock bound by VM i and DIR/l<j>-<i>.sock bound by VM j. A
# datagram link has no connection to lose: when one VM is killed and
# started again (it binds its sockets anew), the link carries frames again
# (qemu 7.2's "-netdev stream" client never reconnects). Frames towards a
# VM that is down are dropped, as on a cable to a dead machine. VM I's NIC
# towards VM J has the MAC 52:54:00:55:0I:0J (what /init routes by).
vm_link_args() {
	local i=$1 n=$2 dir=$3 j mac
	VM_LINK_ARGS=()
	for ((j = 0; j < n; j++)); do
		[ "$j" = "$i" ] && continue
		# a socket file left by an earlier qemu of VM I
		rm -f "$dir/l$i-$j.sock"
		mac=$(printf '52:54:00:55:%02x:%02x' "$i" "$j")
		VM_LINK_ARGS+=(-netdev "dgram,id=n$j,local.type=unix,local.path=$dir/l$i-$j.sock,remote.type=unix,remote.path=$dir/l$j-$i.sock"
			       -device "virtio-net-pci,netdev=n$j,mac=$mac,addr=$(printf '0x%x' $((0x8 + j)))")
	done
}
