// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl ledger dump|verify|release
 *
 * dump and verify read the volume's log stream, /dev/georepN-log: the file
 * position is a record seq, read() returns whole records (256-byte header
 * plus payload), O_NONBLOCK makes the head show up as EAGAIN (or 0) instead
 * of a wait, ERANGE means the cursor is below the retained tail.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "georep/keys.h"
#include "georep/record.h"
#include "georepctl.h"

#define DUMP_USAGE "georepctl ledger dump <name> [--from SEQ] [--to SEQ] [--json]"
#define VERIFY_USAGE "georepctl ledger verify <name> [--key-dir DIR]"
#define RELEASE_USAGE "georepctl ledger release <name> <seq>"

#define DUMP_HELP							\
	"Print the retained records from the log stream, one per line:\n" \
	"SEQ TERM OP LBA LEN PAYLOAD SITE EPOCH FLAGS TIME PAYLOAD_HASH CHAIN_HASH\n" \
	"(hashes shortened to 12 hex digits; LBA in 512-byte sectors).\n\n" \
	"  --from SEQ   first record (default: the retained tail)\n"	\
	"  --to SEQ     last record (default: the head)\n"		\
	"  --json       a JSON array of records with full hex hashes\n"
#define VERIFY_HELP							\
	"Verify the ledger twice: the kernel checks chain and seal of every\n" \
	"retained record (LEDGER_VERIFY), then georepctl re-reads the stream\n" \
	"and re-checks every payload hash, the chain, seq continuity and, with\n" \
	"the key files of <key-dir>/<name>/ when readable, every seal.\n" \
	"Exit 0 with \"verified N records, seq A..B, chain head <hex>\", or\n" \
	"exit 1 with \"record N: <what failed>\" for the first bad record.\n\n" \
	"  --key-dir DIR   seal key directory (default " GEOREP_DEFAULT_KEY_DIR ")\n"
#define RELEASE_HELP							\
	"Allow the kernel to reclaim log space of records up to and including\n" \
	"<seq>.\n"

#define STREAM_BUF_MIN	(1U << 22)	/* 4 MiB */
#define STREAM_BUF_MAX	(1U << 28)	/* 256 MiB: larger means a bad header */

enum { OPT_FROM = 2, OPT_TO, OPT_JSON };

static const struct grctl_opt dump_opts[] = {
	{ "from", OPT_FROM, true },
	{ "to", OPT_TO, true },
	{ "json", OPT_JSON, false },
	{ NULL }
};

int ledger_dump_parse(struct grctl_parser *p, struct ledger_dump_args *a)
{
	const char *val;
	int id;

	memset(a, 0, sizeof(*a));
	p->opts = dump_opts;
	while ((id = grctl_next_named(p, &val, &a->name)) > GRCTL_ARG_POS) {
		switch (id) {
		case OPT_FROM:
			if (grctl_opt_u64(p, val, 1, UINT64_MAX, &a->from))
				return GRCTL_ARG_ERR;
			a->has_from = true;
			break;
		case OPT_TO:
			if (grctl_opt_u64(p, val, 1, UINT64_MAX, &a->to))
				return GRCTL_ARG_ERR;
			a->has_to = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		}
	}
	if (id)
		return id;
	if (!a->name)
		return grctl_errf(p, "missing volume name");
	if (a->has_from && a->has_to && a->from > a->to)
		return grctl_errf(p, "--from %llu is past --to %llu",
				  (unsigned long long)a->from,
				  (unsigned long long)a->to);
	return 0;
}

int ledger_verify_parse(struct grctl_parser *p, struct ledger_verify_args *a)
{
	memset(a, 0, sizeof(*a));
	return grctl_parse_name_key_dir(p, &a->name, &a->key_dir);
}

