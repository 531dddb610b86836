#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
End-to-end test of the replication engine: three `georepd --ledger mem`
processes on 127.0.0.1 (no kernel module), one 3-site quorum volume, the
sites connected by mutual TLS 1.3 (certificates made with `openssl`).

 1. a leader is elected; its ledger becomes primary and writable;
 2. writes at the primary (test-write) commit on the majority; every site's
    data checksum matches; what the leader shipped came from its ship
    buffer (most of it) or was read for the APPEND that sent it, no more;
 3. kill -9 of the primary: another site is a writable primary within a
    bounded time (measured, printed);
 4. every committed record is on the new primary (seq and data checksum);
 5. the old primary, restarted, rejoins as a follower and catches up;
 6. switchover moves the primary (georepctl switchover);
 7. a partitioned primary (test-drop) cannot commit; after the heal its
    uncommitted suffix is in a fork file (listed in status), the blocks it
    wrote are healed from the new primary (HEAL_REQ/HEAL), and the three
    ledgers and data images are sha256-identical; a heal interrupted by
    kill -9 resumes, also when the leader released its log past the fork
    point meanwhile;
 8. georepctl failover refuses without --force; georepctl events shows a
    switchover;
 9. a follower behind the retained log (test-compact) gets a full resync
    (RESYNC data chunks, ledger reset) and catches up; its Merkle tree
    fetches the leaves it lacks from the leader (MLEAF), holds the
    leader's root and cosigns checkpoints again; when the leader
    releases its log past the resync point while the copy is held
    (test-resync-hold), the follower restarts the copy at the new point;
    a follower that loses the leader mid-copy (test-drop at its end) and
    finds it again picks the copy up where the leader is, and the leader's
    next pass brings the anchor and the rest; a deposed primary whose
    uncommitted records the others released past loses them (fork), gets a
    resync, and its tree ends with the leader's leaves and root; a site
    whose tree lacks leaves of records its log released (tree files
    removed) and that is elected before it has them (the other live site
    is behind it) fetches them from its followers: its tree completes;
10. the only survivor of the volume's sites is promoted with
    `georepctl failover --force` and commits alone;
11. the daemons exit cleanly.

Usage: e2e_replication.py [BINDIR]. Prints KTAP.
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (Site, wait_for, free_ports)

BIN = e2e.BIN
SITES = ["alpha", "bravo", "charlie"]
FAILOVER_MAX_S = 5.0
N_TESTS = 20
MIB = 1 << 20

ktap = e2e.ktap
results = e2e.results  # the one KTAP counter, shared with e2e.ktap


class Site(e2e.Site):
    def start(self):
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "georepd"), "--config", self.cfg, "--site", self.name,
             "--state-dir", self.dir, "--foreground", "--verbose", "--ledger", "mem"] +
            e2e.plaintext_flag(self.cfg),
            stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))

    def rep(self):
        st = self.status()
        if not st or not st["volumes"]:
            return None
        return st["volumes"][0]["replica"]

    def call(self, req):
        try:
            return self.ctl(req)
        except (OSError, ValueError) as exc:
            return {"ok": False, "error": str(exc)}

    def write(self, offset, blocks, byte):
        return self.call({"cmd": "test-write", "volume": "vol0", "offset": offset,
                          "blocks": blocks, "byte": byte})

    def sha(self, length=4 * MIB):
        r = self.call({"cmd": "test-read", "volume": "vol0", "offset": 0, "length": length})
        return r.get("sha256")


def primary(sites):
    """The one site that is a writable leader with a primary ledger, or None."""
    found = []
    for s in sites:
        if s.proc is None or s.proc.poll() is not None:
            continue
        r = s.rep()
        if r and r["role"] == "leader" and r["writable"] and r["ledger_role"] == "primary":
            found.append(s)
    return found[0] if len(found) == 1 else None


def committed_everywhere(sites, seq):
    for s in sites:
        r = s.rep()
        if not r or r["commit_seq"] < seq or r["applied_seq"] < seq:
            return False
    return True


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def isolate(site, others, drop):
    """test-drop: @site's frames to and from each of @others dropped (or
    no more, @drop False): a partition."""
    for o in others:
        site.call({"cmd": "test-drop", "site": o.name, "drop": drop})


def settled(sites):
    """Every site in sync (no heal pending) at one written/commit/applied seq."""
    reps = [s.rep() for s in sites]
    if not all(reps) or not all(r.get("in_sync") for r in reps):
        return False
    seqs = {(r["written_seq"], r["commit_seq"], r["applied_seq"]) for r in reps}
    return len(seqs) == 1 and reps[0]["written_seq"] == reps[0]["applied_seq"]


