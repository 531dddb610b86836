/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georepctl site: declared here (like cmd_config.h) so that merging it
 * touches georepctl.h and commands.c as little as possible; the build
 * force-includes this header into commands.c.
 */
#ifndef _GEOREPCTL_CMD_SITE_H
#define _GEOREPCTL_CMD_SITE_H

int site_main(int argc, char *argv[]);

#endif /* _GEOREPCTL_CMD_SITE_H */
