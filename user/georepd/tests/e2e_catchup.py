#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
End-to-end test of a follower catching up while the leader writes: three
`georepd --ledger mem` processes on 127.0.0.1 (no kernel module), one
3-site quorum volume.

A follower that missed records of an earlier term needs them from the
leader's catch-up buffer (read from its ledger), then the records of the
leader's own term from its ship buffer. While the leader keeps writing,
the catch-up buffer ends where the ship buffer holds the records after it,
and an APPEND that begins in one and ends in the other must still go
(engine_ship.c, joined()); until December 2026 it waited for a read that
never came, and the follower never caught up (power-cut soak, seed 1936).

 1. a leader is elected;
 2. a follower is killed; records are written in this term;
 3. a switchover moves the leader to the third site (a new term: its ship
    buffer starts at its barrier);
 4. the follower is started again; the new leader's catch-up read for it
    takes the log as it ends at the barrier and answers 1.5 s later
    (test-read-delay), while 30 records are written: an APPEND went out
    joined from both buffers (ship_joined), the follower holds and applied
    every record within 20 s, and the three data images agree (before
    the join it never caught up);
 5. the daemons exit cleanly.

Usage: e2e_catchup.py [BINDIR]. Prints KTAP.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import e2e_replication as rep  # noqa: E402  (Site with --ledger mem, primary())

SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 5

ktap = e2e.ktap
results = e2e.results


def main():
    top = tempfile.mkdtemp(prefix="georep-catchup-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": "catchup",
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(SITES)],
        "volumes": [{"name": "vol0", "commit_rule": "quorum", "quorum_loss": "suspend",
                     "replicas": {n: {"data": "/dev/mem-data-%s" % n, "log": "/dev/mem-log-%s" % n}
                                  for n in SITES}}],
    }
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    sites = [rep.Site(top, n, cfgpath) for n in SITES]

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        for s in sites:
            s.start()
        # 1
        p = e2e.wait_for(lambda: rep.primary(sites), 15)
        ktap(p is not None, "leader_elected", rep.dump(sites))
        if p is None:
            return 1

        # 2
        f = next(s for s in sites if s is not p)
        m = next(s for s in sites if s is not p and s is not f)
        f.proc.kill()
        f.proc.wait()
        ws = [p.write(b, 1, 7) for b in range(40)]
        ok = all(w.get("ok") for w in ws)
        ktap(ok, "follower_down_records_written", (ws[-1], rep.dump(sites)))

        # 3
        r = subprocess.run([os.path.join(e2e.BIN, "georepctl"), "switchover", "vol0",
                            m.name, "--socket", p.sock],
                           capture_output=True, text=True, timeout=10)
        moved = e2e.wait_for(lambda: rep.primary(sites) is m, 10)
        ktap(r.returncode == 0 and moved, "switchover_to_third_site",
             (r.stdout, r.stderr, rep.dump(sites)))
        if not moved:
            return 1

        # 4: the leader's catch-up read for the follower takes the log as it
        # ends at the barrier, and answers 1.5 s later (test-read-delay: the
        # read is done, then it sleeps); records written meanwhile are in
        # the ship buffer only, so the APPEND across the barrier begins in
        # the catch-up buffer and ends in the ship buffer
        d0 = (m.rep() or {}).get("appends_deferred", 0)
        m.call({"cmd": "test-read-delay", "volume": "vol0", "ms": 1500})
        f.start()
        deferred = e2e.wait_for(lambda: (m.rep() or {}).get("appends_deferred", 0) > d0, 10)
        ws = [m.write(200 + b, 1, 9) for b in range(30)]
        m.call({"cmd": "test-read-delay", "volume": "vol0", "ms": 0})
        last = max([w.get("last_seq", 0) for w in ws] + [0])
        caught = e2e.wait_for(lambda: rep.committed_everywhere(sites, last) and
                              rep.settled(sites), 20)
        mr = m.rep() or {}
        print("# %s caught up to %d: %s; leader %s: ship_joined %s, catchup_reads %s, "
              "appends_deferred %s" % (f.name, last, bool(caught), m.name, mr.get("ship_joined"),
                                       mr.get("catchup_reads"), mr.get("appends_deferred")))
        shas = [s.sha() for s in sites]
        ktap(deferred and all(w.get("ok") for w in ws) and caught and len(set(shas)) == 1 and
             mr.get("ship_joined", 0) >= 1,
             "follower_catches_up_across_the_barrier",
             (deferred, ws[-1], shas, rep.dump(sites)))

        # 5
        codes = []
        for s in sites:
            s.proc.send_signal(signal.SIGTERM)
            codes.append(s.proc.wait(timeout=10))
        ktap(codes == [0, 0, 0], "daemons_exit_cleanly", codes)
    finally:
        e2e.finish(sites, top, log_lines=30)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
