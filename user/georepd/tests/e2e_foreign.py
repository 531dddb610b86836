#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Sites that must not speak for a volume (Documentation/security.rst, "Sites
that hold no replica"): four sites in the cluster, mutual TLS 1.3, one
quorum volume replicated at bravo, charlie and delta (`georepd --ledger
mem`, each its own key directory). alpha is a valid site of the cluster,
with a certificate of its CA, but holds no replica of vol0; no daemon runs
for it: georep-wirepoke plays it. A review found each case below open
(December 2026).

 1. a primary is elected; a rotation makes epoch 2: every site holds it,
    the leader seals with it;
 2. alpha connects to the leader: it is sent no seal key (it got every
    epoch the leader held before);
 3. alpha sends KEY epoch 3 (its own bytes, the leader's term) to the
    leader and to a follower: no site stores or installs it, the leader
    seals with epoch 2 still (before: every replica stored alpha's key and the leader sealed
    with it), and each counts the frames as foreign;
 4. alpha sends HEAL_REQ for two blocks at the leader's last record: no
    block comes back and the leader's log does not grow (before: the
    blocks' data, and a NOOP record appended per request);
 5. alpha sends 50 MLEAF_REQ for 4096 leaves each: none is answered, the
    leader answers its control socket at once and stays the leader;
 6. bravo stopped (after a switchover to charlie if it led), its identity
    (certificate, hello) sends KEY epoch 3 of the current term to the
    other two: the leader refuses it (a leader makes its own keys), and so
    does the follower (not from the term's leader); neither stores it; a
    write still commits;
 7. the same identity sends FLOOD MLEAF_REQ at once to the leader (a
    replica may ask for leaves): the leader answers the first burst (16)
    and the last one, held for its turn, and drops the rest (mleaf_dropped;
    before: every one answered, each 4096 leaf reads on its loop), answers
    its control socket at once and stays the leader.

Usage: e2e_foreign.py [BINDIR]. Prints KTAP.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import e2e_replication as er  # noqa: E402
from e2e_keys import Site, rotate, sealing  # noqa: E402

N_TESTS = 7
FLOOD = 100		# georep-wirepoke sends 4 KiB of raw frames at most
MLEAF_BURST = 16
ktap = e2e.ktap
# a site dials those whose names sort after its own: the foreign site and
# the replica identity of test 6 sort first, so that they may dial
FOREIGN = "alpha"
REPLICAS = ["bravo", "charlie", "delta"]
NAMES = [FOREIGN] + REPLICAS
FT_HEAL_REQ, FT_KEY, FT_MLEAF_REQ = 9, 11, 19
WIRE_VERSION = 6


def vframe(ftype, body):
    return e2e.frame(ftype, body, version=WIRE_VERSION, volume=e2e.volume_id("vol0"))


def key_frame(term, epoch, byte):
    return vframe(FT_KEY, struct.pack("<QII", term, epoch, 0) + bytes([byte]) * 32)


def cluster(top):
    ports = e2e.free_ports(len(NAMES))
    cfg = {
        "cluster": "foreign",
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(NAMES)],
        "volumes": [{"name": "vol0", "commit_rule": "quorum", "quorum_loss": "suspend",
                     "replicas": {n: {"data": "/dev/mem-data-%s" % n,
                                      "log": "/dev/mem-log-%s" % n} for n in REPLICAS}}],
    }
    e2e.tls_config(top, cfg)
    path = os.path.join(top, "cluster.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path, dict(zip(NAMES, ports))


def poke(top, ports, to, frames, as_site=FOREIGN, wait_ms=1500):
    """georep-wirepoke as @as_site (its certificate and hello) to site @to:
    send @frames after the hello; what came back, one line a frame."""
    pki = os.path.join(top, "pki")
    cmd = [os.path.join(e2e.BIN, "georep-wirepoke"), "--hello", as_site,
           "--site-id", str(NAMES.index(as_site) + 1), "--cluster", "foreign",
           "--versions", "1..%d" % WIRE_VERSION,
           "--tls-ca", os.path.join(pki, "ca.crt"),
           "--tls-cert", os.path.join(pki, as_site + ".crt"),
           "--tls-key", os.path.join(pki, as_site + ".key"), "--tls-name", to,
           "--wait", str(wait_ms), "127.0.0.1:%d" % ports[to]]
    if frames:
        cmd += ["--hex", b"".join(frames).hex()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return out.stdout + out.stderr


def got(out, ftype):
    return [ln for ln in out.splitlines() if ln.startswith(ftype + ",")]


def key_files(sites, epoch):
    return [s.name for s in sites if os.path.exists(os.path.join(s.keys, "vol0", "%d.key" % epoch))]


def installed(s):
    """the epochs @s's ledger holds"""
    return s.keyst().get("installed", [])


def foreign(s):
    st = s.status() or {}
    return (st.get("volumes") or [{}])[0].get("frames_foreign", 0)


def main():
    top = tempfile.mkdtemp(prefix="georepd-e2e-foreign-")
    path, ports = cluster(top)
    sites = [Site(top, n, path) for n in REPLICAS]
    for s in sites:
        s.keys = os.path.join(top, "keys-" + s.name)
    print("KTAP version 1")
    print("1..%d" % N_TESTS)
    try:
        p = er.start_and_elect(sites, 20)
        r = rotate(p) if p else None
        two = p is not None and r.returncode == 0 and e2e.wait_for(
            lambda: sealing(p) == 2 and all(2 in installed(s) for s in sites), 15)
        ktap(two and p.write(0, 1, 1).get("ok"), "elect_and_rotate_to_epoch_2",
             None if two else "rotate: %s, installed %s" % (
                 r and r.returncode, [installed(s) for s in sites]))
        if not two:
            return
        f = [s for s in sites if s is not p][0]
        term = p.rep()["term"]

        out = poke(top, ports, p.name, [])
        ktap(not got(out, "key") and "TLS session" in out, "no_seal_key_sent_to_a_site_without_replica",
             out.strip())

        out = poke(top, ports, p.name, [key_frame(term, 3, 0x41)])
        out += poke(top, ports, f.name, [key_frame(term, 3, 0x41)])
        time.sleep(2.5)
        planted = key_files(sites, 3)
        ktap(not planted and sealing(p) == 2 and not any(3 in installed(s) for s in sites) and
             foreign(p) >= 1 and foreign(f) >= 1 and "holds no replica" in p.logtext(),
             "key_from_a_site_without_replica_not_taken",
             "3.key at %s, sealing %d, installed %s, foreign %d/%d" % (
                 planted, sealing(p), [installed(s) for s in sites], foreign(p), foreign(f)))

        written = p.rep()["written_seq"]
        heal = struct.pack("<QII", written, 2, 0) + struct.pack("<QQ", 100, 5)
        out = poke(top, ports, p.name, [vframe(FT_HEAL_REQ, heal)] * 2)
        time.sleep(1)
        after = p.rep()["written_seq"]
        ktap(not got(out, "heal") and after == written,
             "heal_request_from_a_site_without_replica_not_served",
             "replies %s, written_seq %d -> %d" % (got(out, "heal"), written, after))

        req = vframe(FT_MLEAF_REQ, struct.pack("<QII", 1, 4096, 0))
        t0 = time.monotonic()
        out = poke(top, ports, p.name, [req] * 50, wait_ms=1000)
        st = p.status()
        quick = time.monotonic() - t0 < 10
        ktap(not got(out, "mleaf") and st is not None and quick and er.primary(sites) is p,
             "leaf_requests_from_a_site_without_replica_not_served",
             "replies %d, status %s, %.1f s" % (len(got(out, "mleaf")), st is not None,
                                                time.monotonic() - t0))

        # bravo, stopped, is played: it must not lead, the others follow it
        if p.name == "bravo":
            p.ctl({"cmd": "switchover", "volume": "vol0", "to": "charlie"})
            p = e2e.wait_for(lambda: (lambda q: q if q and q.name == "charlie" else None)(
                er.primary(sites)), 20)
        b = sites[0]
        b.proc.terminate()
        b.proc.wait()
        targets = sites[1:]
        term = p.rep()["term"] if p else 0
        for s in targets:
            poke(top, ports, s.name, [key_frame(term, 3, 0x42)], as_site="bravo")
        time.sleep(2.5)
        planted = key_files(targets, 3)
        refused = [s.keyst().get("refused", 0) for s in targets]
        w = p.write(8, 1, 2) if p else {}
        ktap(not planted and all(n >= 1 for n in refused) and sealing(p) == 2 and
             not any(3 in installed(s) for s in targets) and w.get("ok"),
             "key_from_a_replica_that_does_not_lead_refused",
             "3.key at %s, refused %s, sealing %d, installed %s, write %s" % (
                 planted, refused, sealing(p), [installed(s) for s in targets], w))

        d0 = (p.rep() or {}).get("mleaf_dropped", 0) if p else 0
        t0 = time.monotonic()
        out = poke(top, ports, p.name, [req] * FLOOD, as_site="bravo") if p else ""
        quick = p is not None and p.status() is not None and time.monotonic() - t0 < 10
        r = (p.rep() if p else None) or {}
        answered = len(got(out, "mleaf"))
        dropped = r.get("mleaf_dropped", 0) - d0
        print("# %d of %d leaf requests answered, %d dropped, %.1f s" %
              (answered, FLOOD, dropped, time.monotonic() - t0))
        ktap(quick and 1 <= answered <= MLEAF_BURST + 4 and answered + dropped == FLOOD and
             er.primary(targets) is p, "leaf_request_flood_from_a_replica_dropped",
             (answered, dropped, r.get("mleaf_answered"), out[-500:]))
    finally:
        e2e.finish(sites, top)


if __name__ == "__main__":
    main()
    sys.exit(e2e.summary(N_TESTS))
