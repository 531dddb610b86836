// SPDX-License-Identifier: GPL-2.0
/*
 * Mutual TLS 1.3 transport (see georep/tls.h).
 *
 * Sessions run on non-blocking sockets: SSL_ERROR_WANT_READ/WANT_WRITE of
 * the handshake become the events to wait for; after the handshake a read
 * that must write (KeyUpdate answer) or a write that must read is reported
 * through the want() op, so the connection retries on either event.
 * A write that returned WANT_* is retried by transport.c with the same
 * bytes at the head of its queue (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "georep/evloop.h"
#include "georep/tls.h"

struct tls_ctx {
	SSL_CTX *ctx;
	uint64_t rekey_bytes;
	uint64_t rekey_ns;
};

struct tls_sess {
	SSL *ssl;
	struct tls_ctx *tc;
	bool read_wants_write;		/* last SSL_read: WANT_WRITE */
	bool write_wants_read;		/* last SSL_write: WANT_READ */
	bool write_retry;		/* an SSL_write is to be retried */
	uint64_t sent_since_rekey;
	uint64_t rekey_at_ns;		/* next time-based KeyUpdate */
	uint64_t ku_sent, ku_received;
	uint64_t rx_bytes;		/* application data received */
	char expect[GR_PEER_NAME_MAX];	/* name the peer must prove, or "" */
	char peer[GR_PEER_NAME_MAX];	/* name it proved */
	char err[256];
};

/* Count KeyUpdate handshake messages in both directions. */
static void msg_cb(int write_p, int version, int content_type, const void *buf,
		   size_t len, SSL *ssl, void *arg)
{
	struct tls_sess *s = SSL_get_app_data(ssl);
	const unsigned char *p = buf;

	if (!s || content_type != SSL3_RT_HANDSHAKE || len < 1 || p[0] != SSL3_MT_KEY_UPDATE)
		return;
	if (write_p)
		s->ku_sent++;
	else
		s->ku_received++;
}

static bool is_alert(int reason)
{
	return (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256);
}

/* Describe the failure in the error queue (and verify result) in s->err. */
static const char *set_reason(struct tls_sess *s, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	int reason = ERR_GET_REASON(e);
	const char *rs = ERR_reason_error_string(e);
	long vr = SSL_get_verify_result(s->ssl);

	if (!rs)
		rs = "unknown error";
	if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_CERTIFICATE_VERIFY_FAILED &&
	    vr == X509_V_ERR_HOSTNAME_MISMATCH && s->err[0])
		;	/* verify_cb said why */
	else if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_CERTIFICATE_VERIFY_FAILED)
		snprintf(s->err, sizeof(s->err), "bad certificate chain: %s",
			 X509_verify_cert_error_string(vr));
	else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		 reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		snprintf(s->err, sizeof(s->err), "no certificate: the peer presented none");
	else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		 (reason == SSL_R_UNSUPPORTED_PROTOCOL ||
		  reason == SSL_R_NO_PROTOCOLS_AVAILABLE ||
		  reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION))
		snprintf(s->err, sizeof(s->err), "TLS version: %s (only TLS 1.3 is accepted)", rs);
	else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		 (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
		  reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
		  reason == SSL_R_RECORD_LENGTH_MISMATCH) &&
		 !SSL_is_init_finished(s->ssl))
		snprintf(s->err, sizeof(s->err), "not TLS: %s (a plain-TCP peer?)", rs);
	else if (ERR_GET_LIB(e) == ERR_LIB_SSL && is_alert(reason) && !s->rx_bytes)
		/* TLS 1.3: a client learns that its certificate was refused here */
		snprintf(s->err, sizeof(s->err), "refused by the peer: %s", rs);
	else if (ERR_GET_LIB(e) == ERR_LIB_SSL && is_alert(reason))
		snprintf(s->err, sizeof(s->err), "the peer sent an alert: %s", rs);
	else
		snprintf(s->err, sizeof(s->err), "TLS error during %s: %s", what, rs);
	ERR_clear_error();
	return s->err;
}

