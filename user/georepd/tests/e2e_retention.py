#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
End-to-end test of retention tied to finality (Documentation/proofs.rst,
"Retention"): three `georepd --ledger mem` processes over mutual TLS, one
quorum volume checkpointed every 2000 records (or every hour).

 1. 1536 records commit and are applied everywhere, more than a
    compaction frees at least (1024): no checkpoint covers them, so the
    leader's log keeps them all (tail_seq <= final_seq + 1), and status
    shows finality trailing commit (checkpoint.behind_commit, text and JSON);
 2. 2048 more records: a checkpoint of 2000 or more becomes final at every
    site and the leader's log releases records it covers, never past it;
 3. an explicit compaction (test-compact, like a full log) still releases
    every applied record, past the final checkpoint: today's rule for a
    full log and lagging replicas is kept.

Usage: e2e_retention.py [BINDIR]. Prints KTAP.
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e_replication import Site, primary, committed_everywhere  # noqa: E402
from e2e_final import ctl, rep  # noqa: E402

ktap = e2e.ktap
SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 5


def write_blocks(p, n, first):
    last = 0
    for i in range(n // 256):
        last = p.write(first + 256 * i, 256, 1 + i).get("last_seq", last)
    return last


def held(p, secs):
    """the leader's (tail, final, applied) never shows a released record
    the final checkpoint does not cover, sampled for @secs"""
    bad, t_end = [], time.time() + secs
    while time.time() < t_end:
        r = rep(p)
        if r.get("tail_seq", 0) > r.get("final_seq", 0) + 1:
            bad.append((r.get("tail_seq"), r.get("final_seq")))
        time.sleep(0.1)
    return bad


def main():
    top = tempfile.mkdtemp(prefix="georep-retention-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": "ret",
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(SITES)],
        "volumes": [{"name": "vol0", "commit_rule": "quorum", "quorum_loss": "suspend",
                     "checkpoint": {"records": 2000, "ms": 3600000},
                     "replicas": {n: {"data": "/dev/mem-data-%s" % n, "log": "/dev/mem-log-%s" % n}
                                  for n in SITES}}],
    }
    e2e.tls_config(top, cfg)
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    sites = [Site(top, n, cfgpath) for n in SITES]

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        for s in sites:
            s.start()
        p = e2e.wait_for(lambda: primary(sites), 20)
        ktap(p is not None, "leader_elected_over_tls", [rep(s) for s in sites])
        if p is None:
            return 1
        # the first checkpoint may be due at once (its timer starts at 0):
        # let it happen over one record, so that 2000 more are needed
        first = p.write(8000, 1, 9).get("last_seq", 0)
        e2e.wait_for(lambda: rep(p).get("final_seq", 0) >= first, 3)
        f0 = rep(p).get("final_seq", 0)
        last = write_blocks(p, 1536, 0)
        ok = e2e.wait_for(lambda: committed_everywhere(sites, last), 20)
        bad = held(p, 2.5)
        r = rep(p)
        ok = (ok and not bad and r.get("final_seq", 0) == f0 and f0 + 1024 < last and
              r.get("tail_seq", 0) <= r.get("final_seq", 0) + 1 and
              r.get("applied_seq", 0) >= last)
        ktap(ok, "log_keeps_records_no_final_checkpoint_covers", (bad, r))
        t = ctl("status", "--socket", p.sock)
        ck = r.get("checkpoint", {})
        behind = r["commit_seq"] - r.get("final_seq", 0)
        ktap(ck.get("behind_commit") == behind and
             ("(%d behind commit)" % behind) in t.stdout,
             "status_shows_finality_trailing_commit", (ck, t.stdout))

        last = write_blocks(p, 2048, 2048)
        ok = e2e.wait_for(lambda: committed_everywhere(sites, last), 20)
        ok = ok and e2e.wait_for(lambda: all(rep(s).get("final_seq", 0) >= 2000
                                             for s in sites), 20)
        ok = ok and e2e.wait_for(lambda: rep(p).get("tail_seq", 0) > 1024, 10)
        r = rep(p)
        bad = held(p, 1)
        ktap(ok and not bad and r["final_seq"] >= 2000 and
             r["tail_seq"] <= r["final_seq"] + 1, "final_checkpoint_lets_the_log_release",
             (bad, r))

        more = write_blocks(p, 256, 6144)
        e2e.wait_for(lambda: committed_everywhere(sites, more), 20)
        p.call({"cmd": "test-compact", "volume": "vol0"})
        r = rep(p)
        ktap(r.get("tail_seq", 0) > r.get("final_seq", 0) + 1,
             "explicit_compaction_still_releases_every_applied_record", r)
    finally:
        e2e.finish(sites, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        e2e.BIN = sys.argv[1]
    sys.exit(main())
