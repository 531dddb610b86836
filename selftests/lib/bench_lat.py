#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The per-write latency breakdown of a make bench log: the BENCH-LAT lines
(selftests/lib/bench-lat.sh) as a table of stage percentiles, per delay
when the log has BENCH-DELAY lines (bench/sites.sh).

Usage: bench_lat.py LOG"""
import json
import sys

STAGES = ["admission", "seal", "durable", "shipped", "commit", "complete", "total"]


def main(path):
    delay, rows, fails = None, {}, []
    for line in open(path, errors="replace"):
        line = line.rstrip("\r\n")
        if line.startswith("BENCH-DELAY "):
            delay = line.split()[1]
        elif line.startswith("BENCH-LAT-FAILED "):
            fails.append(line)
        elif line.startswith("BENCH-LAT "):
            f = line.split(None, 3)
            try:
                rows.setdefault(delay, []).append((f[1], f[2], json.loads(f[3])))
            except (IndexError, ValueError) as e:
                fails.append("%s (%s)" % (line[:80], e))
    if not rows and not fails:
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
        w = [max(len(r[i]) for r in table) for i in range(len(head))]
        for k, r in enumerate(table):
            print("| " + " | ".join(x.rjust(w[i]) if i else x.ljust(w[i])
                                    for i, x in enumerate(r)) + " |")
            if k == 0:
                print("|" + "|".join("-" * (n + 2) for n in w) + "|")
    print("# admission: throttling; seal: hashing, ordering, log space; durable: log write +"
          " flush; shipped: until georepd read it from the log stream (quorum only: under"
          " local the commit comes first); commit: beyond that (quorum: the network,"
          " followers durable, acknowledgements, commit index back); complete: data write,"
          " bio completion")
    for f in fails:
        print("# " + f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