/* The one DNS name of @cert into @out; false with s->err set otherwise. */
static bool cert_site_name(struct tls_sess *s, X509 *cert, char *out, size_t len)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	const unsigned char *v = NULL;
	int i, n = 0, vlen = 0;

	for (i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

		if (g->type != GEN_DNS)
			continue;
		n++;
		v = ASN1_STRING_get0_data(g->d.dNSName);
		vlen = ASN1_STRING_length(g->d.dNSName);
	}
	if (n != 1) {
		snprintf(s->err, sizeof(s->err),
			 "wrong name: the certificate must name exactly one site as subjectAltName DNS, it has %d",
			 n);
		GENERAL_NAMES_free(names);
		return false;
	}
	if (vlen <= 0 || (size_t)vlen >= len || memchr(v, '\0', vlen)) {
		snprintf(s->err, sizeof(s->err), "wrong name: the certificate's DNS name is not a site name");
		GENERAL_NAMES_free(names);
		return false;
	}
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	GENERAL_NAMES_free(names);
	return true;
}

/*
 * The chain checked by OpenSSL, the leaf (depth 0) comes last: it must
 * name one site, and the one dialed when we dialed. A refusal here fails
 * the handshake before it completes, so the peer gets an alert.
 */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_sess *s = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *cert = X509_STORE_CTX_get_current_cert(xs);

	if (!ok || !s || X509_STORE_CTX_get_error_depth(xs) != 0 || !cert)
		return ok;
	if (!cert_site_name(s, cert, s->peer, sizeof(s->peer)))
		goto refuse;
	if (s->expect[0] && strcmp(s->expect, s->peer)) {
		snprintf(s->err, sizeof(s->err),
			 "wrong name: dialed site \"%s\" but its certificate is for \"%s\"",
			 s->expect, s->peer);
		goto refuse;
	}
	return 1;
refuse:
	s->peer[0] = '\0';
	X509_STORE_CTX_set_error(xs, X509_V_ERR_HOSTNAME_MISMATCH);
	return 0;
}

/* After the handshake: who is it, and is it whom we expected? */
static int check_peer(struct tls_sess *s, const char **why)
{
	X509 *cert = SSL_get0_peer_certificate(s->ssl);

	if (!cert) {
		snprintf(s->err, sizeof(s->err), "no certificate: the peer presented none");
		goto fail;
	}
	if (SSL_get_verify_result(s->ssl) != X509_V_OK) {
		snprintf(s->err, sizeof(s->err), "bad certificate chain: %s",
			 X509_verify_cert_error_string(SSL_get_verify_result(s->ssl)));
		goto fail;
	}
	if (SSL_version(s->ssl) != TLS1_3_VERSION) {
		snprintf(s->err, sizeof(s->err), "TLS version: %s (only TLS 1.3 is accepted)",
			 SSL_get_version(s->ssl));
		goto fail;
	}
	/* verify_cb checked the name; the same checks once more, cheaply */
	if (!cert_site_name(s, cert, s->peer, sizeof(s->peer)))
		goto fail;
	if (s->expect[0] && strcmp(s->expect, s->peer)) {
		snprintf(s->err, sizeof(s->err),
			 "wrong name: dialed site \"%s\" but its certificate is for \"%s\"",
			 s->expect, s->peer);
		goto fail;
	}
	return 0;
fail:
	s->peer[0] = '\0';
	*why = s->err;
	return -EACCES;
}

static int tls_session_new(struct gr_transport *t, int fd, bool server, void **sess)
{
	struct tls_ctx *tc = t->priv;
	struct tls_sess *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->tc = tc;
	s->ssl = SSL_new(tc->ctx);
	if (!s->ssl || !SSL_set_fd(s->ssl, fd)) {
		SSL_free(s->ssl);
		free(s);
		ERR_clear_error();
		return -ENOMEM;
	}
	SSL_set_app_data(s->ssl, s);
	if (server)
		SSL_set_accept_state(s->ssl);
	else
		SSL_set_connect_state(s->ssl);
	s->rekey_at_ns = gr_now_ns() + tc->rekey_ns;
	*sess = s;
	return 0;
}

static int tls_set_peer_name(void *sess, const char *name)
{
	struct tls_sess *s = sess;

	if (strlen(name) >= sizeof(s->expect))
		return -ENAMETOOLONG;
	strcpy(s->expect, name);
	return 0;
}

