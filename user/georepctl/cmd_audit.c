// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl audit: which records wrote a volume's blocks, by whom, when,
 * each with an inclusion proof against the final checkpoint
 * (Documentation/proofs.rst, "Provenance audit").
 *
 *   georepctl audit <volume> [--lba A-B] [--since TIME] [--limit N] [--trust FILE]
 *                   [--json] [--socket PATH | --site NAME]
 *
 * The site's georepd reads the records from its Merkle tree's leaves (the
 * 144-byte leaf holds op, lba, len, site, term and time), so records the
 * log already released are listed too, with the kernel or the memory ledger.
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
#include "cmd_audit.h"

enum { OPT_LBA = 2, OPT_SINCE, OPT_LIMIT, OPT_TRUST, OPT_JSON, OPT_SOCKET, OPT_SITE };

static const struct grctl_opt audit_opts[] = {
	{ "lba", OPT_LBA, true },
	{ "since", OPT_SINCE, true },
	{ "limit", OPT_LIMIT, true },
	{ "trust", OPT_TRUST, true },
	{ "json", OPT_JSON, false },
	{ "socket", OPT_SOCKET, true },
	{ "site", OPT_SITE, true },
	{ NULL }
};

struct audit_args {
	const char *volume, *socket, *site, *trust;
	uint64_t first, last, since_ns, limit;
	bool json;
	struct gr_note_key keys[GR_NOTE_MAX_KEYS];
	unsigned int nkeys;
};

#define AUDIT_USAGE							\
	"georepctl audit <volume> [--lba A-B] [--since TIME] [--limit N] [--trust FILE] " \
	"[--json] [--socket PATH | --site NAME]"
#define AUDIT_HELP							\
	"List the records that wrote sectors of <volume>: sequence number, op,\n" \
	"sectors, the writing site, term and time, each with an inclusion proof\n" \
	"against the volume's final checkpoint (records past it are \"not final\n" \
	"yet\"). Read from the site's Merkle tree, so records already released\n" \
	"from the log are listed too.\n\n"					\
	"  --lba A-B     sectors A to B (512 bytes, inclusive; default: all)\n" \
	"  --since TIME  written at or after TIME: @UNIXSECONDS,\n"		\
	"                YYYY-MM-DDTHH:MM:SSZ or an age (90s, 10m, 2h, 7d)\n"	\
	"  --limit N     list N records at most (default 1000, up to 1024)\n"	\
	"  --trust FILE  also check each checkpoint's signatures with these\n" \
	"                verifier keys ('georepctl proof vkey')\n"		\
	"  --json        machine-readable, with each record's proof bundle\n"

static int audit_parse(int argc, char *argv[], struct audit_args *a)
{
	char err[256];
	struct grctl_parser p;
	const char *val;
	int id;

	a->last = UINT64_MAX >> 9;
	a->limit = 1000;
	grctl_parser_init(&p, argc - 1, argv + 1, audit_opts);
	while ((id = grctl_next(&p, &val)) != GRCTL_ARG_END) {
		switch (id) {
		case GRCTL_ARG_ERR:
			return grctl_usage_error(AUDIT_USAGE, p.err);
		case GRCTL_OPT_HELP:
			grctl_help(AUDIT_USAGE, AUDIT_HELP);
			return -1;
		case GRCTL_ARG_POS:
			if (a->volume)
				return grctl_usage_error(AUDIT_USAGE, "one <volume> only");
			a->volume = val;
			break;
		case OPT_LBA:
			if (grctl_parse_lba_range(val, &a->first, &a->last, err, sizeof(err)))
				return grctl_usage_error(AUDIT_USAGE, err);
			break;
		case OPT_SINCE:
			if (grctl_parse_since(val, time(NULL), &a->since_ns, err, sizeof(err)))
				return grctl_usage_error(AUDIT_USAGE, err);
			break;
		case OPT_LIMIT:
			if (grctl_opt_u64(&p, val, 1, 1024, &a->limit))
				return grctl_usage_error(AUDIT_USAGE, p.err);
			break;
		case OPT_TRUST:
			a->trust = val;
			break;
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
	if (!a->volume)
		return grctl_usage_error(AUDIT_USAGE, "missing <volume>");
	return 0;
}

static int proof_of(json_t *r, uint8_t *leaf, gr_mhash *proof, unsigned int *n)
{
	const char *s = json_string_value(json_object_get(r, "leaf"));
	json_t *v;
	size_t i;

	if (!s || gr_b64_decode(s, strlen(s), leaf, GEOREP_LEAF_LEN) != GEOREP_LEAF_LEN)
		return -EBADMSG;
	*n = 0;
	if (json_array_size(json_object_get(r, "proof")) > GR_MERKLE_MAX_PROOF)
		return -EBADMSG;
	json_array_foreach(json_object_get(r, "proof"), i, v) {
		s = json_string_value(v);
		if (!s || gr_b64_decode(s, strlen(s), proof[i], GR_MERKLE_HASH_LEN) !=
		    GR_MERKLE_HASH_LEN)
			return -EBADMSG;
		(*n)++;
	}
	return 0;
}

/*
 * The record's bundle, checked here: the proof leads from its leaf to the
 * checkpoint's root; with --trust, the checkpoint's signatures too.
 * "proof": "ok" or "FAILED: why" in @r, "bundle" with the bundle's text.
 */
static void check_record(const struct audit_args *a, json_t *r, const char *note)
{
	static char bundle[GR_TLOG_MAX];
	char origin[GR_TLOG_ORIGIN_MAX], err[GR_NOTE_ERRLEN], why[GR_NOTE_ERRLEN + 64];
	uint8_t leaf[GEOREP_LEAF_LEN];
	gr_mhash proof[GR_MERKLE_MAX_PROOF], root, lh;
	uint64_t seq = json_integer_value(json_object_get(r, "seq")), size;
	struct gr_tlog_result res;
	const char *split = strstr(note, "\n\n");
	unsigned int n;

	snprintf(why, sizeof(why), "ok");
	if (proof_of(r, leaf, proof, &n) || !split ||
	    gr_checkpoint_parse(note, split + 1 - note, origin, sizeof(origin), &size, root, err))
		snprintf(why, sizeof(why), "FAILED: malformed reply");
	else if (gr_merkle_leaf_hash(leaf, sizeof(leaf), lh) ||
		 gr_merkle_verify_inclusion(seq - 1, size, lh, sizeof(lh), (uint8_t *)proof,
					    n * sizeof(gr_mhash), root, sizeof(root)))
		snprintf(why, sizeof(why), "FAILED: the proof does not lead to the checkpoint's "
			 "root");
	else if (gr_tlog_inclusion_text(leaf, seq - 1, proof, n, note, bundle, sizeof(bundle)))
		snprintf(why, sizeof(why), "FAILED: the bundle does not fit");
	else if (a->trust && gr_tlog_verify(bundle, strlen(bundle), a->keys, a->nkeys, &res, err))
		snprintf(why, sizeof(why), "FAILED: %s", err);
	else if (a->trust)
		snprintf(why, sizeof(why), "ok, signed by %u trusted site(s)", res.nnames);
	json_object_set_new(r, "proof", json_string(why));
	if (!strncmp(why, "ok", 2))
		json_object_set_new(r, "bundle", json_string(bundle));
	json_object_del(r, "leaf");
}

static void utc(uint64_t ns, char *out, size_t len)
{
	time_t t = ns / 1000000000ULL;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned long long)(ns % 1000000000ULL));
}

