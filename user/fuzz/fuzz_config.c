// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target: the cluster configuration parser and validator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "georep/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gr_errlist errs = { 0 };
	struct gr_cluster *cfg;
	char addr[300], host[GR_HOST_MAX];
	const char *why;
	uint16_t port;
	size_t i;

	if (gr_cluster_parse((const char *)data, size, &cfg, &errs) == 0) {
		/* a valid config: every reference in it must resolve */
		if (errs.n || !cfg)
			abort();
		for (i = 0; i < cfg->nvolumes; i++) {
			const struct gr_volume_cfg *v = &cfg->volumes[i];

			if (gr_cluster_volume(cfg, v->name) != v ||
			    gr_cluster_volume_by_id(cfg, v->wire_id) != v)
				abort();
			for (size_t j = 0; j < v->nreplicas; j++)
				if (v->replicas[j].site >= cfg->nsites ||
				    v->replicas[j].data[0] != '/')
					abort();
		}
		for (i = 0; i < cfg->nsites; i++)
			if (gr_cluster_site_index(cfg, cfg->sites[i].name) != (int)i ||
			    !cfg->sites[i].site_id)
				abort();
		gr_cluster_free(cfg);
	} else if (cfg || (!errs.n && !errs.dropped)) {
		abort();	/* a failure always says why */
	}
	gr_errlist_free(&errs);

	/* the address syntax on its own */
	if (size < sizeof(addr)) {
		memcpy(addr, data, size);
		addr[size] = '\0';
		gr_parse_address(addr, host, sizeof(host), &port, &why);
	}
	return 0;
}
