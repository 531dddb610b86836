// SPDX-License-Identifier: GPL-2.0
/* The last final checkpoint of a volume, persisted: see final.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "georep/fdio.h"
#include "final.h"

#define TMP_SUFFIX	".final.state.tmp"	/* removed by gd_statedir_open() */

int gd_final_check(const char *note, size_t len, const char *origin,
		   const struct gr_note_key *keys, unsigned int nkeys, unsigned int quorum,
		   uint64_t *size, gr_mhash root, char *err)
{
	char o[GR_NOTE_NAME_MAX], why[GR_NOTE_ERRLEN];
	struct gr_note_result res;
	const char *split;
	int ret;

	split = len ? memmem(note, len, "\n\n", 2) : NULL;
	if (!split)
		goto bad_note;
	if (gr_checkpoint_parse(note, split + 1 - note, o, sizeof(o), size, root, why)) {
		snprintf(err, GD_FINAL_ERRLEN, "not a checkpoint: %.200s", why);
		return -EBADMSG;
	}
	if (strcmp(o, origin)) {
		snprintf(err, GD_FINAL_ERRLEN, "a checkpoint of %.100s, not of %.100s", o, origin);
		return -EBADMSG;
	}
	ret = gr_note_verify(note, len, keys, nkeys, &res, why);
	if (ret == -ENOKEY && res.nsigs >= quorum) {
		snprintf(err, GD_FINAL_ERRLEN, "checkpoint %llu: its %u signatures are by keys "
			 "this site does not know (a key rollover?)", (unsigned long long)*size,
			 res.nsigs);
		return -ENOKEY;
	}
	if (ret) {
		snprintf(err, GD_FINAL_ERRLEN, "checkpoint %llu: %.200s", (unsigned long long)*size,
			 why);
		return -EBADMSG;
	}
	if (res.nnames < quorum) {
		snprintf(err, GD_FINAL_ERRLEN,
			 "checkpoint %llu: %u site(s) vouch for it, a majority is %u",
			 (unsigned long long)*size, res.nnames, quorum);
		return -EBADMSG;
	}
	return 0;
bad_note:
	snprintf(err, GD_FINAL_ERRLEN, "not a signed note (no empty line before signatures)");
	return -EBADMSG;
}

int gd_final_save(const char *dir, const char *volume, const char *note, size_t len,
		  char *err)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd, dfd, ret;

	snprintf(tmp, sizeof(tmp), "%s/%s" TMP_SUFFIX, dir, volume);
	snprintf(path, sizeof(path), "%s/%s.final", dir, volume);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, GD_FINAL_ERRLEN, "cannot create %.200s: %s", tmp, strerror(-ret));
		return ret;
	}
	ret = gr_write_all(fd, note, len);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		snprintf(err, GD_FINAL_ERRLEN, "cannot save %.200s: %s", path, strerror(-ret));
		unlink(tmp);
		return ret;
	}
	/* the rename itself must be durable before the checkpoint counts as kept */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd)) {
		ret = -errno;
		snprintf(err, GD_FINAL_ERRLEN, "cannot sync %.200s: %s", dir, strerror(-ret));
	}
	if (dfd >= 0)
		close(dfd);
	return ret;
}

int gd_final_load(const char *dir, const char *volume, const char *origin,
		  const struct gr_note_key *keys, unsigned int nkeys, unsigned int quorum,
		  char *note, size_t *len, uint64_t *size, gr_mhash root, char *err)
{
	char path[PATH_MAX], why[GD_FINAL_ERRLEN];
	ssize_t n;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s.final", dir, volume);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, GD_FINAL_ERRLEN, "%.200s: %s", path, strerror(-ret));
		return ret;
	}
	n = read(fd, note, GD_FINAL_MAX + 1);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret) {
		snprintf(err, GD_FINAL_ERRLEN, "%.200s: %s", path, strerror(-ret));
		return ret;
	}
	if (n > GD_FINAL_MAX) {
		snprintf(err, GD_FINAL_ERRLEN, "%.200s: over %u bytes: not a final checkpoint",
			 path, GD_FINAL_MAX);
		return -EBADMSG;
	}
	note[n] = 0;
	*len = n;
	ret = gd_final_check(note, n, origin, keys, nkeys, quorum, size, root, why);
	if (ret)
		snprintf(err, GD_FINAL_ERRLEN, "%.100s: %.150s", path, why);
	return ret;
}
