#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
End-to-end test of a follower's log (Documentation/replication.rst, "Log
release"): three `georepd --ledger mem` processes on 127.0.0.1 (no kernel
module), one 3-site quorum volume.

 1. a leader is elected;
 2. a follower's log is made small (test-log-size 512 KiB) and the leader
    writes 2 MiB in one go: the follower's appends find its log full
    (ENOSPC) before it released what it applied. It releases then, the
    leader sends the records again, and every site commits and applies
    them all. Until December 2026 the follower stopped replicating for good
    ("replication stopped: ledger refused record ...: No space left on
    device");
 3. its data image is the leader's;
 4. a follower keeps what the leader keeps for a lagging site: with one
    site down, 10240 records are written (more than the 8192 a follower
    used to keep past applied); the other follower still holds every
    record the site lacks;
 5. that follower, elected when the leader dies and the lagging site
    returns, sends it the records from its log: no full resync (before,
    it had released them and the site got the whole data device);
 6. a follower whose data device takes no writes (its mem ledger applies
    nothing, test-log-size "apply": false) and whose log fills stops
    replicating, naming why, once nothing was applied for "stall_ms" (60 s
    in production), instead of refusing and taking the records again for
    ever; the others go on;
 7. restarted, it catches up; the daemons exit cleanly, with the same data
    everywhere.

Usage: e2e_follower_log.py [BINDIR]. Prints KTAP.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import e2e_replication as rep  # noqa: E402  (Site with --ledger mem, primary())

SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 7
KIB = 1024
LAG_RECORDS = 10240		# more than the follower's old keep (8192)

ktap = e2e.ktap


def write_records(p, n, first, byte):
    """@n one-block records at block @first on, 256 per request: the last seq"""
    last = 0
    for i in range(0, n, 256):
        w = p.write(first + i, min(256, n - i), byte)
        if not w.get("ok"):
            return 0
        last = w["last_seq"]
    return last


def log_size(site, nbytes, **more):
    """test-log-size at @site (more: "apply", "stall_ms"): whether it took it"""
    req = {"cmd": "test-log-size", "volume": "vol0", "bytes": nbytes}
    req.update(more)
    return site.call(req).get("ok")


def main():
    top, sites = rep.mem_cluster("georep-flog-", "flog", SITES)

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        # 1
        p = rep.start_and_elect(sites)
        ktap(p is not None, "leader_elected", rep.dump(sites))
        if p is None:
            return 1

        # 2, 3: a follower's log fills before it releases
        f = next(s for s in sites if s is not p)
        ok = log_size(f, 512 * KIB)
        last = write_records(p, 512, 0, 1) if ok else 0
        caught = last and e2e.wait_for(lambda: rep.committed_everywhere(sites, last), 20)
        fr = f.rep() or {}
        print("# %s: log 512 KiB, 512 records to %d: caught up %s, tail %s, appends found "
              "the log full %s times, error %s" % (f.name, last, bool(caught), fr.get("tail_seq"),
                                                  fr.get("appends_log_full"), fr.get("error")))
        ktap(caught and "error" not in fr and fr.get("appends_log_full", 0) >= 1 and
             "log full at record" in f.logtext(),
             "follower_log_full_does_not_stop_replication", (last, rep.dump(sites)))
        ktap(caught and f.sha() == p.sha(), "its_data_is_the_leaders")
        log_size(f, 0)

        # 4, 5: a follower that may lead next keeps what a lagging site needs
        lag = next(s for s in sites if s is not p and s is not f)
        lag_had = (lag.rep() or {}).get("written_seq", 0)
        lag.proc.kill()
        lag.proc.wait()
        last = write_records(p, LAG_RECORDS, 4096, 2)
        live = [p, f]
        ok = last and e2e.wait_for(lambda: rep.committed_everywhere(live, last), 60)
        # the follower releases every 100 ms at most: give it a few passes
        e2e.wait_for(lambda: False, 0.5)
        fr = f.rep() or {}
        print("# %s down at %d; %d written; %s holds from %s" %
              (lag.name, lag_had, last, f.name, fr.get("tail_seq")))
        ktap(ok and 0 < fr.get("tail_seq", 0) <= lag_had + 1,
             "follower_keeps_what_a_lagging_site_lacks", (lag_had, last, fr))

        p.proc.kill()
        p.proc.wait()
        lag.start()
        leader = e2e.wait_for(lambda: rep.primary(sites), 20)
        live = [f, lag]
        caught = leader is f and e2e.wait_for(
            lambda: rep.committed_everywhere(live, last), 60)
        fr, lr = f.rep() or {}, lag.rep() or {}
        print("# %s leads: %s caught up to %d: %s; resync_reads %s, resyncs_done %s" %
              (leader.name if leader else None, lag.name, last, bool(caught),
               fr.get("resync_reads"), lr.get("resyncs_done")))
        ktap(caught and fr.get("resync_reads") == 0 and lr.get("resyncs_done") == 0,
             "new_leader_sends_the_lagging_site_its_log_not_a_resync", rep.dump(sites))

        # 6: a follower whose log fills with records it cannot apply
        p.start()
        ok = e2e.wait_for(lambda: rep.committed_everywhere(sites, last) and
                          rep.settled(sites), 30)
        leader = rep.primary(sites)
        g = next(s for s in sites if s is not leader)
        ok = ok and leader and log_size(g, 512 * KIB, apply=False, stall_ms=2000)
        last = write_records(leader, 512, 0, 3) if ok else 0
        stopped = last and e2e.wait_for(
            lambda: "nothing applied for" in (g.rep() or {}).get("error", ""), 30)
        gr = g.rep() or {}
        print("# %s applies nothing: appends found the log full %s times, error %s" %
              (g.name, gr.get("appends_log_full"), gr.get("error")))
        others = [s for s in sites if s is not g]
        ktap(stopped and rep.committed_everywhere(others, last),
             "follower_that_applies_nothing_stops_naming_why", rep.dump(sites))

        # 7
        g.proc.kill()
        g.proc.wait()
        g.start()
        settled = last and e2e.wait_for(lambda: rep.committed_everywhere(sites, last) and
                                        rep.settled(sites), 30)
        shas = [s.sha() for s in sites]
        codes = e2e.stop(sites)
        ktap(settled and len(set(shas)) == 1 and codes == [0, 0, 0],
             "restarted_it_catches_up_daemons_exit_cleanly_one_data_image",
             (settled, shas, codes))
    finally:
        e2e.finish(sites, top, log_lines=30)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        e2e.BIN = sys.argv[1]
        rep.BIN = sys.argv[1]
    sys.exit(main())
