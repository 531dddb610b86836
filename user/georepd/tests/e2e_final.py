#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
End-to-end test of checkpoints and finality (Documentation/proofs.rst,
"Finality"): three `georepd --ledger mem` processes on 127.0.0.1 over
mutual TLS (keys and certificates made with openssl), one quorum volume
checkpointed every 50 records or 1000 ms.

 1. writes commit; final_seq reaches commit_seq at every site; every site
    keeps the same final checkpoint (<volume>.final), signed by the leader
    and cosigned, in georepctl status text and JSON;
 2. georepctl proof inclusion and consistency without --key use the final
    checkpoint; after every daemon stopped, georepctl proof verify accepts
    them with --quorum 2 and only the public keys taken from the sites'
    certificates (openssl x509 -pubkey, georepctl proof vkey); --quorum 3
    is refused when fewer sites vouch;
 3. kill -9 of the leader: the new leader's final_seq starts at least at
    the stored one, never goes back, and advances with new writes; the
    killed site restarts with its stored final checkpoint;
 4. two sites stopped (SIGSTOP): the remaining site never makes a
    checkpoint final over its committed records (final_seq and the file
    stay); SIGCONT: final_seq reaches commit again;
 5. a follower whose stored tree was damaged while it was down (a hash
    flipped in <volume>.mtree) has another root: it refuses to cosign, the
    leader logs the site and the reason, the two others still make
    checkpoints final (then its tree is rebuilt from its ledger);
 6. key rollover: every site gets a new key and certificate (same CA) and
    SIGHUP; checkpoints go on at every site, signed and cosigned with the
    new keys: a bundle verifies with the new public keys and not with the old ones.

Usage: e2e_final.py [BINDIR]. Prints KTAP.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e_replication import Site, primary, committed_everywhere  # noqa: E402

ktap = e2e.ktap
SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 19
MIB = 1 << 20
SCRUB_RECS = 24			# records of 1 MiB
SCRUB_STEP_MAX = 4 * MIB	# 8 MiB/s: 200 ms of credit and one record


def ctl(*args, stdin=None):
    return subprocess.run([os.path.join(e2e.BIN, "georepctl")] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=20)


def rep(s):
    return s.rep() or {}


def final_everywhere(sites):
    """every running site's final_seq equals its commit_seq and the leader's"""
    reps = [rep(s) for s in sites if s.proc and s.proc.poll() is None]
    if not reps or not all(r.get("final_seq") for r in reps):
        return False
    top = max(r["commit_seq"] for r in reps)
    return all(r["final_seq"] == top for r in reps)


def final_file(s):
    try:
        with open(os.path.join(s.dir, "vol0.final")) as f:
            return f.read()
    except OSError:
        return ""


def write_n(p, n, byte):
    last = 0
    for i in range(n):
        last = p.write(i % 64, 1, byte + i).get("last_seq", last)
    return last


def trust_file(top, cfg, name):
    """verifier keys of every site from its certificate, as an auditor makes them"""
    lines = []
    for s in cfg["sites"]:
        pub = os.path.join(top, s["name"] + ".pub")
        subprocess.run(["openssl", "x509", "-in", s["cert"], "-pubkey", "-noout", "-out", pub],
                       check=True)
        r = ctl("proof", "vkey", pub, "georep/%s/%s" % (cfg["cluster"], s["name"]))
        lines.append(r.stdout)
    path = os.path.join(top, name)
    with open(path, "w") as f:
        f.write("".join(lines))
    return path


def phase_final(sites, p, top):
    last = write_n(p, 120, 1)
    t0 = time.time()
    ok = e2e.wait_for(lambda: committed_everywhere(sites, last), 15)
    ok = ok and e2e.wait_for(lambda: final_everywhere(sites), 15)
    files = {final_file(s) for s in sites}
    f = files.pop() if len(files) == 1 else ""
    sigs = [ln for ln in f.splitlines() if ln.startswith("\u2014 ")]
    ktap(ok and f.startswith("georep/fin/vol0\n%d\n" % last) and len(sigs) >= 2,
         "final_seq_reaches_commit_at_every_site",
         [rep(s).get("checkpoint") for s in sites] + [files, f])
    r = ctl("status", "--socket", p.sock)
    j = ctl("status", "--json", "--socket", p.sock)
    jr = (json.loads(j.stdout)["cluster"]["volumes"][0]["replica"] if j.returncode == 0
          else {})
    ok = (("final %d" % last) in r.stdout and "checkpoints: final %d (0 behind commit)" % last
          in r.stdout and jr.get("final_seq") == last and
          jr.get("checkpoint", {}).get("behind_commit") == 0)
    ktap(ok, "status_shows_final_seq_text_and_json", r.stdout)
    print("# %d records final %.2f s after the last commit" % (last, time.time() - t0))
    return last


