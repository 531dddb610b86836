#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Pacing of replication (ebpf/pace.bpf.c, Documentation/ebpf.rst, "Pacing"):
three `georepd --ledger mem --bpf auto` sites (no georep.ko natively:
the admit program fails there, pace does not need it) with "pace_mbit": PACE_MBIT,
each in a network namespace this test creates (e2e_lanes.Net; fq on the
links where the kernel has it, else tbf LINE_MBIT), one `local` volume, LOAD_MIB of writes at the primary.

 1. every site attached the pace program to its own cgroup (bpf status);
 2. the primary paces both followers at the configured rate and its
    program counted their replication bytes (what georepd sent, within
    headers) and delayed packets;
 3. departure times: where the links have the fq qdisc (Debian's 6.1
    kernel, the VM), no follower got more than ENFORCED_PCT % of the rate
    in any second and the primary reports the pacing enforced; where fq is
    missing (this lab's host kernel), the primary finds that out itself:
    its status says "enforced": false and its log names fq;
 4. all writes succeed, no role change, the followers catch up;
 5. the followers' programs see the leader's connection too: their ACKs
    are counted and never delayed;
 6. `georepctl bpf detach pace` and `attach pace` at the primary;
 7. kill -9 of a daemon leaves no pace program attached to the cgroup
    (bpftool cgroup show): its link died with it.

Needs root, ip, tc, nsenter and bpftool; skips otherwise. Usage: e2e_pace.py [BINDIR].
Prints KTAP.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import e2e_lanes  # noqa: E402

BIN = e2e.BIN
SITES = e2e_lanes.SITES
N_TESTS = 7
PACE_MBIT = 40				# 5 MB/s per follower
LOAD_MIB = 48
LINE_MBIT = 200			# without fq: two followers, 12.5 MB/s each
ENFORCED_PCT = 125			# a second's bytes against the rate
CATCHUP_S = 120
ktap = e2e.ktap


class Net(e2e_lanes.Net):
    """fq at every site's link where the kernel has it; else tbf at
    LINE_MBIT, so that the unpaced bytes take a few seconds to leave and
    the daemon has the time to see them leave too fast."""

    def shape(self, ns):
        r = e2e_lanes.sh("tc", "-n", ns, "qdisc", "add", "dev", "eth0", "root", "fq",
                         check=False)
        if r.returncode == 0:
            self.qdisc = "fq"
            return
        e2e_lanes.sh("tc", "-n", ns, "qdisc", "add", "dev", "eth0", "root", "tbf",
                     "rate", "%dmbit" % LINE_MBIT, "burst", "64k", "latency", "50ms")
        self.qdisc = "tbf %d Mbit/s (no sch_fq here)" % LINE_MBIT


class Site(e2e_lanes.Site):
    def start(self):
        self.proc = subprocess.Popen(
            # nsenter, not `ip netns exec`: that mounts a new /sys, without
            # the cgroup2 hierarchy georepd attaches to
            ["nsenter", "--net=/run/netns/" + self.ns, os.path.join(BIN, "georepd"),
             "--config", self.cfg, "--site", self.name, "--state-dir", self.dir,
             "--foreground", "--verbose", "--ledger", "mem", "--insecure-plaintext",
             "--bpf", "auto"],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))

    def pace(self):
        try:
            st = self.ctl({"cmd": "bpf-status"}, timeout=10)
        except (OSError, ValueError):
            return None
        for p in st.get("programs", []):
            if p.get("name") == "pace":
                return p
        return None

    def pace_peer(self, name):
        p = self.pace() or {}
        for x in p.get("peers", []):
            if x["site"] == name:
                return x
        return None


def bytes_out(site):
    st = site.status() or {"peers": []}
    return {p["name"]: p.get("bytes_out", 0) for p in st["peers"]}


def load(p, followers):
    """LOAD_MIB test writes; each second, the bytes each follower's flow got."""
    errs, per_s, last = [], {f.name: [] for f in followers}, {}
    t_last = time.time()
    for f in followers:
        last[f.name] = (p.pace_peer(f.name) or {}).get("bytes", 0)
    i = 0
    end = None
    while True:
        if i < LOAD_MIB:
            r = p.call({"cmd": "test-write", "volume": "vol0", "offset": (i % 48) * 256,
                        "blocks": 256, "byte": i})
            if not r.get("ok", True) or "error" in r:
                errs.append(r.get("error"))
            i += 1
            if i == LOAD_MIB:
                end = time.time() + 6	# the backlog drains at the paced rate
        else:
            time.sleep(0.1)
        if time.time() - t_last >= 1.0:
            dt, t_last = time.time() - t_last, time.time()
            for f in followers:
                b = (p.pace_peer(f.name) or {}).get("bytes", 0)
                per_s[f.name].append((b - last[f.name]) / dt)
                last[f.name] = b
        if end and time.time() >= end:
            return errs, per_s


def attached_progs(cgroup):
    r = subprocess.run(["bpftool", "-j", "cgroup", "show", cgroup], capture_output=True,
                       text=True)
    try:
        return [x.get("name", "") for x in json.loads(r.stdout or "[]")]
    except ValueError:
        return []


