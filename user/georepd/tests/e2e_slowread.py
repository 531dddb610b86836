#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
A leader whose ledger reads take seconds keeps its lease
(Documentation/replication.rst, "Reading the ledger off the event loop"):
three `georepd --ledger mem` sites on 127.0.0.1, one 3-site quorum volume.
Once a primary is elected, every read of records from its ledger takes
DELAY_MS (test-read-delay: a disk under load), three times the longest
election timeout, while writes go on at the primary.

 1. a writable primary;
 2. every write succeeds while the reads are slow;
 3. no term change and no other leader at any site, and the primary's
    event loop had no turn past its slow-turn mark (1 s) meanwhile: its
    pump and its Merkle tree read the ledger on the engine's reader
    thread, not on the loop;
 4. the writes commit on every site while the reads are still slow, and
    the scrub (passes 1 s apart) checks records meanwhile, on the same
    thread: still no turn past 1 s;
 5. a primary cut off (test-drop) writes a suffix that a new primary's
    term then forks off; once it is back, its fork's blocks are healed
    from the new primary while every read of that one's ledger and data
    device takes HEAL_DELAY_MS: the new primary read the blocks and
    scanned its records on the reader thread, no turn past 1 s, no term
    change; the healing replica saw the records it appended as they came,
    without reading its own log back (heal_scan_reads);
 6. a follower stopped (SIGSTOP) while LAG_MIB are written, more than the
    primary's ship buffer keeps, catches up once it runs again with every
    read of records taking CATCHUP_DELAY_MS: the primary read its records
    on the reader thread (catchup_reads), no turn past 1 s, no term change;
 7. a follower behind the primary's retained log gets a full resync
    while every read of the primary's ledger and data device takes
    RESYNC_DELAY_MS: the primary read the device on the reader thread
    (resync_reads), no turn past 1 s, no term change;
 8. the primary's georepd killed, every read taking ELECT_DELAY_MS: once
    another site is writable, the live sites all follow it, in its term
    (its barrier, the first record of its term, is read on the reader
    thread and its APPENDs go out as soon as it is read, not after a
    heartbeat round);
 9. the new leader read its barrier once, with its pump: into its ship
    buffer and its Merkle tree, no catch-up read for its followers and no
    read of the tree's (before: a catch-up read per election);
10. the daemons exit cleanly (the reader thread stops).

Usage: e2e_slowread.py [BINDIR]. Prints KTAP.
"""
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e_replication import Site, primary, committed_everywhere, settled, isolate  # noqa: E402

SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 10
DELAY_MS = 3000		# the election timeout is 0.5 to 1 s
LOAD_S = 10.0
LAG_MIB = 24		# the ship buffer keeps 16 MiB at most
CATCHUP_DELAY_MS = 1500
CATCHUP_S = 120
ELECT_DELAY_MS = 300
RESYNC_DELAY_MS = 1200		# 64 MiB of data: 16 reads of 4 MiB
RESYNC_S = 120
HEAL_DELAY_MS = 1200
HEAL_S = 60
ktap = e2e.ktap


def tree_reads(site):
    """The Merkle tree's reads of the ledger at @site."""
    return ((site.rep() or {}).get("merkle") or {}).get("reads", 0)


def views(sites):
    """(term, leader) as each site sees it."""
    out = []
    for s in sites:
        st = s.status()
        r = st["volumes"][0]["replica"] if st and st["volumes"] else None
        out.append((r["term"], r["leader"]) if r else None)
    return out


