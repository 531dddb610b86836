#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
End-to-end test of georepd on 127.0.0.1, no kernel module needed.

    alpha:P1 <----> bravo:P2
        ^             ^
        +-> charlie:P3+      (alpha dials bravo and charlie, bravo dials charlie)

Three daemons with their own state directories connect to each other; the
test checks `status` over each control socket, kills bravo with SIGKILL and
restarts it (meanwhile a control connection's hello claiming bravo is
refused: there is no connection of bravo's to belong to), checks every
pair's control connection (protocol 6) is up, and speaks garbage, an old protocol version, a future version
and an unknown site name at alpha's replication port, which must answer with
an ERROR frame and close while staying up for its peers. Three more daemons
built with the probe replica engine (tests/probe_replica.c) then show volume
frames flowing through the replica interface and control requests reaching it.

Usage: e2e.py [BINDIR]   (BINDIR holds georepd; default $GEOREPD_E2E_BIN, else
build/user/bin of this tree). Prints KTAP.
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BIN = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GEOREPD_E2E_BIN") or
       os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../build/user/bin"))
SITES = ["alpha", "bravo", "charlie"]
MAGIC = 0x31575247
HDR = struct.Struct("<IHBBIIQ")
FT_HELLO, FT_ERROR, FT_PING = 1, 2, 3
WF_CONTROL = 0x02
N_TESTS = 21

results = []


def ktap(ok, name, diag=None):
    results.append(bool(ok))
    if diag and not ok:
        for line in str(diag).splitlines():
            print("# " + line)
    print("%sok %d %s" % ("" if ok else "not ", len(results), name), flush=True)


def stop(sites):
    """SIGTERM every daemon of @sites, then wait for each: their exit codes."""
    sites = list(sites)
    for s in sites:
        s.proc.send_signal(signal.SIGTERM)
    return [s.proc.wait(timeout=10) for s in sites]


def finish(sites, top, log_lines=40):
    """Kill what still runs, show the daemons' logs after a failure, remove
    @top."""
    for s in sites:
        if s.proc and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
    if False in results:
        for s in sites:
            if os.path.exists(s.log):
                print("# ---- %s log ----" % s.name)
                for line in s.logtext().splitlines()[-log_lines:]:
                    print("# " + line)
    shutil.rmtree(top, ignore_errors=True)


def summary(n_tests):
    print("# %d passed, %d failed" % (results.count(True), results.count(False)))
    return 1 if False in results or len(results) != n_tests else 0


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


TLS_CERTS_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "../../../selftests/lib/tls-certs.sh")


def plaintext_flag(cfgpath):
    """[--insecure-plaintext] for a configuration without a "tls" section
    (tests that speak raw frames at the replication port), else []."""
    with open(cfgpath) as f:
        return [] if "tls" in json.load(f) else ["--insecure-plaintext"]


def tls_config(top, cfg, **tls):
    """Give @cfg a "tls" section and every site a key and certificate made
    with the openssl command (selftests/lib/tls-certs.sh) in @top/pki;
    @tls: more keys of the section (rekey_bytes, rekey_seconds)."""
    pki = os.path.join(top, "pki")
    names = " ".join(s["name"] for s in cfg["sites"])
    subprocess.run(["bash", "-c", '. "$0" && tls_make_ca "$1" && for s in $2; do '
                    'tls_make_site "$1" "$s" || exit 1; done', TLS_CERTS_SH, pki, names],
                   check=True, stdout=subprocess.DEVNULL)
    cfg["tls"] = dict(ca=os.path.join(pki, "ca.crt"), **tls)
    for s in cfg["sites"]:
        s["cert"] = os.path.join(pki, s["name"] + ".crt")
        s["key"] = os.path.join(pki, s["name"] + ".key")
    return cfg


class Site:
    def __init__(self, top, name, cfg, binary="georepd"):
        self.name = name
        self.dir = os.path.join(top, name)
        self.sock = os.path.join(self.dir, name + ".sock")
        self.log = os.path.join(top, name + ".log")
        self.cfg = cfg
        self.proc = None
        self.binary = binary

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary if os.path.isabs(self.binary) else os.path.join(BIN, self.binary),
             "--config", self.cfg, "--site", self.name,
             "--state-dir", self.dir, "--foreground", "--verbose", "--ledger", "none"] +
            plaintext_flag(self.cfg),
            stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))

    def ctl(self, req, timeout=3):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(self.sock)
        s.sendall((json.dumps(req) + "\n").encode())
        line = s.makefile().readline()
        s.close()
        return json.loads(line)

    def status(self):
        try:
            return self.ctl({"cmd": "status"})
        except (OSError, ValueError):
            return None

    def logtext(self):
        with open(self.log) as f:
            return f.read()


