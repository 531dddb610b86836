#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Seal-key rotation coordinated by the leader (user/georepd/engine_keys.c):
three `georepd --ledger mem` on 127.0.0.1, one quorum volume, mutual TLS 1.3,
each site with its own key directory.

 1. `georepctl key rotate --socket` at a follower is refused naming the leader;
 2. at the leader, under a stream of writes: epoch 2 is made, sent, installed
    everywhere, and sealing switches to it; no write fails; the followers
    append the records sealed with it (their ledgers check every seal);
    `key status` shows epoch 2 at every site, and the key files are the
    same bytes, mode 0600;
 3. a site down during two rotations (majority: the other two) rejoins,
    receives both epochs and catches up on records sealed with them;
 4. both followers stopped: the new epoch stays verify-only and sealing
    does not move for 2 s (no majority has it); kill -9 of the leader in that
    state, the followers resumed: the new leader finishes the rotation
    (sealing moves to the new epoch), and the old leader restarts and follows;
 5. every site holds the same data;
 6. restarted with "key_rotate_seconds": 1 under writes, the leader rotates
    on its own past epoch 12: every ledger holds 8 epochs at most and
    retires the ones no retained record is sealed with (kmod/keys.c,
    "Retiring epochs"); every site acknowledges epoch 12 and keeps every
    key file; the leader's key status shows per site the epochs its ledger
    holds (at most 8, 12 among them) and the one sealing (a follower's
    moves on with the epochs of the records it appends); no write fails,
    the data is the same everywhere;
 7. a follower stopped (SIGSTOP) while the leader rotates six more times
    under writes comes back holding records sealed with its old epochs and
    receiving the new epochs ahead of the records sealed with them (KEY
    travels on the control lane): installing them retires epochs it has not
    yet used but is about to need. It re-installs such an epoch from its
    key directory when a record needs it, refuses no record and catches up
    without reconnecting;
 8. a bad key file of a far epoch (999.key, 31 bytes) in the leader's key
    directory is not taken for a rotation to resume (key status says why,
    naming the file), and the scheduled rotations that cannot read the
    directory stop with that reason instead of waiting for good, for as
    long as the file is there, and make no key file; once the file is
    gone, sealing moves on again.

Usage: e2e_keys.py [BINDIR]. Prints KTAP.
"""
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import e2e_replication as er  # noqa: E402

SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 12
ktap = e2e.ktap


class Site(er.Site):
    def start(self):
        self.proc = subprocess.Popen(
            [os.path.join(e2e.BIN, "georepd"), "--config", self.cfg, "--site", self.name,
             "--state-dir", self.dir, "--foreground", "--verbose", "--ledger", "mem",
             "--key-dir", self.keys],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))

    def keyst(self):
        r = self.rep()
        return (r or {}).get("keys") or {}

    def ctl_cmd(self, *args):
        return subprocess.run([os.path.join(e2e.BIN, "georepctl")] + list(args) +
                              ["--socket", os.path.join(self.dir, self.name + ".sock")],
                              capture_output=True, text=True, timeout=10)


class Writer(threading.Thread):
    def __init__(self, sites):
        super().__init__(daemon=True)
        self.sites, self.stop, self.ok, self.failed = sites, False, 0, []

    def run(self):
        i = 0
        while not self.stop:
            p = er.primary(self.sites)
            if p:
                w = p.write(i % 512, 1, i % 251)
                if w.get("ok"):
                    self.ok += 1
                else:
                    self.failed.append(w)
                i += 1
            time.sleep(0.02)


def sealing(s):
    return s.keyst().get("sealing", 0)


def settle(sites, timeout=20):
    """A primary whose last write is applied everywhere, then the data hashes."""
    def done():
        p = er.primary(sites)
        if not p:
            return False
        last = p.rep()["last_seq"]
        return all(s.rep() and s.rep()["applied_seq"] >= last for s in sites)
    ok = e2e.wait_for(done, timeout)
    return ok, [s.sha() for s in sites]


def rotate(site):
    return site.ctl_cmd("key", "rotate", "vol0")


def scheduled(sites, cfg, cfgpath):
    """Test 10: rotation every second under writes, past the kernel's 8 epochs."""
    for s in sites:
        s.proc.terminate()
        s.proc.wait()
    cfg["volumes"][0]["key_rotate_seconds"] = 1
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    for s in sites:
        s.start()
    p = e2e.wait_for(lambda: er.primary(sites), 15)
    writer = Writer(sites)
    writer.start()
    at12 = p is not None and e2e.wait_for(lambda: sealing(p) >= 12, 60)
    writer.stop = True
    writer.join()
    ks = p.keyst() if p else {}
    acked = e2e.wait_for(lambda: all(v >= 12 for v in
                                     p.keyst().get("sites_acked", {}).values()), 10)
    # per site: what its ledger holds, at most 8 epochs, 12 among them
    view = p.keyst().get("sites", {}) if p else {}
    per_site = sorted(view) == sorted(SITES) and all(
        v.get("installed") and len(v["installed"]) <= 8 and 12 in v["installed"] and
        v["installed"] == sorted(v["installed"]) and v.get("sealing") in v["installed"] and
        v.get("sealing", 0) > 1   # a follower's moves on with the records it appends
        for v in view.values())
    w = p.write(9, 2, 99) if p else {}
    ok, shas = settle(sites, 20)
    files = [sorted(int(f[:-4]) for f in os.listdir(os.path.join(s.keys, "vol0"))
                    if f.endswith(".key")) for s in sites]
    print("# %d writes during the scheduled rotations, %d failed" %
          (writer.ok, len(writer.failed)))
    ktap(at12 and acked and per_site and not ks.get("error") and writer.ok > 20 and not writer.failed and
         w.get("ok") and ok and len(set(shas)) == 1 and
         all(f and f[-1] >= 12 and f == list(range(f[0], f[-1] + 1)) for f in files),
         "scheduled_rotation_past_epoch_8_retires_old_epochs",
         (ks, view, writer.failed[:3], w, files, shas, er.dump(sites)))


