/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Forks: a truncated suffix of a ledger, kept before the truncation.
 *
 * When consensus removes records from this site's log (a deposed primary's
 * uncommitted tail, or records a primary wrote but never got to propose),
 * they may hold writes that were acknowledged under the `local` commit rule.
 * They are never dropped: fork.c copies them, whole records with payloads in
 * the log stream format, to <state-dir>/<volume>.fork-<from>-<to>-<unix time>
 * (fsynced, then the directory) before the ledger is truncated. `georepctl
 * ledger`-style tools can read the file like a log stream dump.
 */
#ifndef _GEOREPD_FORK_H
#define _GEOREPD_FORK_H

#include <stdint.h>

#include "ledger.h"

struct gd_fork {
	char path[4096];
	uint64_t from, to;	/* seqs */
	uint64_t records, bytes;
	uint64_t term_first, term_last;
};

/* Copy records @from..@to of @l to a new fork file in @dir. Return: 0 or -errno. */
int gd_fork_save(struct gd_ledger *l, const char *dir, const char *volume,
		 uint64_t from, uint64_t to, struct gd_fork *fk);

#endif /* _GEOREPD_FORK_H */
