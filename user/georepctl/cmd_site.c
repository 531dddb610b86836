// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl site ca --out DIR [--name CN] [--days N]
 * georepctl site init <name> --ca-cert FILE --ca-key FILE --out DIR [--days N]
 *
 * Site identities for mutual TLS between sites (Documentation/admin-guide.rst,
 * "Site identities and TLS"): the cluster CA, and for each site an Ed25519
 * key (mode 0600) and a certificate whose one subjectAltName DNS name is the
 * site's name. Files are never overwritten.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/x509.h>

#include "georep/config.h"
#include "georep/site_cert.h"
#include "georep/tls.h"
#include "georepctl.h"
#include "cmd_site.h"

#define CA_USAGE "georepctl site ca --out DIR [--name CN] [--days N]"
#define CA_HELP								\
	"Make the cluster's certificate authority: DIR/ca.key (Ed25519, mode\n" \
	"0600; keep it offline, it is only needed to certify sites) and\n"	\
	"DIR/ca.crt (give it to every site: the \"ca\" of the \"tls\" section).\n" \
	"  --name CN   the CA's common name (default \"georep cluster CA\")\n" \
	"  --days N    validity (default 3650)\n"

#define INIT_USAGE "georepctl site init <name> --ca-cert FILE --ca-key FILE --out DIR [--days N]"
#define INIT_HELP							\
	"Make site <name>'s identity: DIR/<name>.key (Ed25519, mode 0600) and\n" \
	"DIR/<name>.crt, signed by the CA, subjectAltName DNS:<name>. Copy both\n" \
	"to that site only and name them in its entry of the configuration\n" \
	"(\"cert\", \"key\"). Existing files are never overwritten.\n"	\
	"  --days N    validity (default 825)\n"

enum { OPT_OUT = 2, OPT_NAME, OPT_DAYS, OPT_CA_CERT, OPT_CA_KEY };

static const struct grctl_opt site_opts[] = {
	{ "out", OPT_OUT, true },
	{ "name", OPT_NAME, true },
	{ "days", OPT_DAYS, true },
	{ "ca-cert", OPT_CA_CERT, true },
	{ "ca-key", OPT_CA_KEY, true },
	{ NULL }
};

struct site_args {
	const char *out, *cn, *ca_cert, *ca_key, *name;
	unsigned int days;
};

/* Options of both subcommands; @usage for errors. Return: -1 or an exit code. */
static int parse(int argc, char *argv[], const char *usage, const char *help,
		 struct site_args *a)
{
	struct grctl_parser p;
	const char *val;
	uint64_t days;
	int id;

	grctl_parser_init(&p, argc - 1, argv + 1, site_opts);
	while ((id = grctl_next(&p, &val)) != GRCTL_ARG_END) {
		switch (id) {
		case GRCTL_ARG_ERR:
			return grctl_usage_error(usage, p.err);
		case GRCTL_OPT_HELP:
			return grctl_help(usage, help);
		case OPT_OUT:
			a->out = val;
			break;
		case OPT_NAME:
			a->cn = val;
			break;
		case OPT_CA_CERT:
			a->ca_cert = val;
			break;
		case OPT_CA_KEY:
			a->ca_key = val;
			break;
		case OPT_DAYS:
			if (grctl_parse_u64(val, &days) || !days || days > 36500) {
				grctl_errf(&p, "--days: \"%s\" is not a number of days in 1..36500", val);
				return grctl_usage_error(usage, p.err);
			}
			a->days = days;
			break;
		case GRCTL_ARG_POS:
			if (a->name) {
				grctl_errf(&p, "unexpected argument '%s'", val);
				return grctl_usage_error(usage, p.err);
			}
			a->name = val;
			break;
		}
	}
	if (!a->out)
		return grctl_usage_error(usage, "missing --out DIR");
	/* a new directory for keys: only its owner may look in */
	if (mkdir(a->out, 0700) && errno != EEXIST)
		return grctl_fail("cannot create %s: %s", a->out, strerror(errno));
	return -1;
}

