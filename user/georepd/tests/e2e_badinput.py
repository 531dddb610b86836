#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Bad input at replicating sites: three `georepd --ledger mem` processes on
127.0.0.1 (no kernel module), one 3-site quorum volume with a leader and a
committed write. e2e.py covers strangers before the hello on a daemon
without an engine; here the replication engine runs, and:

 1. georep-wirepoke at a follower (garbage, a header of protocol version 0,
    a hello offering only versions 3..4, a length of 2^32-1): an ERROR frame
    naming the problem (as the tool prints it), then the close;
 2. after a valid hello as a configured site (plain TCP does not
    authenticate peers yet): garbage, an absurd length, a RECORDS batch with
    a bad record, a CONSENSUS body that does not decode, a PART frame on a
    version 1 link, a split ping on a version 2 link: ERROR frame and
    close, the reason in the log; a volume frame for a volume id this site
    does not replicate: ignored with a log line, the connection stays;
    a record replayed in a new session by a peer posing as leader of a later
    term (the target's last record, its seq rewritten to the next one, in
    an APPEND of term + 1): the ledger refuses it, the target logs the
    record, the peer and the reason, drops the connection and rebuilds its
    consensus from the ledger; its replication goes on (before: it
    stopped for good, "ledger refused record N");
 3. every daemon still runs, all peers are up again (the real peer's
    connection comes back), no site's written_seq moved, the data matches;
 4. a write afterwards commits on all three sites;
 5. georepctl against the daemons: unknown site, unknown volume, missing
    --force, bad option: the message names it, exit 1 or 2.

The follower poked and the site impersonated are both not the leader, so
that the cluster's commits are not disturbed.

Usage: e2e_badinput.py [BINDIR]. Prints KTAP.
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import e2e_replication as rep  # noqa: E402  (Site with --ledger mem, primary())

BIN = e2e.BIN
SITES = ["alpha", "bravo", "charlie"]
CLUSTER = "badin"
N_TESTS = 12
FT_RECORDS, FT_CONSENSUS, FT_ACK, FT_PART = 6, 5, 7, 18

ktap = e2e.ktap


def part(inner):
    """One PART frame (type 18, version 2) carrying all of @inner."""
    return e2e.frame(FT_PART, inner, version=2)


def wirepoke(port, *args):
    r = subprocess.run([os.path.join(BIN, "georep-wirepoke"), "--wait", "8000", *args,
                        "127.0.0.1:%d" % port], capture_output=True, text=True, timeout=15)
    return r.returncode, r.stdout, r.stderr


def frames(data):
    """(type, body) of every whole frame in data."""
    out = []
    while len(data) >= e2e.HDR.size:
        magic, _, ftype, _, length, _, _ = e2e.HDR.unpack_from(data)
        if magic != e2e.MAGIC or len(data) < e2e.HDR.size + length:
            break
        out.append((ftype, data[e2e.HDR.size:e2e.HDR.size + length]))
        data = data[e2e.HDR.size + length:]
    return out


def written(sites):
    return {s.name: (s.rep() or {}).get("written_seq") for s in sites}


def stable_written(sites):
    """written_seq of every site, once it is the same everywhere and settled."""
    last = None
    for _ in range(50):
        w = written(sites)
        if w == last and len(set(w.values())) == 1:
            return w
        last = w
        e2e.wait_for(lambda: False, 0.3)
    return None


def memlog_records(site):
    """(header fields, raw bytes) of every record in a mem site's ledger, or None."""
    try:
        with open(os.path.join(site.dir, "vol0.memlog"), "rb") as f:
            data = f.read()
    except OSError:
        return None
    out, off = [], 0
    while off + 256 <= len(data):
        magic, _, op, seq = struct.unpack_from("<IHHQ", data, off)
        plen = struct.unpack_from("<I", data, off + 36)[0]
        if magic != 0x47524543:
            return None
        out.append(((op, seq), data[off:off + 256 + plen]))
        off += 256 + plen
    return out


def new_ops(site, after):
    """The ops of the records after seq @after in a mem site's ledger."""
    recs = memlog_records(site)
    return None if recs is None else [op for (op, seq), _ in recs if seq > after]


def last_record(site):
    """The raw bytes (header and payload) of the last record in a mem site's ledger."""
    recs = memlog_records(site)
    return recs[-1][1] if recs else None


def only_barriers(sites, base, now):
    """Nothing but NOOP barriers (a new leader's) since @base at every site."""
    for s in sites:
        if now.get(s.name) is None or now[s.name] < base[s.name]:
            return False
        ops = new_ops(s, base[s.name])
        if ops is None or any(op != 0 for op in ops):
            return False
    return True