def phase_bundles(sites, p, top, last):
    fol = [s for s in sites if s is not p]
    inc = ctl("proof", "inclusion", "vol0", "5", "--socket", fol[0].sock)
    con = ctl("proof", "consistency", "vol0", "3", str(last), "--socket", fol[1].sock)
    bad = ctl("proof", "consistency", "vol0", "3", str(last - 1), "--socket", fol[1].sock)
    use = ctl("proof", "inclusion", "vol0", "5", "--size", "9", "--socket", fol[0].sock)
    ok = (inc.returncode == 0 and con.returncode == 0 and bad.returncode == 1 and
          "must be the final checkpoint's size %d" % last in bad.stderr and
          use.returncode == 2 and "--size needs --key" in use.stderr)
    ktap(ok, "proof_bundles_from_the_final_checkpoint_without_key",
         (inc.stdout, inc.stderr, con.stderr, bad.stderr, use.stderr))
    paths = []
    for name, b in (("inc", inc.stdout), ("con", con.stdout)):
        paths.append(os.path.join(top, name + ".tlog-proof"))
        with open(paths[-1], "w") as f:
            f.write(b)
    return paths


def phase_failover(sites, p, cfgpath):
    before = rep(p).get("final_seq", 0)
    p.proc.send_signal(signal.SIGKILL)
    p.proc.wait()
    rest = [s for s in sites if s is not p]
    q = e2e.wait_for(lambda: primary(rest), 15)
    start = rep(q).get("final_seq", -1) if q else -1
    ktap(q is not None and start >= before, "new_leader_starts_from_stored_final",
         (before, start))
    last = write_n(q, 60, 7) if q else 0
    ok = q and e2e.wait_for(lambda: committed_everywhere(rest, last), 15)
    ok = ok and e2e.wait_for(lambda: final_everywhere(rest) and
                             rep(q)["final_seq"] >= last, 15)
    p.start()
    ok = ok and e2e.wait_for(lambda: rep(p).get("final_seq", 0) >= before, 15)
    ok = ok and e2e.wait_for(lambda: final_everywhere(sites), 15)
    ktap(ok, "final_seq_advances_after_failover_and_restart",
         [(s.name, rep(s).get("final_seq"), rep(s).get("commit_seq")) for s in sites])
    return q


def damage_tree(site):
    """flip a byte of the largest perfect subtree over leaf 0 in @site's
    stored tree (post-order index 2^(k+1) - 2): its roots change from there
    on, and nothing at start compares that hash with the ledger"""
    path = os.path.join(site.dir, "vol0.mtree")
    n = (os.path.getsize(path) - 32) // 32
    k = 0
    while 2 ** (k + 2) - 2 < n:
        k += 1
    off = 32 + 32 * (2 ** (k + 1) - 2)
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0xff]))
    return 2 ** k