int ledger_release_parse(struct grctl_parser *p, struct name_seq_args *a)
{
	const char *val, *seq = NULL;
	int id;

	memset(a, 0, sizeof(*a));
	p->opts = NULL;
	while ((id = grctl_next(p, &val)) != GRCTL_ARG_END) {
		if (id == GRCTL_ARG_ERR)
			return GRCTL_ARG_ERR;
		if (id == GRCTL_OPT_HELP)
			return 1;
		if (!a->name) {
			if (grctl_take_name(p, val, &a->name))
				return GRCTL_ARG_ERR;
		} else if (!seq) {
			seq = val;
		} else {
			return grctl_errf(p, "unexpected argument '%s'", val);
		}
	}
	if (!a->name)
		return grctl_errf(p, "missing volume name");
	if (!seq)
		return grctl_errf(p, "missing <seq>");
	p->cur = "seq";
	if (grctl_parse_u64(seq, &a->seq) || !a->seq)
		return grctl_errf(p, "invalid <seq> '%s': a decimal number >= 1", seq);
	return 0;
}

/* ---- the log stream ---- */

struct stream {
	int fd;
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t off;
	bool quiet_erange;	/* below the tail: -ERANGE without a message */
	char path[PATH_MAX];
};

static int stream_open(struct stream *s, const char *name, uint32_t minor,
		       uint64_t seq)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "/dev/georep%u-log", minor);
	s->fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0 && errno == ENOENT) {
		snprintf(s->path, sizeof(s->path), "%s/%s.log", grctl_dev_dir(), name);
		s->fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	}
	if (s->fd < 0)
		return grctl_fail("cannot open the log stream of %s (/dev/georep%u-log): %s",
				  name, minor, strerror(errno));
	s->cap = STREAM_BUF_MIN;
	s->buf = malloc(s->cap);
	if (!s->buf) {
		close(s->fd);
		return grctl_fail("%s", strerror(ENOMEM));
	}
	if (lseek(s->fd, (off_t)seq, SEEK_SET) < 0) {
		int err = errno;

		free(s->buf);
		close(s->fd);
		return grctl_fail("cannot seek %s to seq %llu: %s", s->path,
				  (unsigned long long)seq, strerror(err));
	}
	return 0;
}

static void stream_close(struct stream *s)
{
	free(s->buf);
	close(s->fd);
}

/* 1: records in buf, 0: at the head, -errno (message printed) */
static int stream_fill(struct stream *s, uint64_t seq)
{
	ssize_t n;

	for (;;) {
		n = read(s->fd, s->buf, s->cap);
		if (n > 0) {
			s->len = (size_t)n;
			s->off = 0;
			return 1;
		}
		if (n == 0 || errno == EAGAIN)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EMSGSIZE && s->cap < STREAM_BUF_MAX) {
			uint8_t *b = realloc(s->buf, s->cap * 2);

			if (!b) {
				grctl_fail("%s", strerror(ENOMEM));
				return -ENOMEM;
			}
			s->buf = b;
			s->cap *= 2;
			continue;
		}
		if (errno == ERANGE) {
			if (!s->quiet_erange)
				grctl_fail("seq %llu is below the retained tail of the log",
					   (unsigned long long)seq);
			return -ERANGE;
		}
		n = -errno;
		grctl_fail("cannot read %s at seq %llu: %s", s->path,
			   (unsigned long long)seq, strerror(errno));
		return (int)n;
	}
}

/*
 * Next record of the stream: 1 with rec/hdr/payload set, 0 at the head,
 * -EINVAL for a malformed record (message in err), other -errno printed.
 */
static int stream_next(struct stream *s, uint64_t seq, struct georep_rec *rec,
		       const uint8_t **hdr, const uint8_t **payload,
		       char *err, size_t errlen)
{
	int ret;

	if (s->off >= s->len) {
		ret = stream_fill(s, seq);
		if (ret <= 0)
			return ret;
	}
	ret = georep_record_next(s->buf, s->len, &s->off, rec, hdr, payload,
				 err, errlen);
	if (ret)
		return ret == -ENODATA ? 0 : -EINVAL;
	return 1;
}

