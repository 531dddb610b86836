# SPDX-License-Identifier: GPL-2.0
# Test tools for the kernel selftests (selftests/kmod/):
#   georep-pump     copy records from one log stream into another
#   georep-corrupt  damage a record (a byte or a field) or the superblock of a log device
#   georep-mkreplica  create a secondary of a volume (uuid, term, keys)
#   georep-ledgerop  LOG_TRUNCATE, LOG_RESET, LOG_NOOP, GEOREP_IOC_DATA_WRITE
#   georep-ackcheck  numbered O_DIRECT|O_DSYNC writes, each logged once acknowledged; read back
#   georep-wirepoke  speak bad frames to a georepd replication port
#   georep-mitm     relay connections, flipping one byte of the client's stream

PROGS += georep-pump georep-corrupt georep-mkreplica georep-ledgerop
PROG_SRCS_georep-pump := tools/pump.c
PROG_SRCS_georep-corrupt := tools/corrupt.c
PROG_SRCS_georep-mkreplica := tools/mkreplica.c
PROG_SRCS_georep-ledgerop := tools/ledgerop.c

# georep-wirepoke: hellos with chosen versions, header overrides and raw bytes
# at a replication port; prints the replies (bad-input tests)
PROGS += georep-wirepoke
PROG_SRCS_georep-wirepoke := tools/wirepoke.c

# georep-mitm: a man in the middle that flips one byte of a TLS stream
# (selftests/sites/62-tls-trust.sh; e2e_tls.py has its Python twin)
PROGS += georep-mitm
PROG_SRCS_georep-mitm := tools/mitm.c

# georep-ackcheck: the acknowledged-write checker (selftests/sites/20-ack-writes.sh);
# its host test runs it on a plain file
PROGS += georep-ackcheck
PROG_SRCS_georep-ackcheck := tools/ackcheck.c
CHECK_CMDS += tools/ackcheck_test.sh

# georep-logreplay: list and replay a dm-log-writes log (selftests/kmod/49-crash-replay.sh)
PROGS += georep-logreplay
PROG_SRCS_georep-logreplay := tools/logreplay.c
CHECK_CMDS += tools/logreplay_test.sh

# georep-datacmp: a volume's data against a replay of its ledger (crash tests)
PROGS += georep-datacmp
PROG_SRCS_georep-datacmp := tools/datacmp.c

# georep-lat: the per-write latency breakdown from georep.ko's tracepoints
# (ebpf/lat.bpf.c; libbpf-tools style), printed by make bench
PROGS += georep-lat
PROG_SRCS_georep-lat := tools/lat.c
$(O)/obj/tools/lat.o: CFLAGS += -I$(BPF_OUT) -I$(TOP)/ebpf
$(O)/obj/tools/lat.o: $(BPF_OUT)/lat.skel.h
$(BPF_OUT)/lat.skel.h: $(BPF_OUT)/admit.skel.h
$(O)/bin/georep-lat: LDLIBS += $(shell pkg-config --libs libbpf)

# georep-shipfault: a write completing while sealed mode copies its record,
# the copy held in a userfaultfd fault (selftests/kmod/63-ship-race.sh)
PROGS += georep-shipfault
PROG_SRCS_georep-shipfault := tools/shipfault.c
$(O)/bin/georep-shipfault: LDLIBS += -pthread

# georep-scribble: O_DIRECT writes from a buffer another thread keeps changing
# (selftests/kmod/10-volume-blk.sh: the ledger still verifies)
PROGS += georep-scribble
PROG_SRCS_georep-scribble := tools/scribble.c
$(O)/bin/georep-scribble: LDLIBS += -pthread
