// SPDX-License-Identifier: GPL-2.0
/*
 * Commands for the replication daemon, over its control socket:
 *
 *   georepctl switchover <volume> <site> [--wait SEC] [--socket PATH | --site NAME]
 *   georepctl failover <volume> --force  [--socket PATH | --site NAME]
 *   georepctl events [--count N]         [--socket PATH | --site NAME]
 *   georepctl bpf status [--json]        [--socket PATH | --site NAME]
 *   georepctl bpf attach|detach [admit|pace] [--socket PATH | --site NAME]
 *
 * The socket is --socket, else /run/georep/<site>.sock for --site, else the
 * only *.sock in /run/georep.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "georep/ctlsock.h"
#include "georepctl.h"
#include "cmd_cluster.h"

#define RUN_DIR		"/run/georep"
#define CALL_TIMEOUT_MS	10000

enum { OPT_SOCKET = 2, OPT_SITE, OPT_FORCE, OPT_COUNT, OPT_WAIT, OPT_JSON };

static const struct grctl_opt cluster_opts[] = {
	{ "socket", OPT_SOCKET, true },
	{ "site", OPT_SITE, true },
	{ "force", OPT_FORCE, false },
	{ "count", OPT_COUNT, true },
	{ "wait", OPT_WAIT, true },
	{ "json", OPT_JSON, false },
	{ NULL }
};

struct cluster_args {
	const char *socket, *site;
	const char *pos[2];
	int npos;
	bool force;
	uint64_t count;
	bool has_wait;
	uint64_t wait_s;
	bool json;
	char path[108];
};

/*
 * Return: 0, or the exit code of a usage error. @allow_count: --count
 * (events) or --wait (switchover), told apart by @npos.
 */
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
			if (!allow_count || npos || grctl_parse_u64(val, &a->count)) {
				grctl_errf(&p, "bad --count '%s'", val);
				return grctl_usage_error(usage, p.err);
			}
			break;
		case OPT_WAIT:
			if (!allow_count || npos != 2 || grctl_parse_u64(val, &a->wait_s) ||
			    !a->wait_s || a->wait_s > 86400) {
				grctl_errf(&p, "bad --wait '%s': seconds, 1..86400 (switchover only)",
					   val);
				return grctl_usage_error(usage, p.err);
			}
			a->has_wait = true;
			break;
		case OPT_JSON:
			if (npos != 1 || allow_force || allow_count) {
				grctl_errf(&p, "--json is only for bpf status");
				return grctl_usage_error(usage, p.err);
			}
			a->json = true;
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

/*
 * One request; the reply in *@out (when ok), or the error printed. Steals
 * @req. Return: 0 or an exit code.
 */
static int request(struct cluster_args *a, json_t *req, json_t **out)
{
	char err[GR_CTL_ERRLEN] = "";
	json_t *resp = NULL;
	int ret;

	*out = NULL;
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
	*out = resp;
	return 0;
}

int grctl_ctl_request(const char *socket, const char *site, json_t *req, json_t **out)
{
	struct cluster_args a = { .socket = socket, .site = site };

	return request(&a, req, out);
}

static void print_reply(json_t *resp)
{
	char *text = json_dumps(resp, JSON_COMPACT);

	if (text)
		printf("%s\n", text);
	free(text);
}

/* One request; prints the reply (JSON) or the error. Steals @req. */
static int call(struct cluster_args *a, json_t *req)
{
	json_t *resp;
	int ret = request(a, req, &resp);

	if (ret)
		return ret;
	print_reply(resp);
	json_decref(resp);
	return GRCTL_EXIT_OK;
}

