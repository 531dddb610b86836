/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What netlink.c shares with nl_status.c: the volume status that every
 * reply and event carries, the replies and the events. Nothing in the
 * volume half includes this file.
 */
#ifndef _GEOREP_NL_H
#define _GEOREP_NL_H

#include <net/genetlink.h>

#include "georep.h"

enum georep_nl_mcgrp {
	GEOREP_NL_MCGRP_EVENTS,
};

extern struct genl_family georep_nl_family;

static inline int georep_nl_put_u64(struct sk_buff *skb, int type, u64 value)
{
	return nla_put_u64_64bit(skb, type, value, GEOREP_A_PAD);
}

/* room for a status, EVENT, ERROR and BAD_SEQ */
size_t georep_nl_status_size(void);
/* the status attributes; -EMSGSIZE when they do not fit */
int georep_nl_put_status(struct sk_buff *skb, const struct georep_status *st);

/* the volume's status, and BAD_SEQ/ERROR when @bad_seq is set */
int georep_nl_reply_status_seq(struct genl_info *info, struct georep_volume *vol,
			       const u64 *bad_seq, const u64 *written_seq);
int georep_nl_reply_status(struct genl_info *info, struct georep_volume *vol,
			   const u64 *bad_seq);
/* a refused attach: BAD_SEQ, ERROR @err, and SEAL_EPOCH @epoch when not 0 */
void georep_nl_reply_bad_seq(struct genl_info *info, const char *name,
			     u64 bad_seq, int err, u32 epoch);

/* georep_notify() sends between start and stop; stop waits for a send */
void georep_nl_events_start(void);
void georep_nl_events_stop(void);

#endif /* _GEOREP_NL_H */
