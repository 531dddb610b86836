// SPDX-License-Identifier: GPL-2.0
/*
 * Cluster configuration parser and validator.
 *
 * The validator never stops at the first problem: every field is checked,
 * every problem is reported with its JSON path, and a configuration is
 * handed out only when the list of problems is empty.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "georep/config.h"
#include "georep/wire.h"

#define PATH_BUF	512	/* JSON paths in messages */

void gr_errlist_add(struct gr_errlist *el, const char *fmt, ...)
{
	char **msg;
	va_list ap;
	char *s;

	if (el->n >= GR_ERRLIST_MAX) {
		el->dropped++;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s) {
		el->dropped++;
		return;
	}
	msg = realloc(el->msg, (el->n + 1) * sizeof(*msg));
	if (!msg) {
		free(s);
		el->dropped++;
		return;
	}
	el->msg = msg;
	el->msg[el->n++] = s;
}

void gr_errlist_free(struct gr_errlist *el)
{
	size_t i;

	for (i = 0; i < el->n; i++)
		free(el->msg[i]);
	free(el->msg);
	el->msg = NULL;
	el->n = 0;
	el->dropped = 0;
}

/* "." and ".." would name directories (key-dir/<volume>), as the kernel says */
bool gr_valid_name(const char *s)
{
	const char *p;

	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (p = s; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	}
	return p > s && p - s < GEOREP_NAME_MAX;
}

static bool valid_hostname(const char *h)
{
	size_t label = 0, total = 0;

	for (; *h; h++, total++) {
		if (*h == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*h) && *h != '-')
			return false;
		if (*h == '-' && (label == 0 || h[1] == '.' || h[1] == '\0'))
			return false;
		if (++label > 63)
			return false;
	}
	return total > 0 && total < GR_HOST_MAX && label > 0;
}

int gr_parse_address(const char *addr, char *host, size_t hostlen,
		     uint16_t *port, const char **why)
{
	const char *colon, *hs, *he, *p;
	unsigned long v = 0;
	unsigned char tmp[16];
	size_t hl;

	if (addr[0] == '[') {
		he = strchr(addr, ']');
		if (!he || he[1] != ':') {
			*why = "expected \"[ipv6]:port\"";
			return -EINVAL;
		}
		hs = addr + 1;
		colon = he + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon) {
			*why = "expected \"host:port\"";
			return -EINVAL;
		}
		if (memchr(addr, ':', colon - addr)) {
			*why = "IPv6 literals must be written \"[addr]:port\"";
			return -EINVAL;
		}
		hs = addr;
		he = colon;
	}
	hl = he - hs;
	if (hl == 0 || hl >= hostlen || hl >= GR_HOST_MAX) {
		*why = hl ? "host name too long" : "empty host";
		return -EINVAL;
	}
	memcpy(host, hs, hl);
	host[hl] = '\0';

	p = colon + 1;
	if (!*p) {
		*why = "missing port";
		return -EINVAL;
	}
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p) || v > 65535) {
			*why = "port is not a number in 1..65535";
			return -EINVAL;
		}
		v = v * 10 + (*p - '0');
	}
	if (v == 0 || v > 65535) {
		*why = "port is not a number in 1..65535";
		return -EINVAL;
	}
	*port = v;

	if (addr[0] == '[') {
		if (inet_pton(AF_INET6, host, tmp) != 1) {
			*why = "not an IPv6 address";
			return -EINVAL;
		}
	} else if (inet_pton(AF_INET, host, tmp) != 1) {
		/* all-numeric dotted names are mistyped IPv4 addresses */
		if (strspn(host, "0123456789.") == hl) {
			*why = "not an IPv4 address";
			return -EINVAL;
		}
		if (!valid_hostname(host)) {
			*why = "not a valid host name";
			return -EINVAL;
		}
	}
	return 0;
}

