// SPDX-License-Identifier: GPL-2.0
/*
 * Commands for the replication daemon, over its control socket:
 *
 *   georepctl switchover <volume> <site> [--socket PATH | --site NAME]
 *   georepctl failover <volume> --force  [--socket PATH | --site NAME]
 *   georepctl events [--count N]         [--socket PATH | --site NAME]
 *
 * The socket is --socket, else /run/georep/<site>.sock for --site, else the
 * only *.sock in /run/georep.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "georep/ctlsock.h"
#include "georepctl.h"
#include "cmd_cluster.h"

#define RUN_DIR		"/run/georep"
#define CALL_TIMEOUT_MS	10000

enum { OPT_SOCKET = 2, OPT_SITE, OPT_FORCE, OPT_COUNT };

static const struct grctl_opt cluster_opts[] = {
	{ "socket", OPT_SOCKET, true },
	{ "site", OPT_SITE, true },
	{ "force", OPT_FORCE, false },
	{ "count", OPT_COUNT, true },
	{ NULL }
};

struct cluster_args {
	const char *socket, *site;
	const char *pos[2];
	int npos;
	bool force;
	uint64_t count;
	char path[108];
};

/* Return: 0, or the exit code of a usage error. */
static int parse(int argc, char *argv[], const char *usage, const char *help,
		 int npos, bool allow_force, bool allow_count, struct cluster_args *a)
{
	struct grctl_parser p;
	const char *val;
	int id;

	memset(a, 0, sizeof(*a));
	grctl_parser_init(&p, argc - 1, argv + 1, cluster_opts);
	while ((id = grctl_next(&p, &val)) != GRCTL_ARG_END) {
		switch (id) {
		case GRCTL_ARG_ERR:
			return grctl_usage_error(usage, p.err);
		case GRCTL_OPT_HELP:
			grctl_help(usage, help);
			return -1;
		case GRCTL_ARG_POS:
			if (a->npos == npos) {
				grctl_errf(&p, "unexpected argument '%s'", val);
				return grctl_usage_error(usage, p.err);
			}
			a->pos[a->npos++] = val;
			break;
		case OPT_SOCKET:
			a->socket = val;
			break;
		case OPT_SITE:
			a->site = val;
			break;
		case OPT_FORCE:
			if (!allow_force) {
				grctl_errf(&p, "--force is only for failover");
				return grctl_usage_error(usage, p.err);
			}
			a->force = true;
			break;
		case OPT_COUNT:
			if (!allow_count || grctl_parse_u64(val, &a->count)) {
				grctl_errf(&p, "bad --count '%s'", val);
				return grctl_usage_error(usage, p.err);
			}
			break;
		}
	}
	if (a->npos != npos)
		return grctl_usage_error(usage, "missing argument");
	return 0;
}

/* The control socket path; 0 or an exit code. */
static int socket_path(struct cluster_args *a)
{
	struct dirent *de;
	int found = 0;
	DIR *dir;

	if (a->socket) {
		if (strlen(a->socket) >= sizeof(a->path))
			goto too_long;
		strcpy(a->path, a->socket);
		return 0;
	}
	if (a->site) {
		if (snprintf(a->path, sizeof(a->path), RUN_DIR "/%s.sock", a->site) >=
		    (int)sizeof(a->path))
			goto too_long;
		return 0;
	}
	dir = opendir(RUN_DIR);
	while (dir && (de = readdir(dir))) {
		size_t n = strlen(de->d_name);

		if (n > 5 && !strcmp(de->d_name + n - 5, ".sock") &&
		    n + sizeof(RUN_DIR) + 1 <= sizeof(a->path)) {
			snprintf(a->path, sizeof(a->path), RUN_DIR "/%s", de->d_name);
			found++;
		}
	}
	if (dir)
		closedir(dir);
	if (found == 1)
		return 0;
	fprintf(stderr, "georepctl: %s georepd control socket in " RUN_DIR
		": give --socket PATH or --site NAME\n", found ? "more than one" : "no");
	return GRCTL_EXIT_FAIL;
too_long:
	fprintf(stderr, "georepctl: control socket path too long\n");
	return GRCTL_EXIT_USAGE;
}