def wait_for(cond, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def peers_up(site):
    st = site.status()
    return st is not None and st["peers_up"] == st["peers_total"]


def peer_state(site, name):
    st = site.status()
    if not st:
        return None
    return next(p for p in st["peers"] if p["name"] == name)


def frame(ftype, body, version=1, volume=0, flags=0):
    return HDR.pack(MAGIC, version, ftype, flags, len(body), 0, volume) + body


def volume_id(name):
    """A volume's id in frame headers (gr_wire_volume_id())."""
    v = struct.unpack_from("<Q", hashlib.sha256(name.encode()).digest())[0]
    return v or 1


def hello(site, cluster, vmin=1, vmax=1, site_id=0, control=False):
    """control: the hello of a control connection (flag CONTROL, version 6)"""
    return frame(FT_HELLO, struct.pack("<HHI32s64s", vmin, vmax, site_id,
                                       site.encode(), cluster.encode()),
                 flags=WF_CONTROL if control else 0)


def speak(port, data, timeout=8.0):
    """Send data, collect everything until the peer closes. Returns (bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    got = b""
    closed = False
    end = time.time() + timeout
    while time.time() < end:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        got += chunk
    s.close()
    return got, closed


def error_reason(data):
    """Decode the frames received; return (code, reason) of the ERROR one."""
    while len(data) >= HDR.size:
        magic, ver, ftype, flags, length, _, _ = HDR.unpack_from(data)
        if magic != MAGIC:
            return None
        body = data[HDR.size:HDR.size + length]
        if ftype == FT_ERROR:
            code, n = struct.unpack_from("<II", body)
            return code, body[8:8 + n].decode()
        data = data[HDR.size + length:]
    return None


def main():
    top = tempfile.mkdtemp(prefix="georep-e2e-")
    ports = free_ports(3)
    cfg = {
        "cluster": "e2e",
        "sites": [{"name": n, "region": "r%d" % (i % 2),
                   "address": "127.0.0.1:%d" % ports[i]} for i, n in enumerate(SITES)],
        "volumes": [{"name": "vol0", "commit_rule": "quorum",
                     "replicas": {n: {"data": "/dev/null-%s" % n, "log": "/dev/log-%s" % n}
                                  for n in SITES}}],
    }
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    sites = {n: Site(top, n, cfgpath) for n in SITES}
    a, b, c = sites["alpha"], sites["bravo"], sites["charlie"]
    extra = []

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        # 1: a bad configuration is refused with the config checker's messages
        bad = dict(cfg)
        bad["sites"] = [dict(s) for s in cfg["sites"]]
        bad["sites"][1]["address"] = "127.0.0.1"
        bad["sites"][2]["colour"] = "red"
        badpath = os.path.join(top, "bad.json")
        with open(badpath, "w") as f:
            json.dump(bad, f)
        r = subprocess.run([os.path.join(BIN, "georepd"), "-c", badpath, "-s", "alpha", "-f",
                            "-d", os.path.join(top, "x"), "--ledger", "none"], capture_output=True, text=True)
        ktap(r.returncode == 1 and "$.sites[1].address: bad address" in r.stderr
             and "$.sites[2].colour: unknown key" in r.stderr
             and "refusing to start" in r.stderr, "georepd_refuses_bad_config", r.stderr)

        # 2: georepctl config check says the same, and accepts the good file
        chk = subprocess.run([os.path.join(BIN, "georepctl"), "config", "check", badpath],
                             capture_output=True, text=True)
        good = subprocess.run([os.path.join(BIN, "georepctl"), "config", "check", cfgpath],
                              capture_output=True, text=True)
        daemon_errs = [l for l in r.stderr.splitlines() if not l.startswith("georepd:")]
        ktap(chk.returncode == 1 and chk.stderr.splitlines() == daemon_errs and
             len(daemon_errs) == 2 and good.returncode == 0 and
             good.stdout == "ok: 3 sites, 1 volumes\n", "georepctl_config_check_same_messages",
             (chk.stderr, daemon_errs, good.stdout, good.stderr))

        # a silent connection, opened early: must be closed within the hello timeout
        for s in sites.values():
            s.start()
        ok = wait_for(lambda: os.path.exists(a.sock), 5)
        silent = socket.create_connection(("127.0.0.1", ports[0]), timeout=10) if ok else None
        silent_t0 = time.time()

        # 2: everyone connected
        ok = all(wait_for(lambda s=s: peers_up(s), 10) for s in sites.values())
        ktap(ok, "three_sites_all_peers_up",
             "" if ok else json.dumps([s.status() for s in sites.values()], indent=1))

        # 3: RTT measured by ping/pong
        ok = wait_for(lambda: all(p.get("rtt_ms") is not None
                                  for s in sites.values() for p in (s.status() or {"peers": [{}]})["peers"]), 5)
        st = a.status()
        ktap(ok and all(0 <= p["rtt_ms"] < 1000 for p in st["peers"]),
             "status_reports_rtt", json.dumps(st, indent=1))

        # 4: kill -9 bravo: the others see it down
        ev = socket.socket(socket.AF_UNIX)
        ev.settimeout(10)
        ev.connect(a.sock)
        ev.sendall(b'{"cmd": "events"}\n')
        evf = ev.makefile()
        sub = json.loads(evf.readline())
        b.proc.kill()
        b.proc.wait()
        ok = wait_for(lambda: peer_state(a, "bravo")["state"] != "up" and
                      peer_state(c, "bravo")["state"] != "up", 10)
        ktap(bool(ok) and sub.get("subscribed") is True, "peer_killed_seen_down",
             json.dumps([a.status(), c.status()], indent=1))

        # 5: the event stream told about it
        event = None
        try:
            while True:
                e = json.loads(evf.readline())
                if e.get("event") == "peer-down" and e.get("site") == "bravo":
                    event = e
                    break
        except (OSError, ValueError) as exc:
            event = None
            print("# events: %s" % exc)
        ktap(event is not None, "events_stream_peer_down", event)

        # 5b: a control connection (protocol 6) belongs to a main one: while
        # bravo is down, charlie refuses one that claims to be bravo's
        got, closed = speak(ports[2], hello("bravo", "e2e", vmin=1, vmax=6, site_id=2,
                                            control=True))
        er = error_reason(got)
        ktap(closed and er and er[0] == 1 and
             'control connection from site "bravo", which has no connection of '
             'protocol 6 or later here' in er[1], "control_hello_without_main_refused",
             (got, er))

        # 6: bravo restarts on the same state dir (the lock died with it)
        b.start()
        ok = all(wait_for(lambda s=s: peers_up(s), 15) for s in sites.values())
        st = b.status()
        ktap(ok and st and st["volumes"][0]["members"] and
             peer_state(a, "bravo")["ups"] >= 2, "peer_restarted_reconnects",
             json.dumps([s.status() for s in sites.values()], indent=1))

        # 6b: every pair has its control connection, heartbeats' RTT on it
        def ctl_up(s):
            st = s.status() or {}
            return st.get("peers") and all(
                (p.get("control") or {}).get("state") == "up" and
                (p["control"].get("rtt_ms") is not None) and p.get("data_rtt_ms") is not None
                for p in st["peers"])
        ok = all(wait_for(lambda s=s: ctl_up(s), 10) for s in sites.values())
        ktap(ok, "control_connections_up_with_rtt",
             json.dumps([s.status()["peers"] for s in sites.values()], indent=1))

        # 7-10: strangers on alpha's port get an ERROR frame and a close
        got, closed = speak(ports[0], b"GET / HTTP/1.1\r\nHost: alpha\r\n\r\n")
        er = error_reason(got)
        ktap(closed and er and "bad frame magic" in er[1], "garbage_speaker_rejected", (got, er))

        got, closed = speak(ports[0], frame(FT_PING, struct.pack("<QQ", 1, 2), version=0))
        er = error_reason(got)
        ktap(closed and er and "unsupported protocol version 0" in er[1],
             "old_version_speaker_rejected", (got, er))

        got, closed = speak(ports[0], hello("charlie", "e2e", vmin=7, vmax=8, site_id=3))
        er = error_reason(got)
        ktap(closed and er and er[0] == 2 and "no common protocol version" in er[1],
             "future_version_hello_rejected", (got, er))

        got, closed = speak(ports[0], hello("mallory", "e2e", site_id=9))
        er = error_reason(got)
        ktap(closed and er and "unknown site \"mallory\"" in er[1],
             "unknown_site_rejected", (got, er))

        got, closed = speak(ports[0], HDR.pack(MAGIC, 1, FT_HELLO, 0, 1 << 20, 0, 0) + b"x" * 100)
        er = error_reason(got)
        ktap(closed and er and "exceeds the 1024 allowed at this point" in er[1],
             "oversized_frame_before_hello_rejected", (got, er))

        # 11: the silent connection was dropped after the hello timeout
        silent.settimeout(max(1.0, 8 - (time.time() - silent_t0)))
        try:
            data = silent.recv(4096)
            while data and not error_reason(data):
                data += silent.recv(4096)
            er = error_reason(data) if data else None
            closed = True
        except socket.timeout:
            closed, er = False, None
        ktap(closed, "silent_connection_times_out", er)

        # 12: through all of that, alpha kept serving its peers
        st = a.status()
        log = a.logtext()
        ktap(peers_up(a) and peers_up(b) and peers_up(c) and st["rejected_connections"] >= 5
             and "rejecting connection from 127.0.0.1" in log
             and "unsupported protocol version 0" in log,
             "alpha_stays_up_and_logs_rejections", log[-3000:])

        # 13: control socket: clear errors, no engine attached for switchover
        r1 = a.ctl({"cmd": "switchover", "volume": "vol0", "to": "bravo"})
        r2 = a.ctl({"cmd": "switchover", "volume": "nope", "to": "bravo"})
        r3 = a.ctl({"cmd": "failover", "volume": "vol0"})
        r4 = a.ctl({"cmd": "frobnicate"})
        ktap(r1["ok"] is False and "no replication engine" in r1["error"]
             and "unknown volume \"nope\"" in r2["error"]
             and "\"force\": true" in r3["error"]
             and "unknown command" in r4["error"], "control_errors", [r1, r2, r3, r4])

        # 14: a second alpha is refused (state dir locked, socket in use); SIGTERM is clean
        r = subprocess.run([os.path.join(BIN, "georepd"), "-c", cfgpath, "-s", "alpha",
                            "-d", a.dir, "-f", "--ledger", "none", "--insecure-plaintext"],
                           capture_output=True, text=True, timeout=10)
        codes = stop(sites.values())
        ktap(r.returncode == 1 and "in use by another georepd" in r.stderr and
             codes == [0, 0, 0] and not any(os.path.exists(s.sock) for s in sites.values()),
             "second_instance_refused_and_clean_shutdown", (r.stderr, codes))

        # 16-17: the replica plug-in path, with the probe engine of probe_replica.c
        probe = os.environ.get("GEOREPD_E2E_PROBE") or os.path.join(BIN, "../test/georepd-probe")
        pports = free_ports(3)
        pcfg = dict(cfg)
        pcfg["sites"] = [dict(s, address="127.0.0.1:%d" % pports[i])
                         for i, s in enumerate(cfg["sites"])]
        pcfgpath = os.path.join(top, "probe.json")
        with open(pcfgpath, "w") as f:
            json.dump(pcfg, f)
        ptop = os.path.join(top, "probe")
        os.mkdir(ptop)
        psites = [Site(ptop, n, pcfgpath, probe) for n in SITES]
        extra.extend(psites)
        for s in psites:
            s.start()

        def exchanged():
            for s in psites:
                st = s.status()
                if not st:
                    return False
                rep = st["volumes"][0]["replica"]
                if not rep or min(rep["received"].values()) < 2 or min(rep["acked"].values()) < 2:
                    return False
            return True
        ok = wait_for(exchanged, 15)
        ktap(bool(ok), "replica_engine_frames_between_three_sites",
             json.dumps([s.status() for s in psites], indent=1))

        r1 = psites[0].ctl({"cmd": "switchover", "volume": "vol0", "to": "charlie", "id": 5})
        r2 = psites[1].ctl({"cmd": "failover", "volume": "vol0", "force": True})
        st0 = psites[0].status()["volumes"][0]["replica"]
        st1 = psites[1].status()["volumes"][0]["replica"]
        ktap(r1 == {"ok": True, "id": 5, "volume": "vol0", "to": "charlie"} and
             r2.get("ok") is True and r2.get("primary") == "bravo" and
             st0["last_request"] == "switchover to charlie" and
             st1["last_request"] == "failover", "control_reaches_replica_engine",
             [r1, r2, st0, st1])
        stop(psites)

        # 18: every daemon exited cleanly, and (SAN=1 builds) without reports
        bad = [(s.name, s.proc.returncode) for s in list(sites.values()) + psites
               if s.proc.returncode != 0 or "Sanitizer" in s.logtext() or
               "runtime error" in s.logtext()]
        ktap(not bad, "all_daemons_exit_cleanly", bad)
    finally:
        for s in list(sites.values()) + extra:
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
        failed = results.count(False)
        if failed:
            for s in list(sites.values()) + extra:
                if os.path.exists(s.log):
                    print("# ---- %s log ----" % s.name)
                    for line in s.logtext().splitlines()[-40:]:
                        print("# " + line)
        shutil.rmtree(top, ignore_errors=True)
    print("# %d passed, %d failed" % (results.count(True), results.count(False)))
    return 1 if False in results or len(results) != N_TESTS else 0


if __name__ == "__main__":
    sys.exit(main())
