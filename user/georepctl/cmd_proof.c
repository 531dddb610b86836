// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl proof: Merkle proofs of a volume's records (Documentation/proofs.rst).
 *
 *   georepctl proof inclusion <volume> <seq> [--key PEM [--size N]] [--socket PATH | --site NAME]
 *   georepctl proof consistency <volume> <size1> <size2> [--key PEM] [--socket ... | --site ...]
 *   georepctl proof cosign <bundle|-> --key PEM [--socket PATH | --site NAME]
 *   georepctl proof verify <bundle|-> --trust FILE [--quorum N]
 *   georepctl proof vkey <pem> <name>
 *
 * inclusion/consistency ask the site's georepd for the leaf, the proof and
 * the root up to the volume's final checkpoint (or sign a checkpoint with
 * --key) and print the bundle; verify needs nothing but the bundle and the trusted public keys.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "georep/tlogproof.h"
#include "georepctl.h"
#include "cmd_cluster.h"

#define NOTE_MAX	4096	/* a signed checkpoint with every site's cosignature */

enum { OPT_KEY = 2, OPT_SIZE, OPT_SOCKET, OPT_SITE, OPT_TRUST, OPT_QUORUM };

static const struct grctl_opt proof_opts[] = {
	{ "key", OPT_KEY, true },
	{ "size", OPT_SIZE, true },
	{ "socket", OPT_SOCKET, true },
	{ "site", OPT_SITE, true },
	{ "trust", OPT_TRUST, true },
	{ "quorum", OPT_QUORUM, true },
	{ NULL }
};

struct proof_args {
	const char *pos[3];
	int npos;
	const char *key, *socket, *site, *trust;
	uint64_t size, quorum;
};

/* 0, or an exit code (-1: help shown) */
static int parse(int argc, char *argv[], const char *usage, const char *help, int npos,
		 unsigned int allowed, struct proof_args *a)
{
	struct grctl_parser p;
	const char *val;
	int id;

	memset(a, 0, sizeof(*a));
	grctl_parser_init(&p, argc - 1, argv + 1, proof_opts);
	while ((id = grctl_next(&p, &val)) != GRCTL_ARG_END) {
		if (id > GRCTL_ARG_POS && !(allowed & (1U << id))) {
			grctl_errf(&p, "%s is not an option of this command", p.cur);
			return grctl_usage_error(usage, p.err);
		}
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
		case OPT_KEY:
			a->key = val;
			break;
		case OPT_SIZE:
			if (grctl_opt_u64(&p, val, 1, UINT64_MAX >> 1, &a->size))
				return grctl_usage_error(usage, p.err);
			break;
		case OPT_SOCKET:
			a->socket = val;
			break;
		case OPT_SITE:
			a->site = val;
			break;
		case OPT_TRUST:
			a->trust = val;
			break;
		case OPT_QUORUM:
			if (grctl_opt_u64(&p, val, 1, GR_NOTE_MAX_SIGS, &a->quorum))
				return grctl_usage_error(usage, p.err);
			break;
		}
	}
	if (a->npos != npos)
		return grctl_usage_error(usage, "missing argument");
	return 0;
}

static int b64_field(json_t *o, const char *name, uint8_t *out, size_t len)
{
	const char *s = json_string_value(json_object_get(o, name));

	return s && gr_b64_decode(s, strlen(s), out, len) == (int)len ? 0 : -EBADMSG;
}

static int proof_hashes(json_t *o, gr_mhash *proof, unsigned int *n)
{
	json_t *a = json_object_get(o, "proof"), *v;
	size_t i;

	*n = 0;
	if (!json_is_array(a) || json_array_size(a) > GR_MERKLE_MAX_PROOF)
		return -EBADMSG;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		if (!s || gr_b64_decode(s, strlen(s), proof[i], GR_MERKLE_HASH_LEN) !=
		    GR_MERKLE_HASH_LEN)
			return -EBADMSG;
		(*n)++;
	}
	return 0;
}

/*
 * The signed checkpoint of @resp's volume at @size with @root:
 * origin "georep/<cluster>/<volume>", key name "georep/<cluster>/<site>".
 */
