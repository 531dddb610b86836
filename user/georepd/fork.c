// SPDX-License-Identifier: GPL-2.0
/* Keeping a truncated ledger suffix in a fork file: see fork.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "georep/record.h"
#include "fork.h"

#define FORK_BUF	(4U << 20)

int gd_fork_save(struct gd_ledger *l, const char *dir, const char *volume,
		 uint64_t from, uint64_t to, struct gd_fork *fk)
{
	uint64_t seq = from;
	uint8_t *buf;
	int fd, dfd, ret = 0;

	memset(fk, 0, sizeof(*fk));
	fk->from = from;
	fk->to = to;
	snprintf(fk->path, sizeof(fk->path), "%s/%s.fork-%llu-%llu-%lld", dir, volume,
		 (unsigned long long)from, (unsigned long long)to, (long long)time(NULL));
	buf = malloc(FORK_BUF);
	if (!buf)
		return -ENOMEM;
	fd = open(fk->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	while (seq <= to) {
		ssize_t n = l->ops->read(l, seq, buf, FORK_BUF);
		size_t off = 0, keep = 0;
		struct georep_rec rec;
		const uint8_t *hdr, *payload;

		if (n <= 0) {
			ret = n ? (int)n : -ENODATA;
			goto out_close;
		}
		while (seq <= to && !georep_record_next(buf, n, &off, &rec, &hdr, &payload,
							NULL, 0)) {
			if (rec.seq != seq) {
				ret = -EIO;
				goto out_close;
			}
			if (!fk->records)
				fk->term_first = rec.term;
			fk->term_last = rec.term;
			fk->records++;
			keep = off;
			seq++;
		}
		if (write(fd, buf, keep) != (ssize_t)keep) {
			ret = -EIO;
			goto out_close;
		}
		fk->bytes += keep;
	}
	if (fsync(fd))
		ret = -errno;
out_close:
	close(fd);
	if (ret) {
		unlink(fk->path);
		goto out_free;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd))
			ret = -errno;
		close(dfd);
	}
out_free:
	free(buf);
	return ret;
}
