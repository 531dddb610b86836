// SPDX-License-Identifier: GPL-2.0
/*
 * The volume status every georep reply and event carries: what
 * GEOREP_CMD_VOLUME_GET returns, built from struct georep_status.
 */
#include <net/genetlink.h>

#include "nl.h"

size_t georep_nl_status_size(void)
{
	return nla_total_size(GEOREP_NAME_MAX)		/* NAME */
	     + nla_total_size(GEOREP_UUID_LEN)		/* UUID */
	     + nla_total_size(sizeof(u32)) * 4		/* MINOR SITE_ID SEAL_EPOCH OPEN_COUNT */
	     /* ROLE RULE THROTTLED WMs IO_STATE DIVERGED STANDALONE */
	     + nla_total_size(sizeof(u8)) * 8
	     + nla_total_size_64bit(sizeof(u64)) * 11	/* TERM ... MAX_UNCOMMITTED */
	     + nla_total_size(GEOREP_HASH_LEN)		/* CHAIN_HASH */
	     + nla_total_size(sizeof(u8))		/* EVENT */
	     + nla_total_size(sizeof(s32))		/* ERROR */
	     + nla_total_size_64bit(sizeof(u64));	/* BAD_SEQ */
}

int georep_nl_put_status(struct sk_buff *skb, const struct georep_status *st)
{
	if (nla_put_string(skb, GEOREP_A_NAME, st->name) ||
	    nla_put(skb, GEOREP_A_UUID, GEOREP_UUID_LEN, st->uuid) ||
	    nla_put_u32(skb, GEOREP_A_MINOR, st->minor) ||
	    nla_put_u32(skb, GEOREP_A_SITE_ID, st->site_id) ||
	    nla_put_u8(skb, GEOREP_A_ROLE, st->role) ||
	    georep_nl_put_u64(skb, GEOREP_A_TERM, st->term) ||
	    nla_put_u8(skb, GEOREP_A_COMMIT_RULE, st->commit_rule) ||
	    georep_nl_put_u64(skb, GEOREP_A_DATA_BYTES, st->data_bytes) ||
	    georep_nl_put_u64(skb, GEOREP_A_WRITTEN_SEQ, st->written_seq) ||
	    georep_nl_put_u64(skb, GEOREP_A_COMMIT_SEQ, st->commit_seq) ||
	    georep_nl_put_u64(skb, GEOREP_A_APPLIED_SEQ, st->applied_seq) ||
	    georep_nl_put_u64(skb, GEOREP_A_TAIL_SEQ, st->tail_seq) ||
	    georep_nl_put_u64(skb, GEOREP_A_LOG_USED, st->log_used) ||
	    georep_nl_put_u64(skb, GEOREP_A_LOG_SIZE, st->log_size) ||
	    georep_nl_put_u64(skb, GEOREP_A_UNCOMMITTED_BYTES,
			      st->uncommitted_bytes) ||
	    nla_put_u8(skb, GEOREP_A_THROTTLED, st->throttled) ||
	    nla_put_u8(skb, GEOREP_A_LOG_HIGH_WM, st->high_wm) ||
	    nla_put_u8(skb, GEOREP_A_LOG_LOW_WM, st->low_wm) ||
	    georep_nl_put_u64(skb, GEOREP_A_MAX_UNCOMMITTED,
			      st->max_uncommitted) ||
	    nla_put_u32(skb, GEOREP_A_SEAL_EPOCH, st->seal_epoch) ||
	    nla_put_u32(skb, GEOREP_A_OPEN_COUNT, st->open_count) ||
	    nla_put_u8(skb, GEOREP_A_IO_STATE, st->io_state) ||
	    nla_put_u8(skb, GEOREP_A_DIVERGED, st->diverged) ||
	    nla_put_u8(skb, GEOREP_A_STANDALONE, st->standalone) ||
	    nla_put(skb, GEOREP_A_CHAIN_HASH, GEOREP_HASH_LEN, st->chain_hash))
		return -EMSGSIZE;
	return 0;
}
