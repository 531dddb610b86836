// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the mutual TLS 1.3 transport (user/lib/tls.c) and of the
 * site key and certificate helpers: two endpoints on 127.0.0.1 with a CA
 * and site certificates made at test time (lib/site_cert.c).
 *
 * Accepted: the right certificates both ways, frames flow, the identities
 * are the certificates' names. Refused, each with its reason: a client
 * certificate from another CA, a server presenting another site's
 * certificate (the dialer expects the site it dials), a certificate
 * without a DNS name, a self-signed one, an expired one, a client with no certificate, a TLS 1.2-only
 * client, a plain-TCP client; a client that never finishes its handshake
 * is closed after 5 s, and no more than 64 may be in their handshake at
 * once. Key files: group/other access and non-Ed25519
 * keys refused, naming the file. KeyUpdate: after rekey_bytes, in both
 * directions, while 8 MiB of frames keep flowing in order.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "georep/site_cert.h"
#include "georep/tls.h"
#include "georep/transport.h"
#include "ktap.h"

static char dir[] = "/tmp/georep-test-tls-XXXXXX";

struct endpoint {
	int opened, closed, frames;
	int last_err;
	char reason[512];
	uint64_t next_nonce;		/* pings arrive in order */
	bool out_of_order;
	struct gr_conn *conn;
};

static void ep_open(struct gr_conn *c, void *arg)
{
	struct endpoint *e = arg;

	e->opened++;
	e->conn = c;
}

static void ep_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
	struct endpoint *e = arg;

	e->frames++;
	if (f->hdr.type == GR_FT_PING) {
		if (f->ping.nonce != e->next_nonce)
			e->out_of_order = true;
		e->next_nonce++;
	}
}

static void ep_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	struct endpoint *e = arg;

	e->closed++;
	e->last_err = err;
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	if (e->conn == c)
		e->conn = NULL;
}

static const struct gr_conn_cbs ep_cbs = {
	.on_open = ep_open, .on_frame = ep_frame, .on_close = ep_close,
};

#define PUMP_UNTIL(loop, cond, ms) do {					\
	uint64_t __end = gr_now_ms() + (ms);				\
	while (!(cond) && gr_now_ms() < __end)				\
		gr_loop_run_once((loop), 10);				\
} while (0)

static void path_of(char *buf, size_t len, const char *name, const char *ext)
{
	snprintf(buf, len, "%s/%s.%s", dir, name, ext);
}

/* @name.key and @name.crt signed by CA @ca (its .key/.crt), valid @days */
static int make_site_days(const char *name, const char *cn, const char *san,
			  const char *ca, unsigned int days)
{
	char p[512], err[512];
	EVP_PKEY *key = gr_cert_keygen(), *cakey;
	X509 *cacert, *x = NULL;
	int ret = -1;

	path_of(p, sizeof(p), ca, "key");
	cakey = gr_private_key_load(p, err, sizeof(err));
	path_of(p, sizeof(p), ca, "crt");
	cacert = gr_cert_read(p, err, sizeof(err));
	if (key && cakey && cacert)
		x = gr_cert_make_site(key, cn, san, cacert, cakey, days);
	path_of(p, sizeof(p), name, "key");
	if (x && !gr_cert_write_key(p, key, err, sizeof(err))) {
		path_of(p, sizeof(p), name, "crt");
		ret = gr_cert_write_cert(p, x, err, sizeof(err));
	}
	X509_free(x);
	X509_free(cacert);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	return ret;
}

static int make_site(const char *name, const char *cn, const char *san, const char *ca)
{
	return make_site_days(name, cn, san, ca, 30);
}

