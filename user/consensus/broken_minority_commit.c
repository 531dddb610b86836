// SPDX-License-Identifier: GPL-2.0
/*
 * Deliberately broken consensus core (GR_BROKEN_MINORITY_COMMIT), linked into a
 * simulator build that must catch it within the seeds of `make check`.
 */
#define GR_BROKEN_MINORITY_COMMIT
#include "consensus.c"

const char *sim_broken_variant = "minority_commit";
