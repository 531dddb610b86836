# SPDX-License-Identifier: GPL-2.0
# georepd: the per-site daemon, and the library parts it is built on.

LIB_SRCS += lib/config.c lib/wire.c lib/wire_consensus.c lib/wire_key.c lib/wire_ckpt.c \
	lib/wire_genesis.c lib/wire_mleaf.c lib/wire_root.c lib/wire_note.c

TESTS += test_config
PROG_SRCS_test_config := georepd/tests/test_config.c

TESTS += test_wire
PROG_SRCS_test_wire := georepd/tests/test_wire.c
# checkpoint frames (CKPT, CKPT_RESP, CKPT_FINAL; lib/wire_ckpt.c)
TESTS += test_wire_ckpt
PROG_SRCS_test_wire_ckpt := georepd/tests/test_wire_ckpt.c

LIB_SRCS += lib/evloop.c lib/transport.c lib/transport_tcp.c lib/send_lanes.c
# mutual TLS 1.3 between sites, and the site key it proves (Ed25519)
LIB_SRCS += lib/tls.c lib/tls_suites.c lib/site_key.c lib/site_cert.c

TESTS += test_tls
PROG_SRCS_test_tls := georepd/tests/test_tls.c

TESTS += test_evloop
PROG_SRCS_test_evloop := georepd/tests/test_evloop.c

TESTS += test_transport
PROG_SRCS_test_transport := georepd/tests/test_transport.c

# send lanes: control ahead of bulk at frame boundaries, limits, a socket
TESTS += test_send_lanes
PROG_SRCS_test_send_lanes := georepd/tests/test_send_lanes.c

LIB_SRCS += lib/ctlsock.c

TESTS += test_ctlsock
PROG_SRCS_test_ctlsock := georepd/tests/test_ctlsock.c

TESTS += test_state
PROG_SRCS_test_state := georepd/tests/test_state.c georepd/state.c

GEOREPD_SRCS := georepd/log.c georepd/state.c georepd/peer.c georepd/control.c

# the BPF programs (ebpf/, --bpf): their skeletons come from ebpf/Makefile
BPF_OUT := $(O)/ebpf
GEOREPD_SRCS += georepd/bpf.c georepd/bpf_route.c georepd/bpf_pace.c
$(O)/obj/georepd/bpf.o $(O)/obj/georepd/bpf_route.o $(O)/obj/georepd/bpf_pace.o: \
	CFLAGS += -I$(BPF_OUT) -I$(TOP)/ebpf
