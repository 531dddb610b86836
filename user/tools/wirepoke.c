// SPDX-License-Identifier: GPL-2.0
/*
 * georep-wirepoke: speak to a georepd replication port the way a broken or
 * foreign peer would, and print what comes back.
 *
 *   georep-wirepoke [--hello SITE [--site-id N] [--cluster NAME]
 *                   [--versions MIN..MAX]] [--ping] [--hdr-version V]
 *                   [--hdr-length N] [--hex BYTES]
 *                   [--replay-last STREAM --volume NAME --term T --to ID]
 *                   [--tls-ca CA --tls-cert CRT --tls-key KEY [--tls-name N]]
 *                   [--wait MS] HOST:PORT
 *
 * Frames are built by the wire library (gr_wire_encode()); --hdr-version
 * and --hdr-length then overwrite that header field of every frame the tool
 * encodes (the body sent stays what the encoder made), which is how an old
 * protocol version or an absurd length is produced. --hex bytes are sent as
 * they are, after the frames. Replies are decoded with gr_wire_decode(), one
 * line each, then "closed" when the peer closed the connection or "open"
 * when it was still open after --wait ms. --replay-last reads the last
 * durable record of a volume's log stream and sends it moved on by one seq,
 * in an APPEND of term T from --site-id to site id ID: a replayed record
 * that the receiver's ledger must refuse. With --tls-* it speaks through the
 * library's mutual TLS 1.3 transport (lib/tls.c), as a site holding that
 * certificate: a handshake the port refuses prints "handshake failed: WHY";
 * a certificate of another site, expired or self-signed, is how a hostile
 * peer is played. For tests only (selftests/sites/60-bad-input.sh,
 * 62-tls-trust.sh, user/georepd/tests/e2e_badinput.py).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "georep/consensus.h"
#include "georep/record.h"
#include "georep/tls.h"
#include "georep/transport.h"
#include "georep/wire.h"

#define PROG		"georep-wirepoke"
#define MAX_HEX		4096
#define RX_CAP		(64 << 10)

static const char usage[] =
	"usage: " PROG " [options] HOST:PORT\n"
	"\n"
	"Connects to a georepd replication port, sends frames built by the wire\n"
	"library and/or raw bytes, prints each frame received and whether the\n"
	"peer closed the connection.\n"
	"\n"
	"  --hello SITE         send a HELLO as site SITE\n"
	"  --site-id N          site_id in the hello (default 0)\n"
	"  --cluster NAME       cluster name in the hello (default georep)\n"
	"  --versions MIN..MAX  protocol versions the hello offers (default %u..%u)\n"
	"  --ping               send a PING (after the hello)\n"
	"  --hdr-version V      write V into the version field of each frame sent\n"
	"  --hdr-length N       write N into the length field of each frame sent\n"
	"                       (the body stays the encoder's)\n"
	"  --hex BYTES          then send these bytes as they are (hex digits;\n"
	"                       spaces and colons ignored)\n"
	"  --replay-last STREAM then send the last durable record of the log stream\n"
	"                       STREAM (/dev/georep/<volume>.log; a file: the one\n"
	"                       record it holds), its seq moved on by one, in an\n"
	"                       APPEND from --site-id; needs:\n"
	"  --volume NAME        the configured volume name (the frames' volume id)\n"
	"  --term T             the APPEND's term\n"
	"  --to ID              the receiving site's id\n"
	"  --tls-ca CA          speak mutual TLS 1.3, trusting the CA file CA, with:\n"
	"  --tls-cert CRT       this certificate (PEM)\n"
	"  --tls-key KEY        and its Ed25519 key (mode 0600)\n"
	"  --tls-name NAME      the name the port's certificate must hold\n"
	"                       (default: any the CA signed)\n"
	"  --wait MS            wait this long for replies and the close (default 5000)\n"
	"  -h, --help           this text\n"
	"\n"
	"Output: one line per frame received (hello ..., error CODE: REASON, or\n"
	"TYPE, N body bytes), then \"closed\" or \"open\". Exit status: 0 when the\n"
	"connection and the sends worked, 1 otherwise, 2 for a usage error.\n";

struct poke {
	const char *hello_site;
	const char *cluster;
	unsigned long site_id;
	unsigned int vmin, vmax;
	bool ping;
	long hdr_version;	/* -1: the encoder's */
	long long hdr_length;	/* -1: the encoder's */
	uint8_t hex[MAX_HEX];
	size_t hex_len;
	const char *replay_stream;
	const char *volume;
	unsigned long term, to;
	int wait_ms;
	struct gr_tls_opts tls;
	const char *tls_name;
};