def phase_refusal(sites):
    p = e2e.wait_for(lambda: primary(sites), 15)   # may have moved during the stop
    liar = [s for s in sites if s is not p][0]
    liar.proc.send_signal(signal.SIGTERM)
    liar.proc.wait()
    span = damage_tree(liar)
    mark = len(p.logtext())
    liar.start()
    e2e.wait_for(lambda: rep(liar).get("commit_seq", -1) == rep(p).get("commit_seq") and
                 e2e.peers_up(p), 15)
    last = write_n(p, 60, 9)
    # at start, the damaged tree is compared with the site's own final
    # checkpoint (signed by a majority): it differs, the site vouches for
    # nothing more and says why, and so does the leader
    pat = (r"site %s refuses to cosign checkpoint \d+ \(refused\): this site makes no "
           r"checkpoints: this site's tree of \d+ records has root \S+, its final "
           r"checkpoint \S+: the tree or ledger is not what a majority signed" % liar.name)
    ok = e2e.wait_for(lambda: re.search(pat, p.logtext()[mark:]), 15)
    ok = ok and "remove vol0.mtree and vol0.mleaf to rebuild" in liar.logtext()
    ok = ok and e2e.wait_for(lambda: rep(p).get("final_seq") == last, 15)
    ck = rep(p).get("checkpoint", {})
    ktap(ok and liar.name in ck.get("last_refusal", ""),
         "damaged_tree_differs_from_own_final_site_stops_vouching",
         (span, p.logtext()[mark:], ck))
    # repair: the tree is rebuilt from the ledger (it still holds every record)
    liar.proc.send_signal(signal.SIGTERM)
    liar.proc.wait()
    for ext in ("mtree", "mleaf"):
        os.unlink(os.path.join(liar.dir, "vol0." + ext))
    liar.start()
    e2e.wait_for(lambda: (rep(liar).get("merkle") or {}).get("size") == last, 15)
    return p


def flip_payload(site, byte, off=None):
    """flip one byte (at +100) of the last record whose 4 KiB payload is
    @byte after 8 bytes, in @site's ledger file (the memory ledger's log device), or the
    one at @off; its offset"""
    path = os.path.join(site.dir, "vol0.memlog")
    if off is None:
        with open(path, "rb") as f:
            off = f.read().rfind(bytes([byte]) * 4088)  # test-write: 8 bytes of seq first
        if off < 0:
            return -1
    with open(path, "r+b") as f:
        f.seek(off + 100)
        b = f.read(1)
        f.seek(off + 100)
        f.write(bytes([b[0] ^ 0x5a]))
    return off


def scrub(s):
    return rep(s).get("scrub") or {}


def phase_scrub(sites, p):
    """a record altered on a follower's log device: that site serves no
    inclusion proof of it and, once its scrub met it, cosigns nothing
    covering it (the others make checkpoints final); repaired, it vouches
    again"""
    victim = [s for s in sites if s is not p][0]
    seq = p.write(200, 1, 0xa5).get("last_seq", 0)
    e2e.wait_for(lambda: rep(victim).get("final_seq", 0) >= seq, 15)
    off = flip_payload(victim, 0xa5)
    inc = ctl("proof", "inclusion", "vol0", str(seq), "--socket", victim.sock)
    good = ctl("proof", "inclusion", "vol0", str(seq), "--socket", p.sock)
    ktap(off >= 0 and inc.returncode != 0 and
         "payload does not hash to the payload_hash of its leaf" in inc.stderr and
         good.returncode == 0, "altered_record_no_inclusion_proof_from_its_site",
         (seq, off, inc.stdout, inc.stderr, good.stderr))
    found = e2e.wait_for(lambda: (scrub(victim).get("damaged") or {}).get("seq") == seq, 30)
    mark = len(p.logtext())
    last = write_n(p, 60, 11)
    pat = (r"site %s refuses to cosign checkpoint \d+ \(refused\): record %d on this "
           r"site's log: its payload does not hash" % (victim.name, seq))
    ok = found and e2e.wait_for(lambda: re.search(pat, p.logtext()[mark:]), 15)
    ok = ok and e2e.wait_for(lambda: rep(p).get("final_seq") == last, 15)
    ktap(ok, "scrub_finds_it_site_refuses_to_cosign_final_goes_on",
         (scrub(victim), p.logtext()[mark:][-3000:]))
    flip_payload(victim, 0xa5, off)   # the same flip undoes it
    ok = e2e.wait_for(lambda: "damaged" not in scrub(victim), 30)
    before = rep(victim).get("checkpoint", {}).get("cosigned", 0)
    last = write_n(p, 60, 13)
    ok = ok and e2e.wait_for(lambda: rep(victim).get("final_seq") == last and
                             rep(victim)["checkpoint"].get("cosigned", 0) > before, 20)
    ktap(ok, "repaired_scrub_clears_site_vouches_again", (scrub(victim), rep(victim)))
    scrub_budget(p, victim)
    return p


