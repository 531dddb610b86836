// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl volume create|delete|set
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "georep/keys.h"
#include "georepctl.h"
#include "georep/devlinks.h"

#define CREATE_USAGE							\
	"georepctl volume create <name> --data <dev> --log <dev> [--format]\n" \
	"           [--standalone]\n"					\
	"           [--site-id N] [--role primary|secondary] [--term N]\n"	\
	"           [--commit-rule local|quorum] [--high-wm PCT] [--low-wm PCT]\n" \
	"           [--max-uncommitted BYTES] [--key-dir DIR]"
#define DELETE_USAGE "georepctl volume delete <name>"
#define SET_USAGE							\
	"georepctl volume set <name> [--role primary|secondary --term N]\n" \
	"           [--commit-seq N] [--commit-rule local|quorum]\n"	\
	"           [--high-wm PCT --low-wm PCT] [--max-uncommitted BYTES]\n" \
	"           [--io-state run|suspend|fail] [--clear-diverged]"

#define CREATE_HELP							\
	"Create (--format) or attach a volume on a data and a log block device.\n" \
	"--role and --term go together, as do --high-wm and --low-wm.\n" \
	"A volume attaches fenced (secondary, writes refused) until its daemon\n" \
	"(or volume set --role primary) makes it primary, unless it was created\n" \
	"--standalone: no daemon, primary, commit rule local, and the kernel\n" \
	"releases its log itself. --format without --role: secondary in term 0\n" \
	"(standalone: primary in term 1).\n"				\
	"Seal keys are read from <key-dir>/<name>/<epoch>.key (default key dir\n" \
	GEOREP_DEFAULT_KEY_DIR ", or $GEOREP_KEY_DIR); with --format a volume\n" \
	"without keys gets epoch 1. Links /dev/georep/<name> and\n"	\
	"/dev/georep/<name>.log are created.\n\n"			\
	"  --data DEV             data block device\n"			\
	"  --log DEV              log block device\n"			\
	"  --format               write a fresh log superblock (new volume)\n" \
	"  --standalone           with --format: a volume without a daemon\n" \
	"                         (stored; also upgrades a version 1 log)\n" \
	"  --site-id N            site id recorded in every record (u32)\n" \
	"  --role R               primary or secondary\n"		\
	"  --term N               initial term (u64)\n"			\
	"  --commit-rule R        local or quorum\n"			\
	"  --high-wm PCT          throttle writers above PCT% log use (1..100)\n" \
	"  --low-wm PCT           stop throttling below PCT% (0..99, < high)\n" \
	"  --max-uncommitted B    bytes not yet committed before throttling\n" \
	"                         (K/M/G/T suffixes, 0: no limit)\n"	\
	"  --key-dir DIR          seal key directory\n"

#define SET_HELP							\
	"Change a volume. --role and --term go together (terms only move\n" \
	"forward), as do --high-wm and --low-wm.\n\n"			\
	"  --role R               primary or secondary (with --term)\n"	\
	"  --term N               new term, not below the current one\n" \
	"  --commit-seq N         commit index reported by the replication\n" \
	"  --commit-rule R        local or quorum\n"			\
	"  --high-wm PCT          throttle above PCT% log use (with --low-wm)\n" \
	"  --low-wm PCT           stop throttling below PCT%\n"		\
	"  --max-uncommitted B    bytes (K/M/G/T suffixes), 0: no limit\n" \
	"  --io-state S           run: writes as the role says; suspend: new\n" \
	"                         writes wait (no seq taken) until run again;\n" \
	"                         fail: new writes, and those waiting for a\n" \
	"                         commit, fail with EIO (georepd sets it from\n" \
	"                         the volume's quorum-loss policy)\n" \
	"  --clear-diverged       DIVERGED=0: the blocks of the records a\n" \
	"                         truncate dropped after they were applied\n" \
	"                         (a deposed primary's fork) are resynced;\n" \
	"                         a diverged volume cannot become primary\n"

enum {
	OPT_DATA = 2, OPT_LOG, OPT_FORMAT, OPT_SITE_ID, OPT_ROLE, OPT_TERM,
	OPT_RULE, OPT_HIGH_WM, OPT_LOW_WM, OPT_MAX_UNC, OPT_KEY_DIR, OPT_COMMIT_SEQ,
	OPT_IO_STATE, OPT_CLEAR_DIVERGED, OPT_STANDALONE,
};

static const struct grctl_opt create_opts[] = {
	{ "data", OPT_DATA, true },
	{ "log", OPT_LOG, true },
	{ "format", OPT_FORMAT, false },
	{ "standalone", OPT_STANDALONE, false },
	{ "site-id", OPT_SITE_ID, true },
	{ "role", OPT_ROLE, true },
	{ "term", OPT_TERM, true },
	{ "commit-rule", OPT_RULE, true },
	{ "high-wm", OPT_HIGH_WM, true },
	{ "low-wm", OPT_LOW_WM, true },
	{ "max-uncommitted", OPT_MAX_UNC, true },
	{ "key-dir", OPT_KEY_DIR, true },
	{ NULL }
};