static int sign_checkpoint(const struct proof_args *a, json_t *resp, uint64_t size,
			   const gr_mhash root, char *note, size_t cap)
{
	const char *cluster = json_string_value(json_object_get(resp, "cluster")) ?: "";
	const char *site = json_string_value(json_object_get(resp, "site")) ?: "";
	const char *vol = json_string_value(json_object_get(resp, "volume")) ?: "";
	char origin[GR_TLOG_ORIGIN_MAX], name[GR_NOTE_NAME_MAX], text[512];
	char err[GR_NOTE_ERRLEN];
	EVP_PKEY *pk;
	size_t len = 0;
	int ret;

	snprintf(origin, sizeof(origin), "georep/%s/%s", cluster, vol);
	snprintf(name, sizeof(name), "georep/%s/%s", cluster, site);
	if (gr_checkpoint_format(origin, size, root, text, sizeof(text)))
		return grctl_fail("checkpoint of %s does not fit", origin);
	ret = gr_sitekey_load_pem(a->key, &pk, err);
	if (ret)
		return grctl_fail("%s", err);
	ret = gr_note_sign(text, pk, name, note, cap, &len, err);
	EVP_PKEY_free(pk);
	return ret ? grctl_fail("signing the checkpoint: %s", err) : 0;
}

/*
 * Without --key, ask for the final checkpoint (signed by the leader and
 * cosigned by a majority of the sites, Documentation/proofs.rst
 * "Finality"): the proof is then to its size.
 */
static int fetch(const struct proof_args *a, json_t *req, json_t **resp)
{
	if (!req)
		return grctl_fail("out of memory");
	if (!a->key)
		json_object_set_new(req, "final", json_true());
	return grctl_ctl_request(a->socket, a->site, req, resp);
}

/* the bundle's signed checkpoint: the final one georepd sent, or one signed with --key */
static int checkpoint_note(const struct proof_args *a, json_t *resp, uint64_t size,
			   const gr_mhash root, char *note, size_t cap)
{
	const char *fin = json_string_value(json_object_get(resp, "checkpoint"));

	if (a->key)
		return sign_checkpoint(a, resp, size, root, note, cap);
	if (!fin)
		return grctl_fail("georepd's reply has no final checkpoint");
	if (strlen(fin) >= cap)
		return grctl_fail("the final checkpoint does not fit");
	strcpy(note, fin);
	return 0;
}

#define INCLUSION_USAGE							\
	"georepctl proof inclusion <volume> <seq> [--key PEM [--size N]] [--socket PATH | --site NAME]"
#define INCLUSION_HELP							\
	"Print a proof that record <seq> of <volume> is in the site's Merkle\n" \
	"tree: a C2SP tlog-proof bundle with the record's leaf, the inclusion\n" \
	"proof and a checkpoint (origin georep/<cluster>/<volume>): by default\n" \
	"the volume's last final checkpoint, signed by the leader and cosigned\n" \
	"by a majority of the sites, which the site's georepd keeps. Only\n"	\
	"committed records are covered.\n\n"					\
	"  --key PEM     sign a checkpoint with this Ed25519 private key (PEM,\n" \
	"                mode 0600) instead of using the final one\n"		\
	"  --size N      with --key: the tree size of the checkpoint (default:\n" \
	"                every committed record the tree holds)\n"

static int inclusion_main(int argc, char *argv[])
{
	uint8_t leaf[GEOREP_LEAF_LEN];
	gr_mhash proof[GR_MERKLE_MAX_PROOF], root;
	char note[NOTE_MAX], bundle[GR_TLOG_MAX];
	struct proof_args a;
	unsigned int n;
	json_t *req, *resp;
	uint64_t seq;
	int ret;

	ret = parse(argc, argv, INCLUSION_USAGE, INCLUSION_HELP, 2,
		    1U << OPT_KEY | 1U << OPT_SIZE | 1U << OPT_SOCKET | 1U << OPT_SITE, &a);
	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	if (grctl_parse_u64(a.pos[1], &seq) || !seq || seq > INT64_MAX)
		return grctl_usage_error(INCLUSION_USAGE, "<seq> must be a record number >= 1");
	if (a.size && !a.key)
		return grctl_usage_error(INCLUSION_USAGE, "--size needs --key (the final "
					 "checkpoint has its own size)");
	req = json_pack("{s:s, s:s, s:s, s:I}", "cmd", "proof", "volume", a.pos[0],
			"kind", "inclusion", "seq", (json_int_t)seq);
	if (req && a.size)
		json_object_set_new(req, "size", json_integer((json_int_t)a.size));
	ret = fetch(&a, req, &resp);
	if (ret)
		return ret;
	if (b64_field(resp, "leaf", leaf, sizeof(leaf)) ||
	    b64_field(resp, "root", root, sizeof(root)) || proof_hashes(resp, proof, &n)) {
		json_decref(resp);
		return grctl_fail("georepd's proof reply is malformed");
	}
	ret = checkpoint_note(&a, resp, json_integer_value(json_object_get(resp, "size")),
			      root, note, sizeof(note));
	if (!ret && gr_tlog_inclusion_text(leaf, seq - 1, proof, n, note, bundle, sizeof(bundle)))
		ret = grctl_fail("the bundle does not fit");
	json_decref(resp);
	if (ret)
		return ret;
	fputs(bundle, stdout);
	return GRCTL_EXIT_OK;
}

