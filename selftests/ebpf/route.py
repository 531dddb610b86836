#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Routing to healthy sites on this host's kernel (no VM, no georep.ko):
three `georepd --ledger mem` (plain TCP on 127.0.0.1, --insecure-plaintext
as the engine's e2e tests), two quorum volumes with a service address each
(vol0 IPv4 127.0.0.100, vol6 IPv6 ::1) and one backend per site: small TCP
listeners on 127.0.0.11/12/13 and ::1 that answer their site's name.
bravo has "route_cgroup", a cgroup v2 directory this test makes, and runs
`georepd --bpf auto`, which attaches ebpf/route.bpf.c there.

 1. the route program is attached to the cgroup (bpftool cgroup show);
 2. a client in the cgroup connecting to vol0's service reaches the backend
    of primary alpha (switched over to alpha when another site won);
 3. the same for vol6 over IPv6 (connect6), at its primary; an IPv6 socket
    connecting to vol0's service as ::ffff:127.0.0.100 reaches alpha's;
 4. other destinations are left alone: outside the cgroup the service
    address reaches what listens there, inside it a backend's own address
    reaches that backend; a client in a cgroup below it is steered too;
 5. bravo's georepd stopped (SIGSTOP): once its health map is older than
    5 s, connects are refused (counted "stale"); after SIGCONT they reach
    alpha again;
 6. kill -9 alpha: after the election, the next connect reaches the new
    primary's backend, no reconfiguration (time measured);
 7. georepctl bpf status --json: routing table, per-site health, counts of
    redirected connects equal to those the test made;
 8. the text form shows the same table;
 9. without quorum (the third site killed too), a new connect is refused:
    the client sees ECONNREFUSED, the status counts it, quorum false;
10. after georepd exits (SIGTERM) nothing is attached to the cgroup;
11. after kill -9 of a georepd with the program attached, nothing is;
12. a route_cgroup that is no cgroup: georepd runs on, bpf status reports
    the attach failure with libbpf's reason.

Usage: route.py. Prints KTAP; exit 4 (skip) without root, bpftool or cgroup v2.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
sys.path.insert(0, os.path.join(TOP, "user/georepd/tests"))
BIN = os.path.join(TOP, "build/user/bin")
os.environ.setdefault("GEOREPD_E2E_BIN", BIN)
import e2e  # noqa: E402

SITES = ["alpha", "bravo", "charlie"]
HOSTS = {"alpha": "127.0.0.11", "bravo": "127.0.0.12", "charlie": "127.0.0.13"}
SERVICE4 = "127.0.0.100"
N_TESTS = 12
ktap = e2e.ktap
results = e2e.results

CLIENT = r"""
import errno, socket, sys
cg, fam, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if cg != "-":
    with open(cg + "/cgroup.procs", "w") as f:
        f.write("0")
s = socket.socket(socket.AF_INET6 if fam == "6" else socket.AF_INET)
s.settimeout(3)
try:
    s.connect((host, port))
    print("OK " + s.recv(64).decode().strip())
except OSError as exc:
    print("ERR " + errno.errorcode.get(exc.errno, str(exc.errno)))
"""


def connect(cg, host, port, fam="4"):
    """Connect from a new process (in cgroup @cg unless None): "OK <name>" or "ERR <errno>"."""
    r = subprocess.run([sys.executable, "-c", CLIENT, cg or "-", fam, host, str(port)],
                       capture_output=True, text=True, timeout=10)
    return r.stdout.strip() or "? " + r.stderr.strip()[-300:]


def listener(fam, host, port, name, stop):
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(16)
    s.settimeout(0.2)

    def run():
        while not stop.is_set():
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            c.sendall((name + "\n").encode())
            c.close()
        s.close()
    threading.Thread(target=run, daemon=True).start()


def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return mnt
    return None


def attached(cg):
    r = subprocess.run(["bpftool", "-j", "cgroup", "show", cg], capture_output=True, text=True)
    if r.returncode:
        return None
    return sorted(p.get("name", "") for p in json.loads(r.stdout.strip() or "[]"))


class Site(e2e.Site):
    def start(self, cfg=None, bpf=False):
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "georepd"), "--config", cfg or self.cfg, "--site", self.name,
             "--state-dir", self.dir, "--foreground", "--verbose", "--ledger", "mem",
             "--insecure-plaintext"] + (["--bpf", "auto"] if bpf else []),
            stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))

    def vol(self, name):
        st = self.status()
        for v in (st or {}).get("volumes", []):
            if v["name"] == name:
                return v.get("replica")
        return None

    def bpf(self):
        try:
            return self.ctl({"cmd": "bpf-status"})
        except (OSError, ValueError):
            return None


