// SPDX-License-Identifier: GPL-2.0
/* Durable per-volume state of georepd (see state.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "georep/fdio.h"
#include "state.h"

#define ERRLEN		256
#define TMP_SUFFIX	".state.tmp"

int gd_state_fail_point;

struct gd_statedir {
	char *path;
	int dirfd;
	int lockfd;
	unsigned int cleaned;
};

static int mkdir_p(const char *path)
{
	char buf[4096], *p;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t l = strlen(s), n = strlen(suffix);

	return l > n && !strcmp(s + l - n, suffix);
}

int gd_statedir_open(const char *path, struct gd_statedir **out, char *err)
{
	struct gd_statedir *sd;
	struct dirent *de;
	char pid[32];
	DIR *dir;
	int ret, fd;

	ret = mkdir_p(path);
	if (ret) {
		snprintf(err, ERRLEN, "cannot create state directory %s: %s", path,
			 strerror(-ret));
		return ret;
	}
	sd = calloc(1, sizeof(*sd));
	if (sd)
		sd->path = strdup(path);
	if (!sd || !sd->path) {
		free(sd);
		snprintf(err, ERRLEN, "out of memory");
		return -ENOMEM;
	}
	sd->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sd->dirfd < 0) {
		ret = -errno;
		snprintf(err, ERRLEN, "cannot open state directory %s: %s", path,
			 strerror(errno));
		goto out_free;
	}
	sd->lockfd = openat(sd->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sd->lockfd < 0) {
		ret = -errno;
		snprintf(err, ERRLEN, "cannot open %s/lock: %s", path, strerror(errno));
		goto out_close_dir;
	}
	if (flock(sd->lockfd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		snprintf(err, ERRLEN, "state directory %s is in use by another georepd", path);
		goto out_close_lock;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(sd->lockfd, 0) || pwrite(sd->lockfd, pid, strlen(pid), 0) < 0) {
		ret = -errno;
		snprintf(err, ERRLEN, "cannot write %s/lock: %s", path, strerror(errno));
		goto out_close_lock;
	}

	/* temp files are half-done saves of a crashed daemon: the real file rules */
	fd = dup(sd->dirfd);
	dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, ERRLEN, "cannot list %s: %s", path, strerror(-ret));
		goto out_close_lock;
	}
	while ((de = readdir(dir))) {
		if (has_suffix(de->d_name, TMP_SUFFIX) &&
		    !unlinkat(sd->dirfd, de->d_name, 0))
			sd->cleaned++;
	}
	closedir(dir);
	if (sd->cleaned)
		fsync(sd->dirfd);
	*out = sd;
	return 0;

out_close_lock:
	close(sd->lockfd);
out_close_dir:
	close(sd->dirfd);
out_free:
	free(sd->path);
	free(sd);
	return ret;
}

void gd_statedir_close(struct gd_statedir *sd)
{
	if (!sd)
		return;
	close(sd->lockfd);	/* releases the flock */
	close(sd->dirfd);
	free(sd->path);
	free(sd);
}

const char *gd_statedir_path(const struct gd_statedir *sd)
{
	return sd->path;
}

unsigned int gd_statedir_cleaned(const struct gd_statedir *sd)
{
	return sd->cleaned;
}

static json_t *to_json(const char *volume, const struct gd_vstate *st)
{
	json_t *o, *members;
	uint32_t i;

	members = json_array();
	for (i = 0; members && i < st->nmembers; i++)
		json_array_append_new(members,
			json_pack("{s:I, s:b}", "site_id", (json_int_t)st->members[i].site_id,
				  "voter", st->members[i].voter));
	o = json_pack("{s:i, s:s, s:I, s:I, s:I, s:o}", "version", GD_STATE_VERSION,
		      "volume", volume, "term", (json_int_t)st->term,
		      "vote", (json_int_t)st->vote, "commit", (json_int_t)st->commit,
		      "members", members);
	return o;
}

int gd_vstate_save(struct gd_statedir *sd, const char *volume,
		   const struct gd_vstate *st)
{
	char tmp[GEOREP_NAME_MAX + 16], final[GEOREP_NAME_MAX + 16];
	json_t *o = to_json(volume, st);
	char *text;
	int fd, ret;

	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s" TMP_SUFFIX, volume);
	snprintf(final, sizeof(final), "%s.state", volume);

	fd = openat(sd->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	ret = gr_write_all(fd, text, strlen(text));
	if (!ret)
		ret = gr_write_all(fd, "\n", 1);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (ret)
		goto out_unlink;
	if (gd_state_fail_point == GD_FAIL_BEFORE_RENAME) {
		gd_state_fail_point = GD_FAIL_NONE;
		ret = -EIO;	/* "crash": the temp file stays behind */
		goto out_free;
	}
	if (renameat(sd->dirfd, tmp, sd->dirfd, final)) {
		ret = -errno;
		goto out_unlink;
	}
	/* the rename itself must be durable before anyone relies on it */
	if (fsync(sd->dirfd))
		ret = -errno;
	goto out_free;

out_unlink:
	unlinkat(sd->dirfd, tmp, 0);
out_free:
	free(text);
	return ret;
}

static int get_u64(json_t *o, const char *key, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

int gd_vstate_load(struct gd_statedir *sd, const char *volume,
		   struct gd_vstate *st, char *err)
{
	char name[GEOREP_NAME_MAX + 16];
	json_error_t jerr;
	json_t *o, *members, *m;
	uint64_t v, id;
	size_t i;
	int fd;

	snprintf(name, sizeof(name), "%s.state", volume);
	fd = openat(sd->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, ERRLEN, "%s/%s: %s", sd->path, name, strerror(errno));
		return -errno;
	}
	o = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	close(fd);
	if (!o) {
		snprintf(err, ERRLEN, "%s/%s: line %d: %s", sd->path, name, jerr.line,
			 jerr.text);
		return -EBADMSG;
	}
	memset(st, 0, sizeof(*st));
	if (get_u64(o, "version", UINT32_MAX, &v) || v != GD_STATE_VERSION) {
		snprintf(err, ERRLEN, "%s/%s: unsupported version", sd->path, name);
		goto out_bad;
	}
	if (!json_is_string(json_object_get(o, "volume")) ||
	    strcmp(json_string_value(json_object_get(o, "volume")), volume)) {
		snprintf(err, ERRLEN, "%s/%s: belongs to another volume", sd->path, name);
		goto out_bad;
	}
	if (get_u64(o, "term", INT64_MAX, &st->term) ||
	    get_u64(o, "vote", UINT32_MAX, &v) ||
	    get_u64(o, "commit", INT64_MAX, &st->commit)) {
		snprintf(err, ERRLEN, "%s/%s: bad term, vote or commit", sd->path, name);
		goto out_bad;
	}
	st->vote = v;
	members = json_object_get(o, "members");
	if (!json_is_array(members) || json_array_size(members) > GR_CFG_MAX_SITES) {
		snprintf(err, ERRLEN, "%s/%s: bad members", sd->path, name);
		goto out_bad;
	}
	json_array_foreach(members, i, m) {
		json_t *voter = json_object_get(m, "voter");

		if (get_u64(m, "site_id", UINT32_MAX, &id) || id == 0 ||
		    !json_is_boolean(voter)) {
			snprintf(err, ERRLEN, "%s/%s: bad member %zu", sd->path, name, i);
			goto out_bad;
		}
		st->members[i].site_id = id;
		st->members[i].voter = json_is_true(voter);
	}
	st->nmembers = json_array_size(members);
	json_decref(o);
	return 0;

out_bad:
	json_decref(o);
	return -EBADMSG;
}
