// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl verify: compare the Merkle roots of every site of a volume at
 * one tree size and find the first diverging record by bisection
 * (Documentation/proofs.rst, "Comparing sites").
 *
 *   georepctl verify <volume> [--size N] [--json] [--socket PATH | --site NAME]...
 *
 * Each site is asked over its georepd control socket: "status" for its
 * tree size and commit index, "proof" (consistency of a size with itself)
 * for its root at a size, "final-checkpoint" for its stored final
 * checkpoint, "fork-checkpoints" for the signed checkpoints of its fork
 * files. Two final checkpoints of one size with different roots are fork
 * evidence: both signed notes are printed; so is a fork file's checkpoint
 * whose root differs from the reference site's at that size.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "georep/ctlsock.h"
#include "georep/note.h"
#include "georep/tlogproof.h"
#include "georep/wire.h"
#include "georepctl.h"
#include "cmd_cluster.h"
#include "cmd_audit.h"

#define RUN_DIR		"/run/georep"
#define MAX_SITES	32

enum { OPT_SIZE = 2, OPT_JSON, OPT_SOCKET, OPT_SITE, OPT_VIA };

static const struct grctl_opt verify_opts[] = {
	{ "size", OPT_SIZE, true },
	{ "json", OPT_JSON, false },
	{ "socket", OPT_SOCKET, true },
	{ "site", OPT_SITE, true },
	{ "via", OPT_VIA, true },
	{ NULL }
};

struct vsite {
	bool remote;			/* asked through --via's georepd */
	const char *socket;		/* its georepd control socket */
	char *path;			/* the socket of --site or found in RUN_DIR, freed */
	char name[64];
	uint64_t max;			/* committed leaves of its tree */
	char root[64];			/* base64, at the common size */
	char *final;			/* its final checkpoint's note, or NULL */
	uint64_t final_size;
	char final_root[64];
	bool notes_unread;		/* --via: its notes could not all be read */
};

struct verify_args {
	const char *volume;
	const char *via;		/* --via: every other site through this socket */
	uint64_t size;
	bool json;
	char *via_path;			/* --via NAME's socket, freed */
	struct vsite s[MAX_SITES];
	unsigned int n;
};

#define VERIFY_USAGE							\
	"georepctl verify <volume> [--size N] [--json] [--socket PATH | --site NAME]... |\n" \
	"       georepctl verify <volume> [--size N] [--json] --via PATH|NAME"
#define VERIFY_HELP							\
	"Compare the Merkle tree roots of every site of <volume> at one tree\n" \
	"size: the smallest number of committed records any site's tree holds\n" \
	"(or --size N). When the roots differ, the first diverging record is\n" \
	"found by bisection over tree sizes. Two final checkpoints of one size\n" \
	"with different roots are fork evidence: both signed notes are printed.\n" \
	"So is a deposed primary's fork file checkpoint whose root is not the\n" \
	"volume's at that size (a discarded history: the exit status stays).\n" \
	"Exit 0 when every site agrees, 1 otherwise.\n\n"			\
	"  --socket PATH, --site NAME  a site's georepd control socket (PATH or\n" \
	"                " RUN_DIR "/NAME.sock); repeat for every site (default:\n" \
	"                every socket in " RUN_DIR ")\n"			\
	"  --via PATH|NAME  one site's georepd control socket (a path, or\n" \
	"                " RUN_DIR "/NAME.sock): that site and every other site\n" \
	"                of the volume, asked through it over the replication\n" \
	"                links (roots, final checkpoints and fork files'\n" \
	"                checkpoints alike)\n"				\
	"  --size N      compare at this tree size\n"				\
	"  --json        machine-readable output\n"