/* Path of a member: ".key" when plain, ["key"] otherwise. */
static void path_key(char *out, const char *parent, const char *key)
{
	const char *k;
	bool plain = *key != '\0';

	for (k = key; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
			plain = false;
	if (plain)
		snprintf(out, PATH_BUF, "%s.%s", parent, key);
	else
		snprintf(out, PATH_BUF, "%s[\"%.64s\"]", parent, key);
}

static void path_index(char *out, const char *parent, size_t i)
{
	snprintf(out, PATH_BUF, "%s[%zu]", parent, i);
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

/* Report keys of @obj not in the NULL-terminated @known. */
static void check_keys(struct gr_errlist *el, const char *path, json_t *obj,
		       const char *const *known)
{
	const char *key;
	json_t *v;
	char p[PATH_BUF];

	json_object_foreach(obj, key, v) {
		const char *const *k;

		for (k = known; *k; k++)
			if (!strcmp(*k, key))
				break;
		if (!*k) {
			path_key(p, path, key);
			gr_errlist_add(el, "%s: unknown key", p);
		}
	}
}

/*
 * Fetch member @key of @obj as a string. Missing: reported when @required.
 * Return: the string or NULL.
 */
static const char *get_string(struct gr_errlist *el, const char *path,
			      json_t *obj, const char *key, bool required)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_BUF];

	path_key(p, path, key);
	if (!v) {
		if (required)
			gr_errlist_add(el, "%s: missing", p);
		return NULL;
	}
	if (!json_is_string(v)) {
		gr_errlist_add(el, "%s: expected a string, got %s", p, type_name(v));
		return NULL;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		gr_errlist_add(el, "%s: contains a NUL character", p);
		return NULL;
	}
	return json_string_value(v);
}

/* Return: 1 and *@out set, 0 when absent, -1 on a reported error. */
static int get_uint(struct gr_errlist *el, const char *path, json_t *obj,
		    const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_BUF];
	json_int_t i;

	if (!v)
		return 0;
	path_key(p, path, key);
	if (!json_is_integer(v)) {
		gr_errlist_add(el, "%s: expected an integer, got %s", p, type_name(v));
		return -1;
	}
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max) {
		gr_errlist_add(el, "%s: %lld is out of range %llu..%llu", p,
			       (long long)i, (unsigned long long)min,
			       (unsigned long long)max);
		return -1;
	}
	*out = i;
	return 1;
}

static void copy_name(struct gr_errlist *el, const char *path, const char *key,
		      const char *s, char *dst, const char *what)
{
	char p[PATH_BUF];

	if (!s)
		return;
	path_key(p, path, key);
	if (!gr_valid_name(s)) {
		gr_errlist_add(el, "%s: invalid %s \"%.64s\" (1..%d characters of A-Z a-z 0-9 _ . -, not . or ..)",
			       p, what, s, GEOREP_NAME_MAX - 1);
		return;
	}
	strcpy(dst, s);
}

/*
 * A file path (certificates, keys): absolute, so that it means the same
 * whatever the daemon's working directory. Return: a copy or NULL.
 */
static char *get_file_path(struct gr_errlist *el, const char *path, json_t *obj,
			   const char *key, bool required, const char *what)
{
	const char *s = get_string(el, path, obj, key, required);
	char p[PATH_BUF];
	char *dup;

	if (!s)
		return NULL;
	path_key(p, path, key);
	if (s[0] != '/') {
		gr_errlist_add(el, "%s: %s path \"%.300s\" is not absolute", p, what, s);
		return NULL;
	}
	if (strlen(s) >= 4096) {
		gr_errlist_add(el, "%s: %s path too long", p, what);
		return NULL;
	}
	dup = strdup(s);
	if (!dup)
		gr_errlist_add(el, "%s: out of memory", p);
	return dup;
}

/* "pace_mbit", "pace_resync_percent": ebpf/pace.bpf.c, Documentation/ebpf.rst */
static void parse_site_pace(struct gr_errlist *el, const char *path, json_t *js,
			    struct gr_site_cfg *s)
{
	char p[PATH_BUF];
	uint64_t v;

	if (get_uint(el, path, js, "pace_mbit", 1, GR_PACE_MBIT_MAX, &v) > 0)
		s->pace_mbit = v;
	s->pace_resync_pct = GR_PACE_RESYNC_PCT_DEFAULT;
	if (get_uint(el, path, js, "pace_resync_percent", 1, 100, &v) <= 0)
		return;
	s->pace_resync_pct = v;
	if (!s->pace_mbit) {
		path_key(p, path, "pace_resync_percent");
		gr_errlist_add(el, "%s: needs \"pace_mbit\" (a share of what?)", p);
	}
}

static void parse_site(struct gr_errlist *el, const char *path, json_t *js,
		       struct gr_site_cfg *s)
{
	static const char *const known[] = {
		"name", "region", "address", "site_id", "cert", "key", "route_cgroup",
		"pace_mbit", "pace_resync_percent", NULL
	};
	const char *str, *why;
	char p[PATH_BUF];
	uint64_t id;

