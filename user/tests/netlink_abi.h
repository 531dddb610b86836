/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the parts of georep-nl-abi (netlink_abi*.c), the ABI test of
 * the "georep" generic netlink family.
 */
#ifndef _GEOREP_TESTS_NETLINK_ABI_H
#define _GEOREP_TESTS_NETLINK_ABI_H

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <linux/georep.h>

#define NOBODY_ID	65534

extern int family;
extern int test_nr;
extern int failures;

/* what one request brought back */
struct result {
	bool done;
	int error;			/* 0 or negative errno from the ack */
	char msg[256];			/* extack message, "" when none */
	uint32_t miss_type;		/* NLMSGERR_ATTR_MISS_TYPE, 0 when none */
	bool has_offs;			/* NLMSGERR_ATTR_OFFS present */
	bool has_cookie;
	uint64_t cookie;
	int replies;			/* GEOREP messages received */
	/* from the last reply */
	char name[GEOREP_NAME_MAX];
	bool has_minor;
	uint32_t minor;
	uint8_t role;
	uint64_t term;
	uint32_t seal_epoch;
	int nr_key_epochs;		/* KEY_EPOCHS entries, -1: a bad one */
	uint32_t key_epochs[GEOREP_MAX_KEYS];
	uint64_t written_seq;
	uint64_t tail_seq;
	uint8_t high_wm, low_wm;
	uint64_t max_uncommitted;
	bool has_bad_seq;
	uint64_t bad_seq;
	/* dumps: names seen */
	char names[64][GEOREP_NAME_MAX];
	uint32_t minors[64];
	int nr_names;
};

/* VOLUME_NEW with everything valid except what @omit leaves out */
enum { OMIT_NAME = 1, OMIT_DATA = 2, OMIT_KEYS = 4 };

void diag(const char *fmt, ...);
void expect(struct nl_sock *sk, struct nl_msg *msg, int err,
	    const char *text, uint32_t miss, const char *what);
void ktap(bool ok, const char *fmt, ...);
struct nl_msg *new_req(const char *name, int omit);
struct nl_sock *nl_open(void);
void put_key(struct nl_msg *msg, uint32_t epoch, int len);
void put_keys(struct nl_msg *msg, int nr);
struct nl_msg *req(uint8_t cmd, int flags);
void xfer(struct nl_sock *sk, struct nl_msg *msg, struct result *r);
void test_eperm(const char *volume);
void test_family(void);
void test_new_attrs(struct nl_sock *sk);
void test_other_cmds(struct nl_sock *sk);
bool del_volume(struct nl_sock *sk, const char *name, struct result *r);
void test_live(struct nl_sock *sk, char **dev);
void test_attach(struct nl_sock *sk, char **dev, uint64_t written);
void test_stream(struct nl_sock *sk, const char *path,
		 const char *bpath, const char *sec_path);
void test_verify(struct nl_sock *sk, const char *logdev);
uint64_t written_seq(struct nl_sock *sk, const char *name, uint64_t *tail);

#endif /* _GEOREP_TESTS_NETLINK_ABI_H */
