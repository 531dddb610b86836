// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl status [<name>] [--json]
 *
 * One model (struct georep_vol_status), two renderers: a table for people
 * and jansson JSON for scripts. JSON keys are stable and documented in
 * georepctl(8); attributes the kernel did not send are null.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "georep/record.h"
#include "georepctl.h"
#include "cmd_cluster_status.h"

#define STATUS_USAGE "georepctl status [<name>] [--json] [--socket PATH | --site NAME]"
#define STATUS_HELP							\
	"Show every volume, or one. Columns: NAME, MINOR, ROLE/TERM, RULE,\n" \
	"WRITTEN/COMMITTED/APPLIED seq, TAIL seq, LOG used/size (percent),\n" \
	"THROTTLED, EPOCH (seal epoch of new records), OPEN count.\n\n"	\
	"When a georepd answers (--socket PATH, --site NAME, else the only\n" \
	"*.sock in /run/georep), the cluster view comes first: per volume,\n" \
	"one row per site (role, term, seqs, lag, RTT, link), policy, forks,\n" \
	"the Merkle tree and the last final checkpoint (final seq, how far it\n" \
	"trails the commit index).\n\n"					\
	"  --json   one object {\"volumes\": [...]} (keys in georepctl(8)),\n" \
	"           plus \"cluster\": the daemon's status when one answered\n"

enum { OPT_JSON = 2, OPT_SOCKET, OPT_SITE };

static const struct grctl_opt status_opts[] = {
	{ "json", OPT_JSON, false },
	{ "socket", OPT_SOCKET, true },
	{ "site", OPT_SITE, true },
	{ NULL }
};

int status_parse(struct grctl_parser *p, struct status_args *a)
{
	const char *val;
	int id;

	memset(a, 0, sizeof(*a));
	p->opts = status_opts;
	while ((id = grctl_next_named(p, &val, &a->name)) > GRCTL_ARG_POS) {
		switch (id) {
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_SOCKET:
			a->socket = val;
			break;
		case OPT_SITE:
			a->site = val;
			break;
		}
	}
	return id;
}

/* "1.5G" style, for the table only */
static void human(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)v);
	else
		snprintf(buf, len, "%.1f%c", d, units[u]);
}

static double used_pct(const struct georep_vol_status *v)
{
	return v->log_size ? 100.0 * (double)v->log_used / (double)v->log_size : 0;
}

static void print_table(const struct georep_vol_status *v, size_t nr)
{
	size_t i;

	printf("%-16s %5s %-14s %-6s %10s %10s %10s %10s %-22s %-9s %5s %4s %-7s %-8s\n",
	       "NAME", "MINOR", "ROLE/TERM", "RULE", "WRITTEN", "COMMITTED",
	       "APPLIED", "TAIL", "LOG USED/SIZE", "THROTTLED", "EPOCH", "OPEN",
	       "IO", "DIVERGED");
	for (i = 0; i < nr; i++) {
		char role[40], used[16], size[16], log[48];

		snprintf(role, sizeof(role), "%s/%llu", georep_role_name(v[i].role),
			 (unsigned long long)v[i].term);
		human(v[i].log_used, used, sizeof(used));
		human(v[i].log_size, size, sizeof(size));
		snprintf(log, sizeof(log), "%s/%s (%.1f%%)", used, size,
			 used_pct(&v[i]));
		printf("%-16s %5u %-14s %-6s %10llu %10llu %10llu %10llu %-22s %-9s %5u %4u %-7s %-8s\n",
		       v[i].name, v[i].minor, role, georep_commit_rule_name(v[i].commit_rule),
		       (unsigned long long)v[i].written_seq,
		       (unsigned long long)v[i].commit_seq,
		       (unsigned long long)v[i].applied_seq,
		       (unsigned long long)v[i].tail_seq, log,
		       v[i].throttled ? "yes" : "no", v[i].seal_epoch,
		       v[i].open_count, GEOREP_VOL_HAS(&v[i], GEOREP_A_IO_STATE) ?
		       georep_io_state_name(v[i].io_state) : "-",
		       !GEOREP_VOL_HAS(&v[i], GEOREP_A_DIVERGED) ? "-" :
		       v[i].diverged ? "yes" : "no");
	}
}