def primary(sites, vol):
    found = []
    for s in sites:
        if s.proc is None or s.proc.poll() is not None:
            continue
        r = s.vol(vol)
        if r and r["role"] == "leader" and r["writable"]:
            found.append(s)
    return found[0] if len(found) == 1 else None


def route_status(site):
    st = site.bpf() or {}
    for p in st.get("programs", []):
        if p.get("name") == "route":
            return p
    return {}


def kill9(s):
    s.proc.kill()
    s.proc.wait()


def make_config(ports, cg):
    def vol(name, svc, fam_hosts, bports):
        return {"name": name, "commit_rule": "quorum", "quorum_loss": "suspend",
                "service": svc,
                "replicas": {n: {"data": "/dev/mem-%s-data-%s" % (name, n),
                                 "log": "/dev/mem-%s-log-%s" % (name, n),
                                 "backend": fam_hosts(n) % bports[n]} for n in SITES}}
    cfg = {"cluster": "route",
           "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                     for i, n in enumerate(SITES)],
           "volumes": [vol("vol0", "%s:%d" % (SERVICE4, ports[3]), lambda n: HOSTS[n] + ":%d",
                           dict(zip(SITES, ports[4:7]))),
                       vol("vol6", "[::1]:%d" % ports[7], lambda n: "[::1]:%d",
                           dict(zip(SITES, ports[8:11])))]}
    cfg["sites"][1]["route_cgroup"] = cg
    return cfg


def main():
    print("KTAP version 1")
    cgroot = cgroup2_root()
    if os.getuid() != 0 or not cgroot or subprocess.run(
            ["bpftool", "prog", "show"], capture_output=True).returncode:
        print("1..0 # SKIP needs root, cgroup v2 and bpftool with a working bpf()")
        return 4
    print("1..%d" % N_TESTS, flush=True)
    top = tempfile.mkdtemp(prefix="georep-route-")
    cg = os.path.join(cgroot, "georep-route-%d" % os.getpid())
    os.mkdir(cg)
    ports = e2e.free_ports(11)
    cfg = make_config(ports, cg)
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    sites = [Site(top, n, cfgpath) for n in SITES]
    a, b, c = sites
    stop = threading.Event()
    for i, n in enumerate(SITES):
        listener(socket.AF_INET, HOSTS[n], ports[4 + i], n, stop)
        listener(socket.AF_INET6, "::1", ports[8 + i], n + "6", stop)
    listener(socket.AF_INET, SERVICE4, ports[3], "direct", stop)
    svc4 = (SERVICE4, ports[3])
    try:
        return run(top, cg, sites, a, b, c, svc4, ports)
    finally:
        stop.set()
        e2e.finish(sites, top)
        for _ in range(20):
            try:
                if os.path.isdir(os.path.join(cg, "child")):
                    os.rmdir(os.path.join(cg, "child"))
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)