static int ca_main(int argc, char *argv[])
{
	struct site_args a = { .cn = "georep cluster CA", .days = 3650 };
	char kp[PATH_MAX], cp[PATH_MAX], err[PATH_MAX + 128];
	int ret = parse(argc, argv, CA_USAGE, CA_HELP, &a);
	EVP_PKEY *key;
	X509 *x = NULL;

	if (ret >= 0)
		return ret;
	if (a.name)
		return grctl_usage_error(CA_USAGE, "unexpected argument");
	snprintf(kp, sizeof(kp), "%s/ca.key", a.out);
	snprintf(cp, sizeof(cp), "%s/ca.crt", a.out);
	key = gr_cert_keygen();
	if (key)
		x = gr_cert_make_ca(key, a.cn, a.days);
	ret = GRCTL_EXIT_FAIL;
	if (!x)
		fprintf(stderr, "georepctl: cannot make the CA certificate\n");
	else if (gr_cert_write_key(kp, key, err, sizeof(err)) ||
		 gr_cert_write_cert(cp, x, err, sizeof(err)))
		fprintf(stderr, "georepctl: %s\n", err);
	else
		ret = GRCTL_EXIT_OK;
	if (!ret)
		printf("CA key %s (keep it offline), certificate %s\n", kp, cp);
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

/* Sign a new key's certificate for site @name with the CA. */
static int make_site(const struct site_args *a, X509 *ca, EVP_PKEY *ca_key)
{
	char kp[PATH_MAX], cp[PATH_MAX], err[PATH_MAX + 128];
	EVP_PKEY *key = gr_cert_keygen();
	int ret = GRCTL_EXIT_FAIL;
	X509 *x = NULL;

	snprintf(kp, sizeof(kp), "%s/%s.key", a->out, a->name);
	snprintf(cp, sizeof(cp), "%s/%s.crt", a->out, a->name);
	if (key)
		x = gr_cert_make_site(key, a->name, a->name, ca, ca_key, a->days);
	if (!x)
		fprintf(stderr, "georepctl: cannot make the certificate of site %s\n", a->name);
	else if (gr_cert_write_key(kp, key, err, sizeof(err)) ||
		 gr_cert_write_cert(cp, x, err, sizeof(err)))
		fprintf(stderr, "georepctl: %s\n", err);
	else
		ret = GRCTL_EXIT_OK;
	if (!ret)
		printf("site %s: key %s (mode 0600), certificate %s\n"
		       "in its entry of the configuration: \"cert\": \"%s\", \"key\": \"%s\"\n",
		       a->name, kp, cp, cp, kp);
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

static int init_main(int argc, char *argv[])
{
	struct site_args a = { .days = 825 };
	char err[PATH_MAX + 128];
	int ret = parse(argc, argv, INIT_USAGE, INIT_HELP, &a);
	EVP_PKEY *ca_key = NULL;
	X509 *ca = NULL;

	if (ret >= 0)
		return ret;
	if (!a.name)
		return grctl_usage_error(INIT_USAGE, "missing the site name");
	if (!gr_valid_name(a.name))
		return grctl_usage_error(INIT_USAGE,
					 "invalid site name (1..31 characters of A-Z a-z 0-9 _ . -)");
	if (!a.ca_cert || !a.ca_key)
		return grctl_usage_error(INIT_USAGE, "missing --ca-cert or --ca-key");
	ret = GRCTL_EXIT_FAIL;
	ca = gr_cert_read(a.ca_cert, err, sizeof(err));
	if (ca)
		ca_key = gr_private_key_load(a.ca_key, err, sizeof(err));
	if (!ca || !ca_key) {
		fprintf(stderr, "georepctl: %s\n", err);
		goto out;
	}
	if (X509_check_private_key(ca, ca_key) != 1) {
		fprintf(stderr, "georepctl: %s is not the key of CA certificate %s\n",
			a.ca_key, a.ca_cert);
		goto out;
	}
	ret = make_site(&a, ca, ca_key);
out:
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return ret;
}

static const struct grctl_sub site_subs[] = {
	{ "ca", ca_main, CA_USAGE },
	{ "init", init_main, INIT_USAGE },
	{ NULL }
};

int site_main(int argc, char *argv[])
{
	return grctl_dispatch_sub("site", site_subs, argc, argv);
}
