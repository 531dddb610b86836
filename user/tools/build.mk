# SPDX-License-Identifier: GPL-2.0
# Test tools for the kernel selftests (selftests/kmod/):
#   georep-pump     copy records from one log stream into another
#   georep-corrupt  flip one byte of a record on a log device
#   georep-mkreplica  create a secondary of a volume (uuid, term, keys)
#   georep-ledgerop  LOG_TRUNCATE, LOG_RESET, LOG_NOOP, GEOREP_IOC_DATA_WRITE

PROGS += georep-pump georep-corrupt georep-mkreplica georep-ledgerop
PROG_SRCS_georep-pump := tools/pump.c
PROG_SRCS_georep-corrupt := tools/corrupt.c
PROG_SRCS_georep-mkreplica := tools/mkreplica.c
PROG_SRCS_georep-ledgerop := tools/ledgerop.c
