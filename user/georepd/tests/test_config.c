// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the cluster configuration parser (user/lib/config.c). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "georep/config.h"
#include "georep/wire.h"
#include "ktap.h"

#define SITES3 \
	"\"sites\": [" \
	" {\"name\": \"siteA\", \"region\": \"eu\", \"address\": \"127.0.0.1:7001\"}," \
	" {\"name\": \"siteB\", \"region\": \"eu\", \"address\": \"127.0.0.1:7002\", \"site_id\": 1}," \
	" {\"name\": \"siteC\", \"region\": \"us\", \"address\": \"[::1]:7003\"}]"

#define VOL(name, extra) \
	"{\"name\": \"" name "\"" extra ", \"replicas\": {" \
	"\"siteA\": {\"data\": \"/dev/" name "a\", \"log\": \"/dev/" name "al\"}," \
	"\"siteB\": {\"data\": \"/dev/" name "b\", \"log\": \"/dev/" name "bl\"}}}"

/* Parse @json; every string in @want (NULL terminated) must be one error. */
static void expect(const char *json, const char *const *want)
{
	struct gr_errlist el = { 0 };
	struct gr_cluster *cfg;
	size_t nwant = 0, i;
	int ret;

	ret = gr_cluster_parse(json, strlen(json), &cfg, &el);
	for (; want && want[nwant]; nwant++) {
		for (i = 0; i < el.n; i++)
			if (strstr(el.msg[i], want[nwant]))
				break;
		CHECK_MSG(i < el.n, "expected an error containing \"%s\"", want[nwant]);
	}
	CHECK_MSG(el.n == nwant, "expected %zu errors, got %zu", nwant, el.n);
	if (el.n != nwant)
		for (i = 0; i < el.n; i++)
			printf("    # got: %s\n", el.msg[i]);
	CHECK(nwant ? ret == -EINVAL && !cfg : ret == 0 && cfg);
	gr_cluster_free(cfg);
	gr_errlist_free(&el);
}

#define EXPECT(json, ...) expect(json, (const char *const[]){ __VA_ARGS__, NULL })
#define EXPECT_OK(json) expect(json, NULL)

static void test_good(void)
{
	static const char json[] = "{\"cluster\": \"prod-1\", " SITES3 ", \"volumes\": ["
		VOL("v0", ", \"commit_rule\": \"local\", \"quorum_loss\": \"fail\","
		    " \"limits\": {\"high_wm\": 90, \"low_wm\": 50, \"max_uncommitted\": 1048576}")
		", " VOL("v1", "") "]}";
	struct gr_errlist el = { 0 };
	struct gr_cluster *cfg;

	CHECK(gr_cluster_parse(json, strlen(json), &cfg, &el) == 0);
	CHECK(el.n == 0);
	if (!cfg)
		return;
	CHECK(!strcmp(cfg->cluster, "prod-1"));
	CHECK(cfg->nsites == 3 && cfg->nvolumes == 2);
	/* siteB took id 1 explicitly; A and C get the smallest free ones */
	CHECK(cfg->sites[1].site_id == 1);
	CHECK(cfg->sites[0].site_id == 2 && !cfg->sites[0].site_id_explicit);
	CHECK(cfg->sites[2].site_id == 3);
	CHECK(!strcmp(cfg->sites[2].host, "::1") && cfg->sites[2].port == 7003);
	CHECK(cfg->volumes[0].commit_rule == GEOREP_COMMIT_LOCAL);
	CHECK(cfg->volumes[0].quorum_loss == GR_QLOSS_FAIL);
	CHECK(cfg->volumes[0].high_wm == 90 && cfg->volumes[0].low_wm == 50);
	CHECK(cfg->volumes[0].max_uncommitted == 1048576);
	CHECK(cfg->volumes[1].commit_rule == GEOREP_COMMIT_QUORUM);
	CHECK(cfg->volumes[1].quorum_loss == GR_QLOSS_SUSPEND);
	CHECK(cfg->volumes[1].nreplicas == 2);
	CHECK(cfg->volumes[1].wire_id == gr_wire_volume_id("v1"));
	CHECK(gr_cluster_volume_by_id(cfg, gr_wire_volume_id("v0")) == &cfg->volumes[0]);
	CHECK(gr_cluster_site_index(cfg, "siteC") == 2);
	CHECK(gr_volume_replica(&cfg->volumes[0], 1) &&
	      !strcmp(gr_volume_replica(&cfg->volumes[0], 1)->log, "/dev/v0bl"));
	CHECK(!gr_volume_replica(&cfg->volumes[0], 2));
	gr_cluster_free(cfg);
}