#define CONSISTENCY_USAGE						\
	"georepctl proof consistency <volume> <size1> <size2> [--key PEM] [--socket PATH | --site NAME]"
#define CONSISTENCY_HELP						\
	"Print a proof that the site's tree of <size1> records is a prefix of\n" \
	"its tree of <size2> records: the old root, the consistency proof and\n" \
	"a checkpoint of <size2>: by default the volume's last final\n"	\
	"checkpoint (<size2> must be its size, see 'georepctl status').\n\n"	\
	"  --key PEM     sign a checkpoint of <size2> with this Ed25519 private\n" \
	"                key (PEM, mode 0600) instead\n"

static int consistency_main(int argc, char *argv[])
{
	gr_mhash proof[GR_MERKLE_MAX_PROOF], r1, r2;
	char note[NOTE_MAX], bundle[GR_TLOG_MAX];
	struct proof_args a;
	uint64_t s1, s2;
	unsigned int n;
	json_t *req, *resp;
	int ret;

	ret = parse(argc, argv, CONSISTENCY_USAGE, CONSISTENCY_HELP, 3,
		    1U << OPT_KEY | 1U << OPT_SOCKET | 1U << OPT_SITE, &a);
	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	if (grctl_parse_u64(a.pos[1], &s1) || grctl_parse_u64(a.pos[2], &s2) || !s1 ||
	    s1 > s2 || s2 > INT64_MAX)
		return grctl_usage_error(CONSISTENCY_USAGE, "need 1 <= <size1> <= <size2>");
	req = json_pack("{s:s, s:s, s:s, s:I, s:I}", "cmd", "proof", "volume", a.pos[0],
			"kind", "consistency", "size1", (json_int_t)s1, "size2", (json_int_t)s2);
	ret = fetch(&a, req, &resp);
	if (ret)
		return ret;
	if (b64_field(resp, "root1", r1, sizeof(r1)) || b64_field(resp, "root2", r2, sizeof(r2)) ||
	    proof_hashes(resp, proof, &n)) {
		json_decref(resp);
		return grctl_fail("georepd's proof reply is malformed");
	}
	ret = checkpoint_note(&a, resp, s2, r2, note, sizeof(note));
	if (!ret && gr_tlog_consistency_text(s1, r1, proof, n, note, bundle, sizeof(bundle)))
		ret = grctl_fail("the bundle does not fit");
	json_decref(resp);
	if (ret)
		return ret;
	fputs(bundle, stdout);
	return GRCTL_EXIT_OK;
}

#define VERIFY_USAGE "georepctl proof verify <bundle|-> --trust FILE [--quorum N]"
#define VERIFY_HELP							\
	"Verify a proof bundle offline: the checkpoint must be signed by a key\n" \
	"of the trust file and the proof must lead from the record's leaf (or\n" \
	"the old root) to the checkpoint's root. Needs no daemon, no kernel and\n" \
	"no seal key. Exit 0 when it verifies, 1 with the reason when not.\n\n" \
	"  --trust FILE  verifier keys (name+keyid+base64 key), one a line, as\n" \
	"                printed by 'georepctl proof vkey'\n"			\
	"  --quorum N    at least N distinct trusted sites signed or cosigned\n" \
	"                the checkpoint (default 1)\n"

static int read_bundle(const char *path, char *buf, size_t cap, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;

	if (!f)
		return grctl_fail("%s: %s", path, strerror(errno));
	*len = fread(buf, 1, cap, f);
	if (f != stdin)
		fclose(f);
	if (*len == cap)
		return grctl_fail("%s: over %zu bytes: not a proof bundle", path, cap - 1);
	buf[*len] = 0;
	return 0;
}

static void names(const struct gr_tlog_result *r, char *out, size_t len)
{
	size_t pos = 0;
	unsigned int i;

	out[0] = 0;
	for (i = 0; i < r->nnames && pos < len; i++)
		pos += snprintf(out + pos, len - pos, "%s%s", i ? ", " : "", r->names[i]);
}

