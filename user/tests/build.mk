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

# georep-nl-priv: privileges of the family and what an unprivileged caller
# costs root (selftests/kmod/53-netlink-priv.sh, VM)
PROGS += georep-nl-priv
PROG_SRCS_georep-nl-priv := tests/netlink_priv.c tests/netlink_abi_msg.c

# georep-nl-fuzz: seeded random requests (selftests/kmod/54-netlink-fuzz.sh, VM)
PROGS += georep-nl-fuzz
PROG_SRCS_georep-nl-fuzz := tests/netlink_fuzz.c tests/netlink_abi_msg.c

# the host-driven VM lab's boot wait, without qemu (selftests/vm/lab_test.sh)
CHECK_CMDS += ../selftests/vm/lab_test.sh
# the Merkle Tree Hash in bash that 70-merkle recomputes roots with, against
# the RFC 6962 reference tree (selftests/sites/mth_test.sh)
CHECK_CMDS += ../selftests/sites/mth_test.sh