static int tls_handshake(void *sess, int fd, uint32_t *want, const char **why)
{
	struct tls_sess *s = sess;
	int ret, err;

	s->err[0] = '\0';
	ERR_clear_error();
	ret = SSL_do_handshake(s->ssl);
	if (ret == 1)
		return check_peer(s, why);
	err = SSL_get_error(s->ssl, ret);
	if (err == SSL_ERROR_WANT_READ) {
		*want = EPOLLIN;
		return -EAGAIN;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		*want = EPOLLOUT;
		return -EAGAIN;
	}
	if (err == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
		snprintf(s->err, sizeof(s->err), "connection closed during the TLS handshake");
		*why = s->err;
		return -ECONNRESET;
	}
	*why = set_reason(s, "the handshake");
	return -EPROTO;
}

/* Map a failed SSL_read/SSL_write; -EAGAIN for the WANT cases. */
static ssize_t io_error(struct tls_sess *s, int ret, bool reading)
{
	int err = SSL_get_error(s->ssl, ret);
	unsigned long e;

	switch (err) {
	case SSL_ERROR_WANT_READ:
		if (!reading)
			s->write_wants_read = true;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		if (reading)
			s->read_wants_write = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;	/* close_notify */
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_error())
			return errno ? -errno : -ECONNRESET;
		break;
	default:
		break;
	}
	e = ERR_peek_last_error();
	/* the frames delimit themselves: a cut stream is an end of stream */
	if (reading && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		ERR_clear_error();
		return 0;
	}
	set_reason(s, reading ? "a read" : "a write");
	return -EPROTO;
}

static ssize_t tls_recv(void *sess, int fd, void *buf, size_t len)
{
	struct tls_sess *s = sess;
	size_t n = 0;
	int ret;

	s->read_wants_write = false;
	s->err[0] = '\0';
	ERR_clear_error();
	ret = SSL_read_ex(s->ssl, buf, len, &n);
	if (ret == 1) {
		s->rx_bytes += n;
		return n;
	}
	return io_error(s, ret, true);
}

/* Schedule a KeyUpdate when due; it leaves with the next record written. */
static void maybe_rekey(struct tls_sess *s)
{
	uint64_t now;

	if (s->write_retry || SSL_get_key_update_type(s->ssl) != SSL_KEY_UPDATE_NONE)
		return;
	now = gr_now_ns();
	if (s->sent_since_rekey < s->tc->rekey_bytes && now < s->rekey_at_ns)
		return;
	ERR_clear_error();
	if (SSL_key_update(s->ssl, SSL_KEY_UPDATE_REQUESTED) != 1) {
		ERR_clear_error();
		return;		/* e.g. a handshake message in flight: next time */
	}
	s->sent_since_rekey = 0;
	s->rekey_at_ns = now + s->tc->rekey_ns;
}

static ssize_t tls_send(void *sess, int fd, const void *buf, size_t len)
{
	struct tls_sess *s = sess;
	size_t n = 0;
	int ret;

	maybe_rekey(s);
	s->write_wants_read = false;
	s->err[0] = '\0';
	ERR_clear_error();
	ret = SSL_write_ex(s->ssl, buf, len, &n);
	if (ret == 1) {
		s->write_retry = false;
		s->sent_since_rekey += n;
		return n;
	}
	s->write_retry = true;
	return io_error(s, ret, false);
}

static size_t tls_pending(void *sess)
{
	struct tls_sess *s = sess;

	return SSL_pending(s->ssl);
}

static uint32_t tls_want(void *sess)
{
	struct tls_sess *s = sess;

	return (s->read_wants_write ? EPOLLOUT : 0) | (s->write_wants_read ? EPOLLIN : 0);
}

static const char *tls_peer_identity(void *sess)
{
	struct tls_sess *s = sess;

	return s->peer[0] ? s->peer : NULL;
}

static const char *tls_last_error(void *sess)
{
	struct tls_sess *s = sess;

	return s->err[0] ? s->err : NULL;
}

static void tls_stats(void *sess, struct gr_session_stats *st)
{
	struct tls_sess *s = sess;

	st->version = SSL_get_version(s->ssl);
	st->cipher = SSL_get_cipher_name(s->ssl);
	st->key_updates_sent = s->ku_sent;
	st->key_updates_received = s->ku_received;
}

