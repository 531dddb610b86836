# SPDX-License-Identifier: GPL-2.0
# georep-nl-abi: ABI test of the "georep" generic netlink family (libnl-genl).
# It needs the module, so it is a program run in the VM by
# selftests/kmod/50-netlink-abi.sh, not a host unit test.

PROGS += georep-nl-abi
PROG_SRCS_georep-nl-abi := tests/netlink_abi.c

# the netlink spec, the uapi header and the kernel's policies agree (host)
CHECK_CMDS += tests/spec_check.py
