// SPDX-License-Identifier: GPL-2.0
/*
 * georep-mkreplica: create a secondary replica of a volume in this kernel.
 *
 *   georep-mkreplica <primary> <name> --data <dev> --log <dev>
 *                    [--key-dir DIR] [--term N] [--site-id N]
 *
 * Formats <name> as a secondary with the primary's volume uuid and term
 * (or --term) and the primary's seal keys (read from DIR/<primary>/,
 * default /etc/georep/keys), so that georep-pump can copy the primary's
 * records into it. For tests: a real deployment gets the uuid and keys
 * from georepd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "georep/keys.h"
#include "georep/nl.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: georep-mkreplica <primary> <name> --data <dev> --log <dev> [--key-dir DIR] [--term N] [--site-id N]\n");
	exit(2);
}

/* /dev/georep/<name> and <name>.log, as georepctl volume create makes */
static int make_links(const char *name, unsigned int minor)
{
	char path[128], target[64];

	if (mkdir("/dev/georep", 0755) && errno != EEXIST)
		goto out_err;
	snprintf(path, sizeof(path), "/dev/georep/%s", name);
	snprintf(target, sizeof(target), "../georep%u", minor);
	unlink(path);
	if (symlink(target, path))
		goto out_err;
	snprintf(path, sizeof(path), "/dev/georep/%s.log", name);
	snprintf(target, sizeof(target), "../georep%u-log", minor);
	unlink(path);
	if (symlink(target, path))
		goto out_err;
	return 0;
out_err:
	fprintf(stderr, "georep-mkreplica: %s: %s\n", path, strerror(errno));
	return -1;
}

int main(int argc, char *argv[])
{
	const char *key_dir = GEOREP_DEFAULT_KEY_DIR;
	struct georep_vol_new req = { .format = true };
	struct georep_vol_status st, reply;
	struct georep_keyset ks = { 0 };
	struct georep_nl *nl;
	char err[256];
	int i, ret;

	if (argc < 3)
		usage();
	req.name = argv[2];
	for (i = 3; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--data")) {
			req.data_path = argv[++i];
		} else if (!strcmp(argv[i], "--log")) {
			req.log_path = argv[++i];
		} else if (!strcmp(argv[i], "--key-dir")) {
			key_dir = argv[++i];
		} else if (!strcmp(argv[i], "--term")) {
			req.has_term = true;
			req.term = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--site-id")) {
			req.has_site_id = true;
			req.site_id = strtoul(argv[++i], NULL, 0);
		} else {
			usage();
		}
	}
	if (!req.data_path || !req.log_path)
		usage();

	ret = georep_nl_open(&nl, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "georep-mkreplica: %s\n", err);
		return 1;
	}
	ret = georep_nl_volume_get(nl, argv[1], &st);
	if (ret || !st.has_uuid) {
		fprintf(stderr, "georep-mkreplica: cannot read volume %s: %s\n",
			argv[1], georep_nl_error(nl));
		goto out_close;
	}
	ret = georep_keys_load(key_dir, argv[1], &ks, err, sizeof(err));
	if (ret || !ks.nr) {
		fprintf(stderr, "georep-mkreplica: no keys for %s: %s\n",
			argv[1], ret ? err : "empty key directory");
		ret = ret ?: -ENOKEY;
		goto out_close;
	}
	req.has_uuid = true;
	memcpy(req.uuid, st.uuid, GEOREP_UUID_LEN);
	req.has_role = true;
	req.role = GEOREP_ROLE_SECONDARY;
	if (!req.has_term) {
		req.has_term = true;
		req.term = st.term;
	}
	/* a new replica's log is empty: the newest epochs the kernel can hold */
	georep_keyset_keep_newest(&ks, GEOREP_MAX_KEYS);
	req.keys = &ks;
	ret = georep_nl_volume_new(nl, &req, &reply);
	if (ret)
		fprintf(stderr, "georep-mkreplica: cannot create %s: %s\n",
			req.name, georep_nl_error(nl));
	else if (make_links(req.name, reply.minor))
		ret = -errno;
	else
		printf("volume %s: secondary of %s, term %llu\n", req.name,
		       argv[1], (unsigned long long)req.term);
out_close:
	georep_keyset_clear(&ks);
	georep_nl_close(nl);
	return ret ? 1 : 0;
}
