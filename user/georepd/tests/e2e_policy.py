#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
End-to-end test of the quorum-loss policy, switchover with the device in
use, and the followers' own seqs in the leader's status: three
`georepd --ledger mem` processes on 127.0.0.1 (no kernel module), volume
vol0 (quorum_loss suspend) and vol1 (quorum_loss fail). The mem ledger
models the kernel's io state (a test write is refused with EAGAIN while
suspended, EIO while failing) and pretends openers of the block device
(test-open).

 1. leaders are elected; the ledgers' io_state is "run";
 2. after writes the leader's status shows every follower's own
    written/commit/applied seq (JSON and the text table);
 3. switchover while the primary's device is open: refused, the message
    names the site and the openers, the leader stays;
 4. switchover --wait: held while the device is open (status shows it),
    done once it is closed;
 5. switchover --wait that times out: refused after the wait, leader stays;
 6. policy suspend: a primary cut from both peers gets io_state "suspend"
    (its test write refused), and "run" again once it follows the new
    leader after the heal;
 7. policy fail: same with vol1, io_state "fail";
 8. usage errors of --wait (0, not a number, on events) exit 2 before
    anything is sent;
 9. the daemons exit cleanly.

Usage: e2e_policy.py [BINDIR]. Prints KTAP.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import e2e_replication as rep  # noqa: E402  (Site with --ledger mem)

BIN = e2e.BIN
SITES = ["alpha", "bravo", "charlie"]
VOLS = {"vol0": "suspend", "vol1": "fail"}
N_TESTS = 9

ktap = e2e.ktap
results = e2e.results