$(O)/obj/georepd/bpf.o: $(BPF_OUT)/admit.skel.h
$(O)/obj/georepd/bpf_route.o: $(BPF_OUT)/route.skel.h
$(O)/obj/georepd/bpf_pace.o: $(BPF_OUT)/pace.skel.h
$(BPF_OUT)/admit.skel.h $(BPF_OUT)/route.skel.h $(BPF_OUT)/pace.skel.h &: $(wildcard $(TOP)/ebpf/*.[ch] $(TOP)/ebpf/Makefile) \
		$(TOP)/include/uapi/linux/georep_bpf.h
	$(MAKE) -C $(TOP)/ebpf O=$(BPF_OUT)
$(O)/bin/georepd: LDLIBS += $(shell pkg-config --libs libbpf)
PROGS += georepd
PROG_SRCS_georepd := georepd/main.c $(GEOREPD_SRCS)

# three georepd processes on 127.0.0.1 (python3); finds them through this
export GEOREPD_E2E_BIN := $(O)/bin
CHECK_CMDS += georepd/tests/e2e.py

# `georepctl config check`: cmd_config.c joins georepctl (and the test that
# links its command table); config_main() is declared in cmd_config.h
PROG_SRCS_georepctl += georepctl/cmd_config.c
PROG_SRCS_test_georepctl_args += georepctl/cmd_config.c
$(O)/obj/georepctl/commands.o: CFLAGS += -include georepctl/cmd_config.h

# georepd with the test replica engine of tests/probe_replica.c, for e2e.py
GEOREPD_PROBE := $(O)/test/georepd-probe
GEOREPD_PROBE_OBJS := $(patsubst %.c,$(O)/obj/%.o,georepd/main.c $(GEOREPD_SRCS) \
	georepd/tests/probe_replica.c)
$(GEOREPD_PROBE): $(GEOREPD_PROBE_OBJS) $(O)/libgeorep.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
all: $(GEOREPD_PROBE)
export GEOREPD_E2E_PROBE := $(GEOREPD_PROBE)

# the replication engine (issue 4): consensus per volume over a ledger backend
# (consensus.c, record.c, nl.c and keys.c are in libgeorep.a already)
GEOREPD_ENGINE_SRCS := georepd/engine.c georepd/engine_ship.c georepd/engine_follow.c \
	georepd/engine_role.c georepd/engine_resync.c georepd/engine_heal.c \
	georepd/engine_heal_serve.c georepd/engine_status.c georepd/engine_policy.c \
	georepd/engine_test_cmds.c georepd/fork.c georepd/ledger_mem.c georepd/ledger_kernel.c \
	georepd/genesis.c georepd/engine_keys.c georepd/shipbuf.c georepd/reader.c \
	georepd/engine_catchup.c georepd/retain.c
PROG_SRCS_georepd += $(GEOREPD_ENGINE_SRCS)
# main.c registers the engine; the probe build links it too (its own factory
# wins), after the library in $^, hence the library once more
$(GEOREPD_PROBE): $(patsubst %.c,$(O)/obj/%.o,$(GEOREPD_ENGINE_SRCS))
$(GEOREPD_PROBE): LDLIBS := $(O)/libgeorep.a $(LDLIBS) $(shell pkg-config --libs libbpf)

# three georepd --ledger mem processes: election, commit, failover, fork
CHECK_CMDS += georepd/tests/e2e_replication.py
# a leader whose ledger reads take seconds keeps its lease (reader.c)
CHECK_CMDS += georepd/tests/e2e_slowread.py
# a leader whose data device fails a resync's read backs off, says where (engine_resync.c)
CHECK_CMDS += georepd/tests/e2e_resync_fail.py
# a follower catching up across a new leader's barrier (engine_ship.c joined())
CHECK_CMDS += georepd/tests/e2e_catchup.py
CHECK_CMDS += georepd/tests/e2e_follower_log.py
CHECK_CMDS += georepd/tests/e2e_foreign.py

# georepctl status with a daemon: the cluster view, text and --json
CHECK_CMDS += georepd/tests/e2e_status.py
# quorum-loss policy (io state), switchover with the device open, followers' seqs
CHECK_CMDS += georepd/tests/e2e_policy.py

# georepctl switchover / failover / events (the daemon's control socket)
PROG_SRCS_georepctl += georepctl/cmd_cluster.c
PROG_SRCS_test_georepctl_args += georepctl/cmd_cluster.c
$(O)/obj/georepctl/commands.o: CFLAGS += -include georepctl/cmd_cluster.h

# georepctl status: the cluster view from the daemon (cmd_status.c calls it)
PROG_SRCS_georepctl += georepctl/cmd_cluster_status.c
PROG_SRCS_test_georepctl_args += georepctl/cmd_cluster_status.c

# the mem ledger's rules and fork files
TESTS += test_ledger_mem
PROG_SRCS_test_ledger_mem := georepd/tests/test_ledger_mem.c georepd/ledger_mem.c georepd/fork.c

# bad input at replicating sites: strangers and bad frames after a hello
# (sent with georep-wirepoke of user/tools), georepctl errors
CHECK_CMDS += georepd/tests/e2e_badinput.py

# site identities and mutual TLS at the daemon level: refusals (plaintext,
# key mode, impostors, strangers), KeyUpdates, one log line per refusal
CHECK_CMDS += georepd/tests/e2e_tls.py

# certificate and CA rollover with SIGHUP under writes: no failed write,
# no leader change, the old CA's certificates refused at the end
CHECK_CMDS += georepd/tests/e2e_rollover.py

# seal-key rotation by the leader: under writes, a site down during two
# rotations, no majority, kill -9 of the leader mid-rotation
CHECK_CMDS += georepd/tests/e2e_keys.py

# georepctl site ca|init: the cluster CA and site identities (lib/site_cert.c)
PROG_SRCS_georepctl += georepctl/cmd_site.c
PROG_SRCS_test_georepctl_args += georepctl/cmd_site.c
$(O)/obj/georepctl/commands.o: CFLAGS += -include georepctl/cmd_site.h

# what TLS costs the transport: MiB/s over plain TCP and TLS, one thread
BENCH_TRANSPORT := $(O)/test/bench_transport
$(BENCH_TRANSPORT): $(O)/obj/georepd/tests/bench_transport.o $(O)/libgeorep.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
all: $(BENCH_TRANSPORT)
BENCH_CMDS += $(BENCH_TRANSPORT)

# the persisted Merkle tree of a volume's ledger (Documentation/proofs.rst)
PROG_SRCS_georepd += georepd/mtree.c georepd/engine_mtree.c georepd/engine_mleaf.c georepd/final.c \
	georepd/engine_ckpt.c georepd/engine_audit.c georepd/engine_scrub.c \
	georepd/engine_root.c georepd/engine_note.c georepd/stage.c
$(GEOREPD_PROBE): $(patsubst %.c,$(O)/obj/%.o,georepd/mtree.c georepd/engine_mtree.c \
	georepd/engine_mleaf.c georepd/final.c georepd/engine_ckpt.c georepd/engine_audit.c georepd/engine_scrub.c \
	georepd/engine_root.c georepd/engine_note.c georepd/stage.c)
TESTS += test_mtree
PROG_SRCS_test_mtree := georepd/tests/test_mtree.c georepd/mtree.c
# the persisted final checkpoint: saved, loaded, torn/garbage/foreign refused
TESTS += test_final
PROG_SRCS_test_final := georepd/tests/test_final.c georepd/final.c
# georepctl proof inclusion/consistency/verify/vkey (the daemon's proof
# request through cmd_cluster.c's grctl_ctl_request)
PROG_SRCS_georepctl += georepctl/cmd_proof.c
PROG_SRCS_test_georepctl_args += georepctl/cmd_proof.c
# georepctl verify (roots of every site, bisection, fork evidence) and
# audit (who wrote which sectors, with proofs): the daemon's audit and
# final-checkpoint requests (engine_audit.c)
GEOREPCTL_AUDIT := georepctl/cmd_verify.c georepctl/verify_remote.c georepctl/cmd_audit.c \
	georepctl/audit_args.c
PROG_SRCS_georepctl += $(GEOREPCTL_AUDIT)
PROG_SRCS_test_georepctl_args += $(GEOREPCTL_AUDIT)
$(O)/obj/georepctl/commands.o: CFLAGS += -include georepctl/cmd_audit.h
# --lba and --since: bad input refused with a sentence
TESTS += test_audit_args
PROG_SRCS_test_audit_args := georepctl/tests/test_audit_args.c georepctl/audit_args.c \
	georepctl/args.c georepctl/util.c

# the tree over the ledger: roots vs the logs, proofs, release, restart, torn tail
CHECK_CMDS += georepd/tests/e2e_merkle.py

# checkpoints and finality over TLS: final_seq reaches commit, offline proofs
# with --quorum 2, kill -9 failover, a refusing follower, a stopped majority
CHECK_CMDS += georepd/tests/e2e_final.py
# georepctl verify (agree; a damaged follower found diverging at the right
# record) and audit (writes from two sites listed with proofs that verify
# offline, after release too, not final yet, bad arguments)
CHECK_CMDS += georepd/tests/e2e_audit.py
# retention tied to finality: the log keeps what no final checkpoint covers
CHECK_CMDS += georepd/tests/e2e_retention.py
# what checkpoints every 1000 records cost: records/s and leader CPU, on vs off
BENCH_CMDS += georepd/tests/bench_final.py
# the cost of one checkpoint, step by step (root, sign, cosign, check, save)
BENCH_CKPT := $(O)/test/bench_ckpt
$(BENCH_CKPT): $(O)/obj/georepd/tests/bench_ckpt.o $(O)/obj/georepd/final.o $(O)/libgeorep.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
all: $(BENCH_CKPT)
BENCH_CMDS += $(BENCH_CKPT)

# heartbeats never wait behind replicated data: three sites in network
# namespaces over rate-limited veth links (needs root; skips otherwise)
CHECK_CMDS_ALONE += georepd/tests/e2e_lanes.py
# the pace program: attached, counting, rates per peer, its own check that
# fq keeps the departure times, detached by kill -9 (needs root and bpftool)
CHECK_CMDS_ALONE += georepd/tests/e2e_pace.py

# the leader's ship buffer (records read once, shipped to every follower)
TESTS += test_shipbuf
PROG_SRCS_test_shipbuf := georepd/tests/test_shipbuf.c georepd/shipbuf.c

# where a replicated write's time goes inside georepd (stage.c)
# what a follower keeps of its log (retain.c)
TESTS += test_retain
PROG_SRCS_test_retain := georepd/tests/test_retain.c georepd/retain.c
TESTS += test_stage
PROG_SRCS_test_stage := georepd/tests/test_stage.c georepd/stage.c
