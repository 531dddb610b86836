# SPDX-License-Identifier: GPL-2.0
# consensus core (issue 3): library, unit tests, simulator, broken-build
# self-tests of the simulator, benchmark, soak.

ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

# the core, one part per concern; consensus/core.h is their private header
# and consensus/broken.h must include every one of them
CONSENSUS_CORE_SRCS := $(addprefix consensus/,log_ring.c election.c replicate.c \
	follower.c step.c membership.c ready.c node.c)
LIB_SRCS += $(CONSENSUS_CORE_SRCS)

# the simulator: sim_internal.h is private to its parts, sim.h its interface
CONSENSUS_SIM_SRCS := $(addprefix consensus/,sim.c sim_events.c sim_disk.c \
	sim_net.c sim_site.c sim_workload.c sim_invariants.c sim_main.c)

TESTS += consensus_test consensus_sim
# the unit tests, by rule group; test_consensus.h is shared between them
CONSENSUS_TEST_SRCS := $(addprefix consensus/,test_consensus.c test_harness.c \
	test_election.c test_lease.c test_replication.c test_flow.c \
	test_membership.c)
PROG_SRCS_consensus_test := $(CONSENSUS_TEST_SRCS)
PROG_SRCS_consensus_sim := $(CONSENSUS_SIM_SRCS)

# each links a deliberately broken core ahead of libgeorep.a; the program
# passes only if the simulator (resp. the unit tests) catches the bug
CONSENSUS_BROKEN_SIM := minority_commit no_lease no_vote_promise vote_any_log \
	self_undurable vote_unsaved persist_any_term promise_append_only \
	conf_truncate_kept conf_overlap prevote_bumps_term stale_prevote_term \
	hb_commit_uncapped stale_progress
CONSENSUS_BROKEN_UNIT := $(CONSENSUS_BROKEN_SIM) fig8
TESTS += $(addprefix consensus_sim_broken_,$(CONSENSUS_BROKEN_SIM))
TESTS += $(addprefix consensus_test_broken_,$(CONSENSUS_BROKEN_UNIT))
$(foreach b,$(CONSENSUS_BROKEN_SIM),$(eval PROG_SRCS_consensus_sim_broken_$(b) := \
	$(CONSENSUS_SIM_SRCS) consensus/broken_$(b).c))
$(foreach b,$(CONSENSUS_BROKEN_UNIT),$(eval PROG_SRCS_consensus_test_broken_$(b) := \
	$(CONSENSUS_TEST_SRCS) consensus/broken_$(b).c))

# benchmark: built with everything, run by `make bench`
all: $(O)/test/consensus_bench
$(O)/test/consensus_bench: $(O)/obj/consensus/bench.o \
		$(patsubst %.c,$(O)/obj/%.o,$(CONSENSUS_CORE_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lm
BENCH_CMDS += $(O)/test/consensus_bench

# long soak: make -C user sim-soak SEEDS=N (seeds per cluster size)
CONSENSUS_SOAK_SEEDS = $(if $(SEEDS),$(SEEDS),20000)
sim-soak: all
	$(O)/test/consensus_sim --seeds $(CONSENSUS_SOAK_SEEDS) --from 100001
.PHONY: sim-soak