static void test_minimal(void)
{
	EXPECT_OK("{\"sites\": [{\"name\": \"a\", \"region\": \"r\", \"address\": \"host.example:1\"}],"
		  " \"volumes\": []}");
}

static void test_not_json(void)
{
	EXPECT("{\"sites\": [", "$: invalid JSON at line 1");
	EXPECT("", "$: invalid JSON");
	EXPECT("[1, 2]", "$: expected an object, got an array");
	EXPECT("{\"sites\": [], \"sites\": []}", "$: invalid JSON");
}

static void test_top_level(void)
{
	EXPECT("{}", "$.sites: missing", "$.volumes: missing");
	EXPECT("{\"sites\": {}, \"volumes\": 3, \"extra\": 1, \"cluster\": \"a b\"}",
	       "$.sites: expected an array, got an object",
	       "$.volumes: expected an array, got an integer",
	       "$.extra: unknown key",
	       "$.cluster: invalid cluster name");
	EXPECT("{\"sites\": [], \"volumes\": []}", "$.sites: at least one site");
}

static void test_site_fields(void)
{
	EXPECT("{\"sites\": [{\"name\": \"s 1\", \"region\": 5, \"address\": \"x\","
	       " \"site_id\": 0, \"color\": \"red\"}, 7, {}], \"volumes\": []}",
	       "$.sites[0].name: invalid site name \"s 1\"",
	       "$.sites[0].region: expected a string, got an integer",
	       "$.sites[0].address: bad address \"x\": expected \"host:port\"",
	       "$.sites[0].site_id: 0 is out of range 1..4294967295",
	       "$.sites[0].color: unknown key",
	       "$.sites[1]: expected an object, got an integer",
	       "$.sites[2].name: missing",
	       "$.sites[2].region: missing",
	       "$.sites[2].address: missing");
	EXPECT("{\"sites\": [{\"name\": \"0123456789012345678901234567890123\", \"region\": \"r\","
	       " \"address\": \"a:1\", \"site_id\": 1.5}], \"volumes\": []}",
	       "$.sites[0].name: invalid site name",
	       "$.sites[0].site_id: expected an integer, got a number");
}

#define TLS_SITE(n, extra) \
	"{\"name\": \"" n "\", \"region\": \"r\", \"address\": \"" n ".example:1\"" extra "}"
#define TLS_CK(n) ", \"cert\": \"/pki/" n ".crt\", \"key\": \"/pki/" n ".key\""

static void test_tls_good(void)
{
	static const char json[] = "{\"tls\": {\"ca\": \"/pki/ca.crt\", \"rekey_bytes\": 1048576,"
		" \"rekey_seconds\": 600}, \"sites\": [" TLS_SITE("a", TLS_CK("a")) ", "
		TLS_SITE("b", TLS_CK("b")) "], \"volumes\": []}";
	static const char plain[] = "{\"sites\": [" TLS_SITE("a", "") "], \"volumes\": []}";
	struct gr_errlist el = { 0 };
	struct gr_cluster *cfg;

	CHECK(gr_cluster_parse(json, strlen(json), &cfg, &el) == 0);
	if (!cfg)
		return;
	CHECK(cfg->tls.enabled && !strcmp(cfg->tls.ca, "/pki/ca.crt"));
	CHECK(cfg->tls.rekey_bytes == 1048576 && cfg->tls.rekey_seconds == 600);
	CHECK(!strcmp(cfg->sites[1].cert, "/pki/b.crt") && !strcmp(cfg->sites[1].key, "/pki/b.key"));
	gr_cluster_free(cfg);

	/* defaults; no tls at all */
	EXPECT_OK("{\"tls\": {\"ca\": \"/ca\"}, \"sites\": [" TLS_SITE("a", TLS_CK("a")) "],"
		  " \"volumes\": []}");
	CHECK(gr_cluster_parse(plain, strlen(plain), &cfg, &el) == 0);
	CHECK(cfg && !cfg->tls.enabled && !cfg->tls.ca && !cfg->sites[0].cert);
	CHECK(cfg && cfg->tls.rekey_bytes == GR_TLS_REKEY_BYTES_DEFAULT);
	gr_cluster_free(cfg);
	gr_errlist_free(&el);
}

