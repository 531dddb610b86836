#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
A leader whose ledger reads take seconds keeps its lease
(Documentation/replication.rst, "Reading the ledger off the event loop"):
three `georepd --ledger mem` sites on 127.0.0.1, one 3-site quorum volume.
Once a primary is elected, every read of its ledger waits DELAY_MS first
(test-read-delay: a disk under load), three times the longest election
timeout, while writes go on at the primary.

 1. a writable primary;
 2. every write succeeds while the reads are slow;
 3. no term change and no other leader at any site, and the primary's
    event loop had no turn past its slow-turn mark (1 s) meanwhile, while
    its pump, its Merkle tree and its scrub read the ledger: on the
    engine's reader thread, not on the loop;
 4. the writes commit on every site while the reads are still slow;
 5. the daemons exit cleanly (the reader thread stops).

Usage: e2e_slowread.py [BINDIR]. Prints KTAP.
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e_replication import Site, primary, committed_everywhere  # noqa: E402

SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 5
DELAY_MS = 3000		# the election timeout is 0.5 to 1 s
LOAD_S = 10.0
ktap = e2e.ktap


def views(sites):
    """(term, leader) as each site sees it."""
    out = []
    for s in sites:
        st = s.status()
        r = st["volumes"][0]["replica"] if st and st["volumes"] else None
        out.append((r["term"], r["leader"]) if r else None)
    return out


def main():
    top = tempfile.mkdtemp(prefix="georep-slowread-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": "slowread",
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(SITES)],
        # the scrub reads too, from the start (passes 1 s apart)
        "volumes": [{"name": "vol0", "commit_rule": "quorum", "quorum_loss": "suspend",
                     "checkpoint": {"scrub_pass_s": 1},
                     "replicas": {n: {"data": "/dev/mem-data-%s" % n,
                                      "log": "/dev/mem-log-%s" % n} for n in SITES}}],
    }
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    sites = [Site(top, n, cfgpath) for n in SITES]

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        for s in sites:
            s.start()
        p = e2e.wait_for(lambda: primary(sites), 15)
        ktap(p is not None and e2e.wait_for(lambda: all(e2e.peers_up(s) for s in sites), 10),
             "writable_primary", views(sites))
        if p is None:
            return 1
        before = views(sites)
        slow0 = p.status()["loop"]["slow_turns"]
        scrub0 = p.rep()["scrub"]["checked"]
        r = p.call({"cmd": "test-read-delay", "volume": "vol0", "ms": DELAY_MS})
        if not r.get("ok"):
            print("# test-read-delay: %s" % r)
            return 1

        fails, seen, last, i = [], set(), 0, 0
        end = time.time() + LOAD_S
        while time.time() < end:
            w = p.write(i * 16 % 1024, 16, i % 251)
            if not w.get("ok"):
                fails.append(w)
            else:
                last = w["last_seq"]
            seen.update(v for v in views(sites) if v)
            i += 1
            time.sleep(0.2)
        ktap(not fails and last > 0, "writes_succeed_with_slow_reads",
             "%d writes, failed: %s" % (i, fails[:3]))

        slow = p.status()["loop"]["slow_turns"] - slow0
        scrubbed = p.rep()["scrub"]["checked"] - scrub0
        leaders = {v[1] for v in seen}
        print("# views during the load: %s; primary's slow turns: %d; records scrubbed: %d" %
              (sorted(seen), slow, scrubbed))
        ktap(seen == {before[0]} and len(leaders) == 1 and slow == 0 and primary(sites) is p
             and scrubbed > 0, "no_election_loop_not_held", (before, sorted(seen), slow))

        ok = e2e.wait_for(lambda: committed_everywhere(sites, last), 4 * DELAY_MS / 1000)
        ktap(ok, "committed_everywhere_while_slow", [s.rep() for s in sites])
        p.call({"cmd": "test-read-delay", "volume": "vol0", "ms": 0})

        codes = []
        for s in sites:
            s.proc.terminate()
            codes.append(s.proc.wait(timeout=10 + DELAY_MS / 1000))
        ktap(codes == [0, 0, 0], "daemons_exit_cleanly", codes)
    finally:
        e2e.finish(sites, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
