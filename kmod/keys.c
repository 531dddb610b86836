// SPDX-License-Identifier: GPL-2.0
/*
 * The seal key ring of a volume: the epochs installed (at most
 * GEOREP_MAX_KEYS), the one sealing new records, and which epochs the
 * retained log still needs.
 *
 * The ring is read under RCU (record.c seals and checks with it) and
 * replaced whole by georep_keys_install(), under keys_mutex and, while the
 * new ring is decided and published, order_mutex: every record gets its
 * seal epoch and seal under order_mutex too, so no record can take an epoch
 * between the moment it is chosen to go and the moment it is gone.
 *
 * Retiring epochs. A full ring makes room for a new epoch by dropping its
 * lowest epoch that no retained record is sealed with and that is not the
 * sealing one. vol->epoch_use keeps, per epoch, the highest seq of a record
 * sealed with it that entered the log (georep_epoch_used(): the write path,
 * no-ops, secondary appends and recovery call it); an epoch whose last such
 * record is below tail_seq seals nothing retained. When no epoch can go,
 * KEY_SET fails with -ENOSPC and names the epoch and the retained record
 * that hold it: releasing the log past that record lets the next try
 * succeed. Userspace keeps every key file, so records released from the log
 * still verify with `georepctl ledger verify` against saved copies.
 */
#include <linux/netlink.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "vol.h"

/* the epoch @ring seals with: its set one, else its highest; 0 when empty */
static u32 ring_seal(const struct georep_keyring *ring)
{
	if (!ring || !ring->nr)
		return 0;
	return ring->seal ?: ring->slot[ring->nr - 1].epoch;
}

u32 georep_seal_epoch(struct georep_volume *vol)
{
	u32 epoch;

	rcu_read_lock();
	epoch = ring_seal(rcu_dereference(vol->keys));
	rcu_read_unlock();
	return epoch;
}

/*
 * The epochs installed, ascending, into @epochs (GEOREP_MAX_KEYS) and the
 * sealing one into @seal, both of one ring (a status never shows a sealing
 * epoch that is not among those held); how many.
 */
u32 georep_key_epochs(struct georep_volume *vol, u32 *epochs, u32 *seal)
{
	struct georep_keyring *ring;
	u32 i, nr = 0;

	rcu_read_lock();
	ring = rcu_dereference(vol->keys);
	for (i = 0; ring && i < ring->nr; i++)
		epochs[nr++] = ring->slot[i].epoch;
	*seal = ring_seal(ring);
	rcu_read_unlock();
	return nr;
}

/**
 * georep_epoch_used() - a record sealed with @epoch entered the log at @seq
 * @vol: the volume
 * @epoch: its seal epoch, installed
 * @seq: its seq
 *
 * Context: order_mutex held.
 */
void georep_epoch_used(struct georep_volume *vol, u32 epoch, u64 seq)
{
	struct georep_epoch_use *u, *spare = NULL;
	unsigned int i;

	lockdep_assert_held(&vol->order_mutex);
	for (i = 0; i < ARRAY_SIZE(vol->epoch_use); i++) {
		u = &vol->epoch_use[i];
		if (u->epoch == epoch) {
			u->last_seq = max(u->last_seq, seq);
			return;
		}
		if (!u->epoch || u->last_seq < vol->tail_seq)
			spare = spare ?: u;
	}
	/*
	 * An epoch in use is installed, and the ring has fewer slots than
	 * epoch_use has entries: a spare entry is always there.
	 */
	if (WARN_ON_ONCE(!spare))
		spare = &vol->epoch_use[0];
	spare->epoch = epoch;
	spare->last_seq = seq;
}

/* a reset dropped every record; Context: order_mutex held */
void georep_epoch_use_reset(struct georep_volume *vol)
{
	lockdep_assert_held(&vol->order_mutex);
	memset(vol->epoch_use, 0, sizeof(vol->epoch_use));
}

/* the last retained record sealed with @epoch, 0 if none; order_mutex */
static u64 epoch_retained(struct georep_volume *vol, u32 epoch)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vol->epoch_use); i++)
		if (vol->epoch_use[i].epoch == epoch &&
		    vol->epoch_use[i].last_seq >= vol->tail_seq)
			return vol->epoch_use[i].last_seq;
	return 0;
}

