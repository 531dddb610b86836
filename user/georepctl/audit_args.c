// SPDX-License-Identifier: GPL-2.0
/* The --lba and --since arguments of georepctl audit: see cmd_audit.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "georepctl.h"
#include "cmd_audit.h"

#define NS_PER_S	1000000000ULL
#define SECTOR_MAX	(UINT64_MAX >> 9)	/* a byte offset still fits 64 bits */

static int fail(char *err, size_t len, const char *what, const char *s)
{
	snprintf(err, len, "%s: \"%.64s\"", what, s);
	return -EINVAL;
}

int grctl_parse_lba_range(const char *s, uint64_t *first, uint64_t *last, char *err,
			  size_t errlen)
{
	char a[32], b[32];
	const char *dash;
	size_t n;

	if (!s || !*s)
		return fail(err, errlen, "--lba wants A-B (512-byte sectors)", s ?: "");
	dash = strchr(s, '-');
	n = dash ? (size_t)(dash - s) : strlen(s);
	if (n >= sizeof(a) || (dash && strlen(dash + 1) >= sizeof(b)))
		return fail(err, errlen, "--lba: number too long", s);
	memcpy(a, s, n);
	a[n] = 0;
	snprintf(b, sizeof(b), "%s", dash ? dash + 1 : a);
	if (grctl_parse_u64(a, first) || grctl_parse_u64(b, last))
		return fail(err, errlen, "--lba wants A-B, two decimal sector numbers", s);
	if (*first > *last)
		return fail(err, errlen, "--lba: the first sector is after the last", s);
	if (*last > SECTOR_MAX)
		return fail(err, errlen, "--lba: sector number too large", s);
	return 0;
}

static int parse_utc(const char *s, int64_t *secs)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end || strlen(s) != 20)
		return -EINVAL;
	*secs = timegm(&tm);
	return *secs < 0 ? -EINVAL : 0;
}

int grctl_parse_since(const char *s, int64_t now_s, uint64_t *ns, char *err, size_t errlen)
{
	static const struct { char c; uint64_t mul; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char num[24];
	uint64_t v;
	int64_t secs;
	size_t n, i;

	if (!s || !*s)
		return fail(err, errlen, "--since wants @SECONDS, YYYY-MM-DDTHH:MM:SSZ or "
			    "an age like 10m", "");
	if (s[0] == '@') {
		if (grctl_parse_u64(s + 1, &v) || v > INT64_MAX / NS_PER_S)
			return fail(err, errlen, "--since @SECONDS wants Unix seconds", s);
		*ns = v * NS_PER_S;
		return 0;
	}
	if (strchr(s, 'T')) {
		if (parse_utc(s, &secs))
			return fail(err, errlen, "--since wants a UTC time YYYY-MM-DDTHH:MM:SSZ",
				    s);
		*ns = (uint64_t)secs * NS_PER_S;
		return 0;
	}
	n = strlen(s);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s[n - 1] != units[i].c)
			continue;
		if (n - 1 >= sizeof(num) || n < 2)
			break;
		memcpy(num, s, n - 1);
		num[n - 1] = 0;
		if (grctl_parse_u64(num, &v) || v > (uint64_t)now_s / units[i].mul)
			break;
		*ns = (uint64_t)(now_s - (int64_t)(v * units[i].mul)) * NS_PER_S;
		return 0;
	}
	return fail(err, errlen, "--since wants @SECONDS, YYYY-MM-DDTHH:MM:SSZ or an age "
		    "like 90s, 10m, 2h, 7d", s);
}