static void print_ok(const struct gr_tlog_result *r)
{
	char b64[64], by[1024];

	gr_b64_encode(r->root, sizeof(r->root), b64, sizeof(b64));
	names(r, by, sizeof(by));
	if (r->kind == GR_TLOG_KIND_INCLUSION)
		printf("OK: record %" PRIu64 " (%s, term %" PRIu64 ", lba %" PRIu64 ", %u bytes, "
		       "site %u) is in %s at tree size %" PRIu64 ", root %s, signed by %s\n",
		       r->rec.seq, georep_op_name(r->rec.op), r->rec.term, r->rec.lba, r->rec.len,
		       r->rec.site_id, r->origin, r->size, b64, by);
	else
		printf("OK: the tree of %" PRIu64 " records is a prefix of %s at tree size %" PRIu64
		       ", root %s, signed by %s\n", r->size1, r->origin, r->size, b64, by);
}

static int verify_main(int argc, char *argv[])
{
	static struct gr_note_key keys[GR_NOTE_MAX_KEYS];
	char buf[GR_TLOG_MAX + 1], err[GR_NOTE_ERRLEN];
	struct gr_tlog_result res;
	struct proof_args a;
	unsigned int nkeys;
	size_t len;
	int ret;

	ret = parse(argc, argv, VERIFY_USAGE, VERIFY_HELP, 1,
		    1U << OPT_TRUST | 1U << OPT_QUORUM, &a);
	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	if (!a.trust)
		return grctl_usage_error(VERIFY_USAGE, "--trust FILE is needed");
	if (gr_note_load_trust(a.trust, keys, GR_NOTE_MAX_KEYS, &nkeys, err))
		return grctl_fail("%s", err);
	ret = read_bundle(a.pos[0], buf, sizeof(buf), &len);
	if (ret)
		return ret;
	if (gr_tlog_verify(buf, len, keys, nkeys, &res, err))
		return grctl_fail("proof %s does NOT verify: %s", a.pos[0], err);
	if (res.nnames < (a.quorum ?: 1)) {
		char by[1024];

		names(&res, by, sizeof(by));
		return grctl_fail("proof %s does NOT verify: %u trusted site(s) vouch for its "
				  "checkpoint (%s), --quorum wants %llu", a.pos[0], res.nnames, by,
				  (unsigned long long)a.quorum);
	}
	print_ok(&res);
	return GRCTL_EXIT_OK;
}

#define COSIGN_USAGE						\
	"georepctl proof cosign <bundle|-> --key PEM [--socket PATH | --site NAME]"
#define COSIGN_HELP							\
	"Check a bundle's checkpoint against this site's own Merkle tree (its\n" \
	"root at the checkpoint's size, from the site's georepd) and, when they\n" \
	"agree, print the bundle with this site's C2SP tlog-cosignature added\n" \
	"(name georep/<cluster>/<site>). Refused (exit 1, nothing printed)\n"	\
	"when the roots differ, the origin is another volume's or the site's\n" \
	"tree is too small.\n\n"						\
	"  --key PEM     this site's Ed25519 private key (PEM, mode 0600)\n"

/* the bundle's checkpoint text: after the first empty line, up to the next one */
static int bundle_checkpoint(const char *b, const char **cp, size_t *len)
{
	const char *s = strstr(b, "\n\n"), *e;

	if (!s)
		return -EBADMSG;
	s += 2;
	e = strstr(s, "\n\n");
	if (!e)
		return -EBADMSG;
	*cp = s;
	*len = e + 1 - s;
	return 0;
}

