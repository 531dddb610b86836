// SPDX-License-Identifier: GPL-2.0
/*
 * Whole writes to a file descriptor (state files, keys, notes, relays).
 */
#include <errno.h>
#include <unistd.h>

#include "georep/fdio.h"

int gr_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