static const struct grctl_opt set_opts[] = {
	{ "role", OPT_ROLE, true },
	{ "term", OPT_TERM, true },
	{ "commit-seq", OPT_COMMIT_SEQ, true },
	{ "commit-rule", OPT_RULE, true },
	{ "high-wm", OPT_HIGH_WM, true },
	{ "low-wm", OPT_LOW_WM, true },
	{ "max-uncommitted", OPT_MAX_UNC, true },
	{ "io-state", OPT_IO_STATE, true },
	{ "clear-diverged", OPT_CLEAR_DIVERGED, false },
	{ NULL }
};

/* the options volume create and volume set share, before they are checked */
struct knobs {
	bool has_role, has_term, has_rule, has_high, has_low, has_max;
	uint8_t role, rule, high_wm, low_wm;
	uint64_t term, max_uncommitted;
};

/* 1 when @id is one of the shared options, 0 when not, or GRCTL_ARG_ERR */
static int knob_opt(struct grctl_parser *p, int id, const char *val,
		    struct knobs *k)
{
	uint64_t v;

	switch (id) {
	case OPT_ROLE:
		if (grctl_opt_role(p, val, &k->role))
			return GRCTL_ARG_ERR;
		k->has_role = true;
		return 1;
	case OPT_TERM:
		if (grctl_opt_u64(p, val, 0, UINT64_MAX, &k->term))
			return GRCTL_ARG_ERR;
		k->has_term = true;
		return 1;
	case OPT_RULE:
		if (grctl_opt_rule(p, val, &k->rule))
			return GRCTL_ARG_ERR;
		k->has_rule = true;
		return 1;
	case OPT_HIGH_WM:
		if (grctl_opt_u64(p, val, 1, 100, &v))
			return GRCTL_ARG_ERR;
		k->has_high = true;
		k->high_wm = (uint8_t)v;
		return 1;
	case OPT_LOW_WM:
		if (grctl_opt_u64(p, val, 0, 99, &v))
			return GRCTL_ARG_ERR;
		k->has_low = true;
		k->low_wm = (uint8_t)v;
		return 1;
	case OPT_MAX_UNC:
		if (grctl_opt_size(p, val, &k->max_uncommitted))
			return GRCTL_ARG_ERR;
		k->has_max = true;
		return 1;
	}
	return 0;
}

/* the kernel takes these in pairs; say so before asking it */
static int knobs_check(struct grctl_parser *p, const struct knobs *k)
{
	if (k->has_role != k->has_term)
		return grctl_errf(p, "--role and --term must be given together");
	if (k->has_high != k->has_low)
		return grctl_errf(p, "--high-wm and --low-wm must be given together");
	if (k->has_high && k->low_wm >= k->high_wm)
		return grctl_errf(p, "--low-wm %u must be below --high-wm %u",
				  k->low_wm, k->high_wm);
	return 0;
}

int volume_create_parse(struct grctl_parser *p, struct volume_create_args *a)
{
	struct georep_vol_new *r = &a->req;
	struct knobs k = { 0 };
	const char *val;
	uint64_t v;
	int id;

	memset(a, 0, sizeof(*a));
	p->opts = create_opts;
	while ((id = grctl_next_named(p, &val, &a->name)) > GRCTL_ARG_POS) {
		switch (knob_opt(p, id, val, &k)) {
		case GRCTL_ARG_ERR:
			return GRCTL_ARG_ERR;
		case 1:
			continue;
		}
		switch (id) {
		case OPT_DATA:
			a->data = val;
			break;
		case OPT_LOG:
			a->log = val;
			break;
		case OPT_FORMAT:
			r->format = true;
			break;
		case OPT_STANDALONE:
			r->standalone = true;
			break;
		case OPT_SITE_ID:
			if (grctl_opt_u64(p, val, 0, UINT32_MAX, &v))
				return GRCTL_ARG_ERR;
			r->has_site_id = true;
			r->site_id = (uint32_t)v;
			break;
		case OPT_KEY_DIR:
			a->key_dir = val;
			break;
		}
	}
	if (id)
		return id;
	if (!a->name)
		return grctl_errf(p, "missing volume name");
	if (!a->data)
		return grctl_errf(p, "missing --data <dev>");
	if (!a->log)
		return grctl_errf(p, "missing --log <dev>");
	if (knobs_check(p, &k))
		return GRCTL_ARG_ERR;
	if (a->key_dir && !*a->key_dir)
		return grctl_errf(p, "invalid value '' for --key-dir");
	r->has_role = k.has_role;
	r->role = k.role;
	r->has_term = k.has_term;
	r->term = k.term;
	r->has_commit_rule = k.has_rule;
	r->commit_rule = k.rule;
	r->has_high_wm = k.has_high;
	r->high_wm = k.high_wm;
	r->has_low_wm = k.has_low;
	r->low_wm = k.low_wm;
	r->has_max_uncommitted = k.has_max;
	r->max_uncommitted = k.max_uncommitted;
	return 0;
}