static void test_tls_errors(void)
{
	EXPECT("{\"tls\": [], \"sites\": [" TLS_SITE("a", TLS_CK("a")) "], \"volumes\": []}",
	       "$.tls: expected an object, got an array");
	EXPECT("{\"tls\": {\"ca\": \"ca.crt\", \"rekey_bytes\": 100, \"rekey_seconds\": 0,"
	       " \"cipher\": \"x\"}, \"sites\": [" TLS_SITE("a", TLS_CK("a")) "], \"volumes\": []}",
	       "$.tls.ca: CA certificate path \"ca.crt\" is not absolute",
	       "$.tls.rekey_bytes: 100 is out of range 4096..",
	       "$.tls.rekey_seconds: 0 is out of range 1..604800",
	       "$.tls.cipher: unknown key");
	EXPECT("{\"tls\": {}, \"sites\": [" TLS_SITE("a", TLS_CK("a")) "], \"volumes\": []}",
	       "$.tls.ca: missing");
	EXPECT("{\"tls\": {\"ca\": \"/ca\", \"rekey_seconds\": \"1h\"}, \"sites\": ["
	       TLS_SITE("a", ", \"cert\": \"a.crt\", \"key\": 7") ", " TLS_SITE("b", "") "],"
	       " \"volumes\": []}",
	       "$.tls.rekey_seconds: expected an integer, got a string",
	       "$.sites[0].cert: certificate path \"a.crt\" is not absolute",
	       "$.sites[0].key: expected a string, got an integer",
	       "$.sites[1].cert: missing (the \"tls\" section needs a certificate and a key for every site)",
	       "$.sites[1].key: missing");
	EXPECT("{\"sites\": [" TLS_SITE("a", TLS_CK("a")) "], \"volumes\": []}",
	       "$.sites[0].cert: given, but there is no top-level \"tls\" section",
	       "$.sites[0].key: given, but there is no top-level \"tls\" section");
}

static void test_addresses(void)
{
	static const struct {
		const char *addr;
		const char *why;	/* NULL: valid */
	} cases[] = {
		{ "10.0.0.1:7000", NULL },
		{ "[fe80::1]:7000", NULL },
		{ "site-a.example.com:65535", NULL },
		{ "10.0.0.1", "expected \"host:port\"" },
		{ "10.0.0.1:0", "port is not a number" },
		{ "10.0.0.1:65536", "port is not a number" },
		{ "10.0.0.1:12a", "port is not a number" },
		{ "10.0.0.1:", "missing port" },
		{ ":7000", "empty host" },
		{ "fe80::1:7000", "IPv6 literals must be written" },
		{ "[fe80::1]7000", "expected \"[ipv6]:port\"" },
		{ "[10.0.0.1]:7000", "not an IPv6 address" },
		{ "300.1.2.3:7000", "not an IPv4 address" },
		{ "bad_host:7000", "not a valid host name" },
		{ "-bad.example:7000", "not a valid host name" },
		{ "a..b:7000", "not a valid host name" },
	};
	char host[GR_HOST_MAX];
	const char *why;
	uint16_t port;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = "";
		ret = gr_parse_address(cases[i].addr, host, sizeof(host), &port, &why);
		if (!cases[i].why)
			CHECK_MSG(ret == 0, "%s: rejected: %s", cases[i].addr, why);
		else
			CHECK_MSG(ret == -EINVAL && strstr(why, cases[i].why),
				  "%s: got %d \"%s\", want \"%s\"", cases[i].addr,
				  ret, why, cases[i].why);
	}
	CHECK(gr_parse_address("[::1]:80", host, sizeof(host), &port, &why) == 0 &&
	      !strcmp(host, "::1") && port == 80);
}

