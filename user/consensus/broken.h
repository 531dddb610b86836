/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The whole consensus core as one translation unit, for the deliberately
 * broken variants (broken_*.c): each defines one GR_BROKEN_* and includes
 * this file, so its program links a complete broken core ahead of
 * libgeorep.a and none of the library's core objects. Every part of the
 * core listed in CONSENSUS_CORE_SRCS (build.mk) must be included here.
 */
#include "log_ring.c"
#include "election.c"
#include "replicate.c"
#include "follower.c"
#include "step.c"
#include "membership.c"
#include "ready.c"
#include "node.c"
