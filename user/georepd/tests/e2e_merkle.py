#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
End-to-end test of the Merkle tree over the ledger (Documentation/proofs.rst):
three `georepd --ledger mem` processes on 127.0.0.1, one quorum volume.
The expected roots, leaves and proofs are computed here in Python from each
site's own .memlog (RFC 9162 written out again, independently of the C code).

 1. writes commit; every site's tree holds every record, with the root
    recomputed from its log;
 2. the proof request: an inclusion proof and a consistency proof equal the
    ones computed here, and the inclusion proof verifies;
 3. release (test-compact): the log's tail moves past records the tree
    still proves, root unchanged;
 4. kill -9 and restart of a follower: the tree is loaded, not rehashed
    (records below the log's tail are gone, yet the root is right), and
    keeps up with new writes;
 5. a torn tree tail (crash) is cut back and caught up from the ledger;
 6. bad proof requests are refused with a reason;
 7. georepctl proof inclusion/consistency print bundles signed with a key
    made here; georepctl proof vkey's key id equals the one computed here;
 8. georepctl proof cosign: the two other sites check the checkpoint
    against their own trees and add C2SP cosignatures; a checkpoint with
    another root is refused;
 9. after the daemons exit, georepctl proof verify accepts them offline
    (--quorum 3 with the cosignatures, not without) and refuses a tampered
    leaf, a changed checkpoint root, a key not trusted and a truncated
    proof, each with exit 1 and the reason.

Usage: e2e_merkle.py [BINDIR]. Prints KTAP.
"""
import base64
import hashlib
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e_replication import mem_cluster, committed_everywhere, start_and_elect  # noqa: E402

ktap = e2e.ktap
SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 16
REC = struct.Struct("<IHHQQQIIQIIII16s32s32s32s80x")
LEAF = struct.Struct("<4sHHQQQIIQIIIHH16s32s32s")


def records(path):
    """(seq, leaf bytes) of every record in a mem ledger's log file."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off + REC.size <= len(data):
        (magic, ver, op, seq, term, lba, ln, plen, ts, site, epoch, flags, _r0, uuid,
         ph, chain, _seal) = REC.unpack_from(data, off)
        leaf = LEAF.pack(b"GRLF", 1, op, seq, term, lba, ln, plen, ts, site, epoch, flags,
                         ver, 0, uuid, ph, chain)
        out.append((seq, leaf))
        off += REC.size + plen
    return out


def lh(leaf):
    return hashlib.sha256(b"\0" + leaf).digest()


def node(a, b):
    return hashlib.sha256(b"\1" + a + b).digest()


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hs):
    if not hs:
        return hashlib.sha256(b"").digest()
    if len(hs) == 1:
        return hs[0]
    k = split(len(hs))
    return node(mth(hs[:k]), mth(hs[k:]))


def path(m, hs):
    if len(hs) <= 1:
        return []
    k = split(len(hs))
    if m < k:
        return path(m, hs[:k]) + [mth(hs[k:])]
    return path(m - k, hs[k:]) + [mth(hs[:k])]


def subproof(m, hs, whole):
    if m == len(hs):
        return [] if whole else [mth(hs)]
    k = split(len(hs))
    if m <= k:
        return subproof(m, hs[:k], whole) + [mth(hs[k:])]
    return subproof(m - k, hs[k:], False) + [mth(hs[:k])]


def leaves_of(site):
    """Leaf hashes by seq - 1, from the site's log file (all records since the start)."""
    recs = records(os.path.join(site.dir, "vol0.memlog"))
    return [lh(leaf) for _, leaf in recs], dict(recs)


def tree_ok(site, size=None):
    r = site.rep() or {}
    m = r.get("merkle") or {}
    hs, _ = leaves_of(site)
    size = size or r.get("written_seq")
    return (m.get("state") == "ok" and m.get("size") == size == len(hs) and
            m.get("root") == mth(hs).hex())