static void test_duplicates(void)
{
	EXPECT("{\"sites\": ["
	       "{\"name\": \"a\", \"region\": \"r\", \"address\": \"127.0.0.1:1\", \"site_id\": 4},"
	       "{\"name\": \"b\", \"region\": \"r\", \"address\": \"127.0.0.1:2\", \"site_id\": 4},"
	       "{\"name\": \"a\", \"region\": \"r\", \"address\": \"127.0.0.1:1\"},"
	       "{\"name\": \"c\", \"region\": \"r\", \"address\": \"[::1]:9\"},"
	       "{\"name\": \"d\", \"region\": \"r\", \"address\": \"[0:0::1]:9\"},"
	       "{\"name\": \"e\", \"region\": \"r\", \"address\": \"Host.Example:5\"},"
	       "{\"name\": \"f\", \"region\": \"r\", \"address\": \"host.example:5\"}],"
	       " \"volumes\": [" VOL("v", "") "," VOL("v", "") "]}",
	       "$.sites[1].site_id: duplicate site_id 4 (also $.sites[0])",
	       "$.sites[2].name: duplicate site name \"a\" (also $.sites[0])",
	       "$.sites[2].address: duplicate address 127.0.0.1:1 (also $.sites[0])",
	       "$.sites[4].address: duplicate address",
	       "$.sites[6].address: duplicate address",
	       "$.volumes[0].replicas.siteA: unknown site \"siteA\"",
	       "$.volumes[0].replicas.siteB: unknown site \"siteB\"",
	       "$.volumes[1].replicas.siteA: unknown site \"siteA\"",
	       "$.volumes[1].replicas.siteB: unknown site \"siteB\"",
	       "$.volumes[1].name: duplicate volume name \"v\" (also $.volumes[0])");
}

static void test_volume_fields(void)
{
	EXPECT("{" SITES3 ", \"volumes\": [{\"name\": \"v/1\", \"commit_rule\": \"sync\","
	       " \"quorum_loss\": \"degrade\", \"limits\": {\"high_wm\": 101, \"low_wm\": 0,"
	       " \"max_uncommitted\": -1, \"x\": 1}, \"snapshots\": true}, \"v\"]}",
	       "$.volumes[0].name: invalid volume name \"v/1\"",
	       "$.volumes[0].commit_rule: \"sync\" is not one of \"local\", \"quorum\"",
	       "$.volumes[0].quorum_loss: \"degrade\" is not one of \"suspend\", \"fail\"",
	       "$.volumes[0].limits.high_wm: 101 is out of range 1..100",
	       "$.volumes[0].limits.low_wm: 0 is out of range 1..99",
	       "$.volumes[0].limits.max_uncommitted: -1 is out of range",
	       "$.volumes[0].limits.x: unknown key",
	       "$.volumes[0].snapshots: unknown key",
	       "$.volumes[0].replicas: missing",
	       "$.volumes[1]: expected an object, got a string");
}

/* "." and ".." name directories (key-dir/<volume>): never a name */
static void test_dot_names(void)
{
	EXPECT("{\"sites\": [{\"name\": \"..\", \"region\": \".\", \"address\": \"127.0.0.1:1\"}],"
	       " \"volumes\": [{\"name\": \".\", \"replicas\": {}},"
	       " {\"name\": \"..\", \"replicas\": {}}, {\"name\": \"...\", \"replicas\": {}}]}",
	       "$.sites[0].name: invalid site name \"..\"",
	       "$.sites[0].region: invalid region name \".\"",
	       "$.volumes[0].name: invalid volume name \".\"",
	       "$.volumes[1].name: invalid volume name \"..\"",
	       "$.volumes[0].replicas: at least one replica is needed",
	       "$.volumes[1].replicas: at least one replica is needed",
	       "$.volumes[2].replicas: at least one replica is needed");
	CHECK(!gr_valid_name(".") && !gr_valid_name("..") && gr_valid_name("...") &&
	      gr_valid_name(".a") && !gr_valid_name("a/b") && !gr_valid_name(""));
}

static void test_limits(void)
{
	EXPECT("{" SITES3 ", \"volumes\": [" VOL("v", ", \"limits\": {\"high_wm\": 50, \"low_wm\": 50}")
	       "," VOL("w", ", \"limits\": {\"high_wm\": 50}") "," VOL("x", ", \"limits\": []") "]}",
	       "$.volumes[0].limits.low_wm: 50 must be below high_wm (50)",
	       "$.volumes[1].limits: high_wm and low_wm must be given together",
	       "$.volumes[2].limits: expected an object, got an array");
}

