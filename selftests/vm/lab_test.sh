#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host test of the host-driven lab's boot wait and command channel
# (lab.sh, lab_wait and lab_on), without qemu: a sleeping process stands
# for the VM and this script writes what its agent would into the command
# FIFO. KTAP on stdout. Run by `make -C user check`.
#
# The CI of af59939 saw a VM booted again after its power cut send its
# ready line without the first byte ("EOREP-VM-EXIT-<hex> ready"); the lab
# waited its whole boot timeout for the exact line.

set -u
. "$(dirname "$0")/lab.sh"

LAB_DIR=$(mktemp -d)
VM=
trap 'kill "$VM" 2>/dev/null; rm -rf "$LAB_DIR"' EXIT
LAB_MARKER=GEOREP-VM-EXIT-0123456789abcdef
LAB_BOOT_TIMEOUT=3
t=0
fails=0

# vm_up NAME: a sleeping process stands for vm0's qemu, on fresh FIFOs;
# without them the case NAME is reported not ok (status 1)
vm_up() {
	lab_fifos 0 || { echo "not ok $t $1: no FIFOs"; fails=$((fails + 1)); return 1; }
	sleep 60 &
	disown
	VM=$!
	LAB_PIDS[0]=$VM
	LAB_T0[0]=$SECONDS
}

vm_down() {
	kill "$VM" 2>/dev/null
	wait "$VM" 2>/dev/null
	LAB_PIDS[0]=
}

# case NAME WANT LINE [answer]: the agent "sends" LINE; lab_wait must
# return WANT; with "answer", the agent answers the first command it gets
case_wait() {
	local name=$1 want=$2 line=$3 answer=${4:-} got t0=$SECONDS
	t=$((t + 1))
	vm_up "$name" || return
	printf '%s\n' "$line" >"$LAB_DIR/ctl0.out"
	if [ -n "$answer" ]; then
		(read -r id _ <"$LAB_DIR/ctl0.in" &&
		 printf '\n%s %s 0\n' "$LAB_MARKER" "$id" >"$LAB_DIR/ctl0.out") &
		answer=$!
	fi
	lab_wait 0 2>"$LAB_DIR/err" | sed 's/^/# /'
	got=${PIPESTATUS[0]}
	[ -z "$answer" ] || { kill "$answer" 2>/dev/null; wait "$answer" 2>/dev/null; }
	vm_down
	if [ "$got" = "$want" ]; then
		echo "ok $t $name (status $got after $((SECONDS - t0)) s)"
	else
		sed 's/^/# /' "$LAB_DIR/err"
		echo "not ok $t $name: status $got, want $want"
		fails=$((fails + 1))
	fi
}

# case_split NAME LINE WANT CMD...: the agent sends LINE in two parts,
# 1.5 s apart (the lab reads with a 1 s timeout), then answers the first
# command it gets; CMD (lab_wait or lab_on) must succeed and print WANT.
# Before lab_readln, the lab dropped the first part: lab_on printed "def"
# alone (the power-cut lab's seed line lost its start so), and lab_wait
# took the ready line for a damaged one.
case_split() {
	local name=$1 line=$2 want=$3 got out t0=$SECONDS agent
	shift 3
	t=$((t + 1))
	vm_up "$name" || return
	(printf '%s' "${line:0:9}"
	 sleep 1.5
	 printf '%s\n' "${line:9}"
	 read -r id _ <"$LAB_DIR/ctl0.in" &&
	 printf '%s %s 0\n' "$LAB_MARKER" "$id") >"$LAB_DIR/ctl0.out" &
	agent=$!
	out=$("$@" 2>"$LAB_DIR/err")
	got=$?
	kill "$agent" 2>/dev/null
	wait "$agent" 2>/dev/null
	vm_down
	if [ "$got" = 0 ] && [ "$out" = "$want" ]; then
		echo "ok $t $name ($((SECONDS - t0)) s)"
	else
		sed 's/^/# /' "$LAB_DIR/err"
		echo "not ok $t $name: status $got, printed \"$out\", want 0 and \"$want\""
		fails=$((fails + 1))
	fi
}

echo "KTAP version 1"
echo "1..8"
case_wait "ready line as sent: ready" 0 "$LAB_MARKER ready"
case_wait "ready line without its first byte: ready, logged as damaged" 0 \
	"${LAB_MARKER:1} ready"
case_wait "another run's marker: not ready, boot timeout" 1 \
	"GEOREP-VM-EXIT-fedcba9876543210 ready"
case_wait "an answer line, not the ready line: boot timeout" 1 "$LAB_MARKER 12 0"
case_wait "only the ready line's last bytes, the agent answers: ready" 0 "ady" answer
case_wait "only the ready line's last bytes, no agent: boot timeout" 1 "ady"
case_split "a line sent in two parts across the read timeout: lab_on prints it whole" \
	"SEED abcdef" "SEED abcdef" lab_on 0 true 10
case_split "the ready line sent in two parts: ready, not damaged" \
	"$LAB_MARKER ready" "" lab_wait 0
[ "$fails" = 0 ]