/* ---- dump ---- */

static void format_time(uint64_t ns, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000ULL);
	struct tm tm;
	char date[32];

	if (!gmtime_r(&sec, &tm) ||
	    !strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "%llu", (unsigned long long)ns);
		return;
	}
	snprintf(buf, len, "%s.%06lluZ", date,
		 (unsigned long long)(ns % 1000000000ULL / 1000));
}

static const char *flags_str(uint32_t flags)
{
	switch (flags & __GEOREP_RF_ALL) {
	case GEOREP_RF_PREFLUSH | GEOREP_RF_FUA:
		return "preflush,fua";
	case GEOREP_RF_PREFLUSH:
		return "preflush";
	case GEOREP_RF_FUA:
		return "fua";
	}
	return "-";
}

static void dump_line(const struct georep_rec *r)
{
	char ph[2 * GEOREP_HASH_LEN + 1], ch[2 * GEOREP_HASH_LEN + 1], t[48];

	georep_hex(r->payload_hash, GEOREP_HASH_LEN, ph);
	georep_hex(r->chain_hash, GEOREP_HASH_LEN, ch);
	format_time(r->timestamp_ns, t, sizeof(t));
	printf("%llu %llu %s %llu %u %u %u %u %s %s %.12s %.12s\n",
	       (unsigned long long)r->seq, (unsigned long long)r->term,
	       georep_op_name(r->op), (unsigned long long)r->lba, r->len,
	       r->payload_len, r->site_id, r->seal_epoch, flags_str(r->flags),
	       t, ph, ch);
}

static json_t *dump_json(const struct georep_rec *r)
{
	char h[2 * GEOREP_HASH_LEN + 1], t[48];
	json_t *o = json_object();

	if (!o)
		return NULL;
	format_time(r->timestamp_ns, t, sizeof(t));
	json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
	json_object_set_new(o, "term", json_integer((json_int_t)r->term));
	json_object_set_new(o, "op", json_string(georep_op_name(r->op)));
	json_object_set_new(o, "lba", json_integer((json_int_t)r->lba));
	json_object_set_new(o, "len", json_integer(r->len));
	json_object_set_new(o, "payload_len", json_integer(r->payload_len));
	json_object_set_new(o, "site_id", json_integer(r->site_id));
	json_object_set_new(o, "seal_epoch", json_integer(r->seal_epoch));
	json_object_set_new(o, "flags", json_integer(r->flags));
	json_object_set_new(o, "timestamp_ns", json_integer((json_int_t)r->timestamp_ns));
	json_object_set_new(o, "time", json_string(t));
	georep_hex(r->volume_uuid, GEOREP_UUID_LEN, h);
	json_object_set_new(o, "volume_uuid", json_string(h));
	georep_hex(r->payload_hash, GEOREP_HASH_LEN, h);
	json_object_set_new(o, "payload_hash", json_string(h));
	georep_hex(r->chain_hash, GEOREP_HASH_LEN, h);
	json_object_set_new(o, "chain_hash", json_string(h));
	georep_hex(r->seal, GEOREP_HASH_LEN, h);
	json_object_set_new(o, "seal", json_string(h));
	return o;
}

static int get_status(struct georep_nl **nl, const char *name,
		      struct georep_vol_status *st)
{
	if (grctl_nl_open(nl))
		return GRCTL_EXIT_FAIL;
	if (georep_nl_volume_get(*nl, name, st)) {
		grctl_nl_fail(*nl, "cannot get status of volume", name);
		georep_nl_close(*nl);
		return GRCTL_EXIT_FAIL;
	}
	return 0;
}