static int make_ca(const char *name)
{
	EVP_PKEY *key = gr_cert_keygen();
	X509 *x = key ? gr_cert_make_ca(key, name, 30) : NULL;
	char p[512], err[512];
	int ret = -1;

	path_of(p, sizeof(p), name, "key");
	if (x && !gr_cert_write_key(p, key, err, sizeof(err))) {
		path_of(p, sizeof(p), name, "crt");
		ret = gr_cert_write_cert(p, x, err, sizeof(err));
	}
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

/* A transport with site @name's credentials, trusting CA @ca. */
static struct gr_transport *tp(const char *name, const char *ca, uint64_t rekey_bytes)
{
	char c[512], k[512], a[512], err[512];
	struct gr_tls_opts o = { .ca = a, .cert = c, .key = k, .rekey_bytes = rekey_bytes };
	struct gr_transport *t;

	path_of(a, sizeof(a), ca, "crt");
	path_of(c, sizeof(c), name, "crt");
	path_of(k, sizeof(k), name, "key");
	t = gr_transport_tls(&o, err, sizeof(err));
	if (!t)
		printf("    # transport %s: %s\n", name, err);
	return t;
}

struct pair {
	struct gr_loop *loop;
	struct gr_transport *st, *ct;
	struct gr_listener *l;
	struct gr_conn *c;
	struct endpoint srv, cli;
};

/*
 * Server with site @srv_site's credentials, client with @cli_site's
 * dialing the site @expect; pump until both ends opened or one closed.
 */
static int pair_start(struct pair *p, const char *srv_site, const char *cli_site,
		      const char *cli_ca, const char *expect, uint64_t rekey_bytes)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const char *why;

	memset(p, 0, sizeof(*p));
	if (gr_loop_new(&p->loop))
		return -1;
	p->st = tp(srv_site, "ca", rekey_bytes);
	p->ct = tp(cli_site, cli_ca, rekey_bytes);
	if (!p->st || !p->ct)
		return -1;
	p->l = gr_listener_new(p->loop, p->st, "127.0.0.1", 0, &ep_cbs, &p->srv, &why);
	if (!p->l)
		return -1;
	sin.sin_port = htons(gr_listener_port(p->l));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->c = gr_conn_connect(p->loop, p->ct, (struct sockaddr *)&sin, sizeof(sin),
			       &ep_cbs, &p->cli);
	if (!p->c || (expect && gr_conn_set_peer_name(p->c, expect)))
		return -1;
	PUMP_UNTIL(p->loop, (p->srv.opened && p->cli.opened) || p->srv.closed ||
		   p->cli.closed, 3000);
	return 0;
}

static void pair_stop(struct pair *p)
{
	if (p->cli.conn)
		gr_conn_close(p->cli.conn, 0, "test done");
	if (p->srv.conn)
		gr_conn_close(p->srv.conn, 0, "test done");
	if (p->loop)
		gr_loop_run_once(p->loop, 0);
	gr_listener_free(p->l);
	if (p->loop)
		gr_loop_free(p->loop);
	gr_transport_free(p->st);
	gr_transport_free(p->ct);
}

static void test_mutual_ok(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_PING };
	struct gr_session_stats st;
	struct pair p;
	int i;

	CHECK(pair_start(&p, "bravo", "alpha", "ca", "bravo", 0) == 0);
	CHECK_MSG(p.srv.opened == 1 && p.cli.opened == 1, "srv %d cli %d: %s / %s",
		  p.srv.opened, p.cli.opened, p.srv.reason, p.cli.reason);
	if (p.srv.conn && p.cli.conn) {
		CHECK(!strcmp(gr_conn_peer_identity(p.srv.conn), "alpha"));
		CHECK(!strcmp(gr_conn_peer_identity(p.cli.conn), "bravo"));
		CHECK(gr_conn_session_stats(p.cli.conn, &st) && !strcmp(st.version, "TLSv1.3"));
		/* the suite is the faster one measured here (lib/tls_suites.c) */
		CHECK_MSG(st.cipher && !strncmp(gr_tls_suites(NULL, 0), st.cipher, strlen(st.cipher)) &&
			  gr_tls_suites(NULL, 0)[strlen(st.cipher)] == ':',
			  "negotiated %s, preferred %s", st.cipher, gr_tls_suites(NULL, 0));
		for (i = 0; i < 50; i++) {
			f.ping.nonce = i;
			CHECK(gr_conn_send(p.cli.conn, &f) == 0);
			CHECK(gr_conn_send(p.srv.conn, &f) == 0);
		}
		PUMP_UNTIL(p.loop, p.srv.frames == 50 && p.cli.frames == 50, 3000);
		CHECK(p.srv.frames == 50 && p.cli.frames == 50);
		CHECK(!p.srv.out_of_order && !p.cli.out_of_order);
	}
	pair_stop(&p);
}

/* the server refuses with @srv_reason; the client closes too */
static void expect_refused(struct pair *p, const char *srv_reason, const char *cli_reason)
{
	PUMP_UNTIL(p->loop, p->srv.closed && p->cli.closed, 3000);
	CHECK(p->srv.opened == 0);
	if (srv_reason)
		CHECK_MSG(p->srv.closed == 1 && strstr(p->srv.reason, srv_reason),
			  "server: closed %d, \"%s\", wanted \"%s\"", p->srv.closed,
			  p->srv.reason, srv_reason);
	if (cli_reason)
		CHECK_MSG(p->cli.closed == 1 && strstr(p->cli.reason, cli_reason),
			  "client: closed %d, \"%s\", wanted \"%s\"", p->cli.closed,
			  p->cli.reason, cli_reason);
	printf("    # server: %s\n    # client: %s\n", p->srv.reason, p->cli.reason);
}