static struct crypto_shash *key_tfm(const struct georep_key *key)
{
	struct crypto_shash *tfm;
	int ret;

	tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	if (IS_ERR(tfm))
		return tfm;
	ret = crypto_shash_setkey(tfm, key->data, GEOREP_KEY_LEN);
	if (ret) {
		crypto_free_shash(tfm);
		return ERR_PTR(ret);
	}
	return tfm;
}

static void ring_insert(struct georep_keyring *ring, u32 epoch,
			struct crypto_shash *tfm)
{
	unsigned int i = ring->nr;

	while (i > 0 && ring->slot[i - 1].epoch > epoch) {
		ring->slot[i] = ring->slot[i - 1];
		i--;
	}
	ring->slot[i].epoch = epoch;
	ring->slot[i].tfm = tfm;
	ring->nr++;
}

static void ring_remove(struct georep_keyring *ring, unsigned int i)
{
	ring->nr--;
	memmove(&ring->slot[i], &ring->slot[i + 1],
		(ring->nr - i) * sizeof(ring->slot[0]));
}

static int keys_check(const struct georep_key *keys, unsigned int nr,
		      struct netlink_ext_ack *extack)
{
	unsigned int i, j;

	if (!nr || nr > GEOREP_MAX_KEYS) {
		NL_SET_ERR_MSG(extack, "between 1 and GEOREP_MAX_KEYS keys");
		return -EINVAL;
	}
	for (i = 0; i < nr; i++) {
		if (!keys[i].epoch) {
			NL_SET_ERR_MSG(extack, "key epoch 0 is not valid");
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (keys[j].epoch == keys[i].epoch) {
				NL_SET_ERR_MSG(extack, "key epoch given twice");
				return -EINVAL;
			}
		}
	}
	return 0;
}

/*
 * Drop the lowest old epochs of @ring (the old ring minus the replaced
 * epochs) into @dead until @nr new ones fit. Never the one that will seal
 * (@seal, or the highest epoch when 0), never one a retained record is
 * sealed with.
 * Context: order_mutex held, so that the use seen here stays true.
 */
static int ring_make_room(struct georep_volume *vol,
			  struct georep_keyring *ring,
			  struct georep_keyring *dead,
			  const struct georep_key *keys, unsigned int nr,
			  u32 seal, struct netlink_ext_ack *extack)
{
	u32 sealing = seal, held = 0;
	u64 held_seq = 0, last;
	unsigned int i;

	for (i = 0; !seal && i < nr; i++)
		sealing = max(sealing, keys[i].epoch);
	if (!seal && ring->nr)
		sealing = max(sealing, ring->slot[ring->nr - 1].epoch);
	i = 0;
	while (ring->nr + nr > GEOREP_MAX_KEYS && i < ring->nr) {
		last = epoch_retained(vol, ring->slot[i].epoch);
		if (ring->slot[i].epoch == sealing || last) {
			if (!held && last) {
				held = ring->slot[i].epoch;
				held_seq = last;
			}
			i++;
			continue;
		}
		dead->slot[dead->nr++] = ring->slot[i];
		ring_remove(ring, i);
	}
	if (ring->nr + nr <= GEOREP_MAX_KEYS)
		return 0;
	if (held)
		georep_extack_fmt(extack,
				  "key ring full: epoch %u seals retained record %llu; release the log past it",
				  held, held_seq);
	else
		NL_SET_ERR_MSG(extack, "key ring full");
	return -ENOSPC;
}

/* the new keys' transforms; Context: sleeps */
static int keys_tfms(const struct georep_key *keys, unsigned int nr,
		     struct crypto_shash **tfms, struct netlink_ext_ack *extack)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		tfms[i] = key_tfm(&keys[i]);
		if (IS_ERR(tfms[i])) {
			int ret = PTR_ERR(tfms[i]);

			tfms[i] = NULL;
			NL_SET_ERR_MSG(extack, "cannot set up hmac(sha256)");
			return ret;
		}
	}
	return 0;
}

/*
 * Build the ring that replaces @old: its epochs not replaced (dropping the
 * lowest unused ones when there is no room), then the new keys. Replaced
 * and dropped slots go to @dead. Context: keys_mutex and order_mutex held.
 */