/* helpers that return null for attributes the kernel did not send */
static json_t *jint(const struct georep_vol_status *v, int attr, uint64_t val)
{
	if (!GEOREP_VOL_HAS(v, attr))
		return json_null();
	/* jansson integers are signed 64-bit; seqs and sizes fit in practice */
	return json_integer((json_int_t)val);
}

static json_t *jhex(bool has, const uint8_t *p, size_t len)
{
	char hex[2 * GEOREP_HASH_LEN + 1];

	if (!has)
		return json_null();
	georep_hex(p, len, hex);
	return json_string(hex);
}

/* the seal key epochs the kernel holds, or null from an older module */
static json_t *key_epochs(const struct georep_vol_status *v)
{
	json_t *a;
	uint32_t i;

	if (!GEOREP_VOL_HAS(v, GEOREP_A_KEY_EPOCHS))
		return json_null();
	a = json_array();
	for (i = 0; i < v->nr_key_epochs; i++)
		json_array_append_new(a, json_integer(v->key_epochs[i]));
	return a;
}

static json_t *status_json(const struct georep_vol_status *v)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "name", json_string(v->name));
	json_object_set_new(o, "uuid", jhex(v->has_uuid, v->uuid, GEOREP_UUID_LEN));
	json_object_set_new(o, "minor", jint(v, GEOREP_A_MINOR, v->minor));
	json_object_set_new(o, "site_id", jint(v, GEOREP_A_SITE_ID, v->site_id));
	json_object_set_new(o, "role", GEOREP_VOL_HAS(v, GEOREP_A_ROLE) ?
			    json_string(georep_role_name(v->role)) : json_null());
	json_object_set_new(o, "term", jint(v, GEOREP_A_TERM, v->term));
	json_object_set_new(o, "commit_rule", GEOREP_VOL_HAS(v, GEOREP_A_COMMIT_RULE) ?
			    json_string(georep_commit_rule_name(v->commit_rule)) : json_null());
	json_object_set_new(o, "data_bytes", jint(v, GEOREP_A_DATA_BYTES, v->data_bytes));
	json_object_set_new(o, "written_seq", jint(v, GEOREP_A_WRITTEN_SEQ, v->written_seq));
	json_object_set_new(o, "commit_seq", jint(v, GEOREP_A_COMMIT_SEQ, v->commit_seq));
	json_object_set_new(o, "applied_seq", jint(v, GEOREP_A_APPLIED_SEQ, v->applied_seq));
	json_object_set_new(o, "tail_seq", jint(v, GEOREP_A_TAIL_SEQ, v->tail_seq));
	json_object_set_new(o, "log_used", jint(v, GEOREP_A_LOG_USED, v->log_used));
	json_object_set_new(o, "log_size", jint(v, GEOREP_A_LOG_SIZE, v->log_size));
	json_object_set_new(o, "log_used_pct", v->log_size ?
			    json_real(used_pct(v)) : json_null());
	json_object_set_new(o, "uncommitted_bytes",
			    jint(v, GEOREP_A_UNCOMMITTED_BYTES, v->uncommitted_bytes));
	json_object_set_new(o, "throttled", GEOREP_VOL_HAS(v, GEOREP_A_THROTTLED) ?
			    json_boolean(v->throttled) : json_null());
	json_object_set_new(o, "high_wm", jint(v, GEOREP_A_LOG_HIGH_WM, v->high_wm));
	json_object_set_new(o, "low_wm", jint(v, GEOREP_A_LOG_LOW_WM, v->low_wm));
	json_object_set_new(o, "max_uncommitted",
			    jint(v, GEOREP_A_MAX_UNCOMMITTED, v->max_uncommitted));
	json_object_set_new(o, "seal_epoch", jint(v, GEOREP_A_SEAL_EPOCH, v->seal_epoch));
	json_object_set_new(o, "key_epochs", key_epochs(v));
	json_object_set_new(o, "open_count", jint(v, GEOREP_A_OPEN_COUNT, v->open_count));
	json_object_set_new(o, "io_state", GEOREP_VOL_HAS(v, GEOREP_A_IO_STATE) ?
			    json_string(georep_io_state_name(v->io_state)) : json_null());
	json_object_set_new(o, "diverged", GEOREP_VOL_HAS(v, GEOREP_A_DIVERGED) ?
			    json_boolean(v->diverged) : json_null());
	json_object_set_new(o, "standalone", GEOREP_VOL_HAS(v, GEOREP_A_STANDALONE) ?
			    json_boolean(v->standalone) : json_null());
	json_object_set_new(o, "chain_hash",
			    jhex(v->has_chain_hash, v->chain_hash, GEOREP_HASH_LEN));
	return o;
}