static void test_other_ca(void)
{
	struct pair p;

	/* alpha2: "alpha" certified by another CA */
	CHECK(pair_start(&p, "bravo", "alpha2", "ca", "bravo", 0) == 0);
	expect_refused(&p, "bad certificate chain: unable to get local issuer certificate",
		       "refused by the peer");
	pair_stop(&p);
}

static void test_wrong_name(void)
{
	struct pair p;

	/* the server presents alpha's certificate; the client dialed bravo */
	CHECK(pair_start(&p, "alpha", "charlie", "ca", "bravo", 0) == 0);
	expect_refused(&p, "refused by the peer",
		       "wrong name: dialed site \"bravo\" but its certificate is for \"alpha\"");
	pair_stop(&p);
}

static void test_self_signed(void)
{
	struct pair p;

	/* "selfsigned": a CA-like certificate of its own, no SAN */
	CHECK(pair_start(&p, "bravo", "selfsigned", "ca", "bravo", 0) == 0);
	expect_refused(&p, "bad certificate chain: self-signed certificate",
		       "refused by the peer");
	pair_stop(&p);
}

static void test_expired(void)
{
	struct pair p;

	/* "expired": by the right CA, valid until the moment it was made */
	sleep(1);
	CHECK(pair_start(&p, "bravo", "expired", "ca", "bravo", 0) == 0);
	expect_refused(&p, "bad certificate chain: certificate has expired",
		       "refused by the peer");
	pair_stop(&p);
}

static void test_no_san(void)
{
	struct pair p;

	CHECK(pair_start(&p, "bravo", "nosan", "ca", "bravo", 0) == 0);
	expect_refused(&p, "wrong name: the certificate must name exactly one site",
		       "refused by the peer");
	pair_stop(&p);
}

/*
 * A raw OpenSSL client in a child process: TLS versions @min..@max, with
 * site @cert's credentials unless NULL, or plain bytes when @plain.
 */
static pid_t raw_client(uint16_t port, int min, int max, const char *cert, bool plain)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	char p[512];
	SSL_CTX *ctx;
	SSL *ssl;
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		_exit(2);
	if (plain) {
		static const char junk[64] = "GRW1 a plain-TCP georep hello, not a ClientHello";

		if (write(fd, junk, sizeof(junk)) < 0)
			_exit(2);
		while (read(fd, p, sizeof(p)) > 0)
			;
		_exit(0);
	}
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, min);
	SSL_CTX_set_max_proto_version(ctx, max);
	if (cert) {
		path_of(p, sizeof(p), cert, "crt");
		SSL_CTX_use_certificate_file(ctx, p, SSL_FILETYPE_PEM);
		path_of(p, sizeof(p), cert, "key");
		SSL_CTX_use_PrivateKey_file(ctx, p, SSL_FILETYPE_PEM);
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) == 1)
		SSL_read(ssl, p, sizeof(p));	/* the alert, in TLS 1.3 */
	_exit(0);
}

static void raw_case(int min, int max, const char *cert, bool plain, const char *reason)
{
	struct endpoint srv = { 0 };
	struct gr_transport *st = tp("bravo", "ca", 0);
	struct gr_listener *l;
	struct gr_loop *loop;
	const char *why;
	pid_t pid;
	int status;

	CHECK(st && gr_loop_new(&loop) == 0);
	if (!st)
		return;
	l = gr_listener_new(loop, st, "127.0.0.1", 0, &ep_cbs, &srv, &why);
	CHECK(l != NULL);
	pid = raw_client(gr_listener_port(l), min, max, cert, plain);
	CHECK(pid > 0);
	PUMP_UNTIL(loop, srv.closed, 3000);
	CHECK(srv.opened == 0);
	CHECK_MSG(srv.closed == 1 && strstr(srv.reason, reason),
		  "closed %d: \"%s\", wanted \"%s\"", srv.closed, srv.reason, reason);
	printf("    # server: %s\n", srv.reason);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status));
	gr_listener_free(l);
	gr_loop_free(loop);
	gr_transport_free(st);
}

static void test_no_client_cert(void)
{
	raw_case(TLS1_3_VERSION, TLS1_3_VERSION, NULL, false,
		 "no certificate: the peer presented none");
}

static void test_tls12_client(void)
{
	raw_case(TLS1_2_VERSION, TLS1_2_VERSION, "alpha", false, "TLS version");
}

static void test_plain_tcp_client(void)
{
	raw_case(0, 0, NULL, true, "not TLS");
}

