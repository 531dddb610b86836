// SPDX-License-Identifier: GPL-2.0
/*
 * The georepctl command table. Adding a command group: one line here, its
 * <group>_main() declared in georepctl.h, its cmd_<group>.c in build.mk.
 */
#include "georepctl.h"

const struct grctl_cmd grctl_commands[] = {
	{ "volume", volume_main, "create, delete and change volumes" },
	{ "status", status_main, "show volume status (text or --json)" },
	{ "ledger", ledger_main, "dump, verify and release ledger records" },
	{ "key", key_main, "rotate seal keys" },
	{ "config", config_main, "check a cluster configuration file" },
	{ NULL }
};