	if (!json_is_object(js)) {
		gr_errlist_add(el, "%s: expected an object, got %s", path, type_name(js));
		return;
	}
	check_keys(el, path, js, known);
	copy_name(el, path, "name", get_string(el, path, js, "name", true),
		  s->name, "site name");
	copy_name(el, path, "region", get_string(el, path, js, "region", true),
		  s->region, "region name");
	str = get_string(el, path, js, "address", true);
	if (str && gr_parse_address(str, s->host, sizeof(s->host), &s->port, &why)) {
		path_key(p, path, "address");
		gr_errlist_add(el, "%s: bad address \"%.300s\": %s", p, str, why);
		s->host[0] = '\0';
	}
	if (get_uint(el, path, js, "site_id", 1, UINT32_MAX, &id) > 0) {
		s->site_id = id;
		s->site_id_explicit = true;
	}
	s->cert = get_file_path(el, path, js, "cert", false, "certificate");
	s->key = get_file_path(el, path, js, "key", false, "key");
	s->route_cgroup = get_file_path(el, path, js, "route_cgroup", false, "cgroup");
	parse_site_pace(el, path, js, s);
}

/*
 * With a "tls" section every site needs its certificate and key (each
 * site reads the same file and uses its own entry); without one, neither.
 */
static void check_site_tls(struct gr_errlist *el, json_t *arr, const struct gr_cluster *cfg)
{
	static const char *const keys[] = { "cert", "key" };
	size_t i, j;

	for (i = 0; i < cfg->nsites; i++) {
		json_t *js = json_array_get(arr, i);

		if (!json_is_object(js))
			continue;
		for (j = 0; j < 2; j++) {
			const char *k = keys[j];
			bool has = json_object_get(js, k) != NULL;

			if (cfg->tls.enabled && !has)
				gr_errlist_add(el, "$.sites[%zu].%s: missing (the \"tls\" section needs a certificate and a key for every site)",
					       i, k);
			else if (!cfg->tls.enabled && has)
				gr_errlist_add(el, "$.sites[%zu].%s: given, but there is no top-level \"tls\" section",
					       i, k);
		}
	}
}

static void parse_tls(struct gr_errlist *el, json_t *obj, struct gr_tls_cfg *t)
{
	static const char *const known[] = {
		"ca", "rekey_bytes", "rekey_seconds", NULL
	};
	uint64_t x;

	t->rekey_bytes = GR_TLS_REKEY_BYTES_DEFAULT;
	t->rekey_seconds = GR_TLS_REKEY_SECONDS_DEFAULT;
	if (!obj)
		return;
	t->enabled = true;
	if (!json_is_object(obj)) {
		gr_errlist_add(el, "$.tls: expected an object, got %s", type_name(obj));
		return;
	}
	check_keys(el, "$.tls", obj, known);
	t->ca = get_file_path(el, "$.tls", obj, "ca", true, "CA certificate");
	if (get_uint(el, "$.tls", obj, "rekey_bytes", GR_TLS_REKEY_BYTES_MIN,
		     GR_TLS_REKEY_BYTES_MAX, &x) > 0)
		t->rekey_bytes = x;
	if (get_uint(el, "$.tls", obj, "rekey_seconds", 1, GR_TLS_REKEY_SECONDS_MAX, &x) > 0)
		t->rekey_seconds = x;
}

/* Canonical form of a host for duplicate detection. */
static void canon_host(const char *host, char *out, size_t len)
{
	unsigned char a[16];
	size_t i;

	if (inet_pton(AF_INET6, host, a) == 1 &&
	    inet_ntop(AF_INET6, a, out, len))
		return;
	for (i = 0; host[i] && i + 1 < len; i++)
		out[i] = tolower((unsigned char)host[i]);
	out[i] = '\0';
}

