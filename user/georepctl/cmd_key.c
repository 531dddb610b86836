// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl key rotate | status
 *
 * With --socket or --site, rotate asks the site's georepd, whose leader
 * rotates the key for every site of the volume (user/georepd/engine_keys.c);
 * without, the kernel volume of this site alone (a volume without georepd).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "georep/keys.h"
#include "georepctl.h"
#include "cmd_cluster.h"

#define ROTATE_USAGE							\
	"georepctl key rotate <volume> (--site NAME | --socket PATH | [--key-dir DIR])"
#define ROTATE_HELP							\
	"With --site or --socket: the volume's leader (ask the site that is\n" \
	"the leader) makes the next seal key epoch, sends it to every site over\n" \
	"mutual TLS, and seals with it once a majority has installed it; the\n" \
	"command returns once the key is sent (georepctl key status shows the\n" \
	"rest). Without: this site's kernel volume alone (no georepd): the next\n" \
	"epoch (highest + 1) as <key-dir>/<name>/<epoch>.key, handed to the\n" \
	"kernel (KEY_SET), sealing at once; other sites need the key before.\n" \
	"At most 8 epochs are kept: the kernel refuses a ninth rather than drop\n" \
	"one a retained record may use.\n\n"				\
	"  --site NAME     the site's georepd (/run/georep/NAME.sock)\n" \
	"  --socket PATH   georepd's control socket\n"			\
	"  --key-dir DIR   seal key directory (default " GEOREP_DEFAULT_KEY_DIR ")\n"

#define STATUS_USAGE "georepctl key status <volume> (--site NAME | --socket PATH) [--json]"
#define STATUS_HELP							\
	"The seal keys of the volume as the site's georepd sees them: the epoch\n" \
	"its kernel seals with, the epochs in its key directory, a rotation\n" \
	"waiting for a majority, and (at the leader) the highest epoch each\n" \
	"other site acknowledged. Never the key bytes.\n"

enum { OPT_KEY_DIR = 2, OPT_SOCKET, OPT_SITE, OPT_JSON };

static const struct grctl_opt key_opts[] = {
	{ "key-dir", OPT_KEY_DIR, true },
	{ "socket", OPT_SOCKET, true },
	{ "site", OPT_SITE, true },
	{ "json", OPT_JSON, false },
	{ NULL }
};

int key_rotate_parse(struct grctl_parser *p, struct key_rotate_args *a)
{
	const char *val;
	int id;

	memset(a, 0, sizeof(*a));
	p->opts = key_opts;
	while ((id = grctl_next_named(p, &val, &a->name)) > GRCTL_ARG_POS) {
		if (id == OPT_KEY_DIR && grctl_opt_dir(p, val, &a->key_dir))
			return GRCTL_ARG_ERR;
		if (id == OPT_SOCKET)
			a->socket = val;
		if (id == OPT_SITE)
			a->site = val;
		if (id == OPT_JSON)
			a->json = true;
	}
	if (id)
		return id;
	if (!a->name)
		return grctl_errf(p, "missing volume name");
	if ((a->socket || a->site) && a->key_dir)
		return grctl_errf(p, "--key-dir is for a volume without georepd (its daemon "
				  "keeps its own)");
	if (a->socket && a->site)
		return grctl_errf(p, "--socket or --site, not both");
	return 0;
}

/*
 * KEY_SET of the new epoch only: the kernel keeps the epochs it has and
 * retires its lowest unused one when its ring is full (kmod/keys.c)
 */
static int rotate(struct georep_nl *nl, const char *dir, const char *name)
{
	struct georep_keyset ks;
	char err[512];
	uint32_t epoch;
	int ret;

	ret = georep_keys_load(dir, name, &ks, err, sizeof(err));
	if (ret)
		return grctl_fail("%s", err);
	if (!ks.nr)
		return grctl_fail("volume %s has no keys in %s/%s; nothing to rotate",
				  name, dir, name);
	if (ks.nr == GEOREP_KEYSET_MAX) {
		georep_keyset_clear(&ks);
		return grctl_fail("volume %s already has %d key files in %s/%s; move retired epochs to an archive first",
				  name, GEOREP_KEYSET_MAX, dir, name);
	}
	epoch = georep_keyset_max_epoch(&ks);
	georep_keyset_clear(&ks);
	if (epoch == UINT32_MAX)
		return grctl_fail("volume %s: key epoch %u is the last one", name, epoch);
	epoch++;
	ret = georep_key_generate(dir, name, epoch, &ks.keys[0], err, sizeof(err));
	if (ret)
		return grctl_fail("%s", err);
	ks.nr = 1;
	ret = georep_nl_key_set(nl, name, &ks);
	georep_keyset_clear(&ks);
	if (ret) {
		/* the kernel never saw it: do not leave an epoch it lacks */
		georep_key_remove(dir, name, epoch);
		return grctl_nl_fail(nl, "cannot set keys of volume", name);
	}
	printf("volume %s: seal key epoch %u\n", name, epoch);
	return 0;
}

