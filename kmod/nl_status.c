// SPDX-License-Identifier: GPL-2.0
/*
 * The volume status every georep reply and event carries: what
 * GEOREP_CMD_VOLUME_GET returns, built from struct georep_status; the
 * replies that carry it, and the events on the "events" group.
 *
 * Events go to the network namespaces of the initial user namespace only:
 * the group needs CAP_NET_ADMIN in the socket's namespace's owner
 * (GENL_MCAST_CAP_NET_ADMIN), which in a namespace of another user
 * namespace its own root has.
 */
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/user_namespace.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>

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
	     + nla_total_size_64bit(sizeof(u64))	/* BAD_SEQ */
	     + nla_total_size(0)			/* KEY_EPOCHS */
	     + nla_total_size(sizeof(u32)) * GEOREP_MAX_KEYS;
}

static int put_key_epochs(struct sk_buff *skb, const struct georep_status *st)
{
	struct nlattr *nest;
	u32 i;

	nest = nla_nest_start(skb, GEOREP_A_KEY_EPOCHS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < st->nr_key_epochs; i++) {
		if (nla_put_u32(skb, GEOREP_A_KEY, st->key_epochs[i])) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
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
	    nla_put(skb, GEOREP_A_CHAIN_HASH, GEOREP_HASH_LEN, st->chain_hash) ||
	    put_key_epochs(skb, st))
		return -EMSGSIZE;
	return 0;
}

/* ---- replies ---- */

/*
 * Reply to a request with the volume's status; on a failed verification
 * also BAD_SEQ and ERROR (the request then fails with -EBADMSG after it).
 */
int georep_nl_reply_status_seq(struct genl_info *info,
			       struct georep_volume *vol, const u64 *bad_seq,
			       const u64 *written_seq)
{
	struct georep_status *st;
	struct sk_buff *msg;
	void *hdr;
	int ret = -ENOMEM;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		goto out;
	msg = genlmsg_new(georep_nl_status_size(), GFP_KERNEL);
	if (!msg)
		goto out_free_st;
	ret = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &georep_nl_family, 0,
				info->genlhdr->cmd);
	if (!hdr)
		goto out_free_msg;

	georep_volume_status(vol, st);
	if (written_seq)
		st->written_seq = *written_seq;
	if (georep_nl_put_status(msg, st))
		goto out_free_msg;
	if (bad_seq &&
	    (georep_nl_put_u64(msg, GEOREP_A_BAD_SEQ, *bad_seq) ||
	     nla_put_s32(msg, GEOREP_A_ERROR, -EBADMSG)))
		goto out_free_msg;
	genlmsg_end(msg, hdr);
	kfree(st);
	return genlmsg_reply(msg, info);

out_free_msg:
	nlmsg_free(msg);
out_free_st:
	kfree(st);
out:
	return ret;
}

int georep_nl_reply_status(struct genl_info *info, struct georep_volume *vol,
			   const u64 *bad_seq)
{
	return georep_nl_reply_status_seq(info, vol, bad_seq, NULL);
}

/*
 * VOLUME_NEW failed on a bad record: there is no volume to describe, so
 * the error-path reply carries NAME, BAD_SEQ and ERROR only.
 */
void georep_nl_reply_bad_seq(struct genl_info *info, const char *name,
			     u64 bad_seq, int err, u32 epoch)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(georep_nl_status_size(), GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put_reply(msg, info, &georep_nl_family, 0,
				info->genlhdr->cmd);
	if (!hdr ||
	    nla_put_string(msg, GEOREP_A_NAME, name) ||
	    georep_nl_put_u64(msg, GEOREP_A_BAD_SEQ, bad_seq) ||
	    nla_put_s32(msg, GEOREP_A_ERROR, err) ||
	    (epoch && nla_put_u32(msg, GEOREP_A_SEAL_EPOCH, epoch))) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_reply(msg, info);
}

/* ---- events ---- */

/* events go out while set; georep_nl_events_sem covers a whole send */
static bool georep_nl_events_on;
static DECLARE_RWSEM(georep_nl_events_sem);

void georep_nl_events_start(void)
{
	down_write(&georep_nl_events_sem);
	georep_nl_events_on = true;
	up_write(&georep_nl_events_sem);
}

void georep_nl_events_stop(void)
{
	down_write(&georep_nl_events_sem);
	georep_nl_events_on = false;
	up_write(&georep_nl_events_sem);
}

/*
 * To every network namespace of the initial user namespace: there joining
 * the group took CAP_NET_ADMIN in the initial user namespace. A namespace
 * of another user namespace gets nothing (its root may join the group
 * there). Consumes @msg.
 */
static void georep_nl_multicast(struct sk_buff *msg)
{
	struct sk_buff *copy;
	struct net *net;

	rcu_read_lock();
	for_each_net_rcu(net) {
		if (net->user_ns != &init_user_ns)
			continue;
		copy = skb_clone(msg, GFP_ATOMIC);
		if (!copy)
			break;
		genlmsg_multicast_netns(&georep_nl_family, net, copy, 0,
					GEOREP_NL_MCGRP_EVENTS, GFP_ATOMIC);
	}
	rcu_read_unlock();
	nlmsg_free(msg);
}

/**
 * georep_notify() - multicast an event on the "events" group
 * @vol: the volume; its status goes with the event
 * @event: what happened
 * @error: negative errno for GEOREP_EVENT_IO_ERROR, else 0
 *
 * Context: process context, may sleep. Must not be called with a lock
 * held that georep_volume_status() takes. Never fails the caller: a
 * message that cannot be built or delivered is dropped (listeners see
 * ENOBUFS on their socket when the kernel drops it for them). After
 * georep_nl_events_stop(), nothing is sent.
 */
void georep_notify(struct georep_volume *vol, enum georep_event event, int error)
{
	struct georep_status *st;
	struct sk_buff *msg;
	void *hdr;

	down_read(&georep_nl_events_sem);
	if (!georep_nl_events_on)
		goto out_unlock;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		goto out_drop;
	msg = genlmsg_new(georep_nl_status_size(), GFP_KERNEL);
	if (!msg)
		goto out_free_st;
	hdr = genlmsg_put(msg, 0, 0, &georep_nl_family, 0, GEOREP_CMD_EVENT);
	if (!hdr)
		goto out_free_msg;

	georep_volume_status(vol, st);
	if (georep_nl_put_status(msg, st) ||
	    nla_put_u8(msg, GEOREP_A_EVENT, event) ||
	    (error && nla_put_s32(msg, GEOREP_A_ERROR, error)))
		goto out_free_msg;
	genlmsg_end(msg, hdr);
	kfree(st);
	georep_nl_multicast(msg);
	goto out_unlock;

out_free_msg:
	nlmsg_free(msg);
out_free_st:
	kfree(st);
out_drop:
	pr_warn_ratelimited("%s: event %d dropped\n", georep_volume_name(vol),
			    event);
out_unlock:
	up_read(&georep_nl_events_sem);
}