static void parse_sites(struct gr_errlist *el, json_t *arr, struct gr_cluster *cfg)
{
	char p[PATH_BUF], ci[GR_HOST_MAX + 8], cj[GR_HOST_MAX + 8];
	size_t i, j;
	uint32_t next = 1;

	if (!arr) {
		gr_errlist_add(el, "$.sites: missing");
		return;
	}
	if (!json_is_array(arr)) {
		gr_errlist_add(el, "$.sites: expected an array, got %s", type_name(arr));
		return;
	}
	if (json_array_size(arr) == 0) {
		gr_errlist_add(el, "$.sites: at least one site is needed");
		return;
	}
	if (json_array_size(arr) > GR_CFG_MAX_SITES) {
		gr_errlist_add(el, "$.sites: %zu sites, at most %d supported",
			       json_array_size(arr), GR_CFG_MAX_SITES);
		return;
	}
	cfg->nsites = json_array_size(arr);
	cfg->sites = calloc(cfg->nsites, sizeof(*cfg->sites));
	if (!cfg->sites) {
		cfg->nsites = 0;
		gr_errlist_add(el, "$.sites: out of memory");
		return;
	}
	for (i = 0; i < cfg->nsites; i++) {
		path_index(p, "$.sites", i);
		parse_site(el, p, json_array_get(arr, i), &cfg->sites[i]);
	}

	for (i = 0; i < cfg->nsites; i++) {
		struct gr_site_cfg *a = &cfg->sites[i];

		for (j = 0; j < i; j++) {
			struct gr_site_cfg *b = &cfg->sites[j];

			if (a->name[0] && !strcmp(a->name, b->name))
				gr_errlist_add(el, "$.sites[%zu].name: duplicate site name \"%s\" (also $.sites[%zu])",
					       i, a->name, j);
			if (a->site_id_explicit && b->site_id_explicit &&
			    a->site_id == b->site_id)
				gr_errlist_add(el, "$.sites[%zu].site_id: duplicate site_id %u (also $.sites[%zu])",
					       i, a->site_id, j);
			if (a->host[0] && b->host[0] && a->port == b->port) {
				canon_host(a->host, ci, sizeof(ci));
				canon_host(b->host, cj, sizeof(cj));
				if (!strcmp(ci, cj))
					gr_errlist_add(el, "$.sites[%zu].address: duplicate address %s:%u (also $.sites[%zu])",
						       i, a->host, a->port, j);
			}
		}
	}

	/* implicit ids: smallest positive id no explicit one uses, in order */
	for (i = 0; i < cfg->nsites; i++) {
		if (cfg->sites[i].site_id_explicit)
			continue;
		for (;;) {
			for (j = 0; j < cfg->nsites; j++)
				if (cfg->sites[j].site_id_explicit &&
				    cfg->sites[j].site_id == next)
					break;
			if (j == cfg->nsites)
				break;
			next++;
		}
		cfg->sites[i].site_id = next++;
	}
}

static void parse_path(struct gr_errlist *el, const char *path, json_t *obj,
		       const char *key, char **dst)
{
	const char *s = get_string(el, path, obj, key, true);
	char p[PATH_BUF];

	if (!s)
		return;
	path_key(p, path, key);
	if (s[0] != '/') {
		gr_errlist_add(el, "%s: device path \"%.300s\" is not absolute", p, s);
		return;
	}
	if (strlen(s) >= 4096) {
		gr_errlist_add(el, "%s: device path too long", p);
		return;
	}
	*dst = strdup(s);
	if (!*dst)
		gr_errlist_add(el, "%s: out of memory", p);
}

/*
 * A routed address (a volume's "service", a replica's "backend"): an IP
 * literal and a port, since the BPF program compares and writes addresses.
 */
static void parse_route_addr(struct gr_errlist *el, const char *path, json_t *obj,
			     const char *key, struct gr_route_addr *out)
{
	static const uint8_t any[16];
	const char *s = get_string(el, path, obj, key, false);
	char p[PATH_BUF], host[GR_HOST_MAX];
	const char *why;
	int family;

	if (!s)
		return;
	path_key(p, path, key);
	if (gr_parse_address(s, host, sizeof(host), &out->port, &why)) {
		gr_errlist_add(el, "%s: bad address \"%.300s\": %s", p, s, why);
		return;
	}
	family = strchr(host, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, host, out->addr) != 1) {
		gr_errlist_add(el, "%s: \"%.300s\" is not an IP address (routing compares addresses, not names)",
			       p, s);
		return;
	}
	if (!memcmp(out->addr, any, family == AF_INET ? 4 : 16)) {
		gr_errlist_add(el, "%s: \"%.300s\" is the unspecified address", p, s);
		return;
	}
	out->family = family;
}

