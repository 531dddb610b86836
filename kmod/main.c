// SPDX-License-Identifier: GPL-2.0
/*
 * georep.ko: module init and exit.
 *
 * Order of init, undone in exact reverse by exit:
 *
 *  1. the log stream (char device region and class), which every volume
 *     registers its /dev/georepN-log node with;
 *  2. the volumes, which need the stream to exist;
 *  3. the generic netlink family, last, so that no command can reach a
 *     half-initialised module.
 *
 * Exit: georep_netlink_exit() first stops events (a send under way
 * finishes first; from then on a volume's notify work, which may still run
 * until georep_volumes_exit() cancels it, sends nothing and never touches
 * the family), then unregisters the family, which waits for commands under
 * way, so no command can create or use a volume from then on.
 * georep_volumes_exit() then cancels each volume's work and destroys it
 * while the stream can still remove its nodes.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <net/genetlink.h>

#include "georep.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static int __init georep_init(void)
{
	int ret;

	ret = georep_stream_init();
	if (ret)
		return ret;

	ret = georep_volumes_init();
	if (ret)
		goto out_stream;

	ret = georep_netlink_init();
	if (ret)
		goto out_volumes;

	pr_info("replicated ledger volumes, genetlink family %s v%d\n",
		GEOREP_GENL_NAME, GEOREP_GENL_VERSION);
	return 0;

out_volumes:
	georep_volumes_exit();
out_stream:
	georep_stream_exit();
	return ret;
}

static void __exit georep_exit(void)
{
	georep_netlink_exit();
	georep_volumes_exit();
	georep_stream_exit();
}

module_init(georep_init);
module_exit(georep_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("georep replicated ledger volumes");
MODULE_AUTHOR("georep developers");
MODULE_ALIAS_GENL_FAMILY(GEOREP_GENL_NAME);
