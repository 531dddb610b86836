/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georepctl switchover / failover / events: commands that talk to georepd's
 * control socket (cmd_cluster.c). Declared here until georepctl.h lists
 * them (the build force-includes this header into commands.c).
 */
#ifndef _GEOREPCTL_CMD_CLUSTER_H
#define _GEOREPCTL_CMD_CLUSTER_H

int switchover_main(int argc, char *argv[]);
int failover_main(int argc, char *argv[]);
int events_main(int argc, char *argv[]);
int bpf_main(int argc, char *argv[]);
int proof_main(int argc, char *argv[]);

#include <jansson.h>
/*
 * One request to georepd's control socket (--socket PATH, else --site NAME,
 * else the only socket in /run/georep); the reply in *@out, or the error
 * printed. Steals @req. Return: 0 or an exit code.
 */
int grctl_ctl_request(const char *socket, const char *site, json_t *req, json_t **out);

#endif /* _GEOREPCTL_CMD_CLUSTER_H */