static int verify_parse(int argc, char *argv[], struct verify_args *a)
{
	struct grctl_parser p;
	const char *val;
	int id;

	grctl_parser_init(&p, argc - 1, argv + 1, verify_opts);
	while ((id = grctl_next(&p, &val)) != GRCTL_ARG_END) {
		switch (id) {
		case GRCTL_ARG_ERR:
			return grctl_usage_error(VERIFY_USAGE, p.err);
		case GRCTL_OPT_HELP:
			grctl_help(VERIFY_USAGE, VERIFY_HELP);
			return -1;
		case GRCTL_ARG_POS:
			if (a->volume)
				return grctl_usage_error(VERIFY_USAGE, "one <volume> only");
			a->volume = val;
			break;
		case OPT_SIZE:
			if (grctl_opt_u64(&p, val, 1, INT64_MAX, &a->size))
				return grctl_usage_error(VERIFY_USAGE, p.err);
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_VIA:
			if (a->via)
				return grctl_usage_error(VERIFY_USAGE, "one --via only");
			if (!strchr(val, '/') &&
			    asprintf(&a->via_path, RUN_DIR "/%s.sock", val) < 0)
				return grctl_fail("out of memory");
			a->via = a->via_path ?: val;
			break;
		case OPT_SOCKET:
		case OPT_SITE:
			if (a->n == MAX_SITES)
				return grctl_usage_error(VERIFY_USAGE, "too many sites");
			if (id == OPT_SITE) {
				if (asprintf(&a->s[a->n].path, RUN_DIR "/%s.sock", val) < 0)
					return grctl_fail("out of memory");
				val = a->s[a->n].path;
			}
			a->s[a->n++].socket = val;
			break;
		}
	}
	if (!a->volume)
		return grctl_usage_error(VERIFY_USAGE, "missing <volume>");
	if (a->via && a->n)
		return grctl_usage_error(VERIFY_USAGE,
					 "--via reaches every site: no --socket or --site with it");
	return 0;
}

/* every control socket in RUN_DIR */
static int find_sockets(struct verify_args *a)
{
	struct dirent *de;
	DIR *dir = opendir(RUN_DIR);

	while (dir && (de = readdir(dir)) && a->n < MAX_SITES) {
		size_t n = strlen(de->d_name);

		if (n <= 5 || strcmp(de->d_name + n - 5, ".sock"))
			continue;
		if (asprintf(&a->s[a->n].path, RUN_DIR "/%s", de->d_name) < 0)
			break;
		a->s[a->n].socket = a->s[a->n].path;
		a->n++;
	}
	if (dir)
		closedir(dir);
	if (a->n < 2)
		return grctl_fail("verify needs two sites or more: give --socket PATH or "
				  "--site NAME for each (%u found in " RUN_DIR ")", a->n);
	return 0;
}

static int request(struct vsite *s, json_t *req, json_t **resp)
{
	return grctl_ctl_request(s->socket, NULL, req, resp);
}

/* a remote site's committed tree size, through --via */
static int remote_status(struct verify_args *a, struct vsite *s)
{
	struct grctl_remote_root rr;
	int ret = grctl_remote_root(a->via, a->volume, s->name, 0, &rr);

	if (ret)
		return ret;
	if (!rr.has_tree)
		return grctl_fail("site %s: no Merkle tree of %s there", s->name, a->volume);
	s->max = rr.tree;
	return 0;
}

/*
 * --via: the other replica sites of the volume, from the status of the
 * site at hand (its replica's "sites"), asked through it
 */
static void via_sites(struct verify_args *a, json_t *rep)
{
	json_t *v;
	size_t i;
	const char *name;

	json_array_foreach(json_object_get(rep, "sites"), i, v) {
		name = json_string_value(json_object_get(v, "site"));
		if (!name || !strcmp(name, a->s[0].name) || a->n == MAX_SITES)
			continue;
		a->s[a->n].remote = true;
		a->s[a->n].socket = a->via;
		snprintf(a->s[a->n].name, sizeof(a->s[a->n].name), "%s", name);
		a->n++;
	}
}

