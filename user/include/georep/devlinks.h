/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GEOREP_DEVLINKS_H
#define _GEOREP_DEVLINKS_H

#include <stddef.h>
#include <stdint.h>

#define GEOREP_DEV_DIR		"/dev/georep"

/*
 * georep_dev_links() - @dir/<name> -> ../georep<minor> and
 * @dir/<name>.log -> ../georep<minor>-log, replacing stale links
 * atomically; @dir is created (0755) when missing.
 * Return: 0, or -errno with the reason in @err.
 */
int georep_dev_links(const char *dir, const char *name, uint32_t minor, char *err,
		     size_t errlen);

#endif /* _GEOREP_DEVLINKS_H */