int volume_delete_parse(struct grctl_parser *p, const char **name)
{
	const char *val;
	int id;

	*name = NULL;
	p->opts = NULL;
	/* no options: grctl_next() fails on any */
	id = grctl_next_named(p, &val, name);
	if (id)
		return id;
	if (!*name)
		return grctl_errf(p, "missing volume name");
	return 0;
}

int volume_set_parse(struct grctl_parser *p, struct volume_set_args *a)
{
	struct georep_vol_set *r = &a->req;
	struct knobs k = { 0 };
	const char *val;
	int id;

	memset(a, 0, sizeof(*a));
	p->opts = set_opts;
	while ((id = grctl_next_named(p, &val, &r->name)) > GRCTL_ARG_POS) {
		switch (knob_opt(p, id, val, &k)) {
		case GRCTL_ARG_ERR:
			return GRCTL_ARG_ERR;
		case 1:
			continue;
		}
		if (id == OPT_COMMIT_SEQ) {
			if (grctl_opt_u64(p, val, 0, UINT64_MAX, &r->commit_seq))
				return GRCTL_ARG_ERR;
			r->has_commit_seq = true;
		} else if (id == OPT_IO_STATE) {
			if (grctl_opt_io_state(p, val, &r->io_state))
				return GRCTL_ARG_ERR;
			r->has_io_state = true;
		} else if (id == OPT_CLEAR_DIVERGED) {
			r->clear_diverged = true;
		}
	}
	if (id)
		return id;
	if (!r->name)
		return grctl_errf(p, "missing volume name");
	if (knobs_check(p, &k))
		return GRCTL_ARG_ERR;
	a->has_term = k.has_term;
	a->has_high = k.has_high;
	a->has_low = k.has_low;
	r->has_role = k.has_role;
	r->role = k.role;
	r->term = k.term;
	r->has_commit_rule = k.has_rule;
	r->commit_rule = k.rule;
	r->has_wm = k.has_high;
	r->high_wm = k.high_wm;
	r->low_wm = k.low_wm;
	r->has_max_uncommitted = k.has_max;
	r->max_uncommitted = k.max_uncommitted;
	if (!r->has_role && !r->has_commit_seq && !r->has_commit_rule &&
	    !r->has_wm && !r->has_max_uncommitted && !r->has_io_state &&
	    !r->clear_diverged)
		return grctl_errf(p, "nothing to set");
	return 0;
}