static int ring_build(struct georep_volume *vol,
		      const struct georep_keyring *old,
		      struct georep_keyring *ring, struct georep_keyring *dead,
		      const struct georep_key *keys, unsigned int nr,
		      struct crypto_shash **tfms, u32 seal,
		      struct netlink_ext_ack *extack)
{
	unsigned int i, j;
	int ret;

	for (i = 0; old && i < old->nr; i++) {
		bool replaced = false;

		for (j = 0; j < nr; j++)
			replaced |= keys[j].epoch == old->slot[i].epoch;
		if (replaced)
			dead->slot[dead->nr++] = old->slot[i];
		else
			ring_insert(ring, old->slot[i].epoch, old->slot[i].tfm);
	}
	ret = ring_make_room(vol, ring, dead, keys, nr, seal, extack);
	if (ret)
		return ret;
	for (j = 0; j < nr; j++)
		ring_insert(ring, keys[j].epoch, tfms[j]);
	if (seal && georep_ring_find(ring, seal) < 0) {
		georep_extack_fmt(extack, "seal epoch %u is not installed", seal);
		return -ENOKEY;
	}
	ring->seal = seal;
	return 0;
}

/**
 * georep_keys_install() - add or replace seal keys
 * @vol: the volume
 * @keys: epochs >= 1, distinct
 * @nr: how many
 * @seal: the epoch to seal new records with (installed, here or before),
 *	  or 0 for the highest installed; lets a key be installed for
 *	  verification only, then sealing switch to it once every site has it
 * @extack: for the error message
 *
 * A key with an installed epoch replaces it; a new epoch is added. When
 * the ring would hold more than GEOREP_MAX_KEYS epochs its lowest unused
 * ones go (see "Retiring epochs" above); when not enough can, nothing
 * changes and -ENOSPC is returned. The replaced and dropped transforms are
 * freed, and their key state wiped, after an RCU grace period.
 *
 * Context: process context, sleeps; takes keys_mutex, then order_mutex.
 */
int georep_keys_install(struct georep_volume *vol,
			const struct georep_key *keys, unsigned int nr,
			u32 seal, struct netlink_ext_ack *extack)
{
	struct crypto_shash *tfms[GEOREP_MAX_KEYS] = {};
	struct georep_keyring *old, *ring, *dead;
	unsigned int i;
	int ret;

	ret = keys_check(keys, nr, extack);
	if (ret)
		return ret;
	ring = kzalloc(sizeof(*ring), GFP_KERNEL);
	dead = kzalloc(sizeof(*dead), GFP_KERNEL);
	if (!ring || !dead) {
		ret = -ENOMEM;
		goto out_free_rings;
	}
	ret = keys_tfms(keys, nr, tfms, extack);
	if (ret)
		goto out_free_tfms;

	mutex_lock(&vol->keys_mutex);
	mutex_lock(&vol->order_mutex);
	old = rcu_dereference_protected(vol->keys,
					lockdep_is_held(&vol->keys_mutex));
	ret = ring_build(vol, old, ring, dead, keys, nr, tfms, seal, extack);
	if (!ret)
		rcu_assign_pointer(vol->keys, ring);
	mutex_unlock(&vol->order_mutex);
	mutex_unlock(&vol->keys_mutex);
	if (ret)
		goto out_free_tfms;

	synchronize_rcu();
	for (i = 0; i < dead->nr; i++)
		crypto_free_shash(dead->slot[i].tfm);
	kfree_sensitive(dead);
	kfree_sensitive(old);
	return 0;

out_free_tfms:
	for (i = 0; i < nr; i++)
		if (tfms[i])
			crypto_free_shash(tfms[i]);
out_free_rings:
	kfree(dead);
	kfree(ring);
	return ret;
}

/* destroy: no reader is left */
void georep_keys_free(struct georep_volume *vol)
{
	struct georep_keyring *ring;
	unsigned int i;

	ring = rcu_dereference_protected(vol->keys, true);
	RCU_INIT_POINTER(vol->keys, NULL);
	if (!ring)
		return;
	synchronize_rcu();
	for (i = 0; i < ring->nr; i++)
		crypto_free_shash(ring->slot[i].tfm);
	kfree_sensitive(ring);
}