/* With a "service" every replica has a "backend" of its family; without, none. */
static void check_volume_route(struct gr_errlist *el, const char *path, json_t *jv,
			       const struct gr_cluster *cfg, const struct gr_volume_cfg *v)
{
	bool has_service = json_object_get(jv, "service") != NULL;
	json_t *reps = json_object_get(jv, "replicas");
	char p[PATH_BUF], pr[PATH_BUF];
	size_t i;

	path_key(p, path, "replicas");
	for (i = 0; i < v->nreplicas; i++) {
		const struct gr_replica_cfg *rc = &v->replicas[i];
		const char *site = cfg->sites[rc->site].name;
		bool has = json_object_get(json_object_get(reps, site), "backend") != NULL;

		path_key(pr, p, site);
		if (has && !has_service)
			gr_errlist_add(el, "%s.backend: given, but the volume has no \"service\" address",
				       pr);
		else if (!has && v->service.family)
			gr_errlist_add(el, "%s.backend: missing (the volume has a \"service\" address, so every replica needs its backend)",
				       pr);
		else if (rc->backend.family && v->service.family &&
			 rc->backend.family != v->service.family)
			gr_errlist_add(el, "%s.backend: an IPv%d address, the service address is IPv%d (connect() cannot change the address family)",
				       pr, rc->backend.family == AF_INET ? 4 : 6,
				       v->service.family == AF_INET ? 4 : 6);
	}
}

static void parse_replicas(struct gr_errlist *el, const char *path, json_t *obj,
			   const struct gr_cluster *cfg, struct gr_volume_cfg *v)
{
	static const char *const known[] = { "data", "log", "backend", NULL };
	char p[PATH_BUF], pr[PATH_BUF];
	const char *key;
	json_t *r;
	int site;

	path_key(p, path, "replicas");
	if (!obj) {
		gr_errlist_add(el, "%s: missing", p);
		return;
	}
	if (!json_is_object(obj)) {
		gr_errlist_add(el, "%s: expected an object, got %s", p, type_name(obj));
		return;
	}
	if (json_object_size(obj) == 0) {
		gr_errlist_add(el, "%s: at least one replica is needed", p);
		return;
	}
	v->replicas = calloc(json_object_size(obj), sizeof(*v->replicas));
	if (!v->replicas) {
		gr_errlist_add(el, "%s: out of memory", p);
		return;
	}
	json_object_foreach(obj, key, r) {
		struct gr_replica_cfg *rc = &v->replicas[v->nreplicas];

		path_key(pr, p, key);
		site = gr_cluster_site_index(cfg, key);
		if (site < 0)
			gr_errlist_add(el, "%s: unknown site \"%.64s\"", pr, key);
		if (!json_is_object(r)) {
			gr_errlist_add(el, "%s: expected an object, got %s", pr, type_name(r));
			continue;
		}
		check_keys(el, pr, r, known);
		parse_path(el, pr, r, "data", &rc->data);
		parse_path(el, pr, r, "log", &rc->log);
		if (rc->data && rc->log && !strcmp(rc->data, rc->log))
			gr_errlist_add(el, "%s.log: same device as %s.data", pr, pr);
		parse_route_addr(el, pr, r, "backend", &rc->backend);
		rc->site = site < 0 ? 0 : site;
		if (site < 0 || !rc->data || !rc->log) {
			free(rc->data);
			free(rc->log);
			rc->data = rc->log = NULL;
			continue;
		}
		v->nreplicas++;
	}
}

static void parse_limits(struct gr_errlist *el, const char *path, json_t *obj,
			 struct gr_volume_cfg *v)
{
	static const char *const known[] = {
		"high_wm", "low_wm", "max_uncommitted", NULL
	};
	char p[PATH_BUF];
	uint64_t x;
	int hi, lo;

	if (!obj)
		return;
	path_key(p, path, "limits");
	if (!json_is_object(obj)) {
		gr_errlist_add(el, "%s: expected an object, got %s", p, type_name(obj));
		return;
	}
	check_keys(el, p, obj, known);
	hi = get_uint(el, p, obj, "high_wm", 1, 100, &x);
	if (hi > 0)
		v->high_wm = x;
	lo = get_uint(el, p, obj, "low_wm", 1, 99, &x);
	if (lo > 0)
		v->low_wm = x;
	if (get_uint(el, p, obj, "max_uncommitted", 0, INT64_MAX, &x) > 0)
		v->max_uncommitted = x;
	if ((hi > 0) != (lo > 0) && hi >= 0 && lo >= 0)
		gr_errlist_add(el, "%s: high_wm and low_wm must be given together", p);
	else if (hi > 0 && lo > 0 && v->low_wm >= v->high_wm)
		gr_errlist_add(el, "%s.low_wm: %u must be below high_wm (%u)",
			       p, v->low_wm, v->high_wm);
}

