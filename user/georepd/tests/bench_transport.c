// SPDX-License-Identifier: GPL-2.0
/*
 * Transport cost: 256 MiB of 1 MiB RECORDS frames from a dialer to a
 * listener on 127.0.0.1, both in this one thread (so the figure is CPU per
 * byte, sender and receiver together), over plain TCP and over mutual TLS
 * 1.3 with the default KeyUpdate schedule and with a KeyUpdate every
 * 4 MiB; plain TCP and TLS again at protocol version 2, where each frame
 * goes in pieces of GR_PART_SIZE (PART frames). Certificates are made at start in a
 * temporary directory.
 *
 *   bench_transport [MiB]
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <endian.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "georep/site_cert.h"
#include "georep/tls.h"
#include "georep/transport.h"
#include "georep/wire.h"

static char dir[] = "/tmp/georep-bench-tls-XXXXXX";

struct sink {
	uint64_t bytes;
	struct gr_conn *conn;
	int closed;
};

static void s_open(struct gr_conn *c, void *arg)
{
	((struct sink *)arg)->conn = c;
}

static void s_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
	((struct sink *)arg)->bytes += f->records.len;
}

static void s_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	struct sink *s = arg;

	s->closed++;
	s->conn = NULL;
	if (err)
		fprintf(stderr, "closed: %s\n", reason);
}

static const struct gr_conn_cbs cbs = { .on_open = s_open, .on_frame = s_frame,
					 .on_close = s_close };

static int pki(void)
{
	char p[600], err[600];
	EVP_PKEY *ck = gr_cert_keygen(), *k;
	X509 *ca = ck ? gr_cert_make_ca(ck, "bench CA", 1) : NULL, *x;
	const char *names[] = { "a", "b" };
	int i, ret = ca ? 0 : -1;

	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	if (!ret)
		ret = gr_cert_write_cert(p, ca, err, sizeof(err));
	for (i = 0; i < 2 && !ret; i++) {
		k = gr_cert_keygen();
		x = k ? gr_cert_make_site(k, names[i], names[i], ca, ck, 1) : NULL;
		snprintf(p, sizeof(p), "%s/%s.key", dir, names[i]);
		ret = x ? gr_cert_write_key(p, k, err, sizeof(err)) : -1;
		snprintf(p, sizeof(p), "%s/%s.crt", dir, names[i]);
		if (!ret)
			ret = gr_cert_write_cert(p, x, err, sizeof(err));
		X509_free(x);
		EVP_PKEY_free(k);
	}
	X509_free(ca);
	EVP_PKEY_free(ck);
	return ret;
}

static struct gr_transport *tls(const char *name, uint64_t rekey)
{
	char c[600], k[600], a[600], err[600];
	struct gr_tls_opts o = { .ca = a, .cert = c, .key = k, .rekey_bytes = rekey };

	snprintf(a, sizeof(a), "%s/ca.crt", dir);
	snprintf(c, sizeof(c), "%s/%s.crt", dir, name);
	snprintf(k, sizeof(k), "%s/%s.key", dir, name);
	return gr_transport_tls(&o, err, sizeof(err));
}

/* Send @mib MiB through @st/@ct at protocol @version; return MiB/s, or -1. */
static double run(struct gr_transport *st, struct gr_transport *ct, unsigned int mib,
		  uint16_t version, uint64_t *ku)
{
	static uint8_t payload[1 << 20];
	struct gr_frame f = { .hdr.type = GR_FT_RECORDS, .hdr.volume = 1 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sink srv = { 0 }, cli = { 0 };
	struct gr_session_stats ss;
	struct gr_listener *l;
	struct gr_loop *loop;
	uint64_t t0, end, sent = 0;
	const char *why;
	double rate = -1;

	if (gr_loop_new(&loop))
		return -1;
	l = gr_listener_new(loop, st, "127.0.0.1", 0, &cbs, &srv, &why);
	sin.sin_port = htons(gr_listener_port(l));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	gr_conn_connect(loop, ct, (struct sockaddr *)&sin, sizeof(sin), &cbs, &cli);
	end = gr_now_ms() + 3000;
	while ((!srv.conn || !cli.conn) && gr_now_ms() < end && !cli.closed)
		gr_loop_run_once(loop, 10);
	if (!srv.conn || !cli.conn)
		goto out;
	gr_conn_set_version(cli.conn, version);
	gr_conn_set_version(srv.conn, version);
	/* one record of 1 MiB - 4 KiB of payload per frame */
	f.records.first_seq = 1;
	f.records.count = 1;
	f.records.data = payload;
	f.records.len = GEOREP_RECORD_HDR_SIZE + sizeof(payload) - GEOREP_BLOCK_SIZE;
	memset(payload, 0xab, sizeof(payload));
	{
		uint32_t plen = sizeof(payload) - GEOREP_BLOCK_SIZE;
		struct georep_record r = {
			.magic = htole32(GEOREP_RECORD_MAGIC),
			.version = htole16(GEOREP_RECORD_VERSION),
			.op = htole16(GEOREP_OP_WRITE),
			.seq = htole64(1),
			.len = htole32(plen),
			.payload_len = htole32(plen),
		};

		memcpy(payload, &r, sizeof(r));
	}
	t0 = gr_now_ns();
	while (srv.bytes < (uint64_t)mib * f.records.len && cli.conn) {
		while (cli.conn && sent < mib && gr_conn_queued(cli.conn) < (8 << 20)) {
			if (gr_conn_send(cli.conn, &f))
				goto out;
			sent++;
		}
		gr_loop_run_once(loop, 10);
	}
	if (srv.bytes >= (uint64_t)mib * f.records.len)
		rate = srv.bytes / 1048576.0 / ((gr_now_ns() - t0) / 1e9);
	*ku = gr_conn_session_stats(cli.conn, &ss) ? ss.key_updates_sent : 0;
out:
	if (cli.conn)
		gr_conn_close(cli.conn, 0, "done");
	if (srv.conn)
		gr_conn_close(srv.conn, 0, "done");
	gr_loop_run_once(loop, 0);
	gr_listener_free(l);
	gr_loop_free(loop);
	return rate;
}

int main(int argc, char *argv[])
{
	unsigned int mib = argc > 1 ? atoi(argv[1]) : 256;
	struct gr_transport *tcp = gr_transport_tcp();
	struct gr_transport *a, *b, *a4, *b4;
	double r_tcp, r_tls, r_tls4, r_tcp2, r_tls2;
	uint64_t ku = 0, ku4 = 0, none;
	struct dirent *de;
	char p[600];
	DIR *d;

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir) || pki()) {
		fprintf(stderr, "bench_transport: cannot make certificates\n");
		return 1;
	}
	a = tls("a", 0);
	b = tls("b", 0);
	a4 = tls("a", 4 << 20);
	b4 = tls("b", 4 << 20);
	if (!tcp || !a || !b || !a4 || !b4)
		return 1;
	r_tcp = run(tcp, tcp, mib, 1, &none);
	r_tls = run(a, b, mib, 1, &ku);
	r_tls4 = run(a4, b4, mib, 1, &ku4);
	r_tcp2 = run(tcp, tcp, mib, GR_WIRE_VERSION_PART, &none);
	r_tls2 = run(a, b, mib, GR_WIRE_VERSION_PART, &none);
	printf("transport over 127.0.0.1, one thread sending and receiving %u MiB in 1 MiB frames\n",
	       mib);
	printf("  plain TCP                        %8.0f MiB/s\n", r_tcp);
	printf("  TLS 1.3 (%s), default rekey   %8.0f MiB/s  (%.0f%% of TCP, %llu KeyUpdates)\n",
	       "AES-GCM", r_tls, r_tcp > 0 ? 100 * r_tls / r_tcp : 0, (unsigned long long)ku);
	printf("  TLS 1.3, KeyUpdate every 4 MiB   %8.0f MiB/s  (%.0f%% of TCP, %llu KeyUpdates)\n",
	       r_tls4, r_tcp > 0 ? 100 * r_tls4 / r_tcp : 0, (unsigned long long)ku4);
	printf("  plain TCP, %u KiB pieces (v2)    %8.0f MiB/s  (%.0f%% of whole frames)\n",
	       GR_PART_SIZE >> 10, r_tcp2, r_tcp > 0 ? 100 * r_tcp2 / r_tcp : 0);
	printf("  TLS 1.3, %u KiB pieces (v2)      %8.0f MiB/s  (%.0f%% of whole frames)\n",
	       GR_PART_SIZE >> 10, r_tls2, r_tls > 0 ? 100 * r_tls2 / r_tls : 0);
	gr_transport_free(tcp);
	gr_transport_free(a);
	gr_transport_free(b);
	gr_transport_free(a4);
	gr_transport_free(b4);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	return r_tcp > 0 && r_tls > 0 && r_tls4 > 0 ? 0 : 1;
}