def lagging(sites):
    """Test 11: a follower stopped for six rotations, then resumed."""
    p = e2e.wait_for(lambda: er.primary(sites), 15)
    f = [s for s in sites if s is not p][0] if p else None
    if not f:
        ktap(False, "lagging_follower_reinstalls_retired_epochs", er.dump(sites))
        return
    writer = Writer(sites)
    writer.start()
    start = sealing(p)
    refused0 = f.rep().get("records_refused", 0)
    f.proc.send_signal(signal.SIGSTOP)
    moved = e2e.wait_for(lambda: sealing(p) >= start + 6, 30)
    f.proc.send_signal(signal.SIGCONT)
    time.sleep(3)
    writer.stop = True
    writer.join()
    ok, shas = settle(sites, 30)
    rep = f.rep() or {}
    refused = rep.get("records_refused", 0) - refused0
    again = f.keyst().get("reinstalled", 0)
    print("# follower %s stopped from epoch %d to %d; %d records refused after, "
          "%d epochs installed again" % (f.name, start, sealing(p), refused, again))
    ktap(moved and ok and len(set(shas)) == 1 and refused == 0 and again > 0 and
         not writer.failed,
         "lagging_follower_reinstalls_retired_epochs",
         (start, sealing(p), refused, writer.failed[:3], shas, er.dump(sites)))


def bad_key_file(sites):
    """Test 12: a bad far-epoch key file at the leader, then removed."""
    p = e2e.wait_for(lambda: er.primary(sites), 15)
    if not p:
        ktap(False, "bad_key_file_reported_then_rotations_go_on", er.dump(sites))
        return
    bad = os.path.join(p.keys, "vol0", "999.key")
    # between two scheduled rotations, so that the next one starts with it
    e2e.wait_for(lambda: p.keyst().get("pending", 1) == 0, 10)
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"x" * 31)
    os.close(fd)
    said = e2e.wait_for(lambda: "999.key" in (p.keyst().get("error") or ""), 10)
    # scheduled rotations go on failing (one a second) while the file is
    # bad: each one names it, and none numbers a new epoch from a directory
    # it could not read (that once made a key file, then tried to make it
    # again: "cannot create key <n>.key: File exists")
    files = set(os.listdir(os.path.dirname(bad)))
    seen = set()
    for _ in range(25):
        seen.add(p.keyst().get("error") or "")
        time.sleep(0.1)
    why = "; ".join(sorted(seen))
    made = set(os.listdir(os.path.dirname(bad))) - files
    os.unlink(bad)
    before = sealing(p)
    moved = e2e.wait_for(lambda: sealing(p) > before and
                         p.keyst().get("pending", 0) != 999, 20)
    print("# with 999.key bad: %s" % why)
    ktap(said and all("999.key" in w for w in seen) and not made and moved and sealing(p) < 999,
         "bad_key_file_reported_then_rotations_go_on", (why, made, before, p.keyst()))


