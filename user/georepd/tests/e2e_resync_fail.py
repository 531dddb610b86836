#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
A leader that cannot read its own data device for a full resync
(Documentation/replication.rst, "Full resync", "A device that cannot be
read"): three `georepd --ledger mem` sites on 127.0.0.1, one 3-site quorum
volume. A follower F is killed, the primary P writes and releases its log
(test-compact), and a range of P's data device fails every read with EIO
(test-data-bad: a bad sector). F is restarted and needs a full resync.

 1. a writable primary;
 2. the resync stops at the bad range: P's status names it
    (resync_read_failing: data, the offset of the read that covers the bad
    sector, "Input/output error") and F has not installed a resync;
 3. the retries back off: over OBSERVE_S seconds P tries the read at most
    MAX_TRIES times (a tick, doubled per failure, up to 5 s; until December
    2026 at every turn of the tick, about 80 times), its log has one error
    line that says the follower stays behind, and `georepctl status` shows
    RESYNC STALLED with the offset and the error;
 4. P still writes, committed with the third site, with no term change;
 5. once the range reads again, the resync goes on from where it stopped:
    F installs it, every site commits the last write, the failure is gone
    from P's status, and the three data devices are identical;
 6. the daemons exit cleanly.

Usage: e2e_resync_fail.py [BINDIR]. Prints KTAP.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e_replication import (primary, committed_everywhere, mem_cluster,  # noqa: E402
                             start_and_elect)

N_TESTS = 6
MIB = 1 << 20
DATA = 64 * MIB		# the mem ledger's data device
READ = 4 * MIB		# the leader reads for a resync this much at a time
BAD_OFF = 20 * MIB + 8192
BAD_LEN = 4096
OBSERVE_S = 8.0
MAX_TRIES = 10
FAIL_S = 20
RESYNC_S = 60
ktap = e2e.ktap


def failing(site):
    return (site.rep() or {}).get("resync_read_failing")


def main():
    top, sites = mem_cluster("georep-resyncfail-", "resyncfail", ["alpha", "bravo", "charlie"])

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        p = start_and_elect(sites)
        ktap(p is not None and e2e.wait_for(lambda: all(e2e.peers_up(s) for s in sites), 10),
             "writable_primary")
        if p is None:
            return 1
        term = p.rep()["term"]
        f, third = [s for s in sites if s is not p]

        # 2: F behind the retained log, P's device bad at BAD_OFF
        f.proc.kill()
        f.proc.wait()
        w = p.write(0, 64, 7)
        last = w.get("last_seq", 0)
        ok = w.get("ok") and e2e.wait_for(lambda: committed_everywhere([p, third], last), 10)
        cp = p.call({"cmd": "test-compact", "volume": "vol0"})
        bad = p.call({"cmd": "test-data-bad", "volume": "vol0", "offset": BAD_OFF,
                      "length": BAD_LEN})
        ok = ok and cp.get("snap_seq", 0) >= last and bad.get("ok")
        f.start()
        fl = e2e.wait_for(lambda: failing(p), FAIL_S)
        at = BAD_OFF // READ * READ
        print("# %s: %s" % (p.name, fl))
        ktap(ok and fl is not None and fl.get("what") == "data" and fl.get("offset") == at and
             fl.get("error") == "Input/output error" and
             (f.rep() or {}).get("resyncs_done", 0) == 0,
             "resync_stops_at_the_bad_range_and_says_where", (cp, bad, fl, f.rep()))

        # 3: backed off, and said once as an error
        e0 = p.rep().get("resync_read_errors", 0)
        time.sleep(OBSERVE_S)
        fl = failing(p) or {}
        tries = p.rep().get("resync_read_errors", 0) - e0
        txt = subprocess.run([os.path.join(e2e.BIN, "georepctl"), "status", "--socket", p.sock],
                             capture_output=True, text=True).stdout
        stalled = [ln.strip() for ln in txt.splitlines() if "RESYNC STALLED" in ln]
        print("# georepctl status: %s" % stalled)
        with open(p.log) as lf:
            loud = [ln for ln in lf if "times in a row: the follower stays behind" in ln]
        print("# %d failed reads in %.0f s (at most %d), %s failures in a row; %d error lines" %
              (tries, OBSERVE_S, MAX_TRIES, fl.get("failures"), len(loud)))
        ktap(0 < tries <= MAX_TRIES and len(loud) == 1 and fl.get("failures", 0) >= 5 and
             len(stalled) == 1 and "data device at %d: Input/output error" % at in stalled[0],
             "retries_back_off_and_status_says_so", (fl, loud, txt))

        # 4: the volume goes on without F
        w = p.write(4096, 16, 9)
        last = w.get("last_seq", 0)
        ktap(w.get("ok") and e2e.wait_for(lambda: committed_everywhere([p, third], last), 10) and
             primary(sites) is p and p.rep()["term"] == term,
             "writes_commit_meanwhile", (w, p.rep()))

        # 5: the disk reads again
        p.call({"cmd": "test-data-bad", "volume": "vol0", "offset": 0, "length": 0})
        t0 = time.time()
        ok = e2e.wait_for(lambda: (f.rep() or {}).get("resyncs_done", 0) >= 1 and
                          committed_everywhere(sites, last), RESYNC_S)
        shas = [s.sha(DATA) for s in sites]
        with open(p.log) as lf:
            after = [ln.strip() for ln in lf if "failures" in ln and "resync: read" in ln]
        print("# %s resynced %.1f s after the range read again; %s" %
              (f.name, time.time() - t0, after[-1:] or "no recovery line"))
        ktap(ok and failing(p) is None and len(set(shas)) == 1 and shas[0] and after,
             "resync_goes_on_once_readable", (shas, f.rep(), p.rep()))

        codes = e2e.stop(sites)
        ktap(codes == [0, 0, 0], "daemons_exit_cleanly", codes)
    finally:
        e2e.finish(sites, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
