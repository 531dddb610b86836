/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georepctl config: declared here until georepctl.h lists it with the other
 * command groups (the build force-includes this header into commands.c).
 */
#ifndef _GEOREPCTL_CMD_CONFIG_H
#define _GEOREPCTL_CMD_CONFIG_H

int config_main(int argc, char *argv[]);

#endif /* _GEOREPCTL_CMD_CONFIG_H */