/* the site's name and committed tree size from its status */
static int site_status(struct verify_args *a, struct vsite *s)
{
	json_t *resp, *vols, *v, *rep, *mt;
	const char *where = s->socket;
	uint64_t commit;
	size_t i;
	int ret;

	if (s->remote)
		return remote_status(a, s);
	ret = request(s, json_pack("{s:s}", "cmd", "status"), &resp);
	if (ret)
		return ret;
	snprintf(s->name, sizeof(s->name), "%s",
		 json_string_value(json_object_get(resp, "site")) ?: where);
	vols = json_object_get(resp, "volumes");
	rep = NULL;
	json_array_foreach(vols, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")) ?: "", a->volume))
			rep = json_object_get(v, "replica");
	mt = json_object_get(rep, "merkle");
	if (!rep || !json_is_object(mt)) {
		json_decref(resp);
		return grctl_fail("site %s: no replication engine of volume %s", s->name,
				  a->volume);
	}
	if (strcmp(json_string_value(json_object_get(mt, "state")) ?: "", "ok")) {
		ret = grctl_fail("site %s: the Merkle tree of %s is stopped: %s", s->name,
				 a->volume, json_string_value(json_object_get(mt, "why")) ?: "?");
		json_decref(resp);
		return ret;
	}
	s->max = json_integer_value(json_object_get(mt, "size"));
	commit = json_integer_value(json_object_get(rep, "commit_seq"));
	if (commit < s->max)
		s->max = commit;
	if (a->via && s == &a->s[0])
		via_sites(a, rep);
	json_decref(resp);
	return 0;
}

/* the site's root at @size (base64) */
static int site_root(const struct verify_args *a, struct vsite *s, uint64_t size, char *out)
{
	struct grctl_remote_root rr;
	json_t *resp;
	const char *r;
	int ret;

	if (s->remote) {
		ret = grctl_remote_root(a->via, a->volume, s->name, size, &rr);
		if (!ret && !rr.has_root)
			ret = grctl_fail("site %s: no root at size %" PRIu64 " (its committed tree "
					 "holds %" PRIu64 ")", s->name, size, rr.tree);
		if (!ret)
			strcpy(out, rr.root);
		return ret;
	}

	ret = request(s, json_pack("{s:s, s:s, s:s, s:I, s:I}", "cmd", "proof", "volume",
				   a->volume, "kind", "consistency", "size1", (json_int_t)size,
				   "size2", (json_int_t)size), &resp);
	if (ret)
		return ret;
	r = json_string_value(json_object_get(resp, "root1"));
	if (!r || strlen(r) >= 64) {
		json_decref(resp);
		return grctl_fail("site %s: malformed proof reply", s->name);
	}
	strcpy(out, r);
	json_decref(resp);
	return 0;
}

/*
 * A signed checkpoint's tree size and base64 root (64 bytes); -1: not one.
 * The check a site applies before it sends a stored note (NOTE, CKPT), so
 * that a note read through a socket and one read --via agree.
 */
static int ckpt_of(const char *note, uint64_t *size, char *root_b64)
{
	char err[GR_WIRE_ERRLEN];
	uint32_t text_len;
	gr_mhash root;

	if (!note || strlen(note) > UINT32_MAX ||
	    gr_wire_check_note(note, strlen(note), "note", size, root, &text_len, err))
		return -1;
	gr_b64_encode(root, sizeof(root), root_b64, 64);
	return 0;
}

/* @cmd of @volume at site @s; the reply or NULL (none is not an error here) */
static json_t *optional_call(const struct vsite *s, const char *cmd, const char *volume)
{
	char cerr[GR_CTL_ERRLEN];
	json_t *resp = NULL;
	json_t *req = json_pack("{s:s, s:s}", "cmd", cmd, "volume", volume);
	int ret = req ? gr_ctl_call(s->socket, req, 10000, &resp, cerr) : -ENOMEM;

	json_decref(req);
	return ret ? NULL : resp;
}

/* the note of a remote site (--via), or NULL: an error, said on stderr */
static json_t *remote_note(const struct verify_args *a, struct vsite *s, bool fork,
			   unsigned int index)
{
	json_t *note;

	if (grctl_remote_note(a->via, a->volume, s->name, fork, index, &note)) {
		s->notes_unread = true;
		return NULL;
	}
	return note;
}

/* the site's final checkpoint, if any */
static void site_final(const struct verify_args *a, struct vsite *s)
{
	json_t *resp = s->remote ? remote_note(a, s, false, 0) :
			optional_call(s, "final-checkpoint", a->volume);
	const char *note = json_string_value(json_object_get(resp, "checkpoint"));
	const char *status = json_string_value(json_object_get(resp, "status"));

	if (note && !ckpt_of(note, &s->final_size, s->final_root))
		s->final = strdup(note);
	else if (note || (status && !strcmp(status, "bad")))
		fprintf(stderr, "georepctl: site %s: its final checkpoint is not a readable "
			"signed checkpoint\n", s->name);
	json_decref(resp);
}

/* the first record at which @x and @y diverge: roots agree below, differ from there */
static int bisect(const struct verify_args *a, struct vsite *x, struct vsite *y,
		  uint64_t size, uint64_t *rec)
{
	char rx[64], ry[64];
	uint64_t lo = 0, hi = size, mid;
	int ret;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		ret = site_root(a, x, mid, rx);
		if (!ret)
			ret = site_root(a, y, mid, ry);
		if (ret)
			return ret;
		if (strcmp(rx, ry))
			hi = mid;
		else
			lo = mid;
	}
	*rec = hi;
	return 0;
}