/* @cluster (stolen, may be NULL): the daemon's view; @v NULL: no kernel view */
static int print_json(const struct georep_vol_status *v, size_t nr, json_t *cluster)
{
	json_t *root, *arr;
	size_t i;
	int ret;

	root = json_object();
	arr = v ? json_array() : json_null();
	if (!root || !arr)
		goto out_nomem;
	for (i = 0; v && i < nr; i++) {
		json_t *o = status_json(&v[i]);

		if (!o || json_array_append_new(arr, o))
			goto out_nomem;
	}
	json_object_set_new(root, "volumes", arr);
	arr = NULL;
	if (cluster)
		json_object_set_new(root, "cluster", cluster);
	ret = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (ret)
		return grctl_fail("cannot write JSON");
	putchar('\n');
	return 0;

out_nomem:
	json_decref(cluster);
	json_decref(arr);
	json_decref(root);
	return grctl_fail("%s", strerror(ENOMEM));
}

int status_main(int argc, char *argv[])
{
	struct georep_vol_status one, *vols = NULL;
	struct status_args a;
	struct grctl_parser p;
	struct georep_nl *nl;
	json_t *cluster;
	char err[512];
	bool daemon;
	size_t nr;
	int ret;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	ret = status_parse(&p, &a);
	if (!grctl_parsed(&p, ret, STATUS_USAGE, STATUS_HELP, &ret))
		return ret;
	ret = cluster_status_query(a.socket, a.site, a.name, &cluster);
	if (ret)
		return ret;
	daemon = cluster != NULL;
	if (daemon && !a.json) {
		cluster_status_print(cluster);
		json_decref(cluster);
		cluster = NULL;
	}
	if (daemon && georep_nl_open(&nl, err, sizeof(err))) {
		/* a daemon without the kernel module (--ledger mem): its view only */
		fprintf(stderr, "georepctl: no local kernel view: %s\n", err);
		return a.json ? print_json(NULL, 0, cluster) : 0;
	}
	if (!daemon && grctl_nl_open(&nl))
		return GRCTL_EXIT_FAIL;
	if (a.name) {
		ret = georep_nl_volume_get(nl, a.name, &one);
		if (ret) {
			ret = grctl_nl_fail(nl, "cannot get status of volume", a.name);
			goto out_close;
		}
		vols = &one;
		nr = 1;
	} else {
		ret = georep_nl_volume_list(nl, &vols, &nr);
		if (ret) {
			ret = grctl_fail("cannot list volumes: %s", georep_nl_error(nl));
			goto out_close;
		}
	}
	if (a.json)
		ret = print_json(vols, nr, cluster);
	else
		print_table(vols, nr);
	cluster = NULL;
	if (vols != &one)
		free(vols);
out_close:
	json_decref(cluster);
	georep_nl_close(nl);
	return ret;
}
