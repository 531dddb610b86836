/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Day one: georepd creates a volume's local replica from the configuration
 * (genesis.c, Documentation/replication.rst "Day one").
 */
#ifndef _GEORED_GENESIS_H
#define _GEORED_GENESIS_H

#include <stdbool.h>
#include <stddef.h>

#include "replica.h"

/* --key-dir: the seal keys, <dir>/<kernel volume>/<epoch>.key */
extern const char *gd_key_dir;
/* --site-prefixed-names: kernel volumes are <site>.<volume> (the VM lab) */
extern bool gd_site_prefixed;

/* the kernel volume name of @vol at this site */
int gd_kernel_name(struct georepd *d, const struct gd_volume *vol, char *buf, size_t len);

/*
 * The volume has no kernel volume here: attach the replica the config's
 * devices hold, or, on a device that holds nothing, wait for the volume's
 * uuid and keys from a site that has them (or create it: the first site of
 * its replicas). @out is a placeholder replica that becomes the engine once
 * the kernel volume exists. Return: 0 or -errno.
 */
int gd_genesis_new(struct georepd *d, struct gd_volume *vol, struct gr_replica **out);

/* an engine's answer to a GENESIS_REQ from site @from */
void gd_genesis_answer(struct georepd *d, const struct gd_volume *vol, unsigned int from);

#endif /* _GEORED_GENESIS_H */
