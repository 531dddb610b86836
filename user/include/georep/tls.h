/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Mutual TLS 1.3 between sites (OpenSSL 3), as a struct gr_transport.
 *
 * Every site holds an Ed25519 key and a certificate, signed by the
 * cluster's CA, whose one subjectAltName DNS name is the site's name. Both
 * ends of every connection present their certificate; a peer is accepted
 * only when its chain ends at the CA, its certificate names exactly one
 * DNS name, and (for a dialed connection, see gr_conn_set_peer_name()) that
 * name is the site dialed. An acceptor learns which site the peer claims
 * to be from its hello frame and compares it with gr_conn_peer_identity().
 *
 * Every failure closes the connection with a reason that starts with its
 * class: "bad certificate chain", "wrong name", "no certificate",
 * "TLS version", "refused by the peer" (an alert before any data), "the
 * peer sent an alert", "not TLS", "TLS error" (e.g. a record that fails
 * its authentication: "decryption failed or bad record mac").
 *
 * Sessions send a TLS KeyUpdate (asking the peer to update too) after
 * rekey_bytes sent or rekey_seconds, whichever comes first; the counters of
 * gr_conn_session_stats() show it.
 */
#ifndef _GEOREP_TLS_H
#define _GEOREP_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "georep/config.h"
#include "georep/transport.h"

#define GR_TLS_KEY_FILE_MAX		(64 << 10)

struct gr_tls_opts {
	const char *ca;			/* PEM: the CA certificate(s) to trust */
	const char *cert;		/* PEM: this site's certificate */
	const char *key;		/* PEM: this site's Ed25519 key, mode 0600 */
	uint64_t rekey_bytes;		/* 0: GR_TLS_REKEY_BYTES_DEFAULT */
	uint64_t rekey_seconds;		/* 0: GR_TLS_REKEY_SECONDS_DEFAULT */
};

/*
 * Load the credentials and make the transport. Return: NULL with a message
 * naming the file and the problem in @err (a key file that group or others
 * may access, a key that is not Ed25519, a certificate that does not match
 * the key...).
 */
struct gr_transport *gr_transport_tls(const struct gr_tls_opts *o, char *err,
				      size_t errlen);

/*
 * gr_tls_suites() - the TLS 1.3 cipher suites in this site's order of
 * preference, the faster of AES-128-GCM and ChaCha20-Poly1305 first, as
 * measured on the first call (a few milliseconds; lib/tls_suites.c).
 * @desc gets one line saying which and the rates (may be NULL).
 */
const char *gr_tls_suites(char *desc, size_t len);

/*
 * Load the credentials again (a new certificate, key or CA bundle in the
 * same files): connections made from now on use them, established ones
 * keep their session. Return: 0, or -EINVAL with the reason in @err; the
 * old credentials stay in use then.
 */
int gr_transport_tls_reload(struct gr_transport *t, const struct gr_tls_opts *o,
			    char *err, size_t errlen);

/*
 * gr_site_key_load() - read a site's private key (the TLS identity key,
 * also the key that signs on behalf of the site).
 *
 * Refuses a file that is not a regular file owned by the caller's uid or
 * root, a file that group or others may read or write, and a key that is
 * not Ed25519. The file's bytes are wiped from memory after parsing.
 * Return: the key, or NULL with the reason in @err (naming @path).
 */
EVP_PKEY *gr_site_key_load(const char *path, char *err, size_t errlen);
/* The same checks, any key type (a CA key for `georepctl site init`). */
EVP_PKEY *gr_private_key_load(const char *path, char *err, size_t errlen);

#endif /* _GEOREP_TLS_H */