def run(top, cg, sites, a, b, c, svc4, ports):
    a.start()
    b.start(bpf=True)
    c.start()
    redirected = {n: 0 for n in SITES}

    def via_b(host, port, fam="4"):
        return connect(cg, host, port, fam)

    def svc():
        """vol0's service from bravo's cgroup; every success counted by site."""
        r = connect(cg, *svc4)
        if r.startswith("OK "):
            redirected[r[3:]] += 1
        return r

    # 1
    ok = e2e.wait_for(lambda: route_status(b).get("attached"), 10)
    names = attached(cg)
    ktap(ok and names == ["georep_route4", "georep_route6"], "route_attached_to_cgroup",
         (route_status(b), names))

    # 2: primary alpha for vol0
    p = e2e.wait_for(lambda: primary(sites, "vol0"), 15)
    if p is not None and p is not a:
        subprocess.run([os.path.join(BIN, "georepctl"), "switchover", "vol0", "alpha",
                        "--socket", p.sock], capture_output=True, timeout=10)
        p = e2e.wait_for(lambda: primary(sites, "vol0") is a and a, 10)
    # the health map follows within a tick
    got = e2e.wait_for(lambda: svc() == "OK alpha", 3) and svc()
    ktap(p is a and got == "OK alpha", "client_in_cgroup_reaches_primary_alpha",
         (p and p.name, got))

    # 3: IPv6, vol6 at its own primary
    p6 = e2e.wait_for(lambda: primary(sites, "vol6"), 15)
    got6 = p6 and e2e.wait_for(lambda: via_b("::1", ports[7], "6") == "OK %s6" % p6.name, 3)
    mapped = connect(cg, "::ffff:" + svc4[0], svc4[1], "6")
    if mapped.startswith("OK "):
        redirected[mapped[3:]] += 1
    ktap(got6 and mapped == "OK alpha", "ipv6_client_reaches_vol6_primary_v4mapped_vol0",
         (p6 and p6.name, via_b("::1", ports[7], "6"), mapped))

    # 4: untouched elsewhere; a cgroup below route_cgroup is steered too
    outside = connect(None, *svc4)
    direct = via_b(HOSTS["charlie"], ports[6])
    child = os.path.join(cg, "child")
    os.mkdir(child)
    below = connect(child, *svc4)
    if below.startswith("OK "):
        redirected[below[3:]] += 1
    ktap(outside == "OK direct" and direct == "OK charlie" and below == "OK alpha",
         "other_destinations_untouched_child_cgroup_steered", (outside, direct, below))

    # 5: georepd stopped (SIGSTOP): its health goes stale, connects are refused
    b.proc.send_signal(signal.SIGSTOP)
    t0 = time.time()
    stale = e2e.wait_for(lambda: svc() == "ERR ECONNREFUSED", 10)
    took = time.time() - t0
    b.proc.send_signal(signal.SIGCONT)
    back = e2e.wait_for(lambda: svc() == "OK alpha", 10)
    stale_n = route_status(b).get("volumes", [{}])[0].get("refused", {}).get("stale", 0)
    print("# SIGSTOP bravo: refused after %.1f s (stale_ms 5000), %d stale refusals" %
          (took, stale_n))
    ktap(stale and 3.5 < took < 8 and back and stale_n >= 1,
         "stale_health_refuses_then_routes_again", (stale, took, back, stale_n))

    # 6: kill -9 the primary; the next connects reach the new one
    kill9(a)
    t0 = time.time()
    newp = e2e.wait_for(lambda: primary([b, c], "vol0"), 15)
    seen = []

    def reaches_new():
        r = svc()
        seen.append(r)
        return r == "OK %s" % newp.name
    ok = newp is not None and e2e.wait_for(reaches_new, 5)
    took = time.time() - t0
    print("# kill -9 alpha -> %s serves the service address after %.2f s; connects meanwhile: %s"
          % (newp and newp.name, took, sorted(set(seen))))
    ktap(ok and all(r in ("OK " + newp.name, "ERR ECONNREFUSED") for r in seen),
         "after_kill_next_connect_reaches_new_primary", (newp and newp.name, seen))

    # 7: status, JSON
    rs = route_status(b)
    v0 = next((v for v in rs.get("volumes", []) if v["volume"] == "vol0"), {})
    sites_js = {s["site"]: s for s in v0.get("sites", [])}
    want = {n: "%s:%d" % (HOSTS[n], ports[4 + i]) for i, n in enumerate(SITES)}
    ok = (v0.get("service") == "%s:%d" % svc4 and v0.get("primary") == newp.name and
          v0.get("quorum") is True and v0.get("degraded") is False and
          {n: s["backend"] for n, s in sites_js.items()} == want and
          sites_js["alpha"]["reachable"] is False and sites_js[newp.name]["primary"] is True and
          all(sites_js[n]["redirected"] == redirected[n] for n in SITES) and
          rs.get("redirected", 0) >= sum(redirected.values()) and len(rs.get("prog_ids", [])) == 2)
    ktap(ok, "bpf_status_json_routing_table_and_counts", (json.dumps(rs), redirected))

    # 8: status, text
    txt = subprocess.run([os.path.join(BIN, "georepctl"), "bpf", "status", "--socket", b.sock],
                         capture_output=True, text=True).stdout
    for line in txt.splitlines():
        print("# | " + line)
    ok = (("route (cgroup/connect4,connect6 on %s): attached" % cg) in txt and
          ("vol0 service %s:%d -> %s" % (svc4[0], svc4[1], newp.name)) in txt and
          re.search(r"^ +alpha +%s +down " % re.escape(want["alpha"]), txt, re.M) and
          re.search(r"^ +%s +\S+ +reachable +primary " % newp.name, txt, re.M))
    ktap(ok, "bpf_status_text_routing_table", txt)

    # 9: without quorum, refused
    print("# refusals so far: %s" % v0.get("refused"))
    kill9(c)  # bravo alone of three, whichever site leads
    before = v0["refused"]
    got = e2e.wait_for(lambda: svc() == "ERR ECONNREFUSED", 10) and svc()
    rs = route_status(b)
    v0 = next((v for v in rs.get("volumes", []) if v["volume"] == "vol0"), {})
    refused = v0.get("refused", {})
    ok = (got == "ERR ECONNREFUSED" and v0.get("quorum") is False and
          refused.get("no_quorum", 0) + refused.get("degraded", 0) >=
          before.get("no_quorum", 0) + before.get("degraded", 0) + 2)
    ktap(ok, "no_quorum_refuses_with_econnrefused", (got, json.dumps(v0)))

    # 10: clean exit detaches
    b.proc.send_signal(signal.SIGTERM)
    code = b.proc.wait(timeout=10)
    after = attached(cg)
    ktap(code == 0 and after == [], "exit_leaves_nothing_attached", (code, after))

    # 11: kill -9 detaches too
    b.start(bpf=True)
    up = e2e.wait_for(lambda: attached(cg) == ["georep_route4", "georep_route6"], 10)
    kill9(b)
    gone = e2e.wait_for(lambda: attached(cg) == [], 3)
    ktap(up and gone, "kill9_leaves_nothing_attached", attached(cg))

    # 12: a route_cgroup that is no cgroup
    with open(b.cfg) as f:
        bad = json.load(f)
    bad["sites"][1]["route_cgroup"] = top
    badpath = os.path.join(top, "bad.json")
    with open(badpath, "w") as f:
        json.dump(bad, f)
    b.start(cfg=badpath, bpf=True)
    rs = e2e.wait_for(lambda: route_status(b), 10) or {}
    err = rs.get("error", "")
    print("# error: %s" % err)
    ok = (b.proc.poll() is None and rs.get("loaded") is True and rs.get("attached") is False
          and "attach to cgroup %s" % top in err and "libbpf: " in err)
    ktap(ok, "attach_failure_reported_with_libbpf_reason", json.dumps(rs))
    kill9(b)

    print("# %d passed, %d failed" % (results.count(True), results.count(False)))
    return 1 if False in results or len(results) != N_TESTS else 0


if __name__ == "__main__":
    sys.exit(main())