static void test_checkpoint(void)
{
	static const char json[] = "{" SITES3 ", \"volumes\": ["
		VOL("v", ", \"checkpoint\": {\"records\": 50, \"ms\": 200, \"scrub_mib_s\": 0, "
		    "\"scrub_pass_s\": 2}") ","
		VOL("w", "") "]}";
	struct gr_errlist el = { 0 };
	struct gr_cluster *cfg = NULL;

	CHECK(gr_cluster_parse(json, strlen(json), &cfg, &el) == 0);
	CHECK(cfg && cfg->volumes[0].ckpt_records == 50 && cfg->volumes[0].ckpt_ms == 200 &&
	      cfg->volumes[0].scrub_mib_s == 0 && cfg->volumes[0].scrub_pass_s == 2);
	CHECK(cfg && cfg->volumes[1].ckpt_records == GR_CKPT_RECORDS_DEFAULT &&
	      cfg->volumes[1].ckpt_ms == GR_CKPT_MS_DEFAULT &&
	      cfg->volumes[1].scrub_mib_s == GR_SCRUB_MIB_S_DEFAULT &&
	      cfg->volumes[1].scrub_pass_s == GR_SCRUB_PASS_S_DEFAULT);
	gr_cluster_free(cfg);
	gr_errlist_free(&el);
	EXPECT("{" SITES3 ", \"volumes\": ["
	       VOL("v", ", \"checkpoint\": {\"records\": 0, \"ms\": 5, \"every\": 1, "
		   "\"scrub_mib_s\": 2048, \"scrub_pass_s\": 0}") ","
	       VOL("w", ", \"checkpoint\": 1000") "," VOL("x", ", \"checkpoint\": {\"ms\": \"1s\"}")
	       "]}",
	       "$.volumes[0].checkpoint.every: unknown key",
	       "$.volumes[0].checkpoint.records: 0 is out of range 1..4294967296",
	       "$.volumes[0].checkpoint.ms: 5 is out of range 10..3600000",
	       "$.volumes[0].checkpoint.scrub_mib_s: 2048 is out of range 0..1024",
	       "$.volumes[0].checkpoint.scrub_pass_s: 0 is out of range 1..86400",
	       "$.volumes[1].checkpoint: expected an object, got an integer",
	       "$.volumes[2].checkpoint.ms: expected an integer, got a string");
}

static void test_replicas(void)
{
	EXPECT("{" SITES3 ", \"volumes\": [{\"name\": \"v\", \"replicas\": {"
	       "\"siteA\": {\"data\": \"dev/sda\"},"
	       "\"siteB\": {\"data\": \"/dev/x\", \"log\": \"/dev/x\", \"meta\": \"/m\"},"
	       "\"siteC\": \"/dev/sdc\","
	       "\"siteD\": {\"data\": \"/dev/d\", \"log\": \"/dev/dl\"},"
	       "\"odd key\": {\"data\": 1, \"log\": \"/l\"}}},"
	       "{\"name\": \"w\", \"replicas\": {}}]}",
	       "$.volumes[0].replicas.siteA.data: device path \"dev/sda\" is not absolute",
	       "$.volumes[0].replicas.siteA.log: missing",
	       "$.volumes[0].replicas.siteB.log: same device as $.volumes[0].replicas.siteB.data",
	       "$.volumes[0].replicas.siteB.meta: unknown key",
	       "$.volumes[0].replicas.siteC: expected an object, got a string",
	       "$.volumes[0].replicas.siteD: unknown site \"siteD\"",
	       "$.volumes[0].replicas[\"odd key\"]: unknown site",
	       "$.volumes[0].replicas[\"odd key\"].data: expected a string, got an integer",
	       "$.volumes[1].replicas: at least one replica is needed");
}

#define RVOL(name, svc, ba, bb) \
	"{\"name\": \"" name "\"" svc ", \"replicas\": {" \
	"\"siteA\": {\"data\": \"/dev/" name "a\", \"log\": \"/dev/" name "al\"" ba "}," \
	"\"siteB\": {\"data\": \"/dev/" name "b\", \"log\": \"/dev/" name "bl\"" bb "}}}"

