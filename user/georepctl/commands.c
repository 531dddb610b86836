// SPDX-License-Identifier: GPL-2.0
/*
 * The georepctl command table. Adding a command group: one line here, its
 * <group>_main() declared in georepctl.h, its cmd_<group>.c in build.mk.
 */
#include "georepctl.h"

const struct grctl_cmd grctl_commands[] = {
	{ "volume", volume_main, "create, delete and change volumes" },
	{ "status", status_main, "show volume status (text or --json)" },
	{ "ledger", ledger_main, "dump, verify and release ledger records" },
	{ "key", key_main, "seal keys: rotate (cluster-wide through georepd), status" },
	{ "config", config_main, "check a cluster configuration file" },
	{ "site", site_main, "make the cluster CA and site TLS identities" },
	{ "switchover", switchover_main, "move a volume's primary to another site (georepd)" },
	{ "failover", failover_main, "forced promotion of this site, last resort (georepd)" },
	{ "events", events_main, "print georepd's events as JSON lines" },
	{ "bpf", bpf_main, "show georepd's BPF programs and their counters" },
	{ "proof", proof_main, "Merkle proofs of a volume's records; verify them offline" },
	{ "verify", verify_main, "compare every site's Merkle root; find where sites diverge" },
	{ "audit", audit_main, "which records wrote a volume's sectors, with proofs" },
	{ NULL }
};
