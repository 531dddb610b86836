#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The per-write latency breakdown of a make bench log: the BENCH-LAT lines
(selftests/lib/bench-lat.sh) as a table of stage percentiles, per delay
when the log has BENCH-DELAY lines (bench/sites.sh); then the BENCH-STAGE
lines (bench/sites.sh, gr_stages: georepd's own stages of the commit, from
every site) as a second table.

Usage: bench_lat.py LOG"""
import json
import re
import sys

STAGES = ["admission", "seal", "durable", "shipped", "commit", "complete", "total"]
# georepd's, inside the commit stage: the leader's three, then each follower's
GD_LEADER = ["read_to_sent", "sent_to_quorum", "set_commit", "set_commit_cpu"]
GD_FOLLOWER = "follower_rx_to_ack"
STAGE_LINE = re.compile(r"^(?:vm\d+: )?BENCH-STAGE (\S+) (\S+) (\S+) (.*)$")


def pct(st, name):
    s = st.get(name) or {}
    return "%d / %d" % (s.get("p50_us", 0), s.get("p99_us", 0)) if s else "-"


def print_table(table):
    w = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for k, r in enumerate(table):
        print("| " + " | ".join(x.rjust(w[i]) if i else x.ljust(w[i])
                                for i, x in enumerate(r)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (n + 2) for n in w) + "|")


def print_stages(stages):
    """stages: {delay: {(scen, job): [(vm, {role, stages})]}}"""
    for d, jobs in stages.items():
        print()
        print("## inside the commit stage (georepd's stages, p50 / p99 us)" +
              ("" if d is None else ", one-way delay %s ms" % d))
        nf = max(sum(1 for _, j in v if j.get("role") != "leader") for v in jobs.values())
        table = [["scenario job"] + GD_LEADER +
                 ["follower %d rx_to_ack" % (i + 1) for i in range(nf)]]
        for (scen, job), sites in jobs.items():
            lead = [j.get("stages") or {} for _, j in sites if j.get("role") == "leader"]
            fol = [pct(j.get("stages") or {}, GD_FOLLOWER)
                   for _, j in sorted(sites, key=lambda x: x[0]) if j.get("role") != "leader"]
            table.append(["%s %s" % (scen, job)] +
                         [pct(lead[0], s) if lead else "-" for s in GD_LEADER] +
                         fol + ["-"] * (nf - len(fol)))
        print_table(table)
    if stages:
        print("# read_to_sent: the leader read the record from its ledger's stream, until its"
              " RECORDS went to the first follower; sent_to_quorum: then until the commit index"
              " passed it (network both ways, the followers' append, their answers);"
              " set_commit: the commit index into the ledger (GEOREP_IOC_COMMIT_SEQ, the"
              " bios it completes; wall time), set_commit_cpu: georepd's CPU time in it;"
              " follower rx_to_ack: a"
              " RECORDS frame in, appended and answered")


def main(path):
    delay, rows, fails, stages = None, {}, [], {}
    for line in open(path, errors="replace"):
        line = line.rstrip("\r\n")
        m = STAGE_LINE.match(line)
        if m:
            try:
                stages.setdefault(delay, {}).setdefault((m[1], m[2]), []).append(
                    (m[3], json.loads(m[4])))
            except ValueError as e:
                fails.append("%s (%s)" % (line[:80], e))
        elif line.startswith("BENCH-DELAY "):
            delay = line.split()[1]
        elif line.startswith("BENCH-LAT-FAILED "):
            fails.append(line)
        elif line.startswith("BENCH-LAT "):
            f = line.split(None, 3)
            try:
                rows.setdefault(delay, []).append((f[1], f[2], json.loads(f[3])))
            except (IndexError, ValueError) as e:
                fails.append("%s (%s)" % (line[:80], e))
    if not rows and not fails and not stages:
        return 0
    for d, rs in rows.items():
        print()
        print("## where a write's time goes (georep-lat, p50 / p99 us)" +
              ("" if d is None else ", one-way delay %s ms" % d))
        head = ["scenario job", "writes"] + STAGES
        table = [head]
        for scen, job, j in rs:
            st = j.get("stages", {})
            table.append(["%s %s" % (scen, job), str(j.get("writes", 0))] +
                         ["%.0f / %.0f" % (st.get(s, {}).get("p50_us", 0),
                                           st.get(s, {}).get("p99_us", 0)) for s in STAGES])
        print_table(table)
    if rows:
        print("# admission: throttling; seal: hashing, ordering, log space; durable: log write +"
              " flush; shipped: until georepd read it from the log stream (quorum only: under"
              " local the commit comes first); commit: beyond that (quorum: the network,"
              " followers durable, acknowledgements, commit index back); complete: data"
              " write, bio completion")
    print_stages(stages)
    for f in fails:
        print("# " + f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