def mem_cluster(prefix, cluster, names):
    """A temporary directory (prefix), a one-volume quorum configuration of
    @names on 127.0.0.1 in it (plain TCP), and their Sites, not started:
    (top, sites)."""
    top = tempfile.mkdtemp(prefix=prefix)
    ports = e2e.free_ports(len(names))
    cfg = {
        "cluster": cluster,
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(names)],
        "volumes": [{"name": "vol0", "commit_rule": "quorum", "quorum_loss": "suspend",
                     "replicas": {n: {"data": "/dev/mem-data-%s" % n, "log": "/dev/mem-log-%s" % n}
                                  for n in names}}],
    }
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    return top, [Site(top, n, cfgpath) for n in names]


def start_and_elect(sites, timeout=15):
    """Start every site: the primary once there is one, or None after
    @timeout seconds."""
    for s in sites:
        s.start()
    return e2e.wait_for(lambda: primary(sites), timeout)


def dump(sites):
    return json.dumps([s.rep() for s in sites if s.proc and s.proc.poll() is None], indent=1)


def main():
    top = tempfile.mkdtemp(prefix="georep-repl-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": "repl",
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(SITES)],
        "volumes": [{"name": "vol0", "commit_rule": "quorum", "quorum_loss": "suspend",
                     "replicas": {n: {"data": "/dev/mem-data-%s" % n, "log": "/dev/mem-log-%s" % n}
                                  for n in SITES}}],
    }
    # the engine's story over mutual TLS 1.3, as in production
    e2e.tls_config(top, cfg)
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    sites = [Site(top, n, cfgpath) for n in SITES]
    byname = {s.name: s for s in sites}

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        for s in sites:
            s.start()

        # 1
        p = e2e.wait_for(lambda: primary(sites), 15)
        ktap(p is not None, "leader_elected_volume_primary", dump(sites))
        if p is None:
            return 1
        print("# primary: %s" % p.name)

        # 2
        w = p.write(0, 64, 1)
        ok = w.get("ok") and e2e.wait_for(lambda: committed_everywhere(sites, w["last_seq"]), 10)
        shas = [s.sha() for s in sites]
        ktap(ok and len(set(shas)) == 1 and shas[0], "writes_commit_on_majority",
             (w, shas, dump(sites)))
        committed = w.get("last_seq", 0)
        sha_before = shas[0]
        # the records the leader shipped came from its ship buffer (read
        # once, to propose them) or were read for the APPEND that sent them,
        # and no more than them (64 KiB APPENDs)
        r = p.rep()
        print("# shipped %d bytes: %d from the ship buffer, %d read from the ledger" %
              (r["shipped_bytes"], r["ship_buffered_bytes"], r["ship_read_bytes"]))
        ktap(r["shipped_bytes"] >= 2 * 64 * 4096 and
             r["ship_read_bytes"] + r["ship_buffered_bytes"] == r["shipped_bytes"] and
             r["ship_buffered_bytes"] >= r["shipped_bytes"] // 2,
             "ships_reads_only_what_it_sends", r)

        # 3
        old = p
        old.proc.kill()
        old.proc.wait()
        t0 = time.time()
        rest = [s for s in sites if s is not old]
        newp = e2e.wait_for(lambda: primary(rest), 15)
        took = time.time() - t0
        print("# failover: %s -> %s in %.2f s (kill -9 to writable primary)" %
              (old.name, newp.name if newp else "none", took))
        ktap(newp is not None and took < FAILOVER_MAX_S, "failover_after_kill_within_%gs" %
             FAILOVER_MAX_S, dump(rest))
        if newp is None:
            return 1

        # 4
        r = newp.rep()
        ktap(r["written_seq"] >= committed and r["commit_seq"] >= committed and
             newp.sha() == sha_before, "committed_records_on_new_primary", (committed, r))

        # more writes while the old primary is down, then it comes back
        w2 = newp.write(100, 32, 7)
        old.start()
        ok = w2.get("ok") and e2e.wait_for(
            lambda: (old.rep() or {}).get("role") == "follower" and
            (old.rep() or {}).get("leader") == newp.name and
            committed_everywhere(sites, w2["last_seq"]), 15)
        shas = [s.sha() for s in sites]
        ktap(ok and len(set(shas)) == 1, "old_primary_rejoins_as_follower",
             (w2, shas, dump(sites)))

        # 6: switchover with georepctl, from the current primary to another site
        newp = e2e.wait_for(lambda: primary(sites), 10) or newp
        target = next(s for s in sites if s is not newp and s is not old)
        r = subprocess.run([os.path.join(BIN, "georepctl"), "switchover", "vol0", target.name,
                            "--socket", newp.sock], capture_output=True, text=True, timeout=10)
        t0 = time.time()
        ok = e2e.wait_for(lambda: primary(sites) is target, 10)
        print("# switchover %s -> %s: %.2f s" % (newp.name, target.name, time.time() - t0))
        ktap(r.returncode == 0 and ok, "switchover_moves_primary",
             (r.stdout, r.stderr, dump(sites)))

        # 7: partition the primary away from both peers
        p = target
        others = [s for s in sites if s is not p]
        isolate(p, others, True)
        before = p.rep()["commit_seq"]
        wp = p.write(200, 4, 9)
        newp = e2e.wait_for(lambda: primary(others), 10)
        rp = p.rep()
        stuck = wp.get("ok") and rp["commit_seq"] == before and rp["written_seq"] > before
        w3 = newp.write(300, 8, 11) if newp else {}
        isolate(p, others, False)
        ok = newp and w3.get("ok") and e2e.wait_for(
            lambda: committed_everywhere(sites, w3["last_seq"]) and
            (p.rep() or {}).get("forks"), 15)
        forks = (p.rep() or {}).get("forks", [])
        kept = [f for f in forks if f["from"] <= wp.get("first_seq", 0) <= f["to"] or
                f["from"] <= wp.get("last_seq", 0) <= f["to"]]
        ktap(stuck and ok and kept and all(os.path.exists(f["path"]) for f in kept),
             "partitioned_primary_cannot_commit_suffix_forked",
             (wp, before, rp, forks, dump(sites)))
        # the deposed primary's blocks are healed: same ledger and data everywhere
        healed = e2e.wait_for(lambda: (p.rep() or {}).get("heals_done", 0) >= 1 and
                              settled(sites), 20)
        shas = [s.sha() for s in sites]
        logs = [file_sha(os.path.join(s.dir, "vol0.memlog")) for s in sites]
        data = [file_sha(os.path.join(s.dir, "vol0.memdata")) for s in sites]
        print("# heal: %s" % json.dumps({k: (p.rep() or {}).get(k) for k in
                                           ("heals_done", "in_sync", "diverged", "heal")}))
        ktap(healed and len(set(shas)) == 1 and len(set(logs)) == 1 and len(set(data)) == 1 and
             any(f["path"] for f in (p.rep() or {}).get("forks", [])),
             "fork_healed_ledgers_and_data_identical",
             (healed, shas, logs, data, dump(sites)))
        ktap(len(set(shas)) == 1, "sites_agree_after_heal", (shas, dump(sites)))

        # a heal interrupted by kill -9 resumes from <state-dir>/vol0.heal:
        # the fork's blocks scribbled over, the ledger marked diverged
        fk = next((f for f in (p.rep() or {}).get("forks", [])), None)
        p.proc.kill()
        p.proc.wait()
        if fk:
            with open(os.path.join(p.dir, "vol0.memdata"), "r+b") as f:
                f.seek(200 * 4096)
                f.write(b"\xee" * 4 * 4096)
            mpath = os.path.join(p.dir, "vol0.memmeta")
            with open(mpath) as f:
                meta = json.load(f)
            meta["diverged"] = True
            with open(mpath, "w") as f:
                json.dump(meta, f)
            with open(os.path.join(p.dir, "vol0.heal"), "w") as f:
                json.dump({"fork_seq": fk["from"] - 1, "forks": [fk["path"]]}, f)
        # and the leader released its log past the fork point meanwhile
        # (every site holds those records): it answers from its tail
        cpk = newp.call({"cmd": "test-compact", "volume": "vol0"}) if newp else {}
        print("# leader %s released up to %s; fork point %s" %
              (newp and newp.name, cpk.get("snap_seq"), fk and fk["from"] - 1))
        p.start()
        resumed = e2e.wait_for(lambda: (p.rep() or {}).get("heals_done", 0) >= 1 and
                               settled(sites), 20)
        data = [file_sha(os.path.join(s.dir, "vol0.memdata")) for s in sites]
        ktap(fk and cpk.get("snap_seq", 0) >= fk["from"] and resumed and len(set(data)) == 1 and
             not os.path.exists(os.path.join(p.dir, "vol0.heal")),
             "heal_resumes_after_kill_leader_released_past_fork", (fk, cpk, resumed, data,
                                                                   dump(sites)))

        # 8: georepctl: failover needs --force; events show a switchover back
        ctl = os.path.join(BIN, "georepctl")
        nf = subprocess.run([ctl, "failover", "vol0", "--socket", p.sock],
                            capture_output=True, text=True, timeout=10)
        ev = subprocess.Popen([ctl, "events", "--count", "1", "--socket", p.sock],
                              stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        sw = subprocess.run([ctl, "switchover", "vol0", p.name, "--socket", newp.sock],
                            capture_output=True, text=True, timeout=10)
        try:
            out, _ = ev.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            ev.kill()
            out, _ = ev.communicate()
        back = e2e.wait_for(lambda: primary(sites) is p, 10)
        evj = json.loads(out.splitlines()[0]) if out.strip() else {}
        ktap(nf.returncode == 2 and "--force" in nf.stderr and sw.returncode == 0 and
             evj.get("volume") == "vol0" and back, "georepctl_failover_needs_force_events",
             (nf.stderr, sw.stdout, sw.stderr, out, dump(sites)))

        # 10: a follower behind the retained log gets a full resync
        f = next(s for s in sites if s is not p)
        f.proc.kill()
        f.proc.wait()
        w4 = p.write(400, 48, 21)
        live = [s for s in sites if s is not f]
        ok = w4.get("ok") and e2e.wait_for(lambda: committed_everywhere(live, w4["last_seq"]), 10)
        cp = p.call({"cmd": "test-compact", "volume": "vol0"})
        f.start()
        t0 = time.time()
        ok = ok and cp.get("snap_seq", 0) >= w4["last_seq"] and e2e.wait_for(
            lambda: committed_everywhere(sites, w4["last_seq"]) and
            (f.rep() or {}).get("resyncs_done", 0) >= 1, 20)
        print("# resync of %s: %.2f s" % (f.name, time.time() - t0))
        w5 = p.write(500, 4, 33)
        ok = ok and w5.get("ok") and e2e.wait_for(
            lambda: committed_everywhere(sites, w5["last_seq"]), 10)
        shas = [s.sha() for s in sites]
        ktap(ok and len(set(shas)) == 1, "follower_behind_retained_log_resynced",
             (w4, cp, shas, dump(sites)))

        # its Merkle tree fetched the leaves of the records it never held
        # (MLEAF) and is the leader's again: same size, same root, and it
        # cosigns checkpoints
        def same_tree():
            a, b = (f.rep() or {}).get("merkle", {}), (p.rep() or {}).get("merkle", {})
            return a.get("state") == "ok" and a.get("size") == b.get("size") and \
                a.get("root") == b.get("root")

        cosigned = ((f.rep() or {}).get("checkpoint") or {}).get("cosigned", 0)
        w9 = p.write(520, 4, 34)
        tree = e2e.wait_for(same_tree, 20)
        cosigns = e2e.wait_for(lambda: ((f.rep() or {}).get("checkpoint") or {}).get(
            "cosigned", 0) > cosigned, 20)
        print("# %s's tree after the resync: %s" % (f.name, (f.rep() or {}).get("merkle")))
        for line in f.logtext().splitlines():
            if "Merkle tree" in line:
                print("# " + line)
        ktap(w9.get("ok") and tree and cosigns, "resynced_follower_tree_fetched_and_cosigns",
             dump(sites))

        # 10b: the leader releases past the resync point during the copy
        # (as a throttled leader does): the follower restarts it there
        f.proc.kill()
        f.proc.wait()
        done = (f.rep() or {}).get("resyncs_done", 0)
        w6 = p.write(700, 16, 51)
        ok = w6.get("ok") and e2e.wait_for(lambda: committed_everywhere(live, w6["last_seq"]),
                                           10)
        cp1 = p.call({"cmd": "test-compact", "volume": "vol0"})
        held = p.call({"cmd": "test-resync-hold", "volume": "vol0", "hold": True})
        f.start()
        copying = e2e.wait_for(lambda: ((f.rep() or {}).get("resync") or {}).get("seq") ==
                               cp1.get("snap_seq"), 10)
        # georepctl's text view says so: "data: full resync from P to seq S: ..."
        txt = subprocess.run([os.path.join(BIN, "georepctl"), "status", "--socket", f.sock],
                             capture_output=True, text=True, timeout=10).stdout
        shown = "data: full resync from %s to seq %s:" % (p.name, cp1.get("snap_seq")) in txt
        print("# %s" % next((ln.strip() for ln in txt.splitlines() if "full resync" in ln),
                            "no full resync line in georepctl status"))
        w7 = p.write(800, 16, 52)
        ok = ok and copying and shown and w7.get("ok") and e2e.wait_for(
            lambda: committed_everywhere(live, w7["last_seq"]), 10)
        cp2 = p.call({"cmd": "test-compact", "volume": "vol0"})
        p.call({"cmd": "test-resync-hold", "volume": "vol0", "hold": False})
        t0 = time.time()
        ok = ok and cp2.get("snap_seq", 0) > cp1.get("snap_seq", 0) and e2e.wait_for(
            lambda: committed_everywhere(sites, w7["last_seq"]) and
            not (f.rep() or {}).get("resync"), 20)
        print("# resync of %s moved from seq %s to %s: installed %.2f s after the hold" %
              (f.name, cp1.get("snap_seq"), cp2.get("snap_seq"), time.time() - t0))
        shas = [s.sha() for s in sites]
        ktap(held.get("ok", True) and ok and len(set(shas)) == 1 and
             (f.rep() or {}).get("resyncs_done", 0) >= 1,
             "resync_restarts_when_leader_releases_past_it",
             (done, cp1, cp2, w7, txt, shas, dump(sites)))

        # 10c: the follower loses the leader mid-copy (as when its
        # heartbeats wait behind MiBs of chunks) and finds it again: the
        # leader goes on with its pass, the follower joins it there
        f.proc.kill()
        f.proc.wait()
        w8 = p.write(900, 16, 53)
        ok = w8.get("ok") and e2e.wait_for(lambda: committed_everywhere(live, w8["last_seq"]),
                                           10)
        cp3 = p.call({"cmd": "test-compact", "volume": "vol0"})
        p.call({"cmd": "test-resync-hold", "volume": "vol0", "hold": True})
        f.start()

        def copying_seq():
            return ((f.rep() or {}).get("resync") or {}).get("seq")

        def sent(key):
            fs = [x for x in (p.rep() or {}).get("sites", []) if x["site"] == f.name]
            return ((fs[0] if fs else {}).get("resync") or {}).get(key, -1)

        ok = ok and e2e.wait_for(lambda: copying_seq() == cp3.get("snap_seq"), 10)
        isolate(f, [p], True)
        lost = ok and e2e.wait_for(lambda: copying_seq() is None, 10)
        p.call({"cmd": "test-resync-hold", "volume": "vol0", "hold": False})
        ok = lost and e2e.wait_for(lambda: sent("sent_bytes") >= 8 * MIB, 10)
        p.call({"cmd": "test-resync-hold", "volume": "vol0", "hold": True})
        at = sent("sent_bytes")
        isolate(f, [p], False)
        ok = ok and e2e.wait_for(lambda: copying_seq() == cp3.get("snap_seq"), 10)
        p.call({"cmd": "test-resync-hold", "volume": "vol0", "hold": False})
        t0 = time.time()
        ok = ok and e2e.wait_for(lambda: committed_everywhere(sites, w8["last_seq"]) and
                                 copying_seq() is None, 30)
        print("# %s lost the leader during the copy, rejoined at byte %d of pass 1: "
              "installed %.2f s after" % (f.name, at, time.time() - t0))
        shas = [s.sha() for s in sites]
        ktap(ok and lost and len(set(shas)) == 1, "resync_survives_follower_losing_leader",
             (cp3, at, shas, dump(sites)))

        # 10d: a partitioned primary writes records that never commit (its
        # tree holds their leaves), the others go on and release past its
        # last common record: the fork is cut off its ledger and tree, a
        # full resync follows, and its tree fetches the leader's leaves
        p = e2e.wait_for(lambda: primary(sites), 10) or p

        # first every tree complete: the follower resynced in 10c fetches
        # the leaves it lacks from the leader after its copy installs, and
        # one elected while still fetching stops its tree (CI, once)
        def trees_agree():
            m = [r.get("merkle", {}) for r in (s.rep() for s in sites) if r]
            return all(x.get("state") == "ok" for x in m) and \
                len({(x.get("size"), x.get("root")) for x in m}) == 1
        e2e.wait_for(trees_agree, 30)
        others = [s for s in sites if s is not p]
        isolate(p, others, True)
        wd = p.write(1000, 8, 61)
        newp = e2e.wait_for(lambda: primary(others), 10)
        w10 = newp.write(1100, 16, 62) if newp else {}
        ok = wd.get("ok") and w10.get("ok") and e2e.wait_for(
            lambda: committed_everywhere(others, w10["last_seq"]), 10)
        cp4 = newp.call({"cmd": "test-compact", "volume": "vol0"}) if newp else {}
        ptree = (p.rep() or {}).get("merkle", {}).get("size", 0)
        isolate(p, others, False)
        f, p = p, newp
        tree = ok and e2e.wait_for(lambda: committed_everywhere(sites, w10["last_seq"]) and
                                   same_tree(), 30)
        print("# %s wrote %s..%s alone (tree of %d leaves), %s released to %s: %s" %
              (f.name, wd.get("first_seq"), wd.get("last_seq"), ptree, p.name if p else "-",
               cp4.get("snap_seq"), (f.rep() or {}).get("merkle")))
        for line in f.logtext().splitlines()[-400:]:
            if "Merkle tree" in line or "truncated" in line or "full resync" in line:
                print("# " + line)
        shas = [s.sha() for s in sites]
        ktap(tree and len(set(shas)) == 1, "deposed_primary_resynced_tree_is_leaders",
             (wd, w10, cp4, shas, dump(sites)))

        # 10e: elected with a tree that lacks leaves: x's tree files go
        # while it is down, its log released records at the compaction, and
        # only y is up with it, y behind x's log, so x wins the election
        # and must get those leaves from its follower (a site that leads
        # asked only itself, and its tree stopped for its term)
        e2e.wait_for(trees_agree, 30)
        x, y = [s for s in sites if s is not p]
        cp5 = x.call({"cmd": "test-compact", "volume": "vol0"})
        y.proc.send_signal(signal.SIGTERM)
        y.proc.wait(timeout=10)
        w11 = p.write(1200, 2, 63)
        ok = w11.get("ok") and e2e.wait_for(
            lambda: committed_everywhere([p, x], w11["last_seq"]), 10)
        for s in (p, x):
            s.proc.send_signal(signal.SIGTERM)
            s.proc.wait(timeout=10)
        for ext in ("mtree", "mleaf"):
            os.unlink(os.path.join(x.dir, "vol0." + ext))
        y.start()
        x.start()
        lead = e2e.wait_for(lambda: primary([x, y]), 20)
        # x may have released w11's records too (a follower releases what
        # a final checkpoint covers), which only p holds besides: p back
        p.start()

        def tree_complete():
            a, b = (x.rep() or {}).get("merkle", {}), (p.rep() or {}).get("merkle", {})
            # the new leader's first record of its term follows w11
            return a.get("state") == "ok" and a.get("size", 0) > w11["last_seq"] and \
                a.get("size") == b.get("size") and a.get("root") == b.get("root")
        tree = ok and lead is x and e2e.wait_for(tree_complete, 30)
        for line in x.logtext().splitlines()[-200:]:
            if "Merkle tree" in line:
                print("# " + line)
        ktap(tree and cp5.get("snap_seq", 0) > 1, "leader_elected_without_leaves_fetches_them",
             (cp5, w11, lead and lead.name, (x.rep() or {}).get("merkle"), dump(sites)))
        e2e.wait_for(lambda: committed_everywhere(sites, w11["last_seq"]), 15)
        p = e2e.wait_for(lambda: primary(sites), 10) or x

        # 11: majority lost for good: forced failover at the survivor
        codes = e2e.stop(sites)
        surv = next(s for s in sites if s is not p)
        surv.start()
        e2e.wait_for(lambda: surv.rep() is not None, 10)
        time.sleep(1.5)
        alone = primary([surv]) is None
        r = subprocess.run([ctl, "failover", "vol0", "--force", "--socket", surv.sock],
                           capture_output=True, text=True, timeout=10)
        ok = e2e.wait_for(lambda: primary([surv]) is surv, 10)
        w6 = surv.write(600, 2, 44) if ok else {}
        ok = ok and w6.get("ok") and e2e.wait_for(
            lambda: committed_everywhere([surv], w6["last_seq"]), 10)
        ktap(alone and r.returncode == 0 and ok, "forced_failover_single_survivor",
             (alone, r.stdout, r.stderr, w6, dump([surv])))

        surv.proc.send_signal(signal.SIGTERM)
        codes.append(surv.proc.wait(timeout=10))
        ktap(codes == [0, 0, 0, 0], "daemons_exit_cleanly", codes)
    finally:
        e2e.finish(sites, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