/*
 * Clients that connect and say nothing are closed after 5 s; beyond
 * GR_MAX_HANDSHAKING of them at once, a new one is closed at once.
 */
static void test_stalled_handshake(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct endpoint srv = { 0 };
	struct gr_transport *st = tp("bravo", "ca", 0);
	int fds[GR_MAX_HANDSHAKING + 1], i, n = GR_MAX_HANDSHAKING + 1;
	struct gr_listener *l;
	struct gr_loop *loop;
	const char *why;
	uint64_t t0;

	CHECK(st && gr_loop_new(&loop) == 0);
	if (!st)
		return;
	l = gr_listener_new(loop, st, "127.0.0.1", 0, &ep_cbs, &srv, &why);
	sin.sin_port = htons(gr_listener_port(l));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t0 = gr_now_ms();
	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(fds[i] >= 0 && !connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)));
		PUMP_UNTIL(loop, st->handshaking == (unsigned int)i + 1 || srv.closed, 1000);
	}
	CHECK_MSG(srv.closed == 1 && strstr(srv.reason, "64 connections already in theirs"),
		  "closed %d: %s", srv.closed, srv.reason);
	CHECK(st->handshaking == GR_MAX_HANDSHAKING);
	printf("    # server: %s\n", srv.reason);
	PUMP_UNTIL(loop, srv.closed == n, 8000);
	CHECK_MSG(srv.closed == n && strstr(srv.reason, "handshake: not done within 5000 ms"),
		  "closed %d: %s", srv.closed, srv.reason);
	CHECK(gr_now_ms() - t0 >= 4900 && gr_now_ms() - t0 < 8000);
	CHECK(st->handshaking == 0);
	printf("    # server: %s\n", srv.reason);
	for (i = 0; i < n; i++)
		close(fds[i]);
	gr_listener_free(l);
	gr_loop_free(loop);
	gr_transport_free(st);
}

static void test_key_file_checks(void)
{
	char k[512], c[512], a[512], err[512], rsa[512];
	struct gr_tls_opts o = { .ca = a, .cert = c, .key = k };
	EVP_PKEY *key;
	FILE *f;

	path_of(a, sizeof(a), "ca", "crt");
	path_of(c, sizeof(c), "alpha", "crt");
	path_of(k, sizeof(k), "alpha", "key");
	key = gr_site_key_load(k, err, sizeof(err));
	CHECK_MSG(key != NULL, "%s", err);
	EVP_PKEY_free(key);

	CHECK(chmod(k, 0640) == 0);
	CHECK(gr_site_key_load(k, err, sizeof(err)) == NULL);
	CHECK_MSG(strstr(err, k) && strstr(err, "mode 0640") && strstr(err, "chmod 600"),
		  "%s", err);
	CHECK(gr_transport_tls(&o, err, sizeof(err)) == NULL);
	CHECK_MSG(strstr(err, k) && strstr(err, "group or others"), "%s", err);
	printf("    # %s\n", err);
	CHECK(chmod(k, 0604) == 0);
	CHECK(gr_site_key_load(k, err, sizeof(err)) == NULL && strstr(err, "mode 0604"));
	CHECK(chmod(k, 0600) == 0);

	/* an EC key: site keys are Ed25519 */
	snprintf(rsa, sizeof(rsa), "%s/ec.key", dir);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CHECK(key && !gr_cert_write_key(rsa, key, err, sizeof(err)));
	EVP_PKEY_free(key);
	CHECK(gr_site_key_load(rsa, err, sizeof(err)) == NULL);
	CHECK_MSG(strstr(err, rsa) && strstr(err, "must be Ed25519"), "%s", err);

	/* not a key at all */
	snprintf(rsa, sizeof(rsa), "%s/junk.key", dir);
	f = fopen(rsa, "w");
	CHECK(f && fputs("not a key\n", f) >= 0);
	if (f)
		fclose(f);
	CHECK(chmod(rsa, 0600) == 0);
	CHECK(gr_site_key_load(rsa, err, sizeof(err)) == NULL && strstr(err, "no PEM private key"));

	/* a key that is not the certificate's */
	path_of(k, sizeof(k), "bravo", "key");
	CHECK(gr_transport_tls(&o, err, sizeof(err)) == NULL);
	CHECK_MSG(strstr(err, "does not match certificate"), "%s", err);
	/* a missing CA file */
	snprintf(a, sizeof(a), "%s/none.crt", dir);
	path_of(k, sizeof(k), "alpha", "key");
	CHECK(gr_transport_tls(&o, err, sizeof(err)) == NULL && strstr(err, "CA file"));
}

