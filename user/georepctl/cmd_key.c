// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl key rotate
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "georep/keys.h"
#include "georepctl.h"

#define ROTATE_USAGE "georepctl key rotate <name> [--key-dir DIR]"
#define ROTATE_HELP							\
	"Generate the next seal key epoch (highest + 1) as\n"		\
	"<key-dir>/<name>/<epoch>.key and hand every epoch to the kernel\n" \
	"(KEY_SET); new records are sealed with the new epoch. At most\n" \
	"8 epochs are kept: remove retired key files first when full; the\n" \
	"kernel refuses a ninth epoch rather than drop one. This site only:\n" \
	"other sites need the key before the primary seals with it.\n\n" \
	"  --key-dir DIR   seal key directory (default " GEOREP_DEFAULT_KEY_DIR ")\n"

int key_rotate_parse(struct grctl_parser *p, struct key_rotate_args *a)
{
	memset(a, 0, sizeof(*a));
	return grctl_parse_name_key_dir(p, &a->name, &a->key_dir);
}

static int rotate(struct georep_nl *nl, const char *dir, const char *name)
{
	struct georep_keyset ks;
	char err[512];
	uint32_t epoch;
	int ret;

	ret = georep_keys_load(dir, name, &ks, err, sizeof(err));
	if (ret)
		return grctl_fail("%s", err);
	if (!ks.nr)
		return grctl_fail("volume %s has no keys in %s/%s; nothing to rotate",
				  name, dir, name);
	if (ks.nr >= GEOREP_MAX_KEYS) {
		unsigned int nr = ks.nr;

		georep_keyset_clear(&ks);
		return grctl_fail("volume %s already has %u key epochs (the kernel keeps at most %d); remove retired epochs from %s/%s first",
				  name, nr, GEOREP_MAX_KEYS, dir, name);
	}
	epoch = georep_keyset_max_epoch(&ks);
	if (epoch == UINT32_MAX) {
		georep_keyset_clear(&ks);
		return grctl_fail("volume %s: key epoch %u is the last one", name, epoch);
	}
	epoch++;
	ret = georep_key_generate(dir, name, epoch, &ks.keys[ks.nr], err, sizeof(err));
	if (ret) {
		georep_keyset_clear(&ks);
		return grctl_fail("%s", err);
	}
	ks.nr++;
	ret = georep_nl_key_set(nl, name, &ks);
	georep_keyset_clear(&ks);
	if (ret) {
		/* the kernel never saw it: do not leave an epoch it lacks */
		georep_key_remove(dir, name, epoch);
		return grctl_nl_fail(nl, "cannot set keys of volume", name);
	}
	printf("volume %s: seal key epoch %u\n", name, epoch);
	return 0;
}

static int rotate_main(int argc, char *argv[])
{
	struct key_rotate_args a;
	struct grctl_parser p;
	struct georep_nl *nl;
	int ret;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	ret = key_rotate_parse(&p, &a);
	if (!grctl_parsed_open(&p, ret, ROTATE_USAGE, ROTATE_HELP, &nl, &ret))
		return ret;
	ret = rotate(nl, grctl_key_dir(a.key_dir), a.name);
	georep_nl_close(nl);
	return ret;
}

static const struct grctl_sub key_subs[] = {
	{ "rotate", rotate_main, ROTATE_USAGE },
	{ NULL }
};

int key_main(int argc, char *argv[])
{
	return grctl_dispatch_sub("key", key_subs, argc, argv);
}
