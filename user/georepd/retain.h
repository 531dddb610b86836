/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a follower keeps of its log (Documentation/replication.rst, "Log
 * release"): a pure function of the ledger's status, for the engine's
 * release (engine.c eng_compact()) and its unit test.
 */
#ifndef _GEOREPD_RETAIN_H
#define _GEOREPD_RETAIN_H

#include <stdint.h>

#include "ledger.h"

uint64_t gd_follower_keep(const struct gd_ledger_status *st, uint64_t applied,
			  uint64_t capacity);

#endif
