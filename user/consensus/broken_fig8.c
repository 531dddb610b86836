// SPDX-License-Identifier: GPL-2.0
/*
 * Deliberately broken consensus core (GR_BROKEN_FIG8), linked into a
 * simulator build that must catch it within the seeds of `make check`.
 */
#define GR_BROKEN_FIG8
#include "consensus.c"

const char *sim_broken_variant = "fig8";
