# SPDX-License-Identifier: GPL-2.0
# RFC 9162 Merkle tree, record leaves and proofs (Documentation/proofs.rst).

LIB_SRCS += lib/merkle.c lib/leaf.c lib/note.c lib/tlogproof.c

# nearest-rank latency percentiles (georep-lat, georepd's write stages)
LIB_SRCS += lib/pctl.c

# whole writes to a file descriptor
LIB_SRCS += lib/fdio.c

# the public vectors are in lib/tests/data/merkle (Apache-2.0, see its README.md)
TESTS += test_merkle
PROG_SRCS_test_merkle := lib/tests/test_merkle.c
$(O)/obj/lib/tests/test_merkle.o: CFLAGS += -DGR_TESTDATA='"$(TOP)/user/lib/tests/data"'

# the leaf test vector, and that Documentation/proofs.rst shows it
TESTS += test_leaf
PROG_SRCS_test_leaf := lib/tests/test_leaf.c
$(O)/obj/lib/tests/test_leaf.o: CFLAGS += -DGR_DOCDIR='"$(TOP)/Documentation"'

# signed notes and checkpoints: the public vectors of signed-note.json
TESTS += test_note
PROG_SRCS_test_note := lib/tests/test_note.c
$(O)/obj/lib/tests/test_note.o: CFLAGS += -DGR_TESTDATA='"$(TOP)/user/lib/tests/data"'

# proof bundles: good ones verify, tampered ones fail naming what failed
TESTS += test_tlogproof
PROG_SRCS_test_tlogproof := lib/tests/test_tlogproof.c