/* the site whose root most sites share */
static unsigned int majority(const struct verify_args *a)
{
	unsigned int i, j, best = 0, most = 0, c;

	for (i = 0; i < a->n; i++) {
		for (c = 0, j = 0; j < a->n; j++)
			c += !strcmp(a->s[i].root, a->s[j].root);
		if (c > most) {
			most = c;
			best = i;
		}
	}
	return best;
}

static int compare(struct verify_args *a, uint64_t size, json_t *out, int *bad)
{
	json_t *div = json_object_get(out, "divergences");
	unsigned int i, ref = majority(a);
	uint64_t rec;
	int ret;

	for (i = 0; i < a->n; i++) {
		if (!strcmp(a->s[i].root, a->s[ref].root))
			continue;
		ret = bisect(a, &a->s[ref], &a->s[i], size, &rec);
		if (ret)
			return ret;
		json_array_append_new(div, json_pack("{s:[s,s], s:I}", "sites", a->s[ref].name,
						     a->s[i].name, "record", (json_int_t)rec));
		*bad = 1;
	}
	return 0;
}

/* pairs of final checkpoints of one size with different roots */
static int forks(const struct verify_args *a, json_t *out)
{
	json_t *f = json_object_get(out, "forks");
	unsigned int i, j;
	int found = 0;

	for (i = 0; i < a->n; i++)
		for (j = i + 1; j < a->n; j++) {
			if (!a->s[i].final || !a->s[j].final ||
			    a->s[i].final_size != a->s[j].final_size ||
			    !strcmp(a->s[i].final_root, a->s[j].final_root))
				continue;
			json_array_append_new(f, json_pack("{s:s, s:I, s:[s,s], s:[s,s]}", "kind",
					"final", "size",
					(json_int_t)a->s[i].final_size, "sites", a->s[i].name,
					a->s[j].name, "checkpoints", a->s[i].final, a->s[j].final));
			found = 1;
		}
	return found;
}

/*
 * One fork file's signed checkpoint, kept by site @s: compared with the
 * root the reference @ref holds at its size. Another root is fork evidence
 * (the history @s signed before it was deposed is not the volume's); a
 * size past @ref's committed tree is listed as not compared.
 */
static int fork_file(const struct verify_args *a, const struct vsite *s, struct vsite *ref,
		     json_t *f, json_t *out)
{
	const char *note = json_string_value(json_object_get(f, "checkpoint"));
	const char *path = json_string_value(json_object_get(f, "path"));
	char root[64], rroot[64];
	uint64_t size;
	int ret;

	if (!path)
		return 0;
	if (!note || ckpt_of(note, &size, root)) {
		fprintf(stderr, "georepctl: site %s: fork file %s has no readable signed "
			"checkpoint\n", s->name, path);
		return 0;
	}
	if (size > ref->max) {
		json_array_append_new(json_object_get(out, "fork_files_unchecked"),
			json_pack("{s:s, s:s, s:I}", "site", s->name, "path", path,
				  "size", (json_int_t)size));
		return 0;
	}
	ret = site_root(a, ref, size, rroot);
	if (ret || !strcmp(root, rroot))
		return ret;
	json_array_append_new(json_object_get(out, "forks"),
		json_pack("{s:s, s:I, s:[s,s], s:s, s:[s], s:[s,s]}", "kind", "fork-file",
			  "size", (json_int_t)size, "sites", s->name, ref->name, "path", path,
			  "checkpoints", note, "roots", root, rroot));
	return 0;
}

/*
 * A remote site's fork files' checkpoints, as "fork-checkpoints" lists
 * them, one request each: at most REMOTE_FORKS_MAX, and the count must stay
 * the same throughout (a fork file made meanwhile shifts the list: the
 * listing is then incomplete and said so, as is one cut at the maximum).
 */