static int link_path(char *buf, size_t len, const char *name, const char *sfx)
{
	if (snprintf(buf, len, "%s/%s%s", grctl_dev_dir(), name, sfx) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int make_links(const char *name, uint32_t minor)
{
	char err[PATH_MAX + 64];

	if (georep_dev_links(grctl_dev_dir(), name, minor, err, sizeof(err)))
		return grctl_fail("%s", err);
	return 0;
}

static int remove_link(const char *name, const char *sfx)
{
	char path[PATH_MAX];
	struct stat st;

	if (link_path(path, sizeof(path), name, sfx))
		return GRCTL_EXIT_FAIL;
	if (lstat(path, &st))
		return 0;
	if (!S_ISLNK(st.st_mode))
		return grctl_fail("%s is not a symlink, left alone", path);
	if (unlink(path) && errno != ENOENT)
		return grctl_fail("cannot remove %s: %s", path, strerror(errno));
	return 0;
}

/* a link of @name exists under /dev/georep */
static bool has_links(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	return (!link_path(path, sizeof(path), name, "") && !lstat(path, &st)) ||
	       (!link_path(path, sizeof(path), name, ".log") && !lstat(path, &st));
}

static int resolve_bdev(const char *opt, const char *path, char *out)
{
	struct stat st;

	if (!realpath(path, out))
		return grctl_fail("--%s %s: %s", opt, path, strerror(errno));
	if (stat(out, &st))
		return grctl_fail("--%s %s: %s", opt, path, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return grctl_fail("--%s %s: not a block device", opt, path);
	return 0;
}

/* the keys VOLUME_NEW carries; generates epoch 1 for a new volume */
static int create_keys(struct volume_create_args *a, const char *dir,
		       struct georep_keyset *ks, bool *generated)
{
	char err[512];
	int ret;

	*generated = false;
	ret = georep_keys_load(dir, a->name, ks, err, sizeof(err));
	if (ret)
		return grctl_fail("%s", err);
	if (ks->nr)
		return 0;
	if (!a->req.format)
		return grctl_fail("no seal keys for volume %s in %s/%s: attaching needs the volume's keys (--format creates a new volume with a new key)",
				  a->name, dir, a->name);
	ret = georep_key_generate(dir, a->name, 1, &ks->keys[0], err, sizeof(err));
	if (ret)
		return grctl_fail("%s", err);
	ks->nr = 1;
	*generated = true;
	return 0;
}

/* the kernel's reply before EBADMSG names the first bad record */
static bool ret_is_bad_record(const struct georep_vol_status *st)
{
	return st->has_bad_seq && st->error == -EBADMSG;
}

static int create_main(int argc, char *argv[])
{
	char data[PATH_MAX], log[PATH_MAX];
	struct volume_create_args a;
	struct georep_vol_status st;
	struct georep_keyset ks;
	struct grctl_parser p;
	struct georep_nl *nl;
	const char *dir;
	bool generated;
	int ret;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	ret = volume_create_parse(&p, &a);
	if (!grctl_parsed(&p, ret, CREATE_USAGE, CREATE_HELP, &ret))
		return ret;
	if (resolve_bdev("data", a.data, data) || resolve_bdev("log", a.log, log))
		return GRCTL_EXIT_FAIL;
	if (grctl_nl_open(&nl))
		return GRCTL_EXIT_FAIL;

	dir = grctl_key_dir(a.key_dir);
	if (create_keys(&a, dir, &ks, &generated)) {
		ret = GRCTL_EXIT_FAIL;
		goto out_close;
	}
	a.req.name = a.name;
	a.req.data_path = data;
	a.req.log_path = log;
	memset(&st, 0, sizeof(st));
	ret = georep_nl_volume_attach(nl, &a.req, &ks, &st);
	georep_keyset_clear(&ks);
	if (ret) {
		if (generated)
			georep_key_remove(dir, a.name, 1);
		ret = grctl_nl_fail(nl, "cannot create volume", a.name);
		if (ret_is_bad_record(&st))
			grctl_fail("record %llu: the ledger failed verification; volume not attached",
				   (unsigned long long)st.bad_seq);
		goto out_close;
	}
	if (!GEOREP_VOL_HAS(&st, GEOREP_A_MINOR) &&
	    georep_nl_volume_get(nl, a.name, &st)) {
		ret = grctl_nl_fail(nl, "volume created, but cannot read back", a.name);
		goto out_close;
	}
	ret = make_links(a.name, st.minor);
	if (!ret)
		printf("volume %s: /dev/georep%u, log stream /dev/georep%u-log%s\n",
		       a.name, st.minor, st.minor,
		       generated ? ", new seal key epoch 1" : "");
out_close:
	georep_nl_close(nl);
	return ret;
}

static int delete_main(int argc, char *argv[])
{
	struct grctl_parser p;
	struct georep_nl *nl;
	const char *name;
	int ret;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	ret = volume_delete_parse(&p, &name);
	if (!grctl_parsed_open(&p, ret, DELETE_USAGE, "Delete a volume and its /dev/georep links (a volume already gone\nhas its stale links removed, and the command still fails).\n", &nl, &ret))
		return ret;
	ret = georep_nl_volume_del(nl, name);
	if (ret == -ENOENT && has_links(name)) {
		/* deleted behind our back (raw netlink): its links are stale */
		ret = grctl_nl_fail(nl, "cannot delete volume", name);
		if (!(remove_link(name, "") | remove_link(name, ".log")))
			fprintf(stderr, "georepctl: removed the stale links /dev/georep/%s and /dev/georep/%s.log\n",
				name, name);
	} else if (ret) {
		ret = grctl_nl_fail(nl, "cannot delete volume", name);
	} else {
		ret = remove_link(name, "") | remove_link(name, ".log");
	}
	georep_nl_close(nl);
	return ret;
}

static int set_main(int argc, char *argv[])
{
	struct volume_set_args a;
	struct grctl_parser p;
	struct georep_nl *nl;
	int ret;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	ret = volume_set_parse(&p, &a);
	if (!grctl_parsed_open(&p, ret, SET_USAGE, SET_HELP, &nl, &ret))
		return ret;
	ret = georep_nl_volume_set(nl, &a.req);
	if (ret)
		ret = grctl_nl_fail(nl, "cannot change volume", a.req.name);
	georep_nl_close(nl);
	return ret;
}

static const struct grctl_sub volume_subs[] = {
	{ "create", create_main, CREATE_USAGE },
	{ "delete", delete_main, DELETE_USAGE },
	{ "set", set_main, SET_USAGE },
	{ NULL }
};

int volume_main(int argc, char *argv[])
{
	return grctl_dispatch_sub("volume", volume_subs, argc, argv);
}