static void test_route_good(void)
{
	static const char json[] = "{\"sites\": ["
		" {\"name\": \"siteA\", \"region\": \"eu\", \"address\": \"127.0.0.1:7001\"},"
		" {\"name\": \"siteB\", \"region\": \"eu\", \"address\": \"127.0.0.1:7002\","
		"  \"route_cgroup\": \"/sys/fs/cgroup/app\"}], \"volumes\": ["
		RVOL("v", ", \"service\": \"10.9.0.1:5432\"", ", \"backend\": \"10.0.0.1:5433\"",
		     ", \"backend\": \"10.0.0.2:5434\"") ","
		RVOL("w", ", \"service\": \"[fd00::1]:80\"", ", \"backend\": \"[fd00::a]:8080\"",
		     ", \"backend\": \"[fd00::b]:8080\"") ","
		VOL("x", "") "]}";
	static const uint8_t v4[4] = { 10, 9, 0, 1 }, b6[16] = { 0xfd, [15] = 0xb };
	struct gr_errlist el = { 0 };
	struct gr_cluster *cfg;

	CHECK(gr_cluster_parse(json, strlen(json), &cfg, &el) == 0);
	if (!cfg)
		return;
	CHECK(!cfg->sites[0].route_cgroup);
	CHECK(cfg->sites[1].route_cgroup && !strcmp(cfg->sites[1].route_cgroup, "/sys/fs/cgroup/app"));
	CHECK(cfg->volumes[0].service.family == AF_INET && cfg->volumes[0].service.port == 5432);
	CHECK(!memcmp(cfg->volumes[0].service.addr, v4, 4));
	CHECK(cfg->volumes[0].replicas[1].backend.family == AF_INET &&
	      cfg->volumes[0].replicas[1].backend.port == 5434 &&
	      cfg->volumes[0].replicas[1].backend.addr[3] == 2);
	CHECK(cfg->volumes[1].service.family == AF_INET6);
	CHECK(!memcmp(cfg->volumes[1].replicas[1].backend.addr, b6, 16));
	CHECK(!cfg->volumes[2].service.family && !cfg->volumes[2].replicas[0].backend.family);
	gr_cluster_free(cfg);
}

static void test_route_errors(void)
{
	EXPECT("{\"sites\": [{\"name\": \"siteA\", \"region\": \"r\", \"address\": \"a:1\","
	       " \"route_cgroup\": \"app.slice\"},"
	       " {\"name\": \"siteB\", \"region\": \"r\", \"address\": \"b:1\", \"route_cgroup\": 3}],"
	       " \"volumes\": ["
	       RVOL("v", ", \"service\": \"db.example:5432\"", ", \"backend\": \"10.0.0.1\"",
		    ", \"backend\": \"0.0.0.0:1\"") ","
	       RVOL("w", ", \"service\": \"10.9.0.1:80\"", ", \"backend\": \"[fd00::1]:80\"", "") ","
	       RVOL("x", "", ", \"backend\": \"10.0.0.1:80\"", "") ","
	       RVOL("y", ", \"service\": \"10.9.0.1:80\"", ", \"backend\": \"10.0.0.1:80\"",
		    ", \"backend\": \"10.0.0.2:80\"") ","
	       RVOL("z", ", \"service\": 80", "", "") "]}",
	       "$.sites[0].route_cgroup: cgroup path \"app.slice\" is not absolute",
	       "$.sites[1].route_cgroup: expected a string, got an integer",
	       "$.volumes[0].service: \"db.example:5432\" is not an IP address",
	       "$.volumes[0].replicas.siteA.backend: bad address \"10.0.0.1\": expected \"host:port\"",
	       "$.volumes[0].replicas.siteB.backend: \"0.0.0.0:1\" is the unspecified address",
	       "$.volumes[1].replicas.siteA.backend: an IPv6 address, the service address is IPv4",
	       "$.volumes[1].replicas.siteB.backend: missing (the volume has a \"service\" address",
	       "$.volumes[2].replicas.siteA.backend: given, but the volume has no \"service\"",
	       "$.volumes[3].service: the service address of volume \"w\" too",
	       "$.volumes[4].service: expected a string, got an integer");
}

