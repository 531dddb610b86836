// SPDX-License-Identifier: GPL-2.0
/*
 * Deliberately broken consensus core (GR_BROKEN_SELF_UNDURABLE), linked into a
 * simulator build that must catch it within the seeds of `make check`
 * (by the invariant named in gr_broken_check)
 * and into the unit tests, some of which must fail.
 */
#define GR_BROKEN_SELF_UNDURABLE
#include "broken.h"

const char *gr_broken_variant = "self_undurable";
const char *gr_broken_check = "commit durability";
