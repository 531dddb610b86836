// SPDX-License-Identifier: GPL-2.0
/*
 * Deliberately broken consensus core (GR_BROKEN_HB_COMMIT_UNCAPPED), linked into a
 * simulator build that must catch it within the seeds of `make check`
 * and into the unit tests, some of which must fail.
 */
#define GR_BROKEN_HB_COMMIT_UNCAPPED
#include "broken.h"

const char *gr_broken_variant = "hb_commit_uncapped";
