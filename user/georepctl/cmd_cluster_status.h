/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cluster half of `georepctl status` (cmd_cluster_status.c): ask the
 * site's georepd for its status and render one table per volume, one row
 * per site. cmd_status.c calls these before it shows the local kernel view.
 */
#ifndef _GEOREPCTL_CMD_CLUSTER_STATUS_H
#define _GEOREPCTL_CMD_CLUSTER_STATUS_H

#include <stdbool.h>
#include <jansson.h>

/*
 * Ask georepd for its status: the control socket is @socket, else
 * /run/georep/<@site>.sock, else the only *.sock in /run/georep. With
 * @volume, the reply's "volumes" keep only that volume.
 *
 * Return: 0 with *@out the reply (without "ok"/"id"), or 0 with *@out NULL
 * when no socket was named and none (or more than one) was found or the
 * found one does not answer; an exit code when the named socket fails.
 */
int cluster_status_query(const char *socket, const char *site, const char *volume,
			 json_t **out);

/* The text view of a cluster_status_query() reply, on stdout. */
void cluster_status_print(json_t *st);

#endif /* _GEOREPCTL_CMD_CLUSTER_STATUS_H */
