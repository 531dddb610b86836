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
 2. a follower is killed, 963 one-block records are written, a switchover
    moves the leader on (a new term: its ship buffer starts at its
    barrier), 30 records are written there, and the follower is started
    again: it holds and applied every record within 20 s, and the three
    data images agree. The leader's catch-up read for it (4 MiB of whole
    records) ends at the barrier, where the ship buffer begins;
 3. an APPEND went joined from both buffers (ship_joined): before the join
    the follower never caught up (a second round if the first did not
    make the case);
 4. a plain catch-up (a follower down while 64 blocks are written);
 5. the daemons exit cleanly.

Usage: e2e_catchup.py [BINDIR]. Prints KTAP.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import e2e_replication as rep  # noqa: E402  (Site with --ledger mem, primary())

SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 5
ROUNDS = 2
# one-block records a round's follower misses before the new leader's
# barrier: the catch-up read (ENG_CATCHUP_READ, 4 MiB of whole records)
# takes 963 of 4352 bytes and the 256-byte barrier, and stops there, where
# the ship buffer (from the barrier on) holds the rest; the APPEND across
# the barrier (15 records, from the 961st) begins in one and ends in the
# other
PRE = 963

ktap = e2e.ktap
results = e2e.results


def switchover(sites, frm, to):
    r = subprocess.run([os.path.join(e2e.BIN, "georepctl"), "switchover", "vol0", to.name,
                        "--socket", frm.sock], capture_output=True, text=True, timeout=10)
    return r.returncode == 0 and e2e.wait_for(lambda: rep.primary(sites) is to, 10)


def round_across(sites, p, f, m, k):
    """One round: @f down, PRE records at @p, a switchover to @m, 30 records
    at @m, then @f back. Returns (ok, joined, diag)."""
    f.proc.kill()
    f.proc.wait()
    ws = [p.write(b % 1024, 1, k) for b in range(PRE)]
    if not all(w.get("ok") for w in ws) or not switchover(sites, p, m):
        return False, 0, ("writes or switchover", ws[-1], rep.dump(sites))
    ws = [m.write(2000 + b, 1, k + 100) for b in range(30)]
    last = max([w.get("last_seq", 0) for w in ws] + [0])
    live = [s for s in sites if s is not f]
    if not all(w.get("ok") for w in ws) or not e2e.wait_for(
            lambda: rep.committed_everywhere(live, last), 10):
        return False, 0, ("writes at the new leader", ws[-1], rep.dump(sites))
    j0 = (m.rep() or {}).get("ship_joined", 0)
    f.start()
    caught = e2e.wait_for(lambda: rep.committed_everywhere(sites, last) and
                          rep.settled(sites), 20)
    mr = m.rep() or {}
    joined = mr.get("ship_joined", 0) - j0
    print("# round %d: %s back behind %s's barrier, caught up to %d: %s; ship_joined +%d, "
          "catchup_reads %s, appends_deferred %s" %
          (k, f.name, m.name, last, bool(caught), joined, mr.get("catchup_reads"),
           mr.get("appends_deferred")))
    shas = [s.sha() for s in sites]
    return caught and len(set(shas)) == 1, joined, (last, shas, rep.dump(sites))


def main():
    top, sites = rep.mem_cluster("georep-catchup-", "catchup", SITES)

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        # 1
        p = rep.start_and_elect(sites)
        ktap(p is not None, "leader_elected", rep.dump(sites))
        if p is None:
            return 1

        # 2, 3: rounds until an APPEND went joined (the timing decides)
        oks, joined, diag = [], 0, None
        for k in range(1, ROUNDS + 1):
            p = rep.primary(sites) or p
            f = next(s for s in sites if s is not p)
            m = next(s for s in sites if s is not p and s is not f)
            ok, j, d = round_across(sites, p, f, m, k)
            oks.append(ok)
            joined += j
            if not ok:
                diag = d
                break
            if joined:
                break
        ktap(oks and all(oks), "follower_back_behind_new_barrier_catches_up", diag)
        ktap(joined >= 1, "an_append_went_joined_from_both_buffers",
             "no round made the case in %d" % len(oks))

        # 4: the same with no read delay, a plain catch-up
        p = rep.primary(sites) or p
        f = next(s for s in sites if s is not p)
        f.proc.kill()
        f.proc.wait()
        w = p.write(3000, 64, 5)
        f.start()
        caught = w.get("ok") and e2e.wait_for(lambda: rep.committed_everywhere(
            sites, w["last_seq"]) and rep.settled(sites), 20)
        ktap(caught, "plain_catch_up", (w, rep.dump(sites)))

        # 5
        codes = e2e.stop(sites)
        ktap(codes == [0, 0, 0], "daemons_exit_cleanly", codes)
    finally:
        e2e.finish(sites, top, log_lines=30)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