/* the leader rotates, for every site (georepd's "key-rotate") */
static int rotate_cluster(const struct key_rotate_args *a)
{
	json_t *resp = NULL;
	int ret;

	ret = grctl_ctl_request(a->socket, a->site, json_pack("{s:s, s:s}", "cmd", "key-rotate",
							      "volume", a->name), &resp);
	if (ret)
		return ret;
	printf("volume %s: seal key epoch %lld sent to the sites; sealing switches once %lld "
	       "of them have it (georepctl key status)\n", a->name,
	       (long long)json_integer_value(json_object_get(resp, "epoch")),
	       (long long)json_integer_value(json_object_get(resp, "majority")));
	json_decref(resp);
	return 0;
}

static int rotate_main(int argc, char *argv[])
{
	struct key_rotate_args a;
	struct grctl_parser p;
	struct georep_nl *nl;
	int ret;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	ret = key_rotate_parse(&p, &a);
	if (!ret && a.json)
		ret = grctl_errf(&p, "--json is for key status");
	if (!ret && (a.socket || a.site))
		return rotate_cluster(&a);
	if (!grctl_parsed_open(&p, ret, ROTATE_USAGE, ROTATE_HELP, &nl, &ret))
		return ret;
	ret = rotate(nl, grctl_key_dir(a.key_dir), a.name);
	georep_nl_close(nl);
	return ret;
}

static void print_epochs(json_t *a)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		printf(" %lld", (long long)json_integer_value(v));
}

/* one site's line: its ledger's sealing and installed epochs */
static void print_site(const char *name, json_t *s)
{
	printf("  site %s%s: ", name, json_is_true(json_object_get(s, "here")) ? " (here)" : "");
	if (json_is_null(json_object_get(s, "installed"))) {
		printf("not reported yet");
	} else {
		printf("sealing %lld, installed",
		       (long long)json_integer_value(json_object_get(s, "sealing")));
		print_epochs(json_object_get(s, "installed"));
	}
	if (json_object_get(s, "acked"))
		printf("; highest epoch acknowledged %lld",
		       (long long)json_integer_value(json_object_get(s, "acked")));
	printf("\n");
}

static void print_keys(const char *volume, json_t *k)
{
	const char *name;
	json_t *v;

	printf("volume %s: sealing with epoch %lld", volume,
	       (long long)json_integer_value(json_object_get(k, "sealing")));
	printf("; key directory holds epochs");
	print_epochs(json_object_get(k, "key_files"));
	printf("\n");
	if (json_integer_value(json_object_get(k, "pending")))
		printf("  rotation to epoch %lld waiting for a majority\n",
		       (long long)json_integer_value(json_object_get(k, "pending")));
	json_object_foreach(json_object_get(k, "sites"), name, v)
		print_site(name, v);
	if (*json_string_value(json_object_get(k, "error") ?: json_string("")))
		printf("  last error: %s\n", json_string_value(json_object_get(k, "error")));
}

static int key_status_main(int argc, char *argv[])
{
	struct key_rotate_args a;
	json_t *resp = NULL, *vols, *v, *k = NULL;
	struct grctl_parser p;
	size_t i;
	int ret;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	ret = key_rotate_parse(&p, &a);
	if (!ret && !a.socket && !a.site)
		ret = grctl_errf(&p, "--site or --socket: the keys are georepd's view");
	if (!grctl_parsed(&p, ret, STATUS_USAGE, STATUS_HELP, &ret))
		return ret;
	ret = grctl_ctl_request(a.socket, a.site, json_pack("{s:s}", "cmd", "status"), &resp);
	if (ret)
		return ret;
	vols = json_object_get(resp, "volumes");
	json_array_foreach(vols, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")) ?: "", a.name))
			k = json_object_get(json_object_get(v, "replica"), "keys");
	if (!json_is_object(k)) {
		json_decref(resp);
		return grctl_fail("volume %s: no seal key status at this site (no such volume, "
				  "or its replica is not running)", a.name);
	}
	if (a.json) {
		json_dumpf(k, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_keys(a.name, k);
	}
	json_decref(resp);
	return 0;
}

static const struct grctl_sub key_subs[] = {
	{ "rotate", rotate_main, ROTATE_USAGE },
	{ "status", key_status_main, STATUS_USAGE },
	{ NULL }
};

int key_main(int argc, char *argv[])
{
	return grctl_dispatch_sub("key", key_subs, argc, argv);
}