/* One request; prints the reply (JSON) or the error. Steals @req. */
static int call(struct cluster_args *a, json_t *req)
{
	char err[GR_CTL_ERRLEN] = "";
	json_t *resp = NULL;
	char *text;
	int ret;

	ret = socket_path(a);
	if (ret) {
		json_decref(req);
		return ret;
	}
	ret = gr_ctl_call(a->path, req, CALL_TIMEOUT_MS, &resp, err);
	json_decref(req);
	if (ret) {
		fprintf(stderr, "georepctl: %s: %s\n", a->path, err[0] ? err : strerror(-ret));
		json_decref(resp);
		return GRCTL_EXIT_FAIL;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		fprintf(stderr, "georepctl: %s\n",
			json_string_value(json_object_get(resp, "error")) ?: "request failed");
		json_decref(resp);
		return GRCTL_EXIT_FAIL;
	}
	text = json_dumps(resp, JSON_COMPACT);
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(resp);
	return GRCTL_EXIT_OK;
}

#define SWITCHOVER_USAGE "georepctl switchover <volume> <site> [--socket PATH | --site NAME]"
#define SWITCHOVER_HELP							\
	"Planned transfer of a volume's primary role to <site> (ask the\n"	\
	"current primary's daemon). Writes stop at once at the old primary and\n" \
	"resume at <site> once it is elected and holds its lease.\n"

int switchover_main(int argc, char *argv[])
{
	struct cluster_args a;
	int ret = parse(argc, argv, SWITCHOVER_USAGE, SWITCHOVER_HELP, 2, false, false, &a);

	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	return call(&a, json_pack("{s:s, s:s, s:s}", "cmd", "switchover", "volume", a.pos[0],
				  "to", a.pos[1]));
}

#define FAILOVER_USAGE "georepctl failover <volume> --force [--socket PATH | --site NAME]"
#define FAILOVER_HELP							\
	"LAST RESORT: make the daemon's site the only voter of <volume> and\n" \
	"its primary, without the other sites' consent. Use it only when a\n"	\
	"majority of the volume's sites is lost for good: records committed\n"	\
	"only on the lost sites are lost, and a lost site must be rebuilt\n"	\
	"(state and ledger deleted) before it rejoins. Requires --force.\n"

int failover_main(int argc, char *argv[])
{
	struct cluster_args a;
	int ret = parse(argc, argv, FAILOVER_USAGE, FAILOVER_HELP, 1, true, false, &a);

	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	if (!a.force)
		return grctl_usage_error(FAILOVER_USAGE,
					 "failover may lose committed records: confirm with --force");
	return call(&a, json_pack("{s:s, s:s, s:b}", "cmd", "failover", "volume", a.pos[0],
				  "force", 1));
}

#define EVENTS_USAGE "georepctl events [--count N] [--socket PATH | --site NAME]"
#define EVENTS_HELP							\
	"Print the daemon's events (role changes, writability, forks, peers),\n" \
	"one JSON object per line, until interrupted or N events were shown.\n"

int events_main(int argc, char *argv[])
{
	struct cluster_args a;
	char err[GR_CTL_ERRLEN] = "";
	json_t *req, *msg;
	uint64_t shown = 0;
	int fd, ret = parse(argc, argv, EVENTS_USAGE, EVENTS_HELP, 0, false, true, &a);

	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	ret = socket_path(&a);
	if (ret)
		return ret;
	fd = gr_ctl_connect(a.path);
	if (fd < 0) {
		fprintf(stderr, "georepctl: %s: %s\n", a.path, strerror(-fd));
		return GRCTL_EXIT_FAIL;
	}
	req = json_pack("{s:s}", "cmd", "events");
	ret = req ? gr_ctl_write(fd, req) : -ENOMEM;
	json_decref(req);
	while (!ret && (!a.count || shown < a.count)) {
		char *text;

		ret = gr_ctl_read(fd, -1, &msg, err);
		if (ret)
			break;
		if (json_object_get(msg, "subscribed")) {
			json_decref(msg);
			continue;
		}
		text = json_dumps(msg, JSON_COMPACT);
		if (text)
			printf("%s\n", text);
		fflush(stdout);
		free(text);
		json_decref(msg);
		shown++;
	}
	close(fd);
	if (ret && !(a.count && shown >= a.count)) {
		fprintf(stderr, "georepctl: %s: %s\n", a.path, err[0] ? err : strerror(-ret));
		return GRCTL_EXIT_FAIL;
	}
	return GRCTL_EXIT_OK;
}
