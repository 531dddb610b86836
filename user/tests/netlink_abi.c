// SPDX-License-Identifier: GPL-2.0
/*
 * georep-nl-abi: ABI test of the "georep" generic netlink family.
 *
 *   georep-nl-abi                      malformed and missing attributes,
 *                                      permissions, unknown volumes
 *   georep-nl-abi --list               dump: "minor name" per volume; fails
 *                                      on a duplicate or out-of-order volume
 *   georep-nl-abi --live D0 L0 D1 L1   also creates volumes "abi0" (D0/L0)
 *                                      and "abi1" (D1/L1) and checks replies,
 *                                      dumps, events, the log stream node,
 *                                      EBUSY while the device is open and
 *                                      ENODEV on a stream file after delete
 *
 * Every request is built with libnl-genl; extended acks are enabled and the
 * errno, the extack message text and the missing-attribute report are
 * checked against Documentation/netlink.rst. Output is KTAP; exit status
 * 0 pass, 1 failure, 4 skip (module not loaded, or not root).
 */
#include "netlink_abi.h"

int family;
int test_nr;
int failures;

/*
 * --list: dump every volume and print "minor name" lines; fail when a
 * volume comes twice or out of minor order (a dump resumed wrongly).
 */
static int list_volumes(struct nl_sock *sk)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_GET, NLM_F_DUMP);
	struct result r;
	int i, bad = 0;

	xfer(sk, msg, &r);
	if (r.error) {
		fprintf(stderr, "dump: %s %s\n", strerror(-r.error), r.msg);
		return 1;
	}
	for (i = 0; i < r.nr_names; i++) {
		printf("%u %s\n", r.minors[i], r.names[i]);
		if (i && r.minors[i] <= r.minors[i - 1]) {
			fprintf(stderr, "minor %u after %u\n", r.minors[i],
				r.minors[i - 1]);
			bad = 1;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	struct nl_sock *sk;
	bool live = argc == 6 && !strcmp(argv[1], "--live");
	bool list = argc == 2 && !strcmp(argv[1], "--list");
	int ret;

	if (argc != 1 && !live && !list) {
		fprintf(stderr, "usage: %s [--live DATA0 LOG0 DATA1 LOG1 | --list]\n",
			argv[0]);
		return 2;
	}
	if (list) {
		sk = nl_open();
		/*
		 * 4 KiB reads: the kernel sizes dump skbs after the reader's
		 * buffer, so a dozen volumes already need a resumed dump
		 */
		nl_socket_set_msg_buf_size(sk, 4096);
		family = genl_ctrl_resolve(sk, GEOREP_GENL_NAME);
		ret = family < 0 ? 4 : list_volumes(sk);
		nl_socket_free(sk);
		return ret;
	}
	printf("KTAP version 1\n");
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 4;
	}
	sk = nl_open();
	family = genl_ctrl_resolve(sk, GEOREP_GENL_NAME);
	if (family < 0) {
		printf("1..0 # SKIP genetlink family %s not registered\n",
		       GEOREP_GENL_NAME);
		nl_socket_free(sk);
		return 4;
	}

	test_family();
	test_new_attrs(sk);
	test_other_cmds(sk);
	test_eperm("abi-none");
	if (live)
		test_live(sk, argv + 2);

	printf("1..%d\n", test_nr);
	nl_socket_free(sk);
	return failures ? 1 : 0;
}