def checks(net, sites, p, followers):
    paces = {s.name: s.pace() for s in sites}
    ok = all(x and x.get("attached") for x in paces.values())
    ktap(ok, "pace: attached at every site (%s)" %
         ", ".join("%s: %s" % (n, x and x.get("cgroup")) for n, x in paces.items()),
         json.dumps(paces)[:1500])
    out0 = bytes_out(p)
    errs, per_s = load(p, followers)
    out1 = bytes_out(p)
    peers = {f.name: p.pace_peer(f.name) or {} for f in followers}
    rate = PACE_MBIT * 1000000 // 8
    diag = json.dumps(peers)
    sent = {f.name: out1.get(f.name, 0) - out0.get(f.name, 0) for f in followers}
    text = subprocess.run([os.path.join(BIN, "georepctl"), "bpf", "status", "--socket", p.sock],
                          capture_output=True, text=True).stdout
    ktap(all(x.get("rate_bytes_s") == rate and x.get("delayed", 0) > 0 and
             x.get("bytes", 0) >= 0.95 * sent[n] for n, x in peers.items()) and
         text.count("paced to %.1f Mbit/s" % PACE_MBIT) == len(followers),
         "pace: the primary paces each follower at %d B/s; counted bytes against sent: %s" %
         (rate, ", ".join("%s %d/%d" % (n, x.get("bytes", 0), sent[n]) for n, x in peers.items())),
         diag + "\n" + text)
    print("# " + text.replace("\n", "\n# "))
    peak = {n: max(v or [0]) for n, v in per_s.items()}
    if net.qdisc == "fq":
        ktap(all(v <= rate * ENFORCED_PCT / 100 for v in peak.values()) and
             all(x.get("enforced") for x in peers.values()),
             "pace: fq keeps the departure times: busiest second per follower %s <= %d%% of %d B/s" %
             (peak, ENFORCED_PCT, rate), json.dumps(per_s))
    else:
        e2e.wait_for(lambda: not all((p.pace_peer(f.name) or {}).get("enforced", True)
                                     for f in followers), 10)
        peers = {f.name: p.pace_peer(f.name) or {} for f in followers}
        ktap(any(not x.get("enforced", True) for x in peers.values()) and
             "is fq the root qdisc" in p.logtext(),
             "pace: without fq (%s) the primary reports the pacing not enforced (peak %s B/s)" %
             (net.qdisc, peak), json.dumps(peers))
    ktap(not errs and e2e.wait_for(lambda: e2e_lanes.caught_up(sites), CATCHUP_S),
         "pace: %d MiB written without error, followers caught up" % LOAD_MIB, errs[:3])
    acks = [(f.pace_peer(p.name) or {}) for f in followers]
    ktap(all(a.get("acks", 0) > 0 for a in acks),
         "pace: the followers count their ACKs to the primary, never delayed (%s)" %
         ", ".join("acks %d" % a.get("acks", 0) for a in acks), json.dumps(acks))
    ctl = [os.path.join(BIN, "georepctl"), "bpf"]
    det = subprocess.run(ctl + ["detach", "pace", "--socket", p.sock], capture_output=True,
                         text=True)
    n_det = attached_progs((paces.get(p.name) or {}).get("cgroup", "")).count("georep_pace")
    off = p.pace() or {}
    att = subprocess.run(ctl + ["attach", "pace", "--socket", p.sock], capture_output=True,
                         text=True)
    on = p.pace() or {}
    bad = subprocess.run(ctl + ["attach", "pacer", "--socket", p.sock], capture_output=True,
                         text=True)
    ktap(det.returncode == 0 and not off.get("attached") and
         off.get("error") == "detached on request" and n_det == len(sites) - 1 and
         att.returncode == 0 and on.get("attached") and
         e2e.wait_for(lambda: all((p.pace_peer(f.name) or {}).get("connected")
                                  for f in followers), 5) and
         bad.returncode == 2 and "unknown program" in bad.stderr,
         "pace: georepctl bpf detach pace / attach pace at the primary (%d links while "
         "detached), a wrong program name refused" % n_det,
         "%s%s%s%s" % (det.stderr, att.stderr, bad.stderr, json.dumps([off, on])))
    victim = followers[-1]
    cg = (paces.get(victim.name) or {}).get("cgroup")
    before = attached_progs(cg) if cg else []
    n_before = before.count("georep_pace")
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    after = attached_progs(cg) if cg else []
    # the other two sites' links on the same cgroup remain
    ktap(cg and n_before == len(sites) and after.count("georep_pace") == n_before - 1,
         "pace: kill -9 of %s detached its program (%d before, %d after on %s)" %
         (victim.name, n_before, after.count("georep_pace"), cg), " ".join(after))


def run(top):
    net = Net()
    if not e2e_lanes.net_up(net, N_TESTS, "pace"):
        return 0
    sites = []
    try:
        sites = e2e_lanes.start_sites(top, net, Site, "pace", pace_mbit=PACE_MBIT)
        p = e2e.wait_for(lambda: all(e2e.peers_up(s) for s in sites) and
                         e2e_lanes.primary(sites), 30)
        if not p:
            for i in range(N_TESTS):
                ktap(False, "pace: no primary elected")
            return 1
        checks(net, sites, p, [s for s in sites if s is not p])
        return 0
    finally:
        e2e.finish(sites, top)
        net.down()


def main():
    print("KTAP version 1\n1..%d" % N_TESTS, flush=True)
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "tc", "bpftool", "nsenter")):
        for i in range(N_TESTS):
            print("ok %d pace # SKIP needs root, ip, tc, nsenter and bpftool" % (i + 1))
        return 0
    top = tempfile.mkdtemp(prefix="georep-pace-")
    run(top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