/* the connection: plain TCP, or a TLS session of the library's transport */
struct link {
	int fd;
	struct gr_transport *t;		/* NULL: plain TCP */
	void *sess;
};

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 0);
	return errno || end == s || *end || *s == '-' || *out > max ? -1 : 0;
}

static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	int hi = -1, v;

	for (*len = 0; *s; s++) {
		if (*s == ' ' || *s == ':' || *s == '\t' || *s == '\n')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (*len == cap)
			return -1;
		out[(*len)++] = hi << 4 | v;
		hi = -1;
	}
	return hi < 0 ? 0 : -1;
}

static int parse_versions(const char *s, unsigned int *vmin, unsigned int *vmax)
{
	unsigned long lo, hi;
	char buf[32], *dots;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -1;
	dots = strstr(buf, "..");
	if (!dots)
		return -1;
	*dots = '\0';
	if (parse_ulong(buf, 0xffff, &lo) || parse_ulong(dots + 2, 0xffff, &hi))
		return -1;
	*vmin = lo;
	*vmax = hi;
	return 0;
}

static int dial(const char *hostport)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[256], *colon;
	int fd = -1, ret;

	if (snprintf(host, sizeof(host), "%s", hostport) >= (int)sizeof(host))
		return -1;
	colon = strrchr(host, ':');
	if (!colon) {
		fprintf(stderr, PROG ": %s: expected HOST:PORT\n", hostport);
		return -1;
	}
	*colon = '\0';
	ret = getaddrinfo(host, colon + 1, &hints, &res);
	if (ret) {
		fprintf(stderr, PROG ": %s: %s\n", hostport, gai_strerror(ret));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		fprintf(stderr, PROG ": connect to %s: %s\n", hostport, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

/* wait for @events on the link's socket, at most @ms (-1: no limit) */
static int link_wait(const struct link *l, short events, int ms)
{
	struct pollfd pfd = { .fd = l->fd, .events = events };

	return poll(&pfd, 1, ms);
}

static ssize_t link_send(struct link *l, const void *buf, size_t len)
{
	ssize_t n;

	if (!l->t) {
		n = send(l->fd, buf, len, MSG_NOSIGNAL);
		return n < 0 ? -errno : n;
	}
	n = l->t->ops->send(l->sess, l->fd, buf, len);
	if (n == -EAGAIN)
		link_wait(l, POLLOUT, -1);
	return n;
}

static ssize_t link_recv(struct link *l, void *buf, size_t len)
{
	ssize_t n;

	if (!l->t) {
		n = recv(l->fd, buf, len, 0);
		return n < 0 ? -errno : n;
	}
	return l->t->ops->recv(l->sess, l->fd, buf, len);
}

/* why the last TLS send or receive failed, or @err's text */
static const char *link_why(struct link *l, ssize_t err)
{
	const char *why = l->t && l->t->ops->last_error ? l->t->ops->last_error(l->sess) : NULL;

	return why && *why ? why : strerror(-err);
}

static int send_all(struct link *l, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = link_send(l, p, len);
		if (n == -EINTR || n == -EAGAIN)
			continue;
		if (n < 0) {
			fprintf(stderr, PROG ": send: %s\n", link_why(l, n));
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* Encode @f with the library, apply the header overrides, send it. */
static int send_frame(struct link *l, const struct poke *pk, const struct gr_frame *f)
{
	uint8_t buf[GR_WIRE_HDR_SIZE + 256];
	uint16_t v16;
	uint32_t v32;
	ssize_t n;

	n = gr_wire_encode(buf, sizeof(buf), f);
	if (n < 0) {
		fprintf(stderr, PROG ": cannot encode a %s frame: %s\n",
			gr_frame_type_name(f->hdr.type), strerror(-n));
		return -1;
	}
	/* header offsets of Documentation/wire-protocol.rst */
	if (pk->hdr_version >= 0) {
		v16 = htole16(pk->hdr_version);
		memcpy(buf + 4, &v16, sizeof(v16));
	}
	if (pk->hdr_length >= 0) {
		v32 = htole32(pk->hdr_length);
		memcpy(buf + 8, &v32, sizeof(v32));
	}
	return send_all(l, buf, n);
}

/*
 * The last durable record of log stream @path (a file: the record it holds),
 * header and payload, into @buf.
 */
static ssize_t last_record(const char *path, uint8_t *buf, size_t cap)
{
	struct georep_rec rec;
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = !S_ISREG(st.st_mode) && lseek(fd, -1, SEEK_END) < 0 ? -1 : read(fd, buf, cap);
	if (n < 0)
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
	close(fd);
	if (n < 0)
		return -1;
	if (georep_record_decode(buf, n, &rec, NULL, 0)) {
		fprintf(stderr, PROG ": %s: the last record does not decode\n", path);
		return -1;
	}
	return GEOREP_RECORD_HDR_SIZE + rec.payload_len;
}

/*
 * --replay-last: APPEND (term, previous entry = the record) and RECORDS
 * holding the record with its seq moved on by one, both built by the
 * library; the receiver's ledger refuses it (chain and seal no longer match).
 */
static int send_replay(struct link *l, const struct poke *pk)
{
	static uint8_t rec[GEOREP_RECORD_HDR_SIZE + (2U << 20)];	/* a write of at most 2 MiB */
	static uint8_t out[GR_WIRE_HDR_SIZE + GR_RECORDS_HDR_SIZE + sizeof(rec)];
	uint8_t msg[GR_WIRE_MSG_MAX];
	struct georep_record *h = (struct georep_record *)rec;
	struct gr_frame f = { 0 };
	struct gr_msg m = { 0 };
	ssize_t len, n;
	uint64_t seq;

	len = last_record(pk->replay_stream, rec, sizeof(rec));
	if (len < 0)
		return -1;
	seq = le64toh(h->seq);
	m.type = GR_MSG_APPEND;
	m.from = pk->site_id;
	m.to = pk->to;
	m.term = pk->term;
	m.seq = seq;
	m.log_term = le64toh(h->term);
	m.n_entries = 1;
	m.bytes = le32toh(h->payload_len);
	h->seq = htole64(seq + 1);
	n = gr_wire_msg_encode(msg, sizeof(msg), &m);
	f.hdr.type = GR_FT_CONSENSUS;
	f.hdr.volume = gr_wire_volume_id(pk->volume);
	f.consensus.data = msg;
	f.consensus.len = n;
	n = n < 0 ? n : gr_wire_encode(out, sizeof(out), &f);
	if (n < 0 || send_all(l, out, n))
		goto bad;
	f.hdr.type = GR_FT_RECORDS;
	f.records.count = 1;
	f.records.first_seq = seq + 1;
	f.records.data = rec;
	f.records.len = len;
	n = gr_wire_encode(out, sizeof(out), &f);
	if (n < 0 || send_all(l, out, n))
		goto bad;
	printf("# sent record %llu (record %llu moved on) in an APPEND of term %lu\n",
	       (unsigned long long)seq + 1, (unsigned long long)seq, pk->term);
	return 0;
bad:
	fprintf(stderr, PROG ": cannot build or send the replayed record\n");
	return -1;
}

static const char *errcode_name(uint32_t code)
{
	static const char *const names[] = {
		[GR_WERR_PROTOCOL] = "protocol",
		[GR_WERR_VERSION] = "version",
		[GR_WERR_UNKNOWN_SITE] = "unknown site",
		[GR_WERR_CLUSTER] = "cluster",
		[GR_WERR_DUPLICATE] = "duplicate",
		[GR_WERR_SHUTDOWN] = "shutdown",
	};

	return code < sizeof(names) / sizeof(names[0]) && names[code] ? names[code] : "?";
}

static void print_frame(const struct gr_frame *f)
{
	switch (f->hdr.type) {
	case GR_FT_HELLO:
		printf("hello site=%s site_id=%u cluster=%s versions=%u..%u\n",
		       f->hello.site, f->hello.site_id, f->hello.cluster,
		       f->hello.min_version, f->hello.max_version);
		break;
	case GR_FT_ERROR:
		printf("error %u (%s): %s\n", f->error.code, errcode_name(f->error.code),
		       f->error.reason);
		break;
	default:
		printf("%s, %u body bytes\n", gr_frame_type_name(f->hdr.type), f->hdr.length);
		break;
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Print the frames received until the peer closes or @wait_ms pass. */
static void receive(struct link *l, int wait_ms)
{
	char err[GR_WIRE_ERRLEN];
	static uint8_t rx[RX_CAP];
	long long end = now_ms() + wait_ms;
	size_t len = 0, used;
	bool undecodable = false;
	struct gr_frame f;
	ssize_t n;
	int left, ret;

	for (;;) {
		left = end - now_ms();
		if (left <= 0 || (!(l->t && l->t->ops->pending(l->sess)) &&
				  link_wait(l, POLLIN, left) == 0)) {
			printf("open\n");
			return;
		}
		n = link_recv(l, rx + len, sizeof(rx) - len);
		if (n == -EINTR || n == -EAGAIN)
			continue;
		if (n <= 0) {
			if (n < 0)
				printf("# recv: %s\n", link_why(l, n));
			if (len && !undecodable)
				printf("%zu bytes of an incomplete frame\n", len);
			printf("closed\n");
			return;
		}
		len += n;
		while (!undecodable && len) {
			ret = gr_wire_decode(rx, len, &f, &used, err);
			if (ret == -EAGAIN)
				break;
			if (ret) {
				printf("undecodable reply: %s\n", err);
				undecodable = true;
				break;
			}
			print_frame(&f);
			memmove(rx, rx + used, len - used);
			len -= used;
		}
		if (undecodable || len == sizeof(rx))
			len = 0;	/* keep reading, only to see the close */
		fflush(stdout);
	}
}

/* The client side of a mutual TLS 1.3 handshake; prints why it failed. */
static int link_tls(struct link *l, const struct poke *pk)
{
	const char *why = NULL;
	char err[512];
	uint32_t want;
	int ret;

	l->t = gr_transport_tls(&pk->tls, err, sizeof(err));
	if (!l->t) {
		fprintf(stderr, PROG ": %s\n", err);
		return -1;
	}
	ret = l->t->ops->session_new(l->t, l->fd, false, &l->sess);
	if (!ret && pk->tls_name)
		ret = l->t->ops->set_peer_name(l->sess, pk->tls_name);
	if (ret) {
		fprintf(stderr, PROG ": TLS session: %s\n", strerror(-ret));
		return -1;
	}
	while ((ret = l->t->ops->handshake(l->sess, l->fd, &want, &why)) == -EAGAIN)
		link_wait(l, want & EPOLLOUT ? POLLOUT : POLLIN, 10000);
	if (ret) {
		printf("handshake failed: %s\nclosed\n", why ? why : strerror(-ret));
		return -1;
	}
	printf("# TLS session, the port's certificate names %s\n",
	       l->t->ops->peer_identity(l->sess) ?: "nothing");
	return 0;
}

static void link_close(struct link *l)
{
	if (l->sess)
		l->t->ops->session_free(l->sess);
	if (l->t)
		gr_transport_free(l->t);
	close(l->fd);
}

static int parse_args(int argc, char *argv[], struct poke *pk)
{
	static const struct option opts[] = {
		{ "hello", required_argument, NULL, 'H' },
		{ "site-id", required_argument, NULL, 'i' },
		{ "cluster", required_argument, NULL, 'c' },
		{ "versions", required_argument, NULL, 'V' },
		{ "ping", no_argument, NULL, 'p' },
		{ "hdr-version", required_argument, NULL, 'v' },
		{ "hdr-length", required_argument, NULL, 'l' },
		{ "hex", required_argument, NULL, 'x' },
		{ "replay-last", required_argument, NULL, 'R' },
		{ "volume", required_argument, NULL, 'n' },
		{ "term", required_argument, NULL, 't' },
		{ "to", required_argument, NULL, 'T' },
		{ "wait", required_argument, NULL, 'w' },
		{ "tls-ca", required_argument, NULL, 'C' },
		{ "tls-cert", required_argument, NULL, 'E' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "tls-name", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned long v;
	int c, idx = 0;

	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		switch (c) {
		case 'H':
			pk->hello_site = optarg;
			break;
		case 'i':
			if (parse_ulong(optarg, 0xffffffffUL, &pk->site_id))
				goto bad;
			break;
		case 'c':
			pk->cluster = optarg;
			break;
		case 'V':
			if (parse_versions(optarg, &pk->vmin, &pk->vmax))
				goto bad;
			break;
		case 'p':
			pk->ping = true;
			break;
		case 'v':
			if (parse_ulong(optarg, 0xffff, &v))
				goto bad;
			pk->hdr_version = v;
			break;
		case 'l':
			if (parse_ulong(optarg, 0xffffffffUL, &v))
				goto bad;
			pk->hdr_length = v;
			break;
		case 'x':
			if (parse_hex(optarg, pk->hex, sizeof(pk->hex), &pk->hex_len))
				goto bad;
			break;
		case 'R':
			pk->replay_stream = optarg;
			break;
		case 'n':
			pk->volume = optarg;
			break;
		case 't':
			if (parse_ulong(optarg, ULONG_MAX, &pk->term))
				goto bad;
			break;
		case 'T':
			if (parse_ulong(optarg, 0xffffffffUL, &pk->to))
				goto bad;
			break;
		case 'w':
			if (parse_ulong(optarg, 600000, &v))
				goto bad;
			pk->wait_ms = v;
			break;
		case 'C':
			pk->tls.ca = optarg;
			break;
		case 'E':
			pk->tls.cert = optarg;
			break;
		case 'K':
			pk->tls.key = optarg;
			break;
		case 'N':
			pk->tls_name = optarg;
			break;
		case 'h':
			printf(usage, GR_WIRE_VERSION_MIN, GR_WIRE_VERSION);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, PROG ": expected one HOST:PORT\n");
		return -1;
	}
	if (!pk->hello_site && !pk->ping && !pk->hex_len) {
		fprintf(stderr, PROG ": nothing to send (--hello, --ping or --hex)\n");
		return -1;
	}
	if ((pk->tls.ca || pk->tls.cert || pk->tls.key || pk->tls_name) &&
	    !(pk->tls.ca && pk->tls.cert && pk->tls.key)) {
		fprintf(stderr, PROG ": TLS needs --tls-ca, --tls-cert and --tls-key\n");
		return -1;
	}
	if (pk->replay_stream && (!pk->volume || !pk->term || !pk->to || !pk->site_id)) {
		fprintf(stderr, PROG ": --replay-last needs --volume, --term, --to and --site-id\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, PROG ": bad value for --%s: '%s'\n", opts[idx].name, optarg);
	return -1;
}

int main(int argc, char *argv[])
{
	struct poke pk = {
		.cluster = "georep",
		.vmin = GR_WIRE_VERSION_MIN,
		.vmax = GR_WIRE_VERSION,
		.hdr_version = -1,
		.hdr_length = -1,
		.wait_ms = 5000,
	};
	struct link l = { .fd = -1 };
	struct gr_frame f;

	if (parse_args(argc, argv, &pk)) {
		fprintf(stderr, "Try '" PROG " --help'.\n");
		return 2;
	}
	l.fd = dial(argv[optind]);
	if (l.fd < 0)
		return 1;
	if (pk.tls.ca && link_tls(&l, &pk)) {
		link_close(&l);
		return 1;
	}
	if (pk.hello_site) {
		memset(&f, 0, sizeof(f));
		f.hdr.type = GR_FT_HELLO;
		f.hello.min_version = pk.vmin;
		f.hello.max_version = pk.vmax;
		f.hello.site_id = pk.site_id;
		snprintf(f.hello.site, sizeof(f.hello.site), "%s", pk.hello_site);
		snprintf(f.hello.cluster, sizeof(f.hello.cluster), "%s", pk.cluster);
		if (send_frame(&l, &pk, &f))
			goto out_close;
	}
	if (pk.ping) {
		memset(&f, 0, sizeof(f));
		f.hdr.type = GR_FT_PING;
		f.ping.nonce = 1;
		f.ping.time_ns = now_ms() * 1000000ULL;
		if (send_frame(&l, &pk, &f))
			goto out_close;
	}
	if (pk.hex_len && send_all(&l, pk.hex, pk.hex_len))
		goto out_close;
	if (pk.replay_stream && send_replay(&l, &pk))
		goto out_close;
	receive(&l, pk.wait_ms);
	link_close(&l);
	return 0;

out_close:
	/* a send the peer cut short, e.g. a TLS client certificate it refused */
	printf("closed\n");
	link_close(&l);
	return 1;
}
