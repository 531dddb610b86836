#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
What checkpoints cost (Documentation/proofs.rst, "Finality"): three
`georepd --ledger mem` over mutual TLS on 127.0.0.1, RECORDS 4 KiB writes
(test-write, 256 blocks a request) committed by the quorum, once with
checkpoints every 1000 records (or 1000 ms, the defaults) and once with
checkpoints that never come (every 2^32 records or 3600 s), alternated
RUNS times. Prints, per setting, the median records/s until the last write
is committed and the CPU seconds the leader used; with checkpoints on, also
when the last record became final.

Usage: bench_final.py [BINDIR]; BENCH_FINAL_RECORDS (default 20000) and
BENCH_FINAL_RUNS (default 3) in the environment. Not a test: it asserts
nothing beyond the runs completing.
"""
import json
import os
import re
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e_replication import Site, primary, committed_everywhere  # noqa: E402

SITES = ["alpha", "bravo", "charlie"]
SCHEDULES = {"every 1000 records": {"records": 1000, "ms": 1000},
             "off": {"records": 1 << 32, "ms": 3600000}}


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(schedule, records):
    top = tempfile.mkdtemp(prefix="georep-bench-final-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": "bench",
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(SITES)],
        "volumes": [{"name": "vol0", "checkpoint": schedule,
                     "replicas": {n: {"data": "/dev/d-%s" % n, "log": "/dev/l-%s" % n}
                                  for n in SITES}}],
    }
    e2e.tls_config(top, cfg)
    path = os.path.join(top, "cluster.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    sites = [Site(top, n, path) for n in SITES]
    try:
        for s in sites:
            s.start()
        p = e2e.wait_for(lambda: primary(sites), 20)
        if p is None:
            raise RuntimeError("no leader")
        cpu0, t0, last, i = cpu_s(p.proc.pid), time.time(), 0, 0
        while last < records:
            last = p.write((i * 256) % 8192, 256, i).get("last_seq", last)
            i += 1
        if not e2e.wait_for(lambda: committed_everywhere([p], last), 60):
            raise RuntimeError("not committed")
        t1 = time.time()
        cpu = cpu_s(p.proc.pid) - cpu0
        fin, lat = None, []
        if schedule["records"] == 1000:
            if e2e.wait_for(lambda: (p.rep() or {}).get("final_seq", 0) >= last, 20):
                fin = time.time() - t1
            lat = [float(x) for x in re.findall(r"checkpoint \d+ final \(\d+ sites, ([\d.]+) ms\)",
                                                p.logtext())]
        return last / (t1 - t0), cpu, fin, lat
    finally:
        e2e.results.clear()
        e2e.finish(sites, top)


def main():
    records = int(os.environ.get("BENCH_FINAL_RECORDS", "20000"))
    runs = int(os.environ.get("BENCH_FINAL_RUNS", "3"))
    res = {k: [] for k in SCHEDULES}
    for _ in range(runs):
        for name, sched in SCHEDULES.items():
            res[name].append(one_run(sched, records))
    for name, rows in res.items():
        rate = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        fins = [r[2] for r in rows if r[2] is not None]
        lat = [x for r in rows for x in r[3]]
        print("checkpoints %-18s %8.0f records/s committed, leader CPU %.2f s for %d "
              "records%s" % (name, rate, cpu, records,
                             ", final %.2f s after commit" % max(fins) if fins else ""))
        if lat:
            print("  %d checkpoints made final, sign to final %.2f ms median, %.2f ms max" %
                  (len(lat), statistics.median(lat), max(lat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())  # BINDIR (argv[1]) is read by e2e at import