def b64(h):
    return base64.b64encode(h).decode()


def ctl(*args, stdin=None):
    return subprocess.run([os.path.join(e2e.BIN, "georepctl")] + list(args),
                          capture_output=True, text=True, timeout=20, input=stdin)


def keypair(top, name):
    pem = os.path.join(top, name + ".pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", pem],
                   check=True, capture_output=True)
    os.chmod(pem, 0o600)
    der = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return pem, der[-32:]


def vkey(name, pub, typ=b"\x01"):
    """The C2SP verifier key, computed here (not by georepctl); type 4: cosigner."""
    kid = hashlib.sha256(name.encode() + b"\n" + typ + pub).digest()[:4]
    return "%s+%s+%s" % (name, kid.hex(), b64(typ + pub))


def vkeys(name, pub):
    return "%s\n%s\n" % (vkey(name, pub), vkey(name, pub, b"\x04"))


def tampered_leaf(bundle):
    lines = bundle.split("\n")
    leaf = bytearray(base64.b64decode(lines[1][len("extra "):]))
    leaf[24] ^= 1                                   # the lba
    lines[1] = "extra " + b64(bytes(leaf))
    return "\n".join(lines)


def offline_checks(top, bundles, trust, untrusted):
    """georepctl proof verify of good and bad bundles, with no daemon running."""
    incl, cons = bundles
    good = [ctl("proof", "verify", "-", "--trust", trust, stdin=b) for b in bundles]
    ktap(all(r.returncode == 0 and r.stdout.startswith("OK: ") for r in good) and
         "record 5 (write" in good[0].stdout and "prefix" in good[1].stdout,
         "verify_offline_good_bundles", [(r.returncode, r.stdout, r.stderr) for r in good])
    lines = incl.split("\n")
    cp = lines.index("") + 1                        # the checkpoint's first line
    wrong_root = list(lines)
    wrong_root[cp + 2] = b64(hashlib.sha256(b"not the root").digest())
    # the last proof hash dropped
    truncated = lines[:cp - 2] + lines[cp - 1:]
    bad = [
        ("tampered_leaf", tampered_leaf(incl), trust, "does not lead to the checkpoint's root"),
        ("wrong_root", "\n".join(wrong_root), trust, "does not verify"),
        ("unknown_key", incl, untrusted, "trusted key"),
        ("truncated_proof", "\n".join(truncated), trust, "does not lead"),
        ("truncated_bundle", incl[:len(incl) // 2], trust, "NOT verify"),
        ("consistency_old_root", cons.replace(cons.split("\n")[1].split(" ")[2],
                                              b64(b"\0" * 32)), trust, "prefix"),
    ]
    fails = []
    for name, b, t, want in bad:
        r = ctl("proof", "verify", "-", "--trust", t, stdin=b)
        if r.returncode != 1 or want not in r.stderr:
            fails.append((name, r.returncode, r.stderr))
    ktap(not fails, "verify_offline_refuses_tampering", fails)


def main():
    top, sites = mem_cluster("georep-merkle-", "mtree", SITES)

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        p = start_and_elect(sites)
        if p is None:
            ktap(False, "leader_elected", [s.rep() for s in sites])
            return 1
        fol = [s for s in sites if s is not p]
        last = 0
        for i in range(37):
            w = p.write(i * 3, 1 + i % 3, i)
            last = w.get("last_seq", last)
        ok = e2e.wait_for(lambda: committed_everywhere(sites, last), 10)
        ok = ok and e2e.wait_for(lambda: all(tree_ok(s) for s in sites), 10)
        r = ctl("status", "--socket", p.sock)
        m = (p.rep() or {}).get("merkle", {})
        ok = ok and ("  merkle: %d leaves, root %s...\n" % (m.get("size", -1),
                                                           m.get("root", "?")[:16])) in r.stdout
        ktap(ok, "every_site_tree_matches_its_log",
             [(s.name, (s.rep() or {}).get("merkle")) for s in sites] + [r.stdout])

        # 2: proofs from a follower, checked against Python's
        hs, leaves = leaves_of(fol[0])
        size = len(hs)
        r = fol[0].call({"cmd": "proof", "volume": "vol0", "kind": "inclusion", "seq": 5})
        ok = (r.get("ok") and r["size"] == size and r["root"] == b64(mth(hs)) and
              r["leaf"] == b64(leaves[5]) and
              r["proof"] == [b64(h) for h in path(4, hs)] and r["cluster"] == "mtree")
        ktap(ok, "inclusion_proof_matches", r)
        r = fol[0].call({"cmd": "proof", "volume": "vol0", "kind": "consistency",
                         "size1": 7, "size2": size})
        ok = (r.get("ok") and r["root1"] == b64(mth(hs[:7])) and
              r["proof"] == [b64(h) for h in subproof(7, hs, True)])
        ktap(ok, "consistency_proof_matches", r)

        # 3: release everything applied
        for s in sites:
            s.call({"cmd": "test-compact", "volume": "vol0"})
        tails = [(s.rep() or {}).get("tail_seq", 0) for s in sites]
        r = fol[1].call({"cmd": "proof", "volume": "vol0", "kind": "inclusion", "seq": 1})
        ok = (min(tails) > 10 and all(tree_ok(s) for s in sites) and r.get("ok") and
              r["proof"] == [b64(h) for h in path(0, hs)])
        ktap(ok, "released_records_still_proven", (tails, r))

        # 4: kill -9 a follower, restart: loaded, not rehashed
        v = fol[0]
        v.proc.kill()
        v.proc.wait()
        for i in range(5):
            w = p.write(200 + i, 1, 50 + i)
            last = w.get("last_seq", last)
        v.start()
        ok = e2e.wait_for(lambda: committed_everywhere(sites, last), 15)
        ok = ok and e2e.wait_for(lambda: all(tree_ok(s) for s in sites), 10)
        loaded = "Merkle tree of %d leaves" % size in v.logtext()
        ktap(ok and loaded, "restart_loads_tree_without_rehash",
             (loaded, v.rep(), size))

        # 5: a torn tail: the last 3 leaves and part of the hashes lost
        v.proc.kill()
        v.proc.wait()
        for ext, cut in (("mleaf", 3 * 144 + 7), ("mtree", 40)):
            fn = os.path.join(v.dir, "vol0." + ext)
            os.truncate(fn, os.path.getsize(fn) - cut)
        v.start()
        w = p.write(300, 2, 77)
        last = w.get("last_seq", last)
        ok = e2e.wait_for(lambda: committed_everywhere(sites, last), 15)
        ok = ok and e2e.wait_for(lambda: all(tree_ok(s) for s in sites), 10)
        ktap(ok, "torn_tree_tail_caught_up_from_ledger", v.rep())

        # 6: refusals
        bad = [
            ({"kind": "inclusion", "seq": 0}, "seq"),
            ({"kind": "inclusion", "seq": last + 100}, "not in the tree"),
            ({"kind": "inclusion", "seq": 1, "size": last + 100}, "committed"),
            ({"kind": "consistency", "size1": 9, "size2": 3}, "size1 <= size2"),
            ({"kind": "nope"}, "kind"),
        ]
        errs = []
        for req, want in bad:
            req.update({"cmd": "proof", "volume": "vol0"})
            r = p.call(req)
            errs.append((req, r))
            if r.get("ok") or want not in r.get("error", ""):
                break
        else:
            errs = None
        ktap(errs is None, "bad_proof_requests_refused", errs)
        r = p.call({"cmd": "proof", "volume": "nosuch", "kind": "inclusion", "seq": 1})
        ktap(not r.get("ok") and "nosuch" in r.get("error", ""), "unknown_volume_refused", r)

        # 7: georepctl proof, signed with a key made here
        pem, pub = keypair(top, fol[1].name)
        _, opub = keypair(top, "other")
        name = "georep/mtree/%s" % fol[1].name
        r = ctl("proof", "vkey", pem, name)
        ktap(r.returncode == 0 and r.stdout == vkeys(name, pub), "vkey_key_id",
             (r.stdout, r.stderr, vkeys(name, pub)))
        trust = os.path.join(top, "trust")
        untrusted = os.path.join(top, "untrusted")
        keys = {fol[1].name: pem}
        with open(trust, "w") as f:
            f.write("# sites of cluster mtree\n" + vkeys(name, pub))
            for s in (p, fol[0]):
                keys[s.name], spub = keypair(top, s.name)
                f.write(vkeys("georep/mtree/%s" % s.name, spub))
        with open(untrusted, "w") as f:
            f.write(vkey(name, opub) + "\n")
        ri = ctl("proof", "inclusion", "vol0", "5", "--key", pem, "--socket", fol[1].sock)
        rc = ctl("proof", "consistency", "vol0", "3", "40", "--key", pem,
                 "--socket", fol[1].sock)
        ok = (ri.returncode == 0 and ri.stdout.startswith("c2sp.org/tlog-proof@v1\nextra ") and
              "\nindex 4\n" in ri.stdout and "\ngeorep/mtree/vol0\n" in ri.stdout and
              ("\u2014 %s " % name) in ri.stdout and rc.returncode == 0 and
              rc.stdout.startswith("georep/tlog-consistency@v1\nold 3 "))
        ktap(ok, "georepctl_proof_bundles", (ri.stdout, ri.stderr, rc.stdout, rc.stderr))
        r = ctl("proof", "inclusion", "vol0", "5", "--socket", fol[1].sock)
        r2 = ctl("proof", "inclusion", "vol0", "99999", "--key", pem, "--socket", fol[1].sock)
        ktap(r.returncode == 1 and "--key" in r.stderr and r2.returncode == 1 and
             "not in the tree" in r2.stderr, "georepctl_proof_errors",
             (r.stderr, r2.stderr))

        # 8: the other two sites cosign after checking their own trees
        cos = ri.stdout
        errs = []
        for s in (p, fol[0]):
            r = ctl("proof", "cosign", "-", "--key", keys[s.name], "--socket", s.sock,
                    stdin=cos)
            errs.append((s.name, r.returncode, r.stderr))
            cos = r.stdout if r.returncode == 0 else cos
        lines = ri.stdout.split("\n")
        cp = lines.index("") + 1
        lines[cp + 2] = b64(hashlib.sha256(b"another root").digest())
        r = ctl("proof", "cosign", "-", "--key", keys[p.name], "--socket", p.sock,
                stdin="\n".join(lines))
        ok = (all(e[1] == 0 for e in errs) and cos.count("\u2014 ") == 3 and
              r.returncode == 1 and "NOT cosigned" in r.stderr and not r.stdout)
        ktap(ok, "sites_cosign_after_checking_their_tree", (errs, cos, r.stderr))

        codes = e2e.stop(sites)
        ktap(codes == [0, 0, 0], "daemons_exit_cleanly", codes)
        # 9: offline, every daemon stopped
        offline_checks(top, (ri.stdout, rc.stdout), trust, untrusted)
        q3 = ctl("proof", "verify", "-", "--trust", trust, "--quorum", "3", stdin=cos)
        q2 = ctl("proof", "verify", "-", "--trust", trust, "--quorum", "2", stdin=ri.stdout)
        ktap(q3.returncode == 0 and q3.stdout.count("georep/mtree/") == 4 and
             q2.returncode == 1 and "1 trusted site(s)" in q2.stderr,
             "verify_quorum_of_cosigners", (q3.stdout, q3.stderr, q2.stdout, q2.stderr))
    finally:
        e2e.finish(sites, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
