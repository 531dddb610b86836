#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
End-to-end test of `georepctl status` with a daemon: three
`georepd --ledger mem` processes on 127.0.0.1 (no kernel module), one
3-site quorum volume.

 1. `georepctl status --socket <primary's socket>` shows the volume and one
    row per site; the primary's row has its role and the term;
 2. `--json` has "volumes" (null: no kernel here) and "cluster", whose
    volume's replica lists every site and agrees with the text;
 3. after writes, the followers' match seq reaches the primary's last seq
    (JSON) and the text shows lag 0;
 4. the leader's status splits the time of the records it committed
    (read from the ledger -> sent -> a quorum acknowledged; the commit
    index set into the ledger), a follower's the time from a RECORDS frame
    in to its answer: one sample per record committed, p50 <= p99 <= max;
 5. every thread of every georepd runs as an I/O flusher
    (PR_SET_IO_FLUSHER: PF_MEMALLOC_NOIO and PF_LOCAL_THROTTLE in the flags
    of /proc/PID/task/TID/stat), so that its reclaim never waits for the
    writeback of its own volumes; without CAP_SYS_RESOURCE (a container)
    each daemon says in its log that it could not;
 6. kill -9 of a follower: its row shows it disconnected ("down"), in the
    text and in the JSON;
 7. --site NAME finds /run/georep/NAME.sock: a missing one is an error;
 8. the daemons exit cleanly.

Usage: e2e_status.py [BINDIR]. Prints KTAP.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import e2e_replication as rep  # noqa: E402  (Site with --ledger mem, primary())

BIN = e2e.BIN
SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 8

# task flags (include/linux/sched.h) that PR_SET_IO_FLUSHER sets
PF_MEMALLOC_NOIO = 0x00080000
PF_LOCAL_THROTTLE = 0x00100000

ktap = e2e.ktap
results = e2e.results  # the one KTAP counter, shared with e2e.ktap


def ctl(*args):
    return subprocess.run([os.path.join(BIN, "georepctl")] + list(args),
                          capture_output=True, text=True, timeout=10)


def rows(text):
    """Site rows of the text view: {site: [columns]}."""
    out = {}
    for line in text.splitlines():
        cols = line.replace("*", " ").split()
        if len(cols) == 13 and cols[0] in SITES:
            out[cols[0]] = cols
    return out


def json_sites(out):
    st = json.loads(out)
    return {s["site"]: s for s in st["cluster"]["volumes"][0]["replica"]["sites"]}


def stage_ok(st, name, most):
    s = st.get(name)
    return (s is not None and 1 <= s["count"] <= most and
            s["p50_us"] <= s["p99_us"] <= s["max_us"])


def stages_ok(lst, fst):
    """The leader's send and quorum stages cover records it proposed from
    its ledger, at most; its set_commit calls are no more than the commit
    index (each moved it); each follower answered at least one RECORDS
    frame, in no more frames than the log has records, and reports no
    leader stage."""
    st = lst.get("stages", {})
    n = lst.get("proposed", 0)
    return (n > 0 and stage_ok(st, "read_to_sent", n) and stage_ok(st, "sent_to_quorum", n) and
            stage_ok(st, "set_commit", lst.get("commit_seq", 0)) and
            st["read_to_sent"]["count"] == st["sent_to_quorum"]["count"] and
            "follower_rx_to_ack" not in st and
            all(stage_ok(f.get("stages", {}), "follower_rx_to_ack", lst.get("last_seq", 0)) and
                not set(f["stages"]) & {"read_to_sent", "sent_to_quorum", "set_commit"}
                for f in fst))


def task_flags(pid):
    """{tid: flags} of every thread of @pid (field 9 of its stat; the
    command in field 2 may hold spaces, so count from its closing paren)."""
    out = {}
    tdir = "/proc/%d/task" % pid
    for tid in os.listdir(tdir):
        with open(os.path.join(tdir, tid, "stat")) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[int(tid)] = int(fields[6])
    return out


def has_cap(bit):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


CAP_SYS_RESOURCE = 24


def io_flushers(sites):
    """None when every thread of every daemon has both flags, else what
    does not."""
    want = PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE
    bad = []
    for s in sites:
        flags = task_flags(s.proc.pid)
        bad += ["%s tid %d flags %#x" % (s.name, t, f)
                for t, f in flags.items() if f & want != want]
        print("# %s: %d threads, flags %s" % (s.name, len(flags),
                                              sorted("%#x" % f for f in flags.values())))
    return bad or None


