# SPDX-License-Identifier: GPL-2.0
# georep-nl-abi: ABI test of the "georep" generic netlink family (libnl-genl).
# It needs the module, so it is a program run in the VM by
# selftests/kmod/50-netlink-abi.sh, not a host unit test.

PROGS += georep-nl-abi
# netlink_abi.h is shared by the parts
PROG_SRCS_georep-nl-abi := $(addprefix tests/,netlink_abi.c netlink_abi_msg.c \
	netlink_abi_cmds.c netlink_abi_live.c netlink_abi_stream.c)

# the netlink spec, the uapi header and the kernel's policies agree (host)
CHECK_CMDS += tests/spec_check.py