static void test_pace(void)
{
	static const char json[] = "{\"sites\": ["
		" {\"name\": \"siteA\", \"region\": \"eu\", \"address\": \"127.0.0.1:7001\","
		"  \"pace_mbit\": 100},"
		" {\"name\": \"siteB\", \"region\": \"eu\", \"address\": \"127.0.0.1:7002\","
		"  \"pace_mbit\": 20, \"pace_resync_percent\": 10},"
		" {\"name\": \"siteC\", \"region\": \"eu\", \"address\": \"127.0.0.1:7003\"}],"
		" \"volumes\": []}";
	struct gr_errlist el = { 0 };
	struct gr_cluster *cfg;

	CHECK(gr_cluster_parse(json, strlen(json), &cfg, &el) == 0);
	if (!cfg)
		return;
	CHECK(cfg->sites[0].pace_mbit == 100 &&
	      cfg->sites[0].pace_resync_pct == GR_PACE_RESYNC_PCT_DEFAULT);
	CHECK(cfg->sites[1].pace_mbit == 20 && cfg->sites[1].pace_resync_pct == 10);
	CHECK(cfg->sites[2].pace_mbit == 0);
	gr_cluster_free(cfg);
	EXPECT("{\"sites\": [{\"name\": \"siteA\", \"region\": \"r\", \"address\": \"a:1\","
	       " \"pace_mbit\": 0},"
	       " {\"name\": \"siteB\", \"region\": \"r\", \"address\": \"b:1\","
	       " \"pace_resync_percent\": 50},"
	       " {\"name\": \"siteC\", \"region\": \"r\", \"address\": \"c:1\","
	       " \"pace_mbit\": \"10\", \"pace_resync_percent\": 101}],"
	       " \"volumes\": []}",
	       "$.sites[0].pace_mbit: 0 is out of range 1..400000",
	       "$.sites[1].pace_resync_percent: needs \"pace_mbit\" (a share of what?)",
	       "$.sites[2].pace_mbit: expected an integer, got a string",
	       "$.sites[2].pace_resync_percent: 101 is out of range 1..100");
}

static void test_shared_devices(void)
{
	EXPECT("{" SITES3 ", \"volumes\": [" VOL("v", "") ","
	       "{\"name\": \"w\", \"replicas\": {\"siteA\": {\"data\": \"/dev/val\", \"log\": \"/dev/va\"},"
	       "\"siteC\": {\"data\": \"/dev/va\", \"log\": \"/dev/val\"}}}]}",
	       "$.volumes[1].replicas.siteA.data: device /dev/val already used by volume \"v\"",
	       "$.volumes[1].replicas.siteA.log: device /dev/va already used by volume \"v\"");
}

static void test_error_cap(void)
{
	struct gr_errlist el = { 0 };
	struct gr_cluster *cfg;
	char *json = malloc(1 << 20);
	size_t len, i;

	len = sprintf(json, "{\"sites\": [{\"name\": \"a\", \"region\": \"r\", \"address\": \"a:1\"");
	for (i = 0; i < 1000; i++)
		len += sprintf(json + len, ", \"k%zu\": 0", i);
	strcpy(json + len, "}], \"volumes\": []}");
	CHECK(gr_cluster_parse(json, strlen(json), &cfg, &el) == -EINVAL);
	CHECK(el.n == GR_ERRLIST_MAX && el.dropped == 1000 - GR_ERRLIST_MAX);
	gr_errlist_free(&el);
	free(json);
}

static void test_load_file(void)
{
	char path[] = "/tmp/georep-cfg-XXXXXX";
	static const char json[] = "{" SITES3 ", \"volumes\": [" VOL("v", "") "]}";
	struct gr_errlist el = { 0 };
	struct gr_cluster *cfg;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK(write(fd, json, strlen(json)) == (ssize_t)strlen(json));
	close(fd);
	CHECK(gr_cluster_load(path, &cfg, &el) == 0 && cfg && cfg->nvolumes == 1);
	gr_cluster_free(cfg);
	unlink(path);
	CHECK(gr_cluster_load(path, &cfg, &el) == -ENOENT);
	CHECK(el.n == 1 && strstr(el.msg[0], "cannot open"));
	gr_errlist_free(&el);
}

static const struct ktap_case cases[] = {
	{ "config_good", test_good },
	{ "config_minimal", test_minimal },
	{ "config_not_json", test_not_json },
	{ "config_top_level", test_top_level },
	{ "config_site_fields", test_site_fields },
	{ "config_tls_good", test_tls_good },
	{ "config_tls_errors", test_tls_errors },
	{ "config_addresses", test_addresses },
	{ "config_duplicates", test_duplicates },
	{ "config_volume_fields", test_volume_fields },
	{ "config_dot_names", test_dot_names },
	{ "config_limits", test_limits },
	{ "config_checkpoint", test_checkpoint },
	{ "config_replicas", test_replicas },
	{ "config_route_good", test_route_good },
	{ "config_route_errors", test_route_errors },
	{ "config_pace", test_pace },
	{ "config_shared_devices", test_shared_devices },
	{ "config_error_cap", test_error_cap },
	{ "config_load_file", test_load_file },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