static void print_text(const struct audit_args *a, json_t *resp)
{
	uint64_t tail = json_integer_value(json_object_get(resp, "log_tail"));
	json_t *recs = json_object_get(resp, "records"), *r;
	char when[48];
	size_t i;

	printf("volume %s at site %s: %" JSON_INTEGER_FORMAT " records in the tree, final "
	       "checkpoint at %" JSON_INTEGER_FORMAT "\n", a->volume,
	       json_string_value(json_object_get(resp, "site")) ?: "?",
	       json_integer_value(json_object_get(resp, "size")),
	       json_integer_value(json_object_get(resp, "final_seq")));
	if (tail > 1)
		printf("records 1..%" PRIu64 " have left the log: listed from the tree's leaves "
		       "(their payloads are gone)\n", tail - 1);
	if (json_object_get(resp, "final_why"))
		printf("no final checkpoint to prove against: %s\n",
		       json_string_value(json_object_get(resp, "final_why")));
	json_array_foreach(recs, i, r) {
		uint64_t lba = json_integer_value(json_object_get(r, "lba"));
		uint64_t len = json_integer_value(json_object_get(r, "len"));

		utc(json_integer_value(json_object_get(r, "timestamp_ns")), when, sizeof(when));
		printf("seq %" JSON_INTEGER_FORMAT " %s sectors %" PRIu64 "-%" PRIu64
		       " site %s term %" JSON_INTEGER_FORMAT " at %s: %s%s\n",
		       json_integer_value(json_object_get(r, "seq")),
		       json_string_value(json_object_get(r, "op")), lba,
		       lba + (len + 511) / 512 - 1,
		       json_string_value(json_object_get(r, "site")) ?: "(unknown site id)",
		       json_integer_value(json_object_get(r, "term")), when,
		       json_is_true(json_object_get(r, "final")) ? "final, inclusion proof " :
		       "not final yet",
		       json_string_value(json_object_get(r, "proof")) ?: "");
	}
	printf("%zu record(s)%s\n", json_array_size(recs),
	       json_is_true(json_object_get(resp, "truncated")) ?
	       ", more not listed (--limit)" : "");
}

/* the number of records whose proof failed */
static unsigned int check_all(const struct audit_args *a, json_t *resp)
{
	const char *note = json_string_value(json_object_get(resp, "checkpoint"));
	json_t *r;
	unsigned int bad = 0;
	size_t i;

	json_array_foreach(json_object_get(resp, "records"), i, r) {
		if (note && json_is_true(json_object_get(r, "final")))
			check_record(a, r, note);
		else
			json_object_del(r, "leaf");
		bad += !strncmp(json_string_value(json_object_get(r, "proof")) ?: "", "FAILED", 6);
	}
	return bad;
}

int audit_main(int argc, char *argv[])
{
	static struct audit_args a;
	char err[GR_NOTE_ERRLEN];
	json_t *req, *resp;
	unsigned int bad;
	int ret;

	memset(&a, 0, sizeof(a));
	ret = audit_parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? GRCTL_EXIT_OK : ret;
	if (a.trust && gr_note_load_trust(a.trust, a.keys, GR_NOTE_MAX_KEYS, &a.nkeys, err))
		return grctl_fail("%s", err);
	req = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "cmd", "audit", "volume", a.volume,
			"lba_first", (json_int_t)a.first, "lba_last", (json_int_t)a.last,
			"since_ns", (json_int_t)a.since_ns, "limit", (json_int_t)a.limit);
	ret = grctl_ctl_request(a.socket, a.site, req, &resp);
	if (ret)
		return ret;
	bad = check_all(&a, resp);
	json_object_del(resp, "ok");
	if (a.json) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_text(&a, resp);
	}
	json_decref(resp);
	if (bad)
		return grctl_fail("%u record(s) with a proof that does NOT verify", bad);
	return GRCTL_EXIT_OK;
}
