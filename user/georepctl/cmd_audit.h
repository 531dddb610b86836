/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georepctl verify and audit (cmd_verify.c, cmd_audit.c) and the parsers
 * of their arguments (audit_args.c, unit tested). Force-included into
 * commands.c by build.mk, like cmd_cluster.h.
 */
#ifndef _GEOREPCTL_CMD_AUDIT_H
#define _GEOREPCTL_CMD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

int verify_main(int argc, char *argv[]);
int audit_main(int argc, char *argv[]);

/*
 * "A-B" (sectors A to B inclusive, A <= B) or "A" (one sector), decimal.
 * Return: 0, or -EINVAL with a sentence in @err.
 */
int grctl_parse_lba_range(const char *s, uint64_t *first, uint64_t *last, char *err,
			  size_t errlen);
/*
 * A point in time, in ns since the epoch: "@SECONDS" (Unix time),
 * "YYYY-MM-DDTHH:MM:SSZ" (UTC) or "Ns", "Nm", "Nh", "Nd" (that long before
 * @now_s). Return: 0, or -EINVAL with a sentence in @err.
 */
int grctl_parse_since(const char *s, int64_t now_s, uint64_t *ns, char *err, size_t errlen);

/* another site's committed tree size, and its root at the size asked (verify_remote.c) */
struct grctl_remote_root {
	uint64_t tree;		/* committed leaves of its tree */
	bool has_tree;		/* it keeps a tree of the volume */
	bool has_root;		/* the size asked is within it: root is set */
	char root[64];		/* base64 */
};

/*
 * Ask site @site, through the georepd of control socket @via, for its
 * root at @size (0: the tree size only). Return: 0, or a georepctl exit
 * status with the reason printed.
 */
int grctl_remote_root(const char *via, const char *volume, const char *site, uint64_t size,
		      struct grctl_remote_root *out);
/*
 * another site's stored final checkpoint (@fork false, @index 0) or fork
 * file checkpoint @index, through --via: the reply {"count", "status"
 * ("ok", "none", "bad"), "checkpoint", "path"} in *note, to json_decref()
 */
int grctl_remote_note(const char *via, const char *volume, const char *site, bool fork,
		      unsigned int index, json_t **note);

#endif /* _GEOREPCTL_CMD_AUDIT_H */