/*
 * "checkpoint": {"records": N, "ms": T, "scrub_mib_s": R, "scrub_pass_s": S},
 * Documentation/proofs.rst "Finality" and "Scrub"
 */
static void parse_checkpoint(struct gr_errlist *el, const char *path, json_t *obj,
			     struct gr_volume_cfg *v)
{
	static const char *const known[] = {
		"records", "ms", "scrub_mib_s", "scrub_pass_s", NULL
	};
	char p[PATH_BUF];
	uint64_t x;

	v->ckpt_records = GR_CKPT_RECORDS_DEFAULT;
	v->ckpt_ms = GR_CKPT_MS_DEFAULT;
	v->scrub_mib_s = GR_SCRUB_MIB_S_DEFAULT;
	v->scrub_pass_s = GR_SCRUB_PASS_S_DEFAULT;
	if (!obj)
		return;
	path_key(p, path, "checkpoint");
	if (!json_is_object(obj)) {
		gr_errlist_add(el, "%s: expected an object, got %s", p, type_name(obj));
		return;
	}
	check_keys(el, p, obj, known);
	if (get_uint(el, p, obj, "records", 1, GR_CKPT_RECORDS_MAX, &x) > 0)
		v->ckpt_records = x;
	if (get_uint(el, p, obj, "ms", GR_CKPT_MS_MIN, GR_CKPT_MS_MAX, &x) > 0)
		v->ckpt_ms = x;
	if (get_uint(el, p, obj, "scrub_mib_s", 0, GR_SCRUB_MIB_S_MAX, &x) > 0)
		v->scrub_mib_s = x;
	if (get_uint(el, p, obj, "scrub_pass_s", 1, GR_SCRUB_PASS_S_MAX, &x) > 0)
		v->scrub_pass_s = x;
}

static void parse_volume(struct gr_errlist *el, const char *path, json_t *jv,
			 const struct gr_cluster *cfg, struct gr_volume_cfg *v)
{
	static const char *const known[] = {
		"name", "commit_rule", "quorum_loss", "limits", "replicas", "service", "checkpoint",
		"key_rotate_seconds", NULL
	};
	const char *s;
	char p[PATH_BUF];
	uint64_t x;

	if (!json_is_object(jv)) {
		gr_errlist_add(el, "%s: expected an object, got %s", path, type_name(jv));
		return;
	}
	check_keys(el, path, jv, known);
	copy_name(el, path, "name", get_string(el, path, jv, "name", true),
		  v->name, "volume name");
	if (v->name[0])
		v->wire_id = gr_wire_volume_id(v->name);

	v->commit_rule = GEOREP_COMMIT_QUORUM;
	s = get_string(el, path, jv, "commit_rule", false);
	if (s) {
		if (!strcmp(s, "local")) {
			v->commit_rule = GEOREP_COMMIT_LOCAL;
		} else if (strcmp(s, "quorum")) {
			path_key(p, path, "commit_rule");
			gr_errlist_add(el, "%s: \"%.64s\" is not one of \"local\", \"quorum\"", p, s);
		}
	}
	v->quorum_loss = GR_QLOSS_SUSPEND;
	s = get_string(el, path, jv, "quorum_loss", false);
	if (s) {
		if (!strcmp(s, "fail")) {
			v->quorum_loss = GR_QLOSS_FAIL;
		} else if (strcmp(s, "suspend")) {
			path_key(p, path, "quorum_loss");
			gr_errlist_add(el, "%s: \"%.64s\" is not one of \"suspend\", \"fail\"", p, s);
		}
	}
	parse_limits(el, path, json_object_get(jv, "limits"), v);
	parse_checkpoint(el, path, json_object_get(jv, "checkpoint"), v);
	/* seal-key rotation by the leader every so often; 0 or absent: by hand */
	if (get_uint(el, path, jv, "key_rotate_seconds", 0, GR_KEY_ROTATE_SECONDS_MAX, &x) > 0)
		v->key_rotate_seconds = x;
	parse_route_addr(el, path, jv, "service", &v->service);
	parse_replicas(el, path, json_object_get(jv, "replicas"), cfg, v);
	check_volume_route(el, path, jv, cfg, v);
}

