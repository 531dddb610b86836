/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Making site identities with OpenSSL: the cluster CA and the Ed25519 key
 * and certificate of each site (`georepctl site ca|init`, unit tests).
 *
 * A site certificate: subject CN=<site>, one subjectAltName DNS:<site>,
 * basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
 * serverAuth and clientAuth (every site both dials and accepts), a random
 * 128-bit serial, signed by the CA key.
 */
#ifndef _GEOREP_SITE_CERT_H
#define _GEOREP_SITE_CERT_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* A new Ed25519 key, or NULL. */
EVP_PKEY *gr_cert_keygen(void);

/* A self-signed CA certificate for @key, valid @days from now, or NULL. */
X509 *gr_cert_make_ca(EVP_PKEY *key, const char *cn, unsigned int days);

/*
 * A certificate for @key with subject CN=@cn and, unless @san is NULL,
 * subjectAltName DNS:@san, signed by @ca / @ca_key. NULL on error.
 */
X509 *gr_cert_make_site(EVP_PKEY *key, const char *cn, const char *san,
			X509 *ca, EVP_PKEY *ca_key, unsigned int days);

/*
 * Write PEM to a new file (never over an existing one): keys 0600,
 * certificates 0644; fsync'd. Return: 0 or -errno, the reason in @err.
 */
int gr_cert_write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen);
int gr_cert_write_cert(const char *path, X509 *cert, char *err, size_t errlen);

/* Read a PEM certificate. NULL with the reason in @err. */
X509 *gr_cert_read(const char *path, char *err, size_t errlen);

#endif /* _GEOREP_SITE_CERT_H */