def slow_turns(site, since=0):
    """The site's event-loop turns of 1 s or more since @since; "no answer"
    when its control socket does not answer within 3 s (its loop is held)."""
    st = site.status()
    return st["loop"]["slow_turns"] - since if st else "no answer"


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
        slow0 = slow_turns(p)
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

        slow = slow_turns(p, slow0)
        leaders = {v[1] for v in seen}
        print("# views during the load: %s; primary's slow turns: %s" % (sorted(seen), slow))
        ktap(seen == {before[0]} and len(leaders) == 1 and slow == 0 and primary(sites) is p,
             "no_election_loop_not_held", (before, sorted(seen), slow))

        # the reads take turns on the reader: the pump's, the tree's, the scrub's
        ok = e2e.wait_for(lambda: committed_everywhere(sites, last) and
                          p.rep()["scrub"]["checked"] > scrub0, 8 * DELAY_MS / 1000)
        slow = slow_turns(p, slow0)
        print("# records scrubbed meanwhile: %d" % (p.rep()["scrub"]["checked"] - scrub0))
        ktap(ok and slow == 0, "committed_everywhere_scrubbed_while_slow",
             ([s.rep() for s in sites], slow))
        p.call({"cmd": "test-read-delay", "volume": "vol0", "ms": 0})

        # 5: a fork healed from a slow disk, while the logs are short (a leader
        # that released the records after the fork point cannot answer)
        others = [s for s in sites if s is not p]
        isolate(p, others, True)
        p.write(200, 4, 9)
        np = e2e.wait_for(lambda: primary(others), 10)
        w = np.write(300, 8, 11) if np else {}
        term = (np.rep() or {}).get("term") if np else None
        slow0 = slow_turns(np) if np else 0
        if np:
            np.call({"cmd": "test-read-delay", "volume": "vol0", "ms": HEAL_DELAY_MS})
        scan0 = (p.rep() or {}).get("heal_scan_reads", 0)
        isolate(p, others, False)
        t0 = time.time()
        seen = {}

        def healed():
            rep = p.rep() or {}
            if rep.get("heal"):
                seen.update(rep["heal"].get("answers") or {})
            return rep.get("heals_done", 0) >= 1 and settled(sites)
        ok = np is not None and w.get("ok") and e2e.wait_for(healed, HEAL_S)
        r = (np.rep() if np else None) or {}
        reqs = r.get("heal_requests") or {}
        print("# replica's answers seen while healing: %s; leader's requests: %s" %
              (seen, reqs))
        ok = ok and set(seen) == {"data", "superseded", "unavailable", "ignored"} and \
            reqs.get("received", 0) >= 1
        slow = slow_turns(np, slow0) if np else None
        scans = (p.rep() or {}).get("heal_scan_reads", 0) - scan0
        print("# %s healed in %.1f s from %s: %s blocks served, slow turns %s; "
              "the replica read its own log %d times" %
              (p.name, time.time() - t0, np.name if np else None,
               r.get("heal_blocks_served"), slow, scans))
        ktap(ok and r.get("heal_blocks_served", 0) > 0 and slow == 0 and scans == 0 and
             primary(sites) is np and r.get("term") == term, "fork_healed_off_the_loop",
             (r, slow, scans, views(sites)))
        if np is None:
            return 1
        np.call({"cmd": "test-read-delay", "volume": "vol0", "ms": 0})
        p = np
        before = views(sites)

        # 6: a follower behind the ship buffer
        f = [s for s in sites if s is not p][0]
        f.proc.send_signal(signal.SIGSTOP)
        for i in range(LAG_MIB * 16):
            w = p.write(i * 16 % 1024, 16, i % 251)
            last = w.get("last_seq", last)
        e2e.wait_for(lambda: committed_everywhere([s for s in sites if s is not f], last), 30)
        slow0 = slow_turns(p)
        p.call({"cmd": "test-read-delay", "volume": "vol0", "ms": CATCHUP_DELAY_MS})
        f.proc.send_signal(signal.SIGCONT)
        t0 = time.time()
        ok = e2e.wait_for(lambda: (f.rep() or {}).get("written_seq", 0) >= last, CATCHUP_S)
        took = time.time() - t0
        r = p.rep() or {}
        slow = slow_turns(p, slow0)
        print("# %s caught up %d MiB in %.1f s: %s catch-up reads, %s APPENDs waited for "
              "them, primary's slow turns %s" % (f.name, LAG_MIB, took, r.get("catchup_reads"),
                                                 r.get("appends_deferred"), slow))
        ktap(ok and r.get("catchup_reads", 0) > 0 and slow == 0 and primary(sites) is p and
             r["term"] == before[0][0], "follower_behind_ship_buffer_caught_up_off_the_loop",
             (f.rep(), slow, views(sites)))
        p.call({"cmd": "test-read-delay", "volume": "vol0", "ms": 0})

        # 7: a full resync from a slow disk
        f = [s for s in sites if s is not p][1]
        f.proc.kill()
        f.proc.wait()
        w = p.write(0, 64, 7)
        last = w.get("last_seq", last)
        live = [s for s in sites if s is not f]
        ok = w.get("ok") and e2e.wait_for(lambda: committed_everywhere(live, last), 10)
        cp = p.call({"cmd": "test-compact", "volume": "vol0"})
        ok = ok and cp.get("snap_seq", 0) >= last
        slow0 = slow_turns(p)
        p.call({"cmd": "test-read-delay", "volume": "vol0", "ms": RESYNC_DELAY_MS})
        f.start()
        t0 = time.time()
        ok = ok and e2e.wait_for(lambda: committed_everywhere(sites, last) and
                                 (f.rep() or {}).get("resyncs_done", 0) >= 1, RESYNC_S)
        r = p.rep() or {}
        slow = slow_turns(p, slow0)
        print("# %s resynced in %.1f s: %s reads of the primary's device, slow turns %s" %
              (f.name, time.time() - t0, r.get("resync_reads"), slow))
        ktap(ok and r.get("resync_reads", 0) > 0 and slow == 0 and primary(sites) is p and
             r["term"] == before[0][0], "full_resync_reads_off_the_loop",
             (cp, f.rep(), slow, views(sites)))
        p.call({"cmd": "test-read-delay", "volume": "vol0", "ms": 0})

        # 8: a new leader's barrier
        for s in sites:
            s.call({"cmd": "test-read-delay", "volume": "vol0", "ms": ELECT_DELAY_MS})
        live = [s for s in sites if s is not p]
        reads0 = {s.name: (tree_reads(s), (s.rep() or {}).get("catchup_reads", 0))
                  for s in live}
        p.proc.kill()
        p.proc.wait()
        np = e2e.wait_for(lambda: primary(live), 15)
        seen = views(live)
        ktap(np is not None and len({v for v in seen}) == 1 and seen[0][1] == np.name,
             "new_leader_followed_once_writable", seen)

        # 9: the barrier, read by the new leader's pump
        r = (np.rep() if np else None) or {}
        tree = tree_reads(np) - reads0[np.name][0] if np else None
        cu = r.get("catchup_reads", 0) - reads0[np.name][1] if np else None
        print("# new leader %s: %s catch-up reads, %s tree reads, %s APPENDs waited" %
              (np.name if np else None, cu, tree, r.get("appends_deferred")))
        ktap(np is not None and cu == 0 and tree == 0,
             "barrier_read_once_by_the_pump", r.get("merkle"))

        codes = []
        for s in live:
            s.proc.terminate()
            codes.append(s.proc.wait(timeout=10 + DELAY_MS / 1000))
        ktap(codes == [0, 0], "daemons_exit_cleanly", codes)
    finally:
        e2e.finish(sites, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