/* Two volumes must not use one device of a site. */
static void check_devices(struct gr_errlist *el, struct gr_cluster *cfg)
{
	size_t i, j, a, b;

	for (i = 0; i < cfg->nvolumes; i++) {
		struct gr_volume_cfg *vi = &cfg->volumes[i];

		for (a = 0; a < vi->nreplicas; a++) {
			struct gr_replica_cfg *ra = &vi->replicas[a];

			for (j = 0; j < i; j++) {
				struct gr_volume_cfg *vj = &cfg->volumes[j];

				for (b = 0; b < vj->nreplicas; b++) {
					struct gr_replica_cfg *rb = &vj->replicas[b];
					const char *site = cfg->sites[ra->site].name;

					if (ra->site != rb->site)
						continue;
					if (!strcmp(ra->data, rb->data) || !strcmp(ra->data, rb->log))
						gr_errlist_add(el, "$.volumes[%zu].replicas.%s.data: device %s already used by volume \"%s\"",
							       i, site, ra->data, vj->name);
					if (!strcmp(ra->log, rb->data) || !strcmp(ra->log, rb->log))
						gr_errlist_add(el, "$.volumes[%zu].replicas.%s.log: device %s already used by volume \"%s\"",
							       i, site, ra->log, vj->name);
				}
			}
		}
	}
}

static void parse_volumes(struct gr_errlist *el, json_t *arr, struct gr_cluster *cfg)
{
	char p[PATH_BUF];
	size_t i, j;

	if (!arr) {
		gr_errlist_add(el, "$.volumes: missing");
		return;
	}
	if (!json_is_array(arr)) {
		gr_errlist_add(el, "$.volumes: expected an array, got %s", type_name(arr));
		return;
	}
	if (json_array_size(arr) > GR_CFG_MAX_VOLUMES) {
		gr_errlist_add(el, "$.volumes: %zu volumes, at most %d supported",
			       json_array_size(arr), GR_CFG_MAX_VOLUMES);
		return;
	}
	if (json_array_size(arr) == 0)
		return;
	cfg->volumes = calloc(json_array_size(arr), sizeof(*cfg->volumes));
	if (!cfg->volumes) {
		gr_errlist_add(el, "$.volumes: out of memory");
		return;
	}
	cfg->nvolumes = json_array_size(arr);
	for (i = 0; i < cfg->nvolumes; i++) {
		path_index(p, "$.volumes", i);
		parse_volume(el, p, json_array_get(arr, i), cfg, &cfg->volumes[i]);
	}
	for (i = 0; i < cfg->nvolumes; i++) {
		for (j = 0; j < i; j++) {
			struct gr_volume_cfg *a = &cfg->volumes[i], *b = &cfg->volumes[j];

			if (!a->name[0] || !b->name[0])
				continue;
			if (!strcmp(a->name, b->name))
				gr_errlist_add(el, "$.volumes[%zu].name: duplicate volume name \"%s\" (also $.volumes[%zu])",
					       i, a->name, j);
			else if (a->wire_id == b->wire_id)
				gr_errlist_add(el, "$.volumes[%zu].name: wire id of \"%s\" collides with \"%s\"; rename one",
					       i, a->name, b->name);
			if (a->service.family && !memcmp(&a->service, &b->service, sizeof(a->service)))
				gr_errlist_add(el, "$.volumes[%zu].service: the service address of volume \"%s\" too",
					       i, b->name);
		}
	}
	check_devices(el, cfg);
}

int gr_cluster_parse(const char *buf, size_t len, struct gr_cluster **out,
		    struct gr_errlist *errs)
{
	static const char *const known[] = { "cluster", "tls", "sites", "volumes", NULL };
	struct gr_cluster *cfg;
	json_error_t jerr;
	size_t before = errs->n + errs->dropped;
	const char *s;
	json_t *root;