static int dump_main(int argc, char *argv[])
{
	struct ledger_dump_args a;
	struct georep_vol_status st;
	const uint8_t *hdr, *payload;
	struct grctl_parser p;
	struct georep_nl *nl;
	struct georep_rec rec;
	json_t *arr = NULL;
	struct stream s;
	char err[256];
	uint64_t seq;
	int ret;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	ret = ledger_dump_parse(&p, &a);
	if (!grctl_parsed(&p, ret, DUMP_USAGE, DUMP_HELP, &ret))
		return ret;
	if (get_status(&nl, a.name, &st))
		return GRCTL_EXIT_FAIL;
	georep_nl_close(nl);

	seq = a.has_from ? a.from : (st.tail_seq ? st.tail_seq : 1);
	if (stream_open(&s, a.name, st.minor, seq))
		return GRCTL_EXIT_FAIL;
	if (a.json) {
		arr = json_array();
		if (!arr) {
			ret = grctl_fail("%s", strerror(ENOMEM));
			goto out_close;
		}
	} else {
		printf("# SEQ TERM OP LBA LEN PAYLOAD SITE EPOCH FLAGS TIME PAYLOAD_HASH CHAIN_HASH\n");
	}
	ret = 0;
	while (!a.has_to || seq <= a.to) {
		int n = stream_next(&s, seq, &rec, &hdr, &payload, err, sizeof(err));

		if (n == 0)
			break;
		if (n == -EINVAL) {
			ret = grctl_fail("record %llu: %s", (unsigned long long)seq, err);
			break;
		}
		if (n < 0) {
			ret = GRCTL_EXIT_FAIL;
			break;
		}
		if (a.has_to && rec.seq > a.to)
			break;
		if (arr) {
			json_t *o = dump_json(&rec);

			if (!o || json_array_append_new(arr, o)) {
				ret = grctl_fail("%s", strerror(ENOMEM));
				break;
			}
		} else {
			dump_line(&rec);
		}
		seq = rec.seq + 1;
	}
	if (arr) {
		if (json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER))
			ret = grctl_fail("cannot write JSON");
		else
			putchar('\n');
		json_decref(arr);
	}
out_close:
	stream_close(&s);
	return ret;
}

/* ---- verify ---- */

struct verify_state {
	uint64_t first, last, nr;
	uint64_t end;			/* the seq the stream ended before */
	uint64_t bad_seq;		/* 0: none */
	char what[512];
	uint64_t unsealed;		/* records whose seal was not checked */
	uint32_t missing_epoch;
	uint8_t head[GEOREP_HASH_LEN];
};

static void verify_bad(struct verify_state *v, uint64_t seq, const char *what)
{
	v->bad_seq = seq;
	snprintf(v->what, sizeof(v->what), "%s", what);
}

static int verify_stream(struct stream *s, const struct georep_vol_status *st,
			 const struct georep_keyset *ks, struct verify_state *v)
{
	uint8_t prev[GEOREP_HASH_LEN] = { 0 };
	bool anchored, have_prev = false;
	const uint8_t *hdr, *payload;
	struct georep_rec rec;
	uint64_t seq = st->tail_seq ? st->tail_seq : 1, last_term = 0;
	char err[256];

	/* before seq 1 the chain starts from 32 zero bytes */
	anchored = seq == 1;
	for (;;) {
		const struct georep_keyent *key;
		enum georep_rec_fault fault;
		int n;

		v->end = seq;
		n = stream_next(s, seq, &rec, &hdr, &payload, err, sizeof(err));
		if (n == 0)
			return 0;
		if (n == -EINVAL) {
			verify_bad(v, seq, err);
			return 0;
		}
		if (n < 0)
			return n;
		if (rec.seq != seq) {
			snprintf(err, sizeof(err), "stream returned seq %llu, expected %llu",
				 (unsigned long long)rec.seq, (unsigned long long)seq);
			verify_bad(v, seq, err);
			return 0;
		}
		if (rec.term < last_term) {
			snprintf(err, sizeof(err), "term %llu is below the previous record's %llu",
				 (unsigned long long)rec.term,
				 (unsigned long long)last_term);
			verify_bad(v, seq, err);
			return 0;
		}
		if (st->has_uuid && memcmp(rec.volume_uuid, st->uuid, GEOREP_UUID_LEN)) {
			verify_bad(v, seq, "volume uuid differs from the volume's");
			return 0;
		}
		key = georep_keyset_find(ks, rec.seal_epoch);
		if (!key) {
			v->unsealed++;
			v->missing_epoch = rec.seal_epoch;
		}
		if (georep_record_verify(&rec, hdr, payload,
					 anchored || have_prev ? prev : NULL,
					 key ? key->data : NULL, &fault)) {
			grctl_fail("record %llu: hashing failed",
				   (unsigned long long)seq);
			return -EIO;
		}
		if (fault != GEOREP_REC_OK) {
			verify_bad(v, seq, georep_rec_fault_str(fault));
			return 0;
		}
		if (!v->nr)
			v->first = seq;
		v->nr++;
		v->last = seq;
		last_term = rec.term;
		memcpy(prev, rec.chain_hash, GEOREP_HASH_LEN);
		memcpy(v->head, rec.chain_hash, GEOREP_HASH_LEN);
		have_prev = true;
		seq++;
	}
}

