// SPDX-License-Identifier: GPL-2.0
/*
 * The /dev/georep/<volume> and <volume>.log links to a volume's device
 * nodes (/dev/georepN, /dev/georepN-log), made by georepctl volume create
 * and by georepd when it creates or attaches a replica itself.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "georep/devlinks.h"

/* point @dir/<name><sfx> at @target, replacing a stale link atomically */
static int make_link(const char *dir, const char *name, const char *sfx,
		     const char *target, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int ret;

	if (snprintf(path, sizeof(path), "%s/%s%s", dir, name, sfx) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s%s.tmp", dir, name, sfx) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "link path for %s too long", name);
		return -ENAMETOOLONG;
	}
	unlink(tmp);
	if (symlink(target, tmp)) {
		ret = -errno;
		snprintf(err, errlen, "cannot create link %s: %s", tmp, strerror(errno));
		return ret;
	}
	if (rename(tmp, path)) {
		ret = -errno;
		snprintf(err, errlen, "cannot create link %s: %s", path, strerror(errno));
		unlink(tmp);
		return ret;
	}
	return 0;
}

int georep_dev_links(const char *dir, const char *name, uint32_t minor, char *err,
		     size_t errlen)
{
	char target[64];
	int ret;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return ret;
	}
	snprintf(target, sizeof(target), "../georep%u", minor);
	ret = make_link(dir, name, "", target, err, errlen);
	if (ret)
		return ret;
	snprintf(target, sizeof(target), "../georep%u-log", minor);
	return make_link(dir, name, ".log", target, err, errlen);
}