static int cosign_check(const struct proof_args *a, const char *cp, size_t cplen,
			json_t **resp, char *text, size_t cap)
{
	char origin[GR_TLOG_ORIGIN_MAX], want[GR_TLOG_ORIGIN_MAX], err[GR_NOTE_ERRLEN];
	const char *vol;
	gr_mhash root, mine;
	uint64_t size;
	int ret;

	if (cplen >= cap || gr_checkpoint_parse(cp, cplen, origin, sizeof(origin), &size, root,
						err))
		return grctl_fail("the bundle's checkpoint: %s", cplen >= cap ? "too long" : err);
	memcpy(text, cp, cplen);
	text[cplen] = 0;
	vol = strrchr(origin, '/');
	if (strncmp(origin, "georep/", 7) || !vol)
		return grctl_fail("origin %s is not a georep volume's", origin);
	ret = grctl_ctl_request(a->socket, a->site, json_pack("{s:s, s:s, s:s, s:I, s:I}",
				"cmd", "proof", "volume", vol + 1, "kind", "consistency",
				"size1", (json_int_t)size, "size2", (json_int_t)size), resp);
	if (ret)
		return ret;
	snprintf(want, sizeof(want), "georep/%s/%s",
		 json_string_value(json_object_get(*resp, "cluster")) ?: "", vol + 1);
	if (strcmp(want, origin))
		return grctl_fail("NOT cosigned: the checkpoint is of %s, this site's volume is %s",
				  origin, want);
	if (b64_field(*resp, "root1", mine, sizeof(mine)))
		return grctl_fail("georepd's proof reply is malformed");
	if (memcmp(mine, root, sizeof(root)))
		return grctl_fail("NOT cosigned: this site's tree of %llu records has another root "
				  "than the checkpoint", (unsigned long long)size);
	return 0;
}

static int cosign_main(int argc, char *argv[])
{
	char buf[GR_TLOG_MAX + 1], text[512], name[GR_NOTE_NAME_MAX], err[GR_NOTE_ERRLEN];
	struct proof_args a;
	json_t *resp = NULL;
	const char *cp;
	size_t len, cplen;
	EVP_PKEY *pk;
	int ret;

	ret = parse(argc, argv, COSIGN_USAGE, COSIGN_HELP, 1,
		    1U << OPT_KEY | 1U << OPT_SOCKET | 1U << OPT_SITE, &a);
	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	if (!a.key)
		return grctl_usage_error(COSIGN_USAGE, "--key PEM is needed");
	ret = read_bundle(a.pos[0], buf, sizeof(buf) - 200, &len);
	if (ret)
		return ret;
	if (bundle_checkpoint(buf, &cp, &cplen))
		return grctl_fail("%s is not a proof bundle (no checkpoint)", a.pos[0]);
	ret = cosign_check(&a, cp, cplen, &resp, text, sizeof(text));
	if (!ret) {
		snprintf(name, sizeof(name), "georep/%s/%s",
			 json_string_value(json_object_get(resp, "cluster")) ?: "",
			 json_string_value(json_object_get(resp, "site")) ?: "");
		ret = gr_sitekey_load_pem(a.key, &pk, err);
		if (!ret) {
			ret = gr_note_cosign(text, pk, name, (uint64_t)time(NULL), buf, sizeof(buf),
					     &len, err);
			EVP_PKEY_free(pk);
		}
		if (ret)
			ret = grctl_fail("%s", err);
	}
	json_decref(resp);
	if (ret)
		return ret;
	fputs(buf, stdout);
	return GRCTL_EXIT_OK;
}

#define VKEY_USAGE "georepctl proof vkey <pem> <name>"
#define VKEY_HELP							\
	"Print the verifier key lines (C2SP signed-note form) of an Ed25519\n" \
	"key (public or private PEM) under <name>, for a trust file: the\n"	\
	"signer's (type 0x01) and the cosigner's (type 0x04). A site signs and\n" \
	"cosigns checkpoints under the name georep/<cluster>/<site>.\n"

static int vkey_main(int argc, char *argv[])
{
	char err[GR_NOTE_ERRLEN], line[GR_NOTE_NAME_MAX + 80];
	struct gr_note_key k;
	struct proof_args a;
	int ret;

	ret = parse(argc, argv, VKEY_USAGE, VKEY_HELP, 2, 0, &a);
	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	if (gr_note_key_from_pem(a.pos[0], a.pos[1], &k, err))
		return grctl_fail("%s", err);
	gr_note_vkey(&k, line, sizeof(line));
	printf("%s\n", line);
	gr_note_key_cosigner(&k);
	gr_note_vkey(&k, line, sizeof(line));
	printf("%s\n", line);
	return GRCTL_EXIT_OK;
}

static const struct grctl_sub proof_subs[] = {
	{ "inclusion", inclusion_main, INCLUSION_USAGE },
	{ "consistency", consistency_main, CONSISTENCY_USAGE },
	{ "cosign", cosign_main, COSIGN_USAGE },
	{ "verify", verify_main, VERIFY_USAGE },
	{ "vkey", vkey_main, VKEY_USAGE },
	{ NULL }
};

int proof_main(int argc, char *argv[])
{
	return grctl_dispatch_sub("proof", proof_subs, argc, argv);
}