#define REMOTE_FORKS_MAX	256
static json_t *remote_forks(const struct verify_args *a, struct vsite *s)
{
	json_t *forks = json_array(), *n;
	json_int_t i, count = 1, first = -1;

	for (i = 0; forks && i < count && i < REMOTE_FORKS_MAX; i++) {
		n = remote_note(a, s, true, i);
		if (!n)
			break;
		count = json_integer_value(json_object_get(n, "count"));
		if (first < 0)
			first = count;
		if (count != first) {
			json_decref(n);
			fprintf(stderr, "georepctl: site %s: its fork files changed while they were "
				"read through %s: run verify again\n", s->name, a->via);
			s->notes_unread = true;
			break;
		}
		if (json_object_get(n, "path"))
			json_array_append(forks, n);
		json_decref(n);
	}
	if (count > REMOTE_FORKS_MAX) {
		fprintf(stderr, "georepctl: site %s keeps %lld fork file checkpoints: the first %d "
			"read through %s\n", s->name, (long long)count, REMOTE_FORKS_MAX, a->via);
		s->notes_unread = true;
	}
	return json_pack("{s:o*}", "forks", forks);
}

/*
 * The signed checkpoints of every site's fork files (an older georepd:
 * none). Evidence of a history a deposed primary held and the volume
 * discarded, printed, but not a disagreement of the sites now: the exit
 * status does not change (under quorum those records were never
 * acknowledged; under local they may have been: the fork file keeps them).
 */
static int fork_files(struct verify_args *a, json_t *out)
{
	struct vsite *ref = &a->s[majority(a)];
	unsigned int i;
	json_t *resp, *f;
	size_t k;
	int ret = 0;

	for (i = 0; !ret && i < a->n; i++) {
		resp = a->s[i].remote ? remote_forks(a, &a->s[i]) :
			optional_call(&a->s[i], "fork-checkpoints", a->volume);
		json_array_foreach(json_object_get(resp, "forks"), k, f) {
			ret = fork_file(a, &a->s[i], ref, f, out);
			if (ret)
				break;
		}
		json_decref(resp);
	}
	return ret;
}

static void print_fork(json_t *f)
{
	const char *kind = json_string_value(json_object_get(f, "kind"));
	json_t *sites = json_object_get(f, "sites"), *notes = json_object_get(f, "checkpoints");

	if (!strcmp(kind, "final")) {
		printf("FORK: sites %s and %s keep final checkpoints of size %" JSON_INTEGER_FORMAT
		       " with different roots:\n%s\n%s\n",
		       json_string_value(json_array_get(sites, 0)),
		       json_string_value(json_array_get(sites, 1)),
		       json_integer_value(json_object_get(f, "size")),
		       json_string_value(json_array_get(notes, 0)),
		       json_string_value(json_array_get(notes, 1)));
		return;
	}
	printf("FORK (a deposed history): site %s signed size %" JSON_INTEGER_FORMAT " with root %s "
	       "before it was deposed (fork file %s); at that size site %s holds root %s:\n%s\n",
	       json_string_value(json_array_get(sites, 0)),
	       json_integer_value(json_object_get(f, "size")),
	       json_string_value(json_array_get(json_object_get(f, "roots"), 0)),
	       json_string_value(json_object_get(f, "path")),
	       json_string_value(json_array_get(sites, 1)),
	       json_string_value(json_array_get(json_object_get(f, "roots"), 1)),
	       json_string_value(json_array_get(notes, 0)));
}

static void print_text(const struct verify_args *a, uint64_t size, json_t *out)
{
	json_t *d, *f;
	unsigned int i;
	size_t k;

	for (i = 0; i < a->n; i++)
		printf("site %-12s committed tree size %-8" PRIu64 " root at %" PRIu64 " %s\n",
		       a->s[i].name, a->s[i].max, size, a->s[i].root);
	json_array_foreach(json_object_get(out, "divergences"), k, d)
		printf("sites %s and %s diverge at record %" JSON_INTEGER_FORMAT "\n",
		       json_string_value(json_array_get(json_object_get(d, "sites"), 0)),
		       json_string_value(json_array_get(json_object_get(d, "sites"), 1)),
		       json_integer_value(json_object_get(d, "record")));
	json_array_foreach(json_object_get(out, "forks"), k, f)
		print_fork(f);
	json_array_foreach(json_object_get(out, "fork_files_unchecked"), k, f)
		printf("site %s: fork file %s has a checkpoint of size %" JSON_INTEGER_FORMAT
		       ", past the compared trees: not compared\n",
		       json_string_value(json_object_get(f, "site")),
		       json_string_value(json_object_get(f, "path")),
		       json_integer_value(json_object_get(f, "size")));
	if (json_is_true(json_object_get(out, "agree")))
		printf("all %u sites agree at size %" PRIu64 "\n", a->n, size);
	for (i = 0; i < a->n; i++)
		if (a->s[i].notes_unread)
			printf("site %s: its final checkpoint or fork files were not all read "
			       "through %s (see above): fork evidence there may be missing\n",
			       a->s[i].name, a->s[0].name);
	if (a->via)
		printf("(sites other than %s asked through its georepd over the replication "
		       "links)\n", a->s[0].name);
}