static void tls_session_free(void *sess)
{
	struct tls_sess *s = sess;

	/* one try at close_notify; the socket is closed right after */
	if (SSL_is_init_finished(s->ssl) && !s->write_retry)
		SSL_shutdown(s->ssl);
	ERR_clear_error();
	SSL_free(s->ssl);
	free(s);
}

static void tls_destroy(struct gr_transport *t)
{
	struct tls_ctx *tc = t->priv;

	SSL_CTX_free(tc->ctx);
	free(tc);
	free(t);
}

static const struct gr_transport_ops tls_ops = {
	.name = "tls",
	.session_new = tls_session_new,
	.handshake = tls_handshake,
	.recv = tls_recv,
	.send = tls_send,
	.pending = tls_pending,
	.want = tls_want,
	.peer_identity = tls_peer_identity,
	.set_peer_name = tls_set_peer_name,
	.last_error = tls_last_error,
	.stats = tls_stats,
	.session_free = tls_session_free,
	.destroy = tls_destroy,
};

static void ssl_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	snprintf(buf, len, "%s", e ? ERR_reason_error_string(e) : "unknown error");
	ERR_clear_error();
}

/* Certificate and key of this site, and the CA to trust. */
static int load_credentials(SSL_CTX *ctx, const struct gr_tls_opts *o, char *err,
			    size_t errlen)
{
	char why[160];
	EVP_PKEY *key;

	if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) {
		ssl_errstr(why, sizeof(why));
		snprintf(err, errlen, "CA file %s: %s", o->ca, why);
		return -EINVAL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
		ssl_errstr(why, sizeof(why));
		snprintf(err, errlen, "certificate file %s: %s", o->cert, why);
		return -EINVAL;
	}
	key = gr_site_key_load(o->key, err, errlen);
	if (!key)
		return -EPERM;
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		ssl_errstr(why, sizeof(why));
		snprintf(err, errlen, "key file %s does not match certificate %s: %s",
			 o->key, o->cert, why);
		EVP_PKEY_free(key);
		return -EINVAL;
	}
	EVP_PKEY_free(key);
	return 0;
}

static SSL_CTX *make_ctx(const struct gr_tls_opts *o, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());

	if (!ctx) {
		snprintf(err, errlen, "TLS: cannot make a context: out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* no resumption: every connection proves its certificate again */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	/* the accepting site's measured preference decides (tls_suites.c) */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (!SSL_CTX_set_ciphersuites(ctx, gr_tls_suites(NULL, 0))) {
		snprintf(err, errlen, "TLS: OpenSSL refuses the cipher suites %s",
			 gr_tls_suites(NULL, 0));
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_msg_callback(ctx, msg_cb);
	if (load_credentials(ctx, o, err, errlen)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct gr_transport *gr_transport_tls(const struct gr_tls_opts *o, char *err,
				      size_t errlen)
{
	struct gr_transport *t = calloc(1, sizeof(*t));
	struct tls_ctx *tc = calloc(1, sizeof(*tc));

	if (!t || !tc) {
		snprintf(err, errlen, "TLS: out of memory");
		goto out_free;
	}
	tc->ctx = make_ctx(o, err, errlen);
	if (!tc->ctx)
		goto out_free;
	tc->rekey_bytes = o->rekey_bytes ? o->rekey_bytes : GR_TLS_REKEY_BYTES_DEFAULT;
	tc->rekey_ns = (o->rekey_seconds ? o->rekey_seconds : GR_TLS_REKEY_SECONDS_DEFAULT) *
		       1000000000ULL;
	t->ops = &tls_ops;
	t->priv = tc;
	return t;

out_free:
	free(tc);
	free(t);
	return NULL;
}

int gr_transport_tls_reload(struct gr_transport *t, const struct gr_tls_opts *o,
			    char *err, size_t errlen)
{
	struct tls_ctx *tc;
	SSL_CTX *ctx;

	if (t->ops != &tls_ops) {
		snprintf(err, errlen, "not a TLS transport");
		return -EINVAL;
	}
	tc = t->priv;
	ctx = make_ctx(o, err, errlen);
	if (!ctx)
		return -EINVAL;
	/* sessions made from the old context hold a reference on it */
	SSL_CTX_free(tc->ctx);
	tc->ctx = ctx;
	return 0;
}
