// SPDX-License-Identifier: GPL-2.0
/*
 * georep-mitm: a man in the middle for tests. It relays every TCP
 * connection accepted at LISTEN to TARGET, both ways, until it is killed;
 * in the first --flips connections (default 1), once a connection is
 * --after ms old (default 2000: past a TLS handshake), it flips the lowest
 * bit of one byte that the client sends (the middle byte of the next chunk
 * read) and relays everything else as it came.
 *
 *   georep-mitm [--after MS] [--flips N] LISTEN_HOST:PORT TARGET_HOST:PORT
 *
 * One line per event on stdout, flushed: "accepted N from ADDR", "flipped
 * byte B of connection N (client to server)", "closed N (X bytes to the
 * server, Y back)". Writes block: both ends must keep reading, which a
 * georepd does. For tests only (selftests/sites/62-tls-trust.sh).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "georep/config.h"
#include "georep/fdio.h"
#include "georep/transport.h"

#define PROG		"georep-mitm"
#define MAX_PAIRS	64
#define CHUNK		(64 << 10)

struct pair {
	int fd[2];		/* 0: the client, 1: the target */
	uint64_t bytes[2];	/* read from each side */
	int64_t t0_ms;
	unsigned int id;
	bool flip;		/* a byte still to flip in this one */
};

static struct pair pairs[MAX_PAIRS];
static unsigned int n_pairs, n_accepted;
static long after_ms = 2000, flips = 1;

static const char usage[] =
	"usage: " PROG " [--after MS] [--flips N] LISTEN_HOST:PORT TARGET_HOST:PORT\n"
	"\n"
	"Relays every connection accepted at LISTEN to TARGET until killed. In\n"
	"the first N connections (default 1), once one is MS ms old (default\n"
	"2000), flips one bit of one byte the client sends. For tests only.\n";

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int resolve(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[GR_HOST_MAX];
	const char *why = NULL;
	uint16_t port;

	if (gr_parse_address(arg, host, sizeof(host), &port, &why) ||
	    gr_resolve(host, port, ss, len, &why)) {
		fprintf(stderr, PROG ": %s: %s\n", arg, why ? why : "bad address");
		return -1;
	}
	return 0;
}

static int listen_on(const char *arg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (resolve(arg, &ss, &len))
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16)) {
		fprintf(stderr, PROG ": listen on %s: %s\n", arg, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void accept_one(int lfd, const struct sockaddr_storage *target, socklen_t tlen)
{
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	struct pair *p;
	char addr[64];
	int c, u;

	c = accept4(lfd, (struct sockaddr *)&from, &flen, SOCK_CLOEXEC);
	if (c < 0)
		return;
	u = socket(target->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (n_pairs == MAX_PAIRS || u < 0 ||
	    connect(u, (const struct sockaddr *)target, tlen)) {
		printf("refused a connection: %s\n",
		       n_pairs == MAX_PAIRS ? "too many" : strerror(errno));
		close(c);
		if (u >= 0)
			close(u);
		return;
	}
	p = &pairs[n_pairs++];
	memset(p, 0, sizeof(*p));
	p->fd[0] = c;
	p->fd[1] = u;
	p->t0_ms = now_ms();
	p->id = ++n_accepted;
	p->flip = p->id <= flips;
	gr_addr_str((struct sockaddr *)&from, addr, sizeof(addr));
	printf("accepted %u from %s\n", p->id, addr);
}

static void close_pair(unsigned int i)
{
	struct pair *p = &pairs[i];

	printf("closed %u (%llu bytes to the server, %llu back)\n", p->id,
	       (unsigned long long)p->bytes[0], (unsigned long long)p->bytes[1]);
	close(p->fd[0]);
	close(p->fd[1]);
	pairs[i] = pairs[--n_pairs];
}

/* relay what side @from of pair @i has; 0, or -1 when the pair is done */
static int relay(unsigned int i, int from)
{
	static unsigned char buf[CHUNK];
	struct pair *p = &pairs[i];
	ssize_t n;

	n = read(p->fd[from], buf, sizeof(buf));
	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0)
		return -1;
	if (from == 0 && p->flip && n > 8 && now_ms() - p->t0_ms >= after_ms) {
		buf[n / 2] ^= 0x01;
		p->flip = false;
		printf("flipped byte %llu of connection %u (client to server)\n",
		       (unsigned long long)(p->bytes[0] + n / 2), p->id);
	}
	p->bytes[from] += n;
	return gr_write_all(p->fd[!from], buf, n);
}

static void serve(int lfd, const struct sockaddr_storage *target, socklen_t tlen)
{
	struct pollfd pfd[1 + 2 * MAX_PAIRS];
	unsigned int i, n;
	int s;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (i = 0; i < n_pairs; i++)
			for (s = 0; s < 2; s++)
				pfd[1 + 2 * i + s] = (struct pollfd){
					.fd = pairs[i].fd[s], .events = POLLIN };
		n = n_pairs;
		fflush(stdout);
		if (poll(pfd, 1 + 2 * n, -1) < 0 && errno != EINTR)
			return;
		/* from the last pair down: close_pair() moves the last one */
		for (i = n; i-- > 0;)
			for (s = 0; s < 2; s++)
				if (pfd[1 + 2 * i + s].revents && relay(i, s)) {
					close_pair(i);
					break;
				}
		if (pfd[0].revents & POLLIN)
			accept_one(lfd, target, tlen);
	}
}

/* a count of 0 or more for --@opt, or -1 with the reason printed */
static int parse_count(const char *opt, const char *arg, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || end == arg || v < 0) {
		fprintf(stderr, PROG ": --%s: not a count: \"%s\"\n", opt, arg);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "after", required_argument, NULL, 'a' },
		{ "flips", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct sockaddr_storage target;
	socklen_t tlen;
	int c, lfd;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (parse_count("after", optarg, &after_ms))
				return 2;
			break;
		case 'f':
			if (parse_count("flips", optarg, &flips))
				return 2;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (resolve(argv[optind + 1], &target, &tlen))
		return 1;
	lfd = listen_on(argv[optind]);
	if (lfd < 0)
		return 1;
	serve(lfd, &target, tlen);
	fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
	return 1;
}