def ctl(*args, timeout=30):
    return subprocess.run([os.path.join(BIN, "georepctl")] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def replica(site, vol):
    st = site.status()
    if not st:
        return None
    for v in st.get("volumes") or []:
        if v["name"] == vol:
            return v.get("replica")
    return None


def leader_of(sites, vol):
    """The one live site whose replica of @vol is a writable primary."""
    found = []
    for s in sites:
        if s.proc is None or s.proc.poll() is not None:
            continue
        r = replica(s, vol)
        if r and r["role"] == "leader" and r["writable"] and r["ledger_role"] == "primary":
            found.append(s)
    return found[0] if len(found) == 1 else None


def call(site, req):
    try:
        return site.ctl(req)
    except (OSError, ValueError) as exc:
        return {"ok": False, "error": str(exc)}


def write(site, vol, offset, blocks=1, byte=1):
    return call(site, {"cmd": "test-write", "volume": vol, "offset": offset,
                       "blocks": blocks, "byte": byte})


def set_open(site, vol, count):
    return call(site, {"cmd": "test-open", "volume": vol, "count": count})


def dump(sites):
    """Each live site's replicas, without the peer tables."""
    out = {}
    for s in sites:
        if s.proc and s.proc.poll() is None:
            st = s.status() or {}
            out[s.name] = {v["name"]: v.get("replica") for v in st.get("volumes") or []}
    return json.dumps(out)


def quorum_loss(sites, vol, want):
    """Cut @vol's primary from both peers; its io_state becomes @want; heal."""
    p = leader_of(sites, vol)
    if not p:
        return False, "no leader of %s" % vol
    others = [s for s in sites if s is not p]
    for o in others:
        call(p, {"cmd": "test-drop", "site": o.name, "drop": True})
    cut = e2e.wait_for(lambda: (replica(p, vol) or {}).get("io_state") == want, 10)
    r = replica(p, vol) or {}
    w = write(p, vol, 500)
    newp = e2e.wait_for(lambda: leader_of(others, vol), 10)
    for o in others:
        call(p, {"cmd": "test-drop", "site": o.name, "drop": False})
    back = e2e.wait_for(lambda: (replica(p, vol) or {}).get("io_state") == "run" and
                        (replica(p, vol) or {}).get("leader") == (newp and newp.name), 15)
    print("# %s: %s cut: io_state %s, policy %r, write %r; new leader %s; back to run: %s"
          % (vol, p.name, r.get("io_state"), r.get("policy"), w.get("error"),
             newp and newp.name, bool(back)))
    ok = (cut and not w.get("ok") and r.get("policy", "").endswith("no quorum") and
          newp is not None and back)
    return ok, (r, w, dump(sites))


def main():
    top = tempfile.mkdtemp(prefix="georep-policy-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": "policy",
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(SITES)],
        "volumes": [{"name": v, "commit_rule": "quorum", "quorum_loss": ql,
                     "replicas": {n: {"data": "/dev/mem-data-%s-%s" % (v, n),
                                      "log": "/dev/mem-log-%s-%s" % (v, n)}
                                  for n in SITES}} for v, ql in VOLS.items()],
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
        ok = e2e.wait_for(lambda: all(leader_of(sites, v) for v in VOLS), 15)
        states = {(s.name, v): (replica(s, v) or {}).get("io_state")
                  for s in sites for v in VOLS}
        ktap(ok and set(states.values()) == {"run"}, "leaders_elected_io_state_run",
             (states, dump(sites)))
        if not ok:
            return 1

        # 2
        p = leader_of(sites, "vol0")
        w = write(p, "vol0", 0, 8, 3)
        last = w.get("last_seq", 0)

        def followers_report():
            r = replica(p, "vol0") or {}
            fol = [x for x in r.get("sites", []) if x["site"] != p.name]
            if len(fol) == 2 and all(x.get("written_seq", 0) >= last and
                                     x.get("commit_seq", 0) >= last and
                                     x.get("applied_seq", 0) >= last for x in fol):
                return fol
            return None
        fol = e2e.wait_for(followers_report, 10)
        t = ctl("status", "--socket", p.sock, timeout=10)
        rows = {}
        in_vol0 = False
        for line in t.stdout.splitlines():
            if line.startswith("volume "):
                in_vol0 = line.startswith("volume vol0")
            cols = line.replace("*", " ").split()
            if in_vol0 and len(cols) == 13 and cols[0] in SITES:
                rows[cols[0]] = cols
        ok = (w.get("ok") and fol and len(rows) == 3 and
              all(rows[x["site"]][4] == str(x["written_seq"]) and
                  rows[x["site"]][6] == str(x["applied_seq"]) for x in fol))
        print("# followers: %s" % json.dumps(fol))
        ktap(ok, "followers_own_seqs_in_status", (w, fol, t.stdout, dump(sites)))

        # 3
        to = next(s for s in sites if s is not p)
        set_open(p, "vol0", 2)
        r = ctl("switchover", "vol0", to.name, "--socket", p.sock)
        time.sleep(1.5)
        stay = leader_of(sites, "vol0") is p
        print("# refused: %s" % r.stderr.strip())
        ktap(r.returncode != 0 and "in use at %s" % p.name in r.stderr and
             "open 2 times" in r.stderr and "--wait SEC" in r.stderr and stay,
             "switchover_refused_while_open", (r.returncode, r.stdout, r.stderr, dump(sites)))

        # 4
        set_open(p, "vol0", 1)
        t0 = time.time()
        bg = subprocess.Popen([os.path.join(BIN, "georepctl"), "switchover", "vol0", to.name,
                               "--wait", "20", "--socket", p.sock],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        held = e2e.wait_for(lambda: (replica(p, "vol0") or {}).get("switchover"), 5)
        time.sleep(1)
        still = leader_of(sites, "vol0") is p and bg.poll() is None
        set_open(p, "vol0", 0)
        try:
            out, err = bg.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            bg.kill()
            out, err = bg.communicate()
        moved = e2e.wait_for(lambda: leader_of(sites, "vol0") is to, 10)
        print("# held %r, switched after %.1f s: %s" % (held, time.time() - t0, out.strip()))
        ktap(held and held.get("to") == to.name and still and bg.returncode == 0 and
             moved and '"to":"%s"' % to.name in out.replace(" ", ""),
             "switchover_wait_until_closed", (held, still, bg.returncode, out, err, dump(sites)))

        # 5
        p = leader_of(sites, "vol0")
        set_open(p, "vol0", 1)
        back = next(s for s in sites if s is not p)
        r = ctl("switchover", "vol0", back.name, "--wait", "1", "--socket", p.sock)
        stay = leader_of(sites, "vol0") is p
        gone = not (replica(p, "vol0") or {}).get("switchover")
        set_open(p, "vol0", 0)
        print("# timed out: %s" % r.stderr.strip().replace("\n", " / "))
        ktap(r.returncode != 0 and stay and gone and "did not happen" in r.stderr,
             "switchover_wait_times_out", (r.returncode, r.stdout, r.stderr, dump(sites)))

        # 6, 7
        for vol, want in (("vol0", "suspend"), ("vol1", "fail")):
            e2e.wait_for(lambda: all(leader_of(sites, v) for v in VOLS), 15)
            ok, diag = quorum_loss(sites, vol, want)
            ktap(ok, "policy_%s_on_quorum_loss_then_run" % want, diag)

        # 8
        bad = [ctl("switchover", "vol0", "alpha", "--wait", "0", "--socket", p.sock),
               ctl("switchover", "vol0", "alpha", "--wait", "soon", "--socket", p.sock),
               ctl("events", "--wait", "3", "--socket", p.sock)]
        ktap(all(r.returncode == 2 and "bad --wait" in r.stderr and not r.stdout for r in bad),
             "switchover_wait_usage_errors", [(r.returncode, r.stderr) for r in bad])

        # 9
        codes = e2e.stop(sites)
        ktap(codes == [0, 0, 0], "daemons_exit_cleanly", codes)
    finally:
        e2e.finish(sites, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
