// SPDX-License-Identifier: GPL-2.0
/*
 * Deliberately broken consensus core (GR_BROKEN_STALE_PROGRESS), linked into a
 * simulator build that must catch it within the seeds of `make check`
 * and into the unit tests, some of which must fail.
 */
#define GR_BROKEN_STALE_PROGRESS
#include "broken.h"

const char *gr_broken_variant = "stale_progress";
