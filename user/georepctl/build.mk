# SPDX-License-Identifier: GPL-2.0
# georepctl and the shared library pieces it uses (nl, record, keys).

LIB_SRCS += lib/nl.c lib/record.c lib/keys.c lib/devlinks.c

GEOREPCTL_CMDS := georepctl/args.c georepctl/util.c georepctl/dispatch.c \
	georepctl/commands.c georepctl/cmd_volume.c georepctl/cmd_status.c \
	georepctl/cmd_ledger.c georepctl/cmd_key.c

PROGS += georepctl
PROG_SRCS_georepctl := georepctl/main.c $(GEOREPCTL_CMDS)

TESTS += test_record test_keys test_georepctl_args
PROG_SRCS_test_record := lib/tests/test_record.c
PROG_SRCS_test_keys := lib/tests/test_keys.c
PROG_SRCS_test_georepctl_args := georepctl/tests/test_args.c $(GEOREPCTL_CMDS)