def main():
    top = tempfile.mkdtemp(prefix="georep-badin-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": CLUSTER,
        "sites": [{"name": n, "region": "r%d" % i, "site_id": i + 1,
                   "address": "127.0.0.1:%d" % ports[i]} for i, n in enumerate(SITES)],
        "volumes": [{"name": "vol0", "commit_rule": "quorum", "quorum_loss": "suspend",
                     "replicas": {n: {"data": "/dev/mem-data-%s" % n, "log": "/dev/mem-log-%s" % n}
                                  for n in SITES}}],
    }
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    sites = [rep.Site(top, n, cfgpath) for n in SITES]
    byname = {s.name: s for s in sites}

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        for s in sites:
            s.start()

        # 1: a leader, one committed write, the same written_seq everywhere
        p = e2e.wait_for(lambda: rep.primary(sites), 15)
        w = p.write(0, 16, 5) if p else {}
        ok = w.get("ok") and e2e.wait_for(
            lambda: rep.committed_everywhere(sites, w["last_seq"]), 10)
        base = stable_written(sites) if ok else None
        ktap(base is not None, "leader_and_baseline_write", (w, rep.dump(sites)))
        if base is None:
            return 1
        sha = p.sha()
        print("# primary %s, written_seq %s" % (p.name, base))

        # the follower poked (T) accepts connections from the impersonated
        # site (I): I's name sorts first; neither is the leader
        imp, tgt = next((a, b) for a in SITES for b in SITES
                        if a < b and p.name not in (a, b))
        t = byname[tgt]
        tport = ports[SITES.index(tgt)]
        iid = SITES.index(imp) + 1
        hello_args = ("--hello", imp, "--site-id", str(iid), "--cluster", CLUSTER)
        print("# poking %s, impersonating %s" % (tgt, imp))

        # 2: georep-wirepoke before the hello
        cases = [
            (("--hex", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".hex()),
             "error 1 (protocol): bad frame magic 0x20544547"),
            (hello_args + ("--hdr-version", "0"),
             "error 1 (protocol): unsupported protocol version 0 (this site speaks 1..6)"),
            (hello_args + ("--versions", "7..8"),
             "error 2 (version): no common protocol version: site \"%s\" speaks 7..8" % imp),
            (hello_args + ("--hdr-length", "0xffffffff"),
             "error 1 (protocol): hello frame: length 4294967295 exceeds the limit of 16777216"),
        ]
        outs = [wirepoke(tport, *a) for a, _ in cases]
        ok = all(rc == 0 and want in out and out.splitlines()[-1] == "closed"
                 for (rc, out, _), (_, want) in zip(outs, cases))
        ktap(ok, "wirepoke_pre_hello_refused_with_reason", outs)

        # 3: after a valid hello, bad frames close the connection with a reason
        hello = e2e.hello(imp, CLUSTER, site_id=iid)
        hello_v2 = e2e.hello(imp, CLUSTER, site_id=iid, vmax=2)
        vid = e2e.volume_id("vol0")
        bad_record = struct.pack("<IIQ", 1, 0, base[tgt] + 1) + bytes(256)
        post = [
            ("garbage", b"\xde\xad\xbe\xef" * 8, "bad frame magic 0xefbeadde"),
            ("absurd_length", e2e.HDR.pack(e2e.MAGIC, 1, e2e.FT_PING, 0, 0xffffffff, 0, 0),
             "ping frame: length 4294967295 exceeds the limit of 16777216"),
            ("bad_record", e2e.frame(FT_RECORDS, bad_record, volume=vid),
             "records: record 0: bad magic"),
            ("undecodable_consensus", e2e.frame(FT_CONSENSUS, b"\xff" * 7, volume=vid),
             "volume frame refused"),
            # split frames (protocol version 2): not on a version 1 link,
            # and only bulk frames are split
            ("part_on_version_1", part(e2e.frame(e2e.FT_PING, bytes(16))),
             "part frame on a connection of protocol version 1"),
            ("split_ping", part(e2e.frame(e2e.FT_PING, bytes(16), version=2)),
             "split frame: a ping frame is never split", hello_v2),
        ]
        got = []
        for name, data, want, *first in post:
            raw, closed = e2e.speak(tport, (first[0] if first else hello) + data)
            fr = frames(raw)
            er = e2e.error_reason(raw)
            got.append((name, closed, [f[0] for f in fr], er))
            if not (closed and fr and fr[0][0] == e2e.FT_HELLO and er and er[0] == 1 and
                    want in er[1] and
                    e2e.wait_for(lambda: "peer %s down: %s" % (imp, want) in t.logtext(), 3)):
                got[-1] += ("expected: " + want,)
        ok = all(len(g) == 4 for g in got)
        ktap(ok, "post_hello_bad_frames_closed_with_reason", got)

        # 4: a volume frame for a volume this site does not replicate: the
        # connection stays (until the real peer's redial replaces it)
        raw, closed = e2e.speak(tport, hello + e2e.frame(FT_ACK, bytes(16), volume=0x1234),
                                timeout=2.0)
        er = e2e.error_reason(raw)
        want = "peer %s: ack frame for volume id 0000000000001234, which has no replica here" % imp
        ktap((not closed or (er and er[0] == 5)) and
             e2e.wait_for(lambda: want in t.logtext(), 3),
             "unknown_volume_frame_ignored_and_logged", (closed, er, t.logtext()[-1500:]))

        # 5: a record replayed in a new session, by a peer posing as the
        # leader of a later term: refused by the ledger, the connection
        # dropped, the target's replication not stopped
        tst = t.rep() or {}
        recfile = os.path.join(top, "last-record")
        with open(recfile, "wb") as f:
            f.write(last_record(t))
        rc, out, _ = wirepoke(tport, *hello_args, "--versions", "1..1",
                              "--replay-last", recfile, "--volume", "vol0",
                              "--term", str(tst.get("term", 0) + 1),
                              "--to", str(SITES.index(tgt) + 1))
        fseq = base[tgt] + 1
        want = ("record %d from %s refused: payload, chain or seal does not verify; "
                "consensus rebuilt from the ledger" % (fseq, imp))
        logged = e2e.wait_for(lambda: want in t.logtext(), 5)
        tst = t.rep() or {}
        ktap(rc == 0 and "error 1 (protocol): volume frame refused" in out and
             out.splitlines()[-1] == "closed" and logged and
             "replication stopped" not in t.logtext() and
             tst.get("records_refused", 0) >= 1 and tst.get("written_seq") == base[tgt],
             "replayed_record_refused_replication_goes_on",
             (out, logged, tst.get("records_refused"), tst.get("written_seq"),
              t.logtext()[-1500:]))

        # 6: every daemon up, all peers back, nothing written, same data (an
        # impersonation may cost an election, whose only record is the new
        # leader's NOOP barrier)
        alive = all(s.proc.poll() is None for s in sites)
        peers = all(e2e.wait_for(lambda s=s: e2e.peers_up(s), 15) for s in sites)
        now = written(sites)
        shas = [s.sha() for s in sites]
        st = t.status() or {}
        ktap(alive and peers and only_barriers(sites, base, now) and shas == [sha] * 3 and
             st.get("rejected_connections", 0) >= 4,
             "daemons_unharmed_nothing_written",
             (alive, peers, base, now, shas, st.get("rejected_connections"),
              rep.dump(sites)))

        # 7: the cluster still commits
        p = e2e.wait_for(lambda: rep.primary(sites), 10)
        w = p.write(64, 8, 9) if p else {}
        ok = w.get("ok") and e2e.wait_for(
            lambda: rep.committed_everywhere(sites, w["last_seq"]), 10)
        shas = [s.sha() for s in sites]
        ktap(ok and len(set(shas)) == 1 and shas[0] != sha, "writes_still_commit",
             (w, shas, rep.dump(sites)))

        # 8-12: georepctl errors against the daemons
        ctl = os.path.join(BIN, "georepctl")
        other = next(n for n in SITES if n != p.name)
        cli = [
            (["switchover", "vol0", "nosuchsite"], 1,
             "georepctl: site \"nosuchsite\" has no replica of volume \"vol0\""),
            (["switchover", "nosuchvolume", other], 1,
             "georepctl: unknown volume \"nosuchvolume\""),
            (["failover", "vol0"], 2, "confirm with --force"),
            (["status", "--bogus"], 2, "georepctl: unknown option '--bogus'"),
            (["events", "--count", "x"], 2, "--count"),
        ]
        for args, code, want in cli:
            r = subprocess.run([ctl] + args + ["--socket", p.sock], capture_output=True,
                               text=True, timeout=10)
            ktap(r.returncode == code and want in r.stderr,
                 "georepctl_%s_%s" % (args[0], args[1].lstrip("-")),
                 (args, r.returncode, r.stdout, r.stderr))
        return 0
    finally:
        for s in sites:
            if s.proc and s.proc.poll() is None:
                s.proc.send_signal(signal.SIGTERM)
        for s in sites:
            if s.proc:
                try:
                    s.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    s.proc.kill()
        if all(e2e.results) and len(e2e.results) == N_TESTS:
            shutil.rmtree(top, ignore_errors=True)
        else:
            print("# logs kept in %s" % top)


if __name__ == "__main__":
    main()
    sys.exit(0 if all(e2e.results) and len(e2e.results) == N_TESTS else 1)
