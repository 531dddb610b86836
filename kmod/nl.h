/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What netlink.c shares with nl_status.c, the volume status filler used by
 * every reply and event. Nothing in the volume half includes this file.
 */
#ifndef _GEOREP_NL_H
#define _GEOREP_NL_H

#include <net/genetlink.h>

#include "georep.h"

static inline int georep_nl_put_u64(struct sk_buff *skb, int type, u64 value)
{
	return nla_put_u64_64bit(skb, type, value, GEOREP_A_PAD);
}

/* room for a status, EVENT, ERROR and BAD_SEQ */
size_t georep_nl_status_size(void);
/* the status attributes; -EMSGSIZE when they do not fit */
int georep_nl_put_status(struct sk_buff *skb, const struct georep_status *st);

#endif /* _GEOREP_NL_H */
