/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GEOREP_FDIO_H
#define _GEOREP_FDIO_H

#include <stddef.h>

/*
 * gr_write_all() - write all @len bytes of @buf to @fd (blocking), again
 * after EINTR and after short writes.
 * Return: 0, or -errno (-EIO when write() wrote nothing).
 */
int gr_write_all(int fd, const void *buf, size_t len);

#endif /* _GEOREP_FDIO_H */