def main():
    top = tempfile.mkdtemp(prefix="georep-keys-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": "keys",
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(SITES)],
        "volumes": [{"name": "vol0", "commit_rule": "quorum",
                     "replicas": {n: {"data": "/dev/mem-data-%s" % n, "log": "/dev/mem-log-%s" % n}
                                  for n in SITES}}],
    }
    e2e.tls_config(top, cfg)
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    sites = [Site(top, n, cfgpath) for n in SITES]
    for s in sites:
        s.keys = os.path.join(top, "keys-" + s.name)
    writer = None

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        for s in sites:
            s.start()
        p = e2e.wait_for(lambda: er.primary(sites), 15)
        if not p:
            ktap(False, "leader_elected", er.dump(sites))
            return 1
        f = [s for s in sites if s is not p][0]
        r = rotate(f)
        ktap(r.returncode != 0 and "not the volume's writable leader (%s is)" % p.name in r.stderr,
             "rotate_at_a_follower_refused_naming_the_leader", r.stderr)

        writer = Writer(sites)
        writer.start()
        time.sleep(0.5)
        r = rotate(p)
        ok = r.returncode == 0 and "epoch 2" in r.stdout and \
            e2e.wait_for(lambda: sealing(p) == 2, 10)
        time.sleep(1)
        ktap(ok, "rotation_to_epoch_2_under_writes", (r.stdout, r.stderr, p.keyst()))
        keyfiles = [os.path.join(s.keys, "vol0", "2.key") for s in sites]
        same = all(os.path.exists(k) for k in keyfiles) and \
            len({open(k, "rb").read() for k in keyfiles}) == 1 and \
            all(stat.S_IMODE(os.stat(k).st_mode) == 0o600 for k in keyfiles)
        acked = p.keyst().get("sites_acked", {})
        st = f.ctl_cmd("key", "status", "vol0")
        ktap(same and all(v == 2 for v in acked.values()) and "epochs 2" in st.stdout,
             "every_site_has_epoch_2_same_bytes_0600", (acked, st.stdout, st.stderr))

        # 3: a site down during two rotations
        down = [s for s in sites if s is not p][1]
        down.proc.kill()
        down.proc.wait()
        ok = True
        for e in (3, 4):
            r = rotate(p)
            ok = ok and r.returncode == 0 and e2e.wait_for(lambda: sealing(p) == e, 10)
            time.sleep(0.5)
        ktap(ok, "two_rotations_with_a_site_down", (r.stdout, r.stderr, p.keyst()))
        down.start()
        time.sleep(2)
        writer.stop = True
        writer.join()
        ok, shas = settle(sites, 30)
        ktap(ok and len(set(shas)) == 1 and
             os.path.exists(os.path.join(down.keys, "vol0", "4.key")),
             "the_site_rejoins_with_both_epochs_and_catches_up", (shas, er.dump(sites)))

        # 4: no majority, then kill -9 of the leader mid-rotation
        others = [s for s in sites if s is not p]
        for s in others:
            s.proc.send_signal(signal.SIGSTOP)
        r = rotate(p)
        time.sleep(2)
        pend = p.keyst()
        # the leader steps down without its quorum; epoch 5 stays verify-only
        ktap(r.returncode == 0 and 5 in pend.get("installed", []) and pend.get("sealing") == 4,
             "no_majority_epoch_verify_only_sealing_unchanged", (r.stdout, r.stderr, pend))
        p.proc.kill()
        p.proc.wait()
        for s in others:
            s.proc.send_signal(signal.SIGCONT)
        np = e2e.wait_for(lambda: er.primary(others), 20)
        ok = np is not None and e2e.wait_for(lambda: sealing(np) == 5, 20)
        ktap(ok, "new_leader_finishes_the_rotation", (np and np.keyst(), er.dump(others)))
        p.start()
        w = np.write(7, 4, 77) if np else {}
        ok, shas = settle(sites, 30)
        ktap(w.get("ok") and ok and len(set(shas)) == 1, "old_leader_follows_same_data",
             (w, shas, er.dump(sites)))
        print("# %d writes during the rotations, %d failed" % (writer.ok, len(writer.failed)))
        ktap(writer.ok > 50 and not writer.failed, "no_write_failed_during_rotations",
             writer.failed[:3])
        scheduled(sites, cfg, cfgpath)
        lagging(sites)
        bad_key_file(sites)
    finally:
        if writer:
            writer.stop = True
        for s in sites:
            if s.proc and s.proc.poll() is None:
                s.proc.send_signal(signal.SIGCONT)
        e2e.finish(sites, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