def main():
    top, sites = rep.mem_cluster("georep-status-", "stat", SITES)

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        p = rep.start_and_elect(sites)
        if p is None:
            ktap(False, "leader_elected", rep.dump(sites))
            return 1
        term = p.rep()["term"]
        print("# primary: %s, term %d" % (p.name, term))

        # 1
        r = ctl("status", "--socket", p.sock)
        for line in r.stdout.splitlines():
            print("# | " + line)
        rw = rows(r.stdout)
        ok = (r.returncode == 0 and "volume vol0" in r.stdout and sorted(rw) == SITES and
              rw[p.name][2] == "primary" and rw[p.name][3] == str(term) and
              all(rw[n][2] == "secondary" for n in SITES if n != p.name) and
              "policy: ok" in r.stdout)
        ktap(ok, "text_shows_every_site_and_primary_term", (r.returncode, r.stdout, r.stderr))

        # 2
        r = ctl("status", "--socket", p.sock, "--json")
        try:
            st = json.loads(r.stdout)
            js = json_sites(r.stdout)
            vol = st["cluster"]["volumes"][0]
            ok = (r.returncode == 0 and st["volumes"] is None and
                  st["cluster"]["site"] == p.name and sorted(js) == SITES and
                  vol["replica"]["role"] == "leader" and vol["replica"]["term"] == term and
                  js[p.name]["role"] == "primary" and "ok" not in st["cluster"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            ok = False
            r.stderr += repr(exc)
        ktap(ok, "json_has_cluster_object", (r.returncode, r.stdout, r.stderr))

        # 3
        w = p.write(0, 32, 7)
        last = w.get("last_seq", 0)

        def caught_up():
            r = ctl("status", "--socket", p.sock, "--json")
            try:
                js = json_sites(r.stdout)
            except (ValueError, KeyError, IndexError):
                return None
            fol = [js[n] for n in SITES if n != p.name]
            if all(f.get("match_seq", 0) >= last and f.get("lag_records") == 0 for f in fol):
                return js
            return None
        js = e2e.wait_for(caught_up, 10)
        r = ctl("status", "--socket", p.sock)
        rw = rows(r.stdout)
        ok = (w.get("ok") and js and rw and
              all(rw[n][7] == str(js[n]["match_seq"]) and rw[n][8] == "0" and
                  rw[n][12] == "up" for n in SITES if n != p.name) and
              rw[p.name][5] == str(p.rep()["commit_seq"]))
        ktap(ok, "followers_caught_up_lag_zero", (w, js, r.stdout, r.stderr))

        # 4
        lst = p.rep()
        fst = [s.rep() for s in sites if s is not p]
        ktap(stages_ok(lst, fst), "status_splits_commit_stages",
             (lst.get("stages"), lst.get("proposed"), [f.get("stages") for f in fst]))

        # 5
        if has_cap(CAP_SYS_RESOURCE):
            bad = io_flushers(sites)
            ktap(bad is None, "every_georepd_thread_is_an_io_flusher", bad)
        else:
            said = [s.name for s in sites
                    if "PR_SET_IO_FLUSHER: Operation not permitted" in s.logtext()]
            print("# no CAP_SYS_RESOURCE here: the daemons that said so: %s" % said)
            ktap(said == SITES, "every_georepd_thread_is_an_io_flusher_or_says_why", said)

        # 6
        victim = next(s for s in sites if s is not p)
        victim.proc.kill()
        victim.proc.wait()

        def shows_down():
            r = ctl("status", "--socket", p.sock)
            rw = rows(r.stdout)
            return r if victim.name in rw and rw[victim.name][12] == "down" else None
        r = e2e.wait_for(shows_down, 10)
        rj = ctl("status", "--socket", p.sock, "--json")
        try:
            jv = json_sites(rj.stdout)[victim.name]
        except (ValueError, KeyError, IndexError):
            jv = {}
        if r:
            for line in r.stdout.splitlines():
                print("# | " + line)
        ok = r is not None and jv.get("connected") is False
        ktap(ok, "killed_follower_row_disconnected", (r and r.stdout, rj.stdout, rj.stderr))

        # 7: no daemon socket for this (made-up) site name
        r = ctl("status", "--site", "no-such-site-%d" % os.getpid())
        ktap(r.returncode == 1 and "no-such-site" in r.stderr and not r.stdout,
             "missing_site_socket_is_an_error", (r.returncode, r.stdout, r.stderr))

        codes = e2e.stop(s for s in sites if s is not victim)
        ktap(codes == [0, 0], "daemons_exit_cleanly", codes)
    finally:
        e2e.finish(sites, top, log_lines=30)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
