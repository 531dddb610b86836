/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Cluster configuration: one JSON file that every site may hold a copy of.
 * See Documentation/configuration.rst for the format.
 *
 * gr_cluster_parse() validates the whole document and reports every problem
 * it finds, each prefixed by the JSON path of the bad field, e.g.
 *   $.volumes[1].replicas.siteB.log: missing
 * A config is returned only when there is no error at all.
 */
#ifndef _GEOREP_CONFIG_H
#define _GEOREP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/georep.h>

#define GR_CFG_MAX_SITES	64
#define GR_CFG_MAX_VOLUMES	1024
#define GR_CFG_MAX_BYTES	(4 << 20)	/* largest config file read */
#define GR_HOST_MAX		254		/* host name or literal, with NUL */
#define GR_CLUSTER_MAX		64		/* cluster name, with NUL */
#define GR_ERRLIST_MAX		256		/* messages kept; more are counted */

/* A list of error messages, each "<json path>: <problem>". */
struct gr_errlist {
	size_t n;		/* messages in msg[] */
	size_t dropped;		/* messages beyond GR_ERRLIST_MAX */
	char **msg;
};

void gr_errlist_add(struct gr_errlist *el, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void gr_errlist_free(struct gr_errlist *el);

enum gr_quorum_loss {
	GR_QLOSS_SUSPEND = 0,	/* writes wait until the quorum is back */
	GR_QLOSS_FAIL = 1,	/* writes fail with EIO */
};

/*
 * An address that routing (ebpf/route.bpf.c, Documentation/ebpf.rst)
 * compares or writes: an IP literal and a port, no host name.
 */
struct gr_route_addr {
	int family;			/* AF_INET or AF_INET6; 0: not given */
	uint8_t addr[16];		/* network order; IPv4 in addr[0..3] */
	uint16_t port;			/* host order */
};

struct gr_site_cfg {
	char name[GEOREP_NAME_MAX];
	char region[GEOREP_NAME_MAX];
	char host[GR_HOST_MAX];		/* without the [] of an IPv6 literal */
	uint16_t port;
	uint32_t site_id;		/* explicit, or the smallest free id */
	bool site_id_explicit;
	char *cert;			/* absolute path of its certificate, or NULL */
	char *key;			/* absolute path of its private key, or NULL */
	char *route_cgroup;		/* cgroup v2 directory steered, or NULL */
	uint32_t pace_mbit;		/* egress budget per peer link; 0: not paced */
	uint32_t pace_resync_pct;	/* ... of it while a full resync runs to the peer */
};

#define GR_PACE_MBIT_MAX		400000	/* 400 Gbit/s */
#define GR_PACE_RESYNC_PCT_DEFAULT	25

/* The top-level "tls" section: mutual TLS 1.3 between the sites. */
struct gr_tls_cfg {
	bool enabled;			/* the section is there */
	char *ca;			/* absolute path of the CA certificate */
	uint64_t rekey_bytes;		/* KeyUpdate after this many bytes sent */
	uint64_t rekey_seconds;		/* ... or this many seconds */
};

#define GR_TLS_REKEY_BYTES_DEFAULT	(1ULL << 30)	/* 1 GiB */
#define GR_TLS_REKEY_SECONDS_DEFAULT	3600ULL
#define GR_TLS_REKEY_BYTES_MIN		4096ULL
#define GR_TLS_REKEY_BYTES_MAX		(1ULL << 50)
#define GR_TLS_REKEY_SECONDS_MAX	(7 * 86400ULL)

struct gr_replica_cfg {
	unsigned int site;		/* index into gr_cluster.sites */
	char *data;			/* absolute path of the data device */
	char *log;			/* absolute path of the log device */
	struct gr_route_addr backend;	/* the volume's service here; with service */
};

struct gr_volume_cfg {
	char name[GEOREP_NAME_MAX];
	uint64_t wire_id;		/* gr_wire_volume_id(name) */
	enum georep_commit_rule commit_rule;
	enum gr_quorum_loss quorum_loss;
	unsigned int high_wm;		/* percent; 0: module default */
	unsigned int low_wm;		/* percent; 0: module default */
	uint64_t max_uncommitted;	/* bytes; 0: no limit */
	uint64_t ckpt_records;		/* checkpoint every this many records ... */
	uint64_t ckpt_ms;		/* ... or this many ms, the first reached */
	uint32_t scrub_mib_s;		/* log read back against the tree; 0: off */
	uint32_t scrub_pass_s;		/* a scrub pass starts this often, at most */
	struct gr_route_addr service;	/* clients' address; family 0: no routing */
	uint64_t key_rotate_seconds;	/* the leader rotates the seal key; 0: never */
	size_t nreplicas;
	struct gr_replica_cfg *replicas;	/* in file order */
};

#define GR_KEY_ROTATE_SECONDS_MAX	(10 * 366 * 86400ULL)

#define GR_CKPT_RECORDS_DEFAULT	1000
#define GR_CKPT_RECORDS_MAX	(1ULL << 32)
#define GR_CKPT_MS_DEFAULT	1000
#define GR_CKPT_MS_MIN		10
#define GR_CKPT_MS_MAX		3600000ULL
#define GR_SCRUB_MIB_S_DEFAULT	8
#define GR_SCRUB_MIB_S_MAX	1024
#define GR_SCRUB_PASS_S_DEFAULT	10
#define GR_SCRUB_PASS_S_MAX	86400

struct gr_cluster {
	char cluster[GR_CLUSTER_MAX];	/* "cluster" key, default "georep" */
	struct gr_tls_cfg tls;
	size_t nsites;
	struct gr_site_cfg *sites;
	size_t nvolumes;
	struct gr_volume_cfg *volumes;
};

/**
 * gr_cluster_parse() - parse and validate a cluster configuration.
 * @buf: the JSON text (need not be NUL terminated)
 * @len: its length
 * @out: on success, the new configuration (free with gr_cluster_free())
 * @errs: every problem found is appended here
 *
 * Return: 0 when the configuration is valid, -EINVAL when @errs holds at
 * least one problem, -ENOMEM.
 */
int gr_cluster_parse(const char *buf, size_t len, struct gr_cluster **out,
		    struct gr_errlist *errs);

/* Same, reading the file @path; a read failure is reported in @errs too. */
int gr_cluster_load(const char *path, struct gr_cluster **out,
		   struct gr_errlist *errs);

void gr_cluster_free(struct gr_cluster *cfg);

/* Lookups: NULL / -1 when absent. */
const struct gr_site_cfg *gr_cluster_site(const struct gr_cluster *cfg,
					 const char *name);
int gr_cluster_site_index(const struct gr_cluster *cfg, const char *name);
const struct gr_volume_cfg *gr_cluster_volume(const struct gr_cluster *cfg,
					     const char *name);
const struct gr_volume_cfg *gr_cluster_volume_by_id(const struct gr_cluster *cfg,
						   uint64_t wire_id);
/* The replica of @vol at site index @site, NULL when it has none there. */
const struct gr_replica_cfg *gr_volume_replica(const struct gr_volume_cfg *vol,
					       unsigned int site);

/* Syntax checks shared with other parsers (names: [A-Za-z0-9_.-]{1,31}, not . or ..). */
bool gr_valid_name(const char *s);
/*
 * gr_parse_address() - split "host:port" or "[v6]:port".
 * Return: 0, or -EINVAL with a reason in @why.
 */
int gr_parse_address(const char *addr, char *host, size_t hostlen,
		     uint16_t *port, const char **why);

/*
 * gr_cluster_check_report() - what `georepctl config check` and georepd print:
 * "ok: N sites, M volumes" on stdout, or every error on stderr.
 * Return: 0 when valid, 1 otherwise.
 */
int gr_cluster_check_report(const char *path, const char *prefix);

#endif /* _GEOREP_CONFIG_H */