static void test_key_update(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_PING };
	struct gr_session_stats cs, ss;
	struct pair p;
	int i, n = 0;

	/* rekey every 64 KiB; 8 MiB of pings from the client, a few back */
	CHECK(pair_start(&p, "bravo", "alpha", "ca", "bravo", 65536) == 0);
	CHECK(p.srv.opened == 1 && p.cli.opened == 1);
	for (i = 0; p.cli.conn && p.srv.conn && gr_conn_bytes_out(p.cli.conn) < (8 << 20); i++) {
		int j;

		for (j = 0; j < 1000 && p.cli.conn; j++) {
			f.ping.nonce = n++;
			CHECK(gr_conn_send(p.cli.conn, &f) == 0);
		}
		PUMP_UNTIL(p.loop, !p.cli.conn || gr_conn_queued(p.cli.conn) == 0, 3000);
		if (i % 50 == 0 && p.srv.conn) {
			f.ping.nonce = i / 50;
			CHECK(gr_conn_send(p.srv.conn, &f) == 0);
		}
	}
	PUMP_UNTIL(p.loop, p.srv.frames == n, 3000);
	CHECK_MSG(p.srv.frames == n && !p.srv.out_of_order, "%d of %d frames", p.srv.frames, n);
	CHECK(p.cli.conn && p.srv.conn);
	if (p.cli.conn && p.srv.conn) {
		gr_conn_session_stats(p.cli.conn, &cs);
		gr_conn_session_stats(p.srv.conn, &ss);
		printf("    # %llu bytes; client sent %llu KeyUpdates, received %llu; server sent %llu, received %llu\n",
		       (unsigned long long)gr_conn_bytes_out(p.cli.conn),
		       (unsigned long long)cs.key_updates_sent,
		       (unsigned long long)cs.key_updates_received,
		       (unsigned long long)ss.key_updates_sent,
		       (unsigned long long)ss.key_updates_received);
		/* about one per 64 KiB, all received; the server answers them */
		CHECK(cs.key_updates_sent >= gr_conn_bytes_out(p.cli.conn) / 65536 / 2);
		CHECK(ss.key_updates_received == cs.key_updates_sent);
		CHECK(ss.key_updates_sent >= ss.key_updates_received / 2);
		CHECK(cs.key_updates_received >= 1 &&
		      cs.key_updates_received <= ss.key_updates_sent);
	}
	/* traffic continues after the last update, both ways */
	if (p.cli.conn && p.srv.conn) {
		int before = p.cli.frames;

		f.ping.nonce = p.cli.next_nonce;
		CHECK(gr_conn_send(p.srv.conn, &f) == 0);
		PUMP_UNTIL(p.loop, p.cli.frames == before + 1, 3000);
		CHECK(p.cli.frames == before + 1 && !p.cli.out_of_order);
	}
	pair_stop(&p);
}

static int setup_certs(void)
{
	if (!mkdtemp(dir))
		return -1;
	if (make_ca("ca") || make_ca("ca2"))
		return -1;
	if (make_site("alpha", "alpha", "alpha", "ca") ||
	    make_site("bravo", "bravo", "bravo", "ca") ||
	    make_site("charlie", "charlie", "charlie", "ca") ||
	    make_site("alpha2", "alpha", "alpha", "ca2") ||
	    make_site("nosan", "bravo", NULL, "ca") ||
	    make_site_days("expired", "alpha", "alpha", "ca", 0) ||
	    make_ca("selfsigned"))
		return -1;
	return 0;
}

static const struct ktap_case cases[] = {
	{ "tls_mutual_ok", test_mutual_ok },
	{ "tls_refuses_other_ca", test_other_ca },
	{ "tls_refuses_wrong_name", test_wrong_name },
	{ "tls_refuses_cert_without_name", test_no_san },
	{ "tls_refuses_self_signed", test_self_signed },
	{ "tls_refuses_expired", test_expired },
	{ "tls_refuses_no_client_cert", test_no_client_cert },
	{ "tls_refuses_tls12_client", test_tls12_client },
	{ "tls_refuses_plain_tcp", test_plain_tcp_client },
	{ "tls_closes_stalled_handshake", test_stalled_handshake },
	{ "tls_key_file_checks", test_key_file_checks },
	{ "tls_key_update", test_key_update },
};

static void remove_dir(void)
{
	struct dirent *de;
	char p[600];
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int main(void)
{
	int ret;

	signal(SIGPIPE, SIG_IGN);
	if (setup_certs()) {
		printf("KTAP version 1\n1..0 # SKIP cannot make test certificates in %s\n", dir);
		return 1;
	}
	ret = ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
	remove_dir();
	return ret;
}
