/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georepd's own durable state: one small JSON file per volume in the state
 * directory, <dir>/<volume>.state, holding the consensus hard state (term,
 * vote, commit) and the membership. Written as write-temp + fsync + rename +
 * fsync(dir), so a crash leaves either the old or the new file, never a mix;
 * a temp file left by a crash is removed when the directory is opened.
 *
 * The directory is locked (flock on <dir>/lock, which holds the pid) so two
 * daemons cannot share it.
 */
#ifndef _GEOREPD_STATE_H
#define _GEOREPD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "georep/config.h"

#define GD_STATE_VERSION	1

struct gd_member {
	uint32_t site_id;
	bool voter;
};

struct gd_vstate {
	uint64_t term;
	uint32_t vote;			/* site id voted for in term, 0: none */
	uint64_t commit;
	uint32_t nmembers;
	struct gd_member members[GR_CFG_MAX_SITES];
};

struct gd_statedir;

/*
 * Create @path if needed (mode 0700), lock it, remove stale temp files.
 * Return: 0 or -errno, a message in @err (256 bytes).
 */
int gd_statedir_open(const char *path, struct gd_statedir **out, char *err);
void gd_statedir_close(struct gd_statedir *sd);
const char *gd_statedir_path(const struct gd_statedir *sd);
/* Temp files removed by gd_statedir_open() (crash leftovers). */
unsigned int gd_statedir_cleaned(const struct gd_statedir *sd);

/* Return: 0, -ENOENT (never saved), -EBADMSG (@err says what is wrong). */
int gd_vstate_load(struct gd_statedir *sd, const char *volume,
		   struct gd_vstate *st, char *err);
/* Return: 0 or -errno. Durable when it returns 0. */
int gd_vstate_save(struct gd_statedir *sd, const char *volume,
		   const struct gd_vstate *st);

/*
 * Fault injection for tests: when set to GD_FAIL_BEFORE_RENAME, the next
 * gd_vstate_save() stops after the temp file is written and synced, as a
 * crash there would, and returns -EIO.
 */
enum { GD_FAIL_NONE, GD_FAIL_BEFORE_RENAME };
extern int gd_state_fail_point;

#endif /* _GEOREPD_STATE_H */