static json_t *sites_json(const struct verify_args *a)
{
	json_t *arr = json_array();
	unsigned int i;

	for (i = 0; arr && i < a->n; i++) {
		json_t *o = json_pack("{s:s, s:I, s:s}", "site", a->s[i].name, "size",
				      (json_int_t)a->s[i].max, "root", a->s[i].root);

		if (o && a->s[i].final)
			json_object_set_new(o, "final_seq", json_integer(a->s[i].final_size));
		if (o && a->via)
			json_object_set_new(o, "through", a->s[i].remote ?
					    json_string(a->s[0].name) : json_null());
		if (o && a->s[i].remote)
			json_object_set_new(o, "notes_read", json_boolean(!a->s[i].notes_unread));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* the common size: --size, or the smallest committed tree */
static int common_size(const struct verify_args *a, uint64_t *size)
{
	unsigned int i;

	*size = a->size ?: UINT64_MAX;
	for (i = 0; i < a->n; i++) {
		if (a->size && a->s[i].max < a->size)
			return grctl_fail("site %s holds %" PRIu64 " committed records: --size %"
					  PRIu64 " is too large", a->s[i].name, a->s[i].max,
					  a->size);
		if (!a->size && a->s[i].max < *size)
			*size = a->s[i].max;
	}
	if (!*size)
		return grctl_fail("a site has no committed record in its tree yet: nothing to "
				  "compare");
	return 0;
}

static int run(struct verify_args *a)
{
	uint64_t size;
	unsigned int i;
	json_t *out;
	int ret, bad = 0;

	for (i = 0; i < a->n; i++) {	/* --via: the first adds the others */
		ret = site_status(a, &a->s[i]);
		if (ret)
			return ret;
	}
	if (a->n < 2)
		return grctl_fail("volume %s: only site %s to compare", a->volume, a->s[0].name);
	ret = common_size(a, &size);
	for (i = 0; !ret && i < a->n; i++) {
		ret = site_root(a, &a->s[i], size, a->s[i].root);
		site_final(a, &a->s[i]);
	}
	if (ret)
		return ret;
	out = json_pack("{s:s, s:I, s:[], s:[], s:[]}", "volume", a->volume,
			"size", (json_int_t)size, "divergences", "forks", "fork_files_unchecked");
	if (!out)
		return grctl_fail("out of memory");
	ret = compare(a, size, out, &bad);
	if (ret) {
		json_decref(out);
		return ret;
	}
	bad |= forks(a, out);
	ret = fork_files(a, out);
	if (ret) {
		json_decref(out);
		return ret;
	}
	json_object_set_new(out, "agree", json_boolean(!bad));
	json_object_set_new(out, "sites", sites_json(a));
	if (a->json) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_text(a, size, out);
	}
	json_decref(out);
	return bad ? GRCTL_EXIT_FAIL : GRCTL_EXIT_OK;
}

int verify_main(int argc, char *argv[])
{
	static struct verify_args a;
	unsigned int i;
	int ret;

	memset(&a, 0, sizeof(a));
	ret = verify_parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	if (a.via) {
		a.s[a.n++].socket = a.via;	/* the others join from its status */
		ret = 0;
	} else {
		ret = a.n ? 0 : find_sockets(&a);
	}
	if (!ret && !a.via && a.n < 2)
		ret = grctl_usage_error(VERIFY_USAGE, "give two sites or more");
	if (!ret)
		ret = run(&a);
	for (i = 0; i < a.n; i++) {
		free(a.s[i].path);
		free(a.s[i].final);
	}
	free(a.via_path);
	return ret;
}