def scrub_budget(p, victim):
    """1 MiB records: the scrub reads at most its budget (or one record) per
    tick of the event loop, not a batch of 64 records whatever their size
    (which stalled a TCG VM's daemons for seconds and cost a leader its
    lease in sites/55)"""
    b0, t0 = scrub(victim).get("bytes", 0), time.time()
    for i in range(SCRUB_RECS):
        p.call({"cmd": "test-write", "volume": "vol0", "offset": i * 256, "blocks": 256,
                "byte": 0x40 + i, "one_record": True})
    print("# %d MiB written in %.1f s, %d bytes scrubbed meanwhile" %
          (SCRUB_RECS, time.time() - t0, scrub(victim).get("bytes", 0) - b0))
    samples, t_end = [(time.time(), b0)], time.time() + 12
    while time.time() < t_end and samples[-1][1] - b0 < SCRUB_RECS * MIB:
        time.sleep(0.1)
        samples.append((time.time(), scrub(victim).get("bytes", 0)))
    steps = [b - a for (_, a), (_, b) in zip(samples, samples[1:])]
    top = max(steps or [0])
    ktap(samples[-1][1] - b0 >= SCRUB_RECS * MIB and top <= SCRUB_STEP_MAX,
         "scrub_reads_within_budget_per_tick: %d MiB checked, at most %.1f MiB between "
         "samples 0.1 s apart (<= %d)" % ((samples[-1][1] - b0) // MIB, top / MIB,
                                         SCRUB_STEP_MAX // MIB),
         [("%.2f" % (t - samples[0][0]), b - b0) for t, b in samples])


def phase_minority(sites, p):
    fol = [s for s in sites if s is not p]
    for attempt in range(3):
        last = write_n(p, 5, 11 + attempt)
        e2e.wait_for(lambda: rep(p).get("commit_seq", 0) >= last, 5)
        for s in fol:
            s.proc.send_signal(signal.SIGSTOP)
        r = rep(p)
        if r.get("final_seq", 0) < r.get("commit_seq", 0):
            break
        for s in fol:       # a checkpoint became final before the stop: again
            s.proc.send_signal(signal.SIGCONT)
        e2e.wait_for(lambda: final_everywhere(sites), 10)
    final0, file0 = r.get("final_seq"), final_file(p)
    seen = set()
    t_end = time.time() + 4
    while time.time() < t_end:
        x = rep(p)
        seen.add(x.get("final_seq"))
        time.sleep(0.1)
    ok = (final0 < r["commit_seq"] and seen == {final0} and final_file(p) == file0)
    ktap(ok, "two_sites_stopped_nothing_becomes_final",
         (final0, r.get("commit_seq"), seen, rep(p).get("checkpoint")))
    for s in fol:
        s.proc.send_signal(signal.SIGCONT)
    ok = e2e.wait_for(lambda: final_everywhere(sites) and rep(p)["final_seq"] >= last, 20)
    ktap(ok, "sites_back_final_reaches_commit",
         [(s.name, rep(s).get("final_seq"), rep(s).get("commit_seq")) for s in sites])


def phase_rollover(sites, p, top, cfg):
    """new keys and certificates for every site (same CA), SIGHUP: the
    next checkpoints are signed and cosigned with the new keys"""
    names = " ".join(SITES)
    subprocess.run(["bash", "-c", '. "$0" && for s in $2; do tls_make_site "$1" "$s" || '
                    'exit 1; done', e2e.TLS_CERTS_SH, os.path.join(top, "pki"), names],
                   check=True, stdout=subprocess.DEVNULL)
    marks = [len(s.logtext()) for s in sites]
    for s in sites:
        s.proc.send_signal(signal.SIGHUP)
    ok = e2e.wait_for(lambda: all("checkpoint keys reloaded" in s.logtext()[m:]
                                  for s, m in zip(sites, marks)), 10)
    ok = ok and e2e.wait_for(lambda: all(e2e.peers_up(s) for s in sites), 15)
    p = e2e.wait_for(lambda: primary(sites), 15)
    last = write_n(p, 60, 13) if p else -1
    ok = ok and e2e.wait_for(lambda: final_everywhere(sites) and
                             rep(p).get("final_seq") == last, 15)
    inc = ctl("proof", "inclusion", "vol0", str(last - 1), "--socket", p.sock)
    path = os.path.join(top, "new.tlog-proof")
    with open(path, "w") as f:
        f.write(inc.stdout)
    ktap(ok and inc.returncode == 0, "key_rollover_sighup_checkpoints_go_on",
         [(s.name, rep(s).get("final_seq"), rep(s).get("checkpoint")) for s in sites] +
         [inc.stderr])
    return path


def phase_verify(top, cfg, paths, trust, last):
    inc = ctl("proof", "verify", paths[0], "--trust", trust, "--quorum", "2")
    ok = (inc.returncode == 0 and inc.stdout.startswith("OK: record 5 ") and
          ("at tree size %d," % last) in inc.stdout)
    ktap(ok, "inclusion_bundle_verifies_offline_quorum_2", (inc.stdout, inc.stderr))
    con = ctl("proof", "verify", paths[1], "--trust", trust, "--quorum", "2")
    ktap(con.returncode == 0 and "a prefix of georep/fin/vol0" in con.stdout,
         "consistency_bundle_verifies_offline_quorum_2", (con.stdout, con.stderr))
    with open(paths[0]) as f:
        b = f.read()
    n = len([ln for ln in b.splitlines() if ln.startswith("\u2014 ")])
    q = ctl("proof", "verify", paths[0], "--trust", trust, "--quorum", str(n + 1))
    ktap(q.returncode == 1 and "--quorum wants %d" % (n + 1) in q.stderr,
         "quorum_above_the_vouching_sites_refused", q.stderr)
    new = trust_file(top, cfg, "trusted-sites-new")
    r = ctl("proof", "verify", paths[2], "--trust", new, "--quorum", "2")
    o = ctl("proof", "verify", paths[2], "--trust", trust, "--quorum", "1")
    ktap(r.returncode == 0 and o.returncode == 1 and "by a trusted key" in o.stderr,
         "after_rollover_new_keys_verify_old_keys_do_not", (r.stdout, r.stderr, o.stderr))
    one = os.path.join(top, "one-site")
    with open(trust) as f, open(one, "w") as g:
        g.write("".join(f.readlines()[:2]))
    q = ctl("proof", "verify", paths[0], "--trust", one, "--quorum", "2")
    ktap(q.returncode == 1, "one_trusted_site_is_not_quorum_2", q.stderr)


def main():
    top = tempfile.mkdtemp(prefix="georep-final-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": "fin",
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(SITES)],
        "volumes": [{"name": "vol0", "commit_rule": "quorum", "quorum_loss": "suspend",
                     "checkpoint": {"records": 50, "ms": 1000},
                     "replicas": {n: {"data": "/dev/mem-data-%s" % n, "log": "/dev/mem-log-%s" % n}
                                  for n in SITES}}],
    }
    e2e.tls_config(top, cfg)
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    sites = [Site(top, n, cfgpath) for n in SITES]

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        for s in sites:
            s.start()
        p = e2e.wait_for(lambda: primary(sites), 20)
        ktap(p is not None, "leader_elected_over_tls", [rep(s) for s in sites])
        if p is None:
            return 1
        last = phase_final(sites, p, top)
        trust = trust_file(top, cfg, "trusted-sites")
        paths = phase_bundles(sites, p, top, last)
        p = phase_failover(sites, p, cfgpath)
        if p is None:
            return 1
        phase_minority(sites, p)
        p = phase_refusal(sites)
        p = phase_scrub(sites, p)
        paths.append(phase_rollover(sites, p, top, cfg))
        p = primary(sites) or p
        ck = rep(p).get("checkpoint", {})
        print("# leader: %d checkpoints signed, %d final" % (ck.get("signed", 0),
                                                        ck.get("final", 0)))
        e2e.stop(sites)
        phase_verify(top, cfg, paths, trust, last)
    finally:
        e2e.finish(sites, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        e2e.BIN = sys.argv[1]
    sys.exit(main())
