# SPDX-License-Identifier: GPL-2.0
# libFuzzer targets for every parser of outside input that georepd owns.
#
#   make -C user fuzz                 build them with clang into $(O)/fuzz
#   make -C user fuzz-run FUZZ_TIME=60  run each for FUZZ_TIME seconds from
#                                     the seed corpus in fuzz/corpus/
#
# Not part of `all`: they need clang's libFuzzer runtime.

# this fragment defines rules; keep `all` the default goal of user/Makefile
.DEFAULT_GOAL := all

FUZZ_CC		?= clang
FUZZ_TIME	?= 30
FUZZ_CFLAGS	:= -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
		   -std=gnu11 -D_GNU_SOURCE -I$(TOP)/include/uapi -I$(TOP)/user/include \
		   $(shell pkg-config --cflags jansson libcrypto)
FUZZ_LIBS	:= $(shell pkg-config --libs jansson libcrypto)

FUZZERS := fuzz_config fuzz_wire fuzz_proof
FUZZ_SRCS_fuzz_config := fuzz/fuzz_config.c lib/config.c lib/wire.c lib/wire_key.c lib/wire_ckpt.c \
	lib/note.c lib/wire_genesis.c lib/wire_mleaf.c lib/wire_root.c lib/wire_note.c lib/leaf.c lib/merkle.c
FUZZ_SRCS_fuzz_wire := fuzz/fuzz_wire.c lib/wire.c lib/wire_consensus.c lib/wire_key.c \
	lib/wire_ckpt.c lib/note.c lib/wire_genesis.c lib/wire_mleaf.c lib/wire_root.c lib/wire_note.c lib/leaf.c lib/merkle.c
FUZZ_SRCS_fuzz_proof := fuzz/fuzz_proof.c lib/tlogproof.c lib/note.c lib/merkle.c lib/leaf.c \
	lib/record.c lib/fdio.c georepd/final.c

define fuzz_rule
$(O)/fuzz/$(1): $$(FUZZ_SRCS_$(1)) $$(wildcard include/georep/*.h)
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -o $$@ $$(FUZZ_SRCS_$(1)) $$(FUZZ_LIBS)
endef
$(foreach f,$(FUZZERS),$(eval $(call fuzz_rule,$(f))))

fuzz: $(addprefix $(O)/fuzz/,$(FUZZERS))

# each fuzzer works on a scratch copy of its seeds; crashes land in $(O)/fuzz
fuzz-run: fuzz
	@set -e; for f in $(FUZZERS); do \
		c=$(O)/fuzz/corpus-$${f#fuzz_}; mkdir -p $$c; \
		cp fuzz/corpus/$${f#fuzz_}/* $$c/; \
		echo "# $$f for $(FUZZ_TIME) s"; \
		$(O)/fuzz/$$f -max_total_time=$(FUZZ_TIME) -artifact_prefix=$(O)/fuzz/$$f- \
			-print_final_stats=1 $$c 2>&1 | grep -E '^#[0-9]+.*DONE|^stat::number_of_executed_units|^==|^SUMMARY' | tail -n 4; \
	done

# make check: every fuzzer for FUZZ_SMOKE_TIME seconds (fuzz/smoke.sh)
FUZZ_SMOKE_TIME ?= 15
fuzz-smoke: fuzz
	@FUZZ_TIME=$(FUZZ_SMOKE_TIME) fuzz/smoke.sh $(O)/fuzz

.PHONY: fuzz fuzz-run fuzz-smoke
