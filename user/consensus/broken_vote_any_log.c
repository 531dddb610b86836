// SPDX-License-Identifier: GPL-2.0
/*
 * Deliberately broken consensus core (GR_BROKEN_VOTE_ANY_LOG), linked into a
 * simulator build that must catch it within the seeds of `make check`.
 */
#define GR_BROKEN_VOTE_ANY_LOG
#include "consensus.c"

const char *sim_broken_variant = "vote_any_log";