/* The replica object of @volume in the daemon's status, or NULL. */
static json_t *status_replica(json_t *st, const char *volume)
{
	json_t *vols = json_object_get(st, "volumes"), *v;
	size_t i;

	json_array_foreach(vols, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")) ?: "", volume))
			return json_object_get(v, "replica");
	return NULL;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A switchover the daemon holds until the device is closed: follow it in
 * the daemon's status until <site> leads (0) or the daemon gave it up, or
 * the wait and an election's time passed (GRCTL_EXIT_FAIL).
 */
static int follow_switchover(struct cluster_args *a, const char *volume, const char *to)
{
	double t0 = mono_s(), limit = (double)a->wait_s + 15;
	bool held_seen = true;

	fprintf(stderr, "georepctl: %s is in use: switchover to %s held until it is closed (up to %llu s)\n",
		volume, to, (unsigned long long)a->wait_s);
	while (mono_s() - t0 < limit) {
		json_t *st, *rep;
		const char *leader;
		int ret;

		usleep(200000);
		ret = request(a, json_pack("{s:s}", "cmd", "status"), &st);
		if (ret)
			continue;	/* the old primary may be busy electing */
		rep = status_replica(st, volume);
		leader = json_string_value(json_object_get(rep, "leader"));
		if (leader && !strcmp(leader, to)) {
			json_t *done = json_pack("{s:s, s:s, s:f}", "volume", volume, "to", to,
						 "waited_s", mono_s() - t0);

			if (done)
				print_reply(done);
			json_decref(done);
			json_decref(st);
			return GRCTL_EXIT_OK;
		}
		held_seen = json_is_object(json_object_get(rep, "switchover"));
		json_decref(st);
		if (!held_seen && mono_s() - t0 > a->wait_s + 1.0)
			break;
	}
	fprintf(stderr, "georepctl: switchover of %s to %s did not happen: %s\n", volume, to,
		held_seen ? "still waiting" : "the device stayed in use (see georepctl events)");
	return GRCTL_EXIT_FAIL;
}

#define SWITCHOVER_USAGE						\
	"georepctl switchover <volume> <site> [--wait SEC] [--socket PATH | --site NAME]"
#define SWITCHOVER_HELP							\
	"Planned transfer of a volume's primary role to <site> (ask the\n"	\
	"current primary's daemon). Writes stop at once at the old primary and\n" \
	"resume at <site> once it is elected and holds its lease.\n"		\
	"While the old primary's block device is open (mounted, a writer) the\n" \
	"switchover is refused: its writes would fail once it is secondary.\n" \
	"Unmount or stop the writer first, or:\n\n"				\
	"  --wait SEC             the daemon holds the switchover until the\n" \
	"                         device is closed, SEC seconds at most\n"

int switchover_main(int argc, char *argv[])
{
	struct cluster_args a;
	json_t *req, *resp;
	int ret = parse(argc, argv, SWITCHOVER_USAGE, SWITCHOVER_HELP, 2, false, true, &a);

	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	req = json_pack("{s:s, s:s, s:s}", "cmd", "switchover", "volume", a.pos[0],
			"to", a.pos[1]);
	if (req && a.has_wait)
		json_object_set_new(req, "wait_s", json_integer((json_int_t)a.wait_s));
	ret = request(&a, req, &resp);
	if (ret)
		return ret;
	if (json_is_true(json_object_get(resp, "waiting"))) {
		json_decref(resp);
		return follow_switchover(&a, a.pos[0], a.pos[1]);
	}
	print_reply(resp);
	json_decref(resp);
	return GRCTL_EXIT_OK;
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

#define BPF_USAGE "georepctl bpf {status [--json] | attach [admit|pace] | detach [admit|pace]} [--socket PATH | --site NAME]"
#define BPF_HELP							\
	"Show georepd's BPF programs (georepd --bpf, Documentation/ebpf.rst):\n" \
	"for each, its hook, whether it is attached (or why not), and its\n"	\
	"counters; for the admit program, per volume: writes seen, sync\n"	\
	"writes, passed ahead of the watermarks, delayed (of them held to the\n" \
	"commit rate), the delay total, the commit rate the program measures,\n" \
	"the last queue in ms of that rate, the last pressure and the follower\n" \
	"lag georepd wrote; for the route\n"					\
	"program, per volume: the service address, where a connect goes now\n" \
	"(the primary's backend, or refused and why), connects redirected and\n" \
	"refused, and per site its backend, reachability, RTT and lag; for the\n" \
	"pace program, per peer: the rate it is paced to (resync: the share\n" \
	"while a full resync runs), whether fq keeps the departure times, the\n" \
	"rate seen over the last half second, packets delayed, the average and\n" \
	"largest delay, and packets sent with a congestion notification.\n"	\
	"attach, detach [admit]: attach the loaded admit program, or detach it\n" \
	"(the kernel's watermark rules alone) until attach or georepd's restart.\n" \
	"attach, detach pace: the same for the pace program (detached: the\n"	\
	"replication connections leave as fast as TCP sends them).\n"

static void bpf_print_admit_volume(json_t *v)
{
	printf("  %-16s minor %-4" JSON_INTEGER_FORMAT " calls %-9" JSON_INTEGER_FORMAT
	       " sync %-9" JSON_INTEGER_FORMAT " passed %-7" JSON_INTEGER_FORMAT
	       " delayed %-9" JSON_INTEGER_FORMAT " (sync %" JSON_INTEGER_FORMAT ")"
	       " delay %.3f s held %" JSON_INTEGER_FORMAT " (learning %" JSON_INTEGER_FORMAT ")"
	       " commit %" JSON_INTEGER_FORMAT
	       " B/s queue %" JSON_INTEGER_FORMAT " ms pressure %" JSON_INTEGER_FORMAT
	       "/1000 lag %" JSON_INTEGER_FORMAT " B\n",
	       json_string_value(json_object_get(v, "volume")) ?: "-",
	       json_integer_value(json_object_get(v, "minor")),
	       json_integer_value(json_object_get(v, "calls")),
	       json_integer_value(json_object_get(v, "sync")),
	       json_integer_value(json_object_get(v, "passed")),
	       json_integer_value(json_object_get(v, "delayed")),
	       json_integer_value(json_object_get(v, "delayed_sync")),
	       json_integer_value(json_object_get(v, "delay_us_total")) / 1e6,
	       json_integer_value(json_object_get(v, "rate_delayed")),
	       json_integer_value(json_object_get(v, "learn_delayed")),
	       json_integer_value(json_object_get(v, "commit_bytes_s")),
	       json_integer_value(json_object_get(v, "queue_ms")),
	       json_integer_value(json_object_get(v, "pressure_permille")),
	       json_integer_value(json_object_get(v, "lag_bytes")));
}

/* what the route program does with a connect now, from its health map */
static const char *bpf_route_verdict(json_t *v, const char **backend)
{
	const char *primary = json_string_value(json_object_get(v, "primary"));
	json_t *s;
	size_t i;

	*backend = "";
	if (json_is_true(json_object_get(v, "degraded")))
		return "refused (degraded here)";
	if (!json_is_true(json_object_get(v, "quorum")))
		return "refused (no quorum here)";
	json_array_foreach(json_object_get(v, "sites"), i, s) {
		const char *name = json_string_value(json_object_get(s, "site"));

		if (primary && name && !strcmp(name, primary) &&
		    json_is_true(json_object_get(s, "reachable"))) {
			*backend = json_string_value(json_object_get(s, "backend")) ?: "?";
			return primary;
		}
	}
	return "refused (no reachable primary)";
}

static void bpf_print_route_volume(json_t *v)
{
	json_t *why = json_object_get(v, "refused"), *s, *n;
	json_int_t refused = 0;
	const char *backend, *to = bpf_route_verdict(v, &backend), *k;
	size_t i;

	json_object_foreach(why, k, n)
		refused += json_integer_value(n);
	printf("  %s service %s -> %s%s%s redirected %" JSON_INTEGER_FORMAT ", refused %"
	       JSON_INTEGER_FORMAT " (", json_string_value(json_object_get(v, "volume")) ?: "?",
	       json_string_value(json_object_get(v, "service")) ?: "?", to, *backend ? " " : "",
	       backend,
	       json_integer_value(json_object_get(v, "redirected")), refused);
	i = 0;
	json_object_foreach(why, k, n)
		printf("%s%s %" JSON_INTEGER_FORMAT, i++ ? ", " : "", k, json_integer_value(n));
	printf(")\n");
	json_array_foreach(json_object_get(v, "sites"), i, s) {
		printf("    %-10s %-24s %-9s %-9s", json_string_value(json_object_get(s, "site")) ?: "?",
		       json_string_value(json_object_get(s, "backend")) ?: "?",
		       json_is_true(json_object_get(s, "reachable")) ? "reachable" : "down",
		       json_is_true(json_object_get(s, "primary")) ? "primary" : "-");
		if (json_object_get(s, "rtt_ms"))
			printf(" rtt %.1f ms", json_real_value(json_object_get(s, "rtt_ms")));
		printf(" lag %" JSON_INTEGER_FORMAT " records, redirected %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(json_object_get(s, "lag_records")),
		       json_integer_value(json_object_get(s, "redirected")));
	}
}

static void bpf_print_pace_peer(json_t *v)
{
	printf("  %-10s ", json_string_value(json_object_get(v, "site")) ?: "?");
	if (!json_is_true(json_object_get(v, "connected"))) {
		printf("not connected\n");
		return;
	}
	printf("paced to %.1f Mbit/s%s%s, seen %.1f Mbit/s, delayed %" JSON_INTEGER_FORMAT
	       " of %" JSON_INTEGER_FORMAT " packets (avg %.1f ms, max %.1f ms), congested %"
	       JSON_INTEGER_FORMAT "\n",
	       json_integer_value(json_object_get(v, "rate_bytes_s")) * 8 / 1e6,
	       json_is_true(json_object_get(v, "resync")) ? " (resync share)" : "",
	       json_is_true(json_object_get(v, "enforced")) ? "" :
	       " NOT ENFORCED (no fq qdisc?), counting only",
	       json_integer_value(json_object_get(v, "observed_bytes_s")) * 8 / 1e6,
	       json_integer_value(json_object_get(v, "delayed")),
	       json_integer_value(json_object_get(v, "packets")),
	       json_real_value(json_object_get(v, "delay_avg_ms")),
	       json_real_value(json_object_get(v, "delay_max_ms")),
	       json_integer_value(json_object_get(v, "congested")));
}

static void bpf_print(json_t *resp)
{
	json_t *progs = json_object_get(resp, "programs"), *p, *v;
	size_t i, k;

	printf("mode: %s\n", json_string_value(json_object_get(resp, "mode")) ?: "?");
	if (!json_array_size(progs))
		printf("no programs loaded\n");
	json_array_foreach(progs, i, p) {
		json_t *id;

		printf("%s (%s%s%s): %s", json_string_value(json_object_get(p, "name")) ?: "?",
		       json_string_value(json_object_get(p, "hook")) ?: "?",
		       json_object_get(p, "cgroup") ? " on " : "",
		       json_string_value(json_object_get(p, "cgroup")) ?: "",
		       json_is_true(json_object_get(p, "attached")) ? "attached" :
		       "not attached");
		if (json_object_get(p, "prog_id"))
			printf(", prog id %" JSON_INTEGER_FORMAT,
			       json_integer_value(json_object_get(p, "prog_id")));
		if (json_array_size(json_object_get(p, "prog_ids")))
			printf(", prog ids");
		json_array_foreach(json_object_get(p, "prog_ids"), k, id)
			printf(" %" JSON_INTEGER_FORMAT, json_integer_value(id));
		if (json_object_get(p, "error"))
			printf(": %s", json_string_value(json_object_get(p, "error")));
		printf("\n");
		json_array_foreach(json_object_get(p, "volumes"), k, v) {
			if (json_object_get(v, "service"))
				bpf_print_route_volume(v);
			else
				bpf_print_admit_volume(v);
		}
		if (json_object_get(p, "mbit"))
			printf("  budget %" JSON_INTEGER_FORMAT " Mbit/s per peer link, %"
			       JSON_INTEGER_FORMAT "%% during a full resync\n",
			       json_integer_value(json_object_get(p, "mbit")),
			       json_integer_value(json_object_get(p, "resync_percent")));
		json_array_foreach(json_object_get(p, "peers"), k, v)
			bpf_print_pace_peer(v);
	}
}

int bpf_main(int argc, char *argv[])
{
	const char *prog = "admit";
	struct cluster_args a;
	json_t *resp;
	int ret;

	/* attach|detach [admit|pace]: the program is an optional second word */
	if (argc >= 3 && (!strcmp(argv[1], "attach") || !strcmp(argv[1], "detach")) &&
	    argv[2][0] != '-') {
		prog = argv[2];
		if (strcmp(prog, "admit") && strcmp(prog, "pace"))
			return grctl_usage_error(BPF_USAGE, "unknown program (admit, pace)");
		memmove(&argv[2], &argv[3], (argc - 2) * sizeof(argv[0]));
		argc--;
	}
	ret = parse(argc, argv, BPF_USAGE, BPF_HELP, 1, false, false, &a);
	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	if (!strcmp(a.pos[0], "attach") || !strcmp(a.pos[0], "detach"))
		ret = request(&a, json_pack("{s:s, s:b, s:s}", "cmd", "bpf-set", "attached",
					    a.pos[0][0] == 'a', "program", prog), &resp);
	else if (!strcmp(a.pos[0], "status"))
		ret = request(&a, json_pack("{s:s}", "cmd", "bpf-status"), &resp);
	else
		return grctl_usage_error(BPF_USAGE, "unknown bpf command (status, attach, detach)");
	if (ret)
		return ret;
	json_object_del(resp, "ok");
	if (a.json)
		print_reply(resp);
	else
		bpf_print(resp);
	json_decref(resp);
	return GRCTL_EXIT_OK;
}