	*out = NULL;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		gr_errlist_add(errs, "$: invalid JSON at line %d column %d: %s",
			       jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		gr_errlist_add(errs, "$: expected an object, got %s", type_name(root));
		json_decref(root);
		return -EINVAL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		json_decref(root);
		return -ENOMEM;
	}
	check_keys(errs, "$", root, known);
	strcpy(cfg->cluster, "georep");
	s = get_string(errs, "$", root, "cluster", false);
	if (s) {
		if (!gr_valid_name(s))
			gr_errlist_add(errs, "$.cluster: invalid cluster name \"%.64s\" (1..%d characters of A-Z a-z 0-9 _ . -, not . or ..)",
				       s, GEOREP_NAME_MAX - 1);
		else
			strcpy(cfg->cluster, s);
	}
	parse_tls(errs, json_object_get(root, "tls"), &cfg->tls);
	parse_sites(errs, json_object_get(root, "sites"), cfg);
	if (json_is_array(json_object_get(root, "sites")))
		check_site_tls(errs, json_object_get(root, "sites"), cfg);
	parse_volumes(errs, json_object_get(root, "volumes"), cfg);
	json_decref(root);

	if (errs->n + errs->dropped != before) {
		gr_cluster_free(cfg);
		return -EINVAL;
	}
	*out = cfg;
	return 0;
}

int gr_cluster_load(const char *path, struct gr_cluster **out,
		   struct gr_errlist *errs)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		gr_errlist_add(errs, "%s: cannot open: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > GR_CFG_MAX_BYTES) {
		gr_errlist_add(errs, "%s: not a regular file of at most %d bytes",
			       path, GR_CFG_MAX_BYTES);
		close(fd);
		return -EINVAL;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			gr_errlist_add(errs, "%s: read error: %s", path,
				       n ? strerror(errno) : "short file");
			free(buf);
			close(fd);
			return -EIO;
		}
		len += n;
	}
	close(fd);
	ret = gr_cluster_parse(buf, len, out, errs);
	free(buf);
	return ret;
}

void gr_cluster_free(struct gr_cluster *cfg)
{
	size_t i, j;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nvolumes; i++) {
		for (j = 0; j < cfg->volumes[i].nreplicas; j++) {
			free(cfg->volumes[i].replicas[j].data);
			free(cfg->volumes[i].replicas[j].log);
		}
		free(cfg->volumes[i].replicas);
	}
	free(cfg->volumes);
	for (i = 0; i < cfg->nsites; i++) {
		free(cfg->sites[i].cert);
		free(cfg->sites[i].key);
		free(cfg->sites[i].route_cgroup);
	}
	free(cfg->sites);
	free(cfg->tls.ca);
	free(cfg);
}

int gr_cluster_site_index(const struct gr_cluster *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nsites; i++)
		if (cfg->sites[i].name[0] && !strcmp(cfg->sites[i].name, name))
			return i;
	return -1;
}

const struct gr_site_cfg *gr_cluster_site(const struct gr_cluster *cfg,
					 const char *name)
{
	int i = gr_cluster_site_index(cfg, name);

	return i < 0 ? NULL : &cfg->sites[i];
}

const struct gr_volume_cfg *gr_cluster_volume(const struct gr_cluster *cfg,
					     const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nvolumes; i++)
		if (!strcmp(cfg->volumes[i].name, name))
			return &cfg->volumes[i];
	return NULL;
}

const struct gr_volume_cfg *gr_cluster_volume_by_id(const struct gr_cluster *cfg,
						   uint64_t wire_id)
{
	size_t i;

	for (i = 0; i < cfg->nvolumes; i++)
		if (cfg->volumes[i].wire_id == wire_id)
			return &cfg->volumes[i];
	return NULL;
}

const struct gr_replica_cfg *gr_volume_replica(const struct gr_volume_cfg *vol,
					       unsigned int site)
{
	size_t i;

	for (i = 0; i < vol->nreplicas; i++)
		if (vol->replicas[i].site == site)
			return &vol->replicas[i];
	return NULL;
}

int gr_cluster_check_report(const char *path, const char *prefix)
{
	struct gr_errlist errs = { 0 };
	struct gr_cluster *cfg;
	size_t i;

	if (gr_cluster_load(path, &cfg, &errs)) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s%s\n", prefix, errs.msg[i]);
		if (errs.dropped)
			fprintf(stderr, "%s... and %zu more errors\n", prefix, errs.dropped);
		if (!errs.n && !errs.dropped)
			fprintf(stderr, "%s%s: out of memory\n", prefix, path);
		gr_errlist_free(&errs);
		return 1;
	}
	printf("ok: %zu sites, %zu volumes\n", cfg->nsites, cfg->nvolumes);
	gr_cluster_free(cfg);
	return 0;
}