/*
 * Verify the stream from the retained tail. The log of a live volume moves:
 * the tail read before (the kernel's verify pass takes a while) may have
 * been released by the time the stream is read, or pass the reader while
 * it reads. Then the tail is read again and the retained log verified from
 * there, three times at most (a release jumps the tail to what the sites
 * applied: little is left to read).
 * Return: as verify_stream(), the stream open; -EBADF: none open (said why).
 */
static int verify_from_tail(struct georep_nl *nl, const char *name, struct georep_vol_status *st,
			    struct stream *s, const struct georep_keyset *ks,
			    struct verify_state *v)
{
	int tries, ret = -ERANGE;

	for (tries = 0; tries < 4 && ret == -ERANGE; tries++) {
		if (tries && georep_nl_volume_get(nl, name, st)) {
			grctl_nl_fail(nl, "cannot get status of volume", name);
			return -EBADF;
		}
		if (stream_open(s, name, st->minor, st->tail_seq ? st->tail_seq : 1))
			return -EBADF;
		s->quiet_erange = tries < 3;
		memset(v, 0, sizeof(*v));
		ret = verify_stream(s, st, ks, v);
		if (ret != -ERANGE || tries == 3)
			break;
		stream_close(s);
		if (v->nr)
			fprintf(stderr, "georepctl: records up to %llu were released while they were verified: verifying again from the tail\n",
				(unsigned long long)v->end);
	}
	return ret;
}

/* the kernel's LEDGER_VERIFY result: the record it names, or its message */
static void print_kernel_finding(uint64_t kbad, const char *kmsg)
{
	if (kbad)
		printf("record %llu: kernel: %s\n", (unsigned long long)kbad, kmsg);
	else
		printf("kernel: ledger verify failed: %s\n", kmsg);
}

static int verify_main(int argc, char *argv[])
{
	struct georep_vol_status st, kst, now;
	struct ledger_verify_args a;
	struct verify_state v = { 0 };
	char err[512], kmsg[512] = "", head[2 * GEOREP_HASH_LEN + 1];
	struct georep_keyset ks = { 0 };
	uint64_t kbad = 0;
	struct grctl_parser p;
	struct georep_nl *nl;
	struct stream s;
	bool kfail = false;
	int ret, n;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	ret = ledger_verify_parse(&p, &a);
	if (!grctl_parsed(&p, ret, VERIFY_USAGE, VERIFY_HELP, &ret))
		return ret;
	if (get_status(&nl, a.name, &st))
		return GRCTL_EXIT_FAIL;

	/* (1) the kernel's own check */
	ret = georep_nl_ledger_verify(nl, a.name, &kst);
	if (ret) {
		kfail = true;
		snprintf(kmsg, sizeof(kmsg), "%s", georep_nl_error(nl));
		if (ret == -EBADMSG && kst.has_bad_seq)
			kbad = kst.bad_seq;
	}

	/* (2) userspace: seals only with readable keys */
	if (georep_keys_load(grctl_key_dir(a.key_dir), a.name, &ks, err, sizeof(err))) {
		fprintf(stderr, "georepctl: warning: seals not checked: %s\n", err);
		memset(&ks, 0, sizeof(ks));
	}
	ret = GRCTL_EXIT_FAIL;
	n = verify_from_tail(nl, a.name, &st, &s, &ks, &v);
	if (n == -EBADF)
		goto out_clear;
	if (n < 0) {
		/* a record the kernel will not stream: say what it found */
		if (kfail)
			print_kernel_finding(kbad, kmsg);
		goto out_stream;
	}

	/* the head we reached must be the kernel's, if nothing moved since */
	if (!v.bad_seq && v.nr && !georep_nl_volume_get(nl, a.name, &now) &&
	    now.written_seq == v.last && now.has_chain_hash &&
	    CRYPTO_memcmp(now.chain_hash, v.head, GEOREP_HASH_LEN))
		verify_bad(&v, v.last, "chain hash differs from the kernel's chain head");
	/*
	 * Every retained record up to the written seq must have come. None
	 * is retained once all were released (tail = written + 1): the
	 * stream then ends at once, at the tail, and that is complete.
	 */
	if (!v.bad_seq && v.end <= st.written_seq) {
		snprintf(err, sizeof(err), "stream ended at seq %llu, kernel reported written seq %llu",
			 (unsigned long long)v.end - 1, (unsigned long long)st.written_seq);
		verify_bad(&v, v.end, err);
	}

	if (kfail && (!v.bad_seq || (kbad && kbad < v.bad_seq)))
		print_kernel_finding(kbad, kmsg);
	if (v.bad_seq)
		printf("record %llu: %s\n", (unsigned long long)v.bad_seq, v.what);
	if (kfail && v.bad_seq && kbad && kbad >= v.bad_seq)
		print_kernel_finding(kbad, kmsg);
	if (kfail || v.bad_seq)
		goto out_stream;

	if (v.unsealed)
		fprintf(stderr, "georepctl: warning: seals of %llu records not checked (no key for epoch %u)\n",
			(unsigned long long)v.unsealed, v.missing_epoch);
	if (!v.nr && st.written_seq) {
		printf("verified 0 records, every record up to seq %llu released\n",
		       (unsigned long long)st.written_seq);
	} else if (!v.nr) {
		printf("verified 0 records, log empty\n");
	} else {
		georep_hex(v.head, GEOREP_HASH_LEN, head);
		printf("verified %llu records, seq %llu..%llu, chain head %s\n",
		       (unsigned long long)v.nr, (unsigned long long)v.first,
		       (unsigned long long)v.last, head);
	}
	ret = GRCTL_EXIT_OK;
out_stream:
	stream_close(&s);
out_clear:
	georep_keyset_clear(&ks);
	georep_nl_close(nl);
	return ret;
}

/* ---- release ---- */

static int release_main(int argc, char *argv[])
{
	struct name_seq_args a;
	struct grctl_parser p;
	struct georep_nl *nl;
	int ret;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	ret = ledger_release_parse(&p, &a);
	if (!grctl_parsed_open(&p, ret, RELEASE_USAGE, RELEASE_HELP, &nl, &ret))
		return ret;
	ret = georep_nl_log_release(nl, a.name, a.seq);
	if (ret)
		ret = grctl_nl_fail(nl, "cannot release the log of volume", a.name);
	georep_nl_close(nl);
	return ret;
}

static const struct grctl_sub ledger_subs[] = {
	{ "dump", dump_main, DUMP_USAGE },
	{ "verify", verify_main, VERIFY_USAGE },
	{ "release", release_main, RELEASE_USAGE },
	{ NULL }
};

int ledger_main(int argc, char *argv[])
{
	return grctl_dispatch_sub("ledger", ledger_subs, argc, argv);
}
