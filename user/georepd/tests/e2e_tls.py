#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Site identities and mutual TLS 1.3 at the daemon level: three `georepd
--ledger none` processes on 127.0.0.1 with a CA and site certificates made
with the `openssl` command (selftests/lib/tls-certs.sh).

 1. without a "tls" section georepd refuses to start unless given
    --insecure-plaintext (and then says it is plain TCP);
 2. a site key readable by group or others: refused, naming the file;
 3. the three sites connect over TLS 1.3; status shows each peer's
    certificate name; KeyUpdates happen every second (rekey_seconds: 1),
    each logged, and the peers stay up;
 4. a "bravo" holding alpha's certificate: alpha (which dials bravo) refuses
    it for the name, charlie (dialed by it) refuses its hello for the name,
    each with one log line naming the address and the reason;
 5. a "bravo" certified by another CA: refused for the chain;
 6. a plain-TCP client, a TLS client without a certificate and a TLS 1.2
    client at alpha's port: each refused with one log line naming it;
 7. the real bravo back: every peer up again; a man in the middle between
    alpha and bravo flips one byte of the TLS stream: that connection is
    dropped at both ends with the reason logged, the next one comes up;
    the daemons exit cleanly;
 8. `georepctl site ca` and `site init` make a CA and a site identity that
    `openssl verify` accepts (SAN, modes 0600, no overwrite).

Usage: e2e_tls.py [BINDIR]. Prints KTAP.
"""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

BIN = e2e.BIN
SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 15
ktap = e2e.ktap
results = e2e.results


def georepd(cfgpath, site, statedir, *extra):
    return subprocess.run([os.path.join(BIN, "georepd"), "-c", cfgpath, "-s", site, "-f",
                           "-d", statedir, "--ledger", "none"] + list(extra),
                          capture_output=True, text=True, timeout=10)


def write_cfg(top, name, cfg):
    path = os.path.join(top, name)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def log_lines(site, pattern, start=0):
    return [l for l in site.logtext()[start:].splitlines() if re.search(pattern, l)]


def tls_client(port, ca, cert=None, key=None, max_version=None):
    """A TLS client at @port; returns what the handshake/first read raised."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    if max_version:
        ctx.maximum_version = max_version
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            with ctx.wrap_socket(s) as t:
                t.recv(1)
    except (OSError, ssl.SSLError) as exc:
        return str(exc)
    return "no error"


class FlipProxy:
    """A man in the middle on 127.0.0.1:port relaying to @target; in the
    first connection it flips one byte of the client's stream once the
    connection is 2 s old (after the TLS handshake), then relays faithfully."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.flipped = 0
        self.conns = 0
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                c, _ = self.lsock.accept()
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                return
            self.conns += 1
            flip = self.conns == 1
            t0 = time.time()
            threading.Thread(target=self.pipe, args=(c, u, flip, t0), daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c, False, t0), daemon=True).start()

    def pipe(self, src, dst, flip, t0):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
            if flip and not self.flipped and time.time() - t0 > 2 and len(data) > 8:
                i = len(data) // 2
                data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
                self.flipped += 1
            try:
                dst.sendall(data)
            except OSError:
                return


def mitm_check(top, cfg, a, b):
    """alpha reaches bravo through a FlipProxy: the flipped byte drops that
    connection at both ends (logged), the next one comes up."""
    proxy = FlipProxy(int(cfg["sites"][1]["address"].split(":")[1]))
    mcfg = json.loads(json.dumps(cfg))
    mcfg["sites"][1]["address"] = "127.0.0.1:%d" % proxy.port
    a.proc.send_signal(signal.SIGTERM)
    a.proc.wait(timeout=10)
    a.cfg = write_cfg(top, "alpha-mitm.json", mcfg)
    amark, bmark = len(a.logtext()), len(b.logtext())
    a.start()
    ok = e2e.wait_for(lambda: proxy.flipped and proxy.conns >= 2 and
                      e2e.peer_state(a, "bravo") and
                      e2e.peer_state(a, "bravo")["state"] == "up" and
                      log_lines(b, r"peer alpha down: recv: TLS error", bmark), 15)
    downs = log_lines(b, r"peer alpha down", bmark) + log_lines(a, r"peer bravo down", amark)
    return (ok and a.proc.poll() is None and b.proc.poll() is None,
            "mitm_flipped_byte_drops_connection",
            (proxy.flipped, proxy.conns, downs, a.logtext()[amark:], b.logtext()[bmark:]))


def site_init_check(top):
    ctl = os.path.join(BIN, "georepctl")
    out = os.path.join(top, "ctlpki")
    os.mkdir(out)
    r1 = subprocess.run([ctl, "site", "ca", "--out", out], capture_output=True, text=True)
    args = [ctl, "site", "init", "delta", "--ca-cert", os.path.join(out, "ca.crt"),
            "--ca-key", os.path.join(out, "ca.key"), "--out", out]
    r2 = subprocess.run(args, capture_output=True, text=True)
    r3 = subprocess.run(args, capture_output=True, text=True)
    ver = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(out, "ca.crt"),
                          os.path.join(out, "delta.crt")], capture_output=True, text=True)
    ext = subprocess.run(["openssl", "x509", "-noout", "-in", os.path.join(out, "delta.crt"),
                          "-ext", "subjectAltName"], capture_output=True, text=True)
    modes = [os.stat(os.path.join(out, f)).st_mode & 0o777 for f in ("ca.key", "delta.key")]
    ok = (r1.returncode == 0 and r2.returncode == 0 and r3.returncode == 1 and
          "File exists" in r3.stderr and ver.returncode == 0 and "DNS:delta" in ext.stdout and
          modes == [0o600, 0o600])
    return ok, "georepctl_site_ca_and_init", (r1, r2, r3, ver.stdout, ext.stdout, modes)


def main():
    top = tempfile.mkdtemp(prefix="georep-tls-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": "tls",
        "sites": [{"name": n, "region": "r", "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(SITES)],
        "volumes": [],
    }
    plainpath = write_cfg(top, "plain.json", cfg)
    e2e.tls_config(top, cfg, rekey_seconds=1)
    pki = os.path.join(top, "pki")
    cfgpath = write_cfg(top, "cluster.json", cfg)
    sites = {n: e2e.Site(top, n, cfgpath) for n in SITES}
    a, b, c = sites["alpha"], sites["bravo"], sites["charlie"]
    extra = []

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        # 1: plain TCP only on request
        r = georepd(plainpath, "alpha", os.path.join(top, "x"))
        ktap(r.returncode == 1 and 'no "tls" section' in r.stderr and
             "--insecure-plaintext" in r.stderr, "refuses_plaintext_by_default", r.stderr)
        p = subprocess.Popen([os.path.join(BIN, "georepd"), "-c", plainpath, "-s", "alpha",
                              "-f", "-d", os.path.join(top, "x"), "--ledger", "none",
                              "--insecure-plaintext"], stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=10)[1]
        ktap(p.returncode == 0 and "plain TCP (--insecure-plaintext)" in out,
             "insecure_plaintext_runs_and_warns", out)

        # 2: a key file others may read
        key = cfg["sites"][0]["key"]
        os.chmod(key, 0o644)
        r = georepd(cfgpath, "alpha", os.path.join(top, "x"))
        os.chmod(key, 0o600)
        ktap(r.returncode == 1 and ("key file %s: mode 0644" % key) in r.stderr,
             "refuses_key_readable_by_others", r.stderr)

        # 3: TLS between the three, identities, KeyUpdates
        for s in sites.values():
            s.start()
        ok = e2e.wait_for(lambda: all(e2e.peers_up(s) for s in sites.values()), 15)
        st = a.status() or {}
        tls = {p["name"]: p.get("tls") or {} for p in st.get("peers", [])}
        ktap(ok and all(tls[n].get("version") == "TLSv1.3" and
                        tls[n].get("peer_certificate") == n for n in ("bravo", "charlie")),
             "three_sites_up_over_tls13", json.dumps(st, indent=1))
        time.sleep(3.5)
        st = a.status() or {}
        ku = {p["name"]: (p.get("tls") or {}).get("key_updates_sent", 0)
              for p in st.get("peers", [])}
        ups = {p["name"]: p["ups"] for p in st.get("peers", [])}
        ktap(e2e.peers_up(a) and min(ku.values()) >= 2 and max(ups.values()) == 1 and
             len(log_lines(a, r"peer bravo: TLS key update")) >= 2,
             "key_updates_every_second_peers_stay_up", json.dumps(st, indent=1))

        # 4: an impostor bravo with alpha's certificate and key
        b.proc.kill()
        b.proc.wait()
        bad = json.loads(json.dumps(cfg))
        bad["sites"][1]["cert"] = cfg["sites"][0]["cert"]
        bad["sites"][1]["key"] = cfg["sites"][0]["key"]
        fake = e2e.Site(top, "bravo", write_cfg(top, "impostor.json", bad))
        fake.log = os.path.join(top, "impostor.log")
        extra.append(fake)
        amark, cmark = len(a.logtext()), len(c.logtext())
        fake.start()
        want_a = r'refusing connection to site bravo at 127\.0\.0\.1:%d: tls handshake: ' \
                 r'wrong name: dialed site "bravo" but its certificate is for "alpha"' % ports[1]
        want_c = r'rejecting connection from 127\.0\.0\.1:\d+: wrong name: hello claims ' \
                 r'site "bravo" but the certificate is for "alpha"'
        ok = e2e.wait_for(lambda: log_lines(a, want_a, amark) and log_lines(c, want_c, cmark), 10)
        ktap(ok and not log_lines(a, "peer bravo up", amark) and
             not log_lines(c, "peer bravo up", cmark), "impostor_with_other_sites_cert_refused",
             a.logtext()[amark:] + c.logtext()[cmark:])
        # one line per refused connection: as many lines as connections seen
        cl = log_lines(c, r"connection from 127\.0\.0\.1:\d+", cmark)
        ktap(len(cl) >= 1 and all(re.search(want_c, l) for l in cl),
             "one_log_line_per_refusal", "\n".join(cl))
        fake.proc.kill()
        fake.proc.wait()

        # 5: a bravo certified by another CA
        other = os.path.join(top, "other")
        subprocess.run(["bash", "-c", '. "$0" && tls_make_ca "$1" && tls_make_site "$1" bravo',
                        e2e.TLS_CERTS_SH, other], check=True, stdout=subprocess.DEVNULL)
        bad["sites"][1]["cert"] = os.path.join(other, "bravo.crt")
        bad["sites"][1]["key"] = os.path.join(other, "bravo.key")
        fake2 = e2e.Site(top, "bravo", write_cfg(top, "otherca.json", bad))
        fake2.log = os.path.join(top, "otherca.log")
        extra.append(fake2)
        amark, cmark = len(a.logtext()), len(c.logtext())
        fake2.start()
        want_c = r'refusing connection from 127\.0\.0\.1:\d+: tls handshake: bad certificate ' \
                 r'chain: unable to get local issuer certificate'
        ok = e2e.wait_for(lambda: log_lines(c, want_c, cmark) and
                          log_lines(a, r"refusing connection to site bravo.*", amark), 10)
        ktap(ok and not log_lines(c, "peer bravo up", cmark), "impostor_from_other_ca_refused",
             a.logtext()[amark:] + c.logtext()[cmark:])
        fake2.proc.kill()
        fake2.proc.wait()

        # 6: strangers at alpha's port
        amark = len(a.logtext())
        e2e.speak(ports[0], e2e.hello("bravo", "tls"), timeout=3)
        ok = e2e.wait_for(lambda: log_lines(a, r"refusing connection from 127\.0\.0\.1:\d+: "
                                            r"tls handshake: not TLS", amark), 5)
        ktap(ok, "plain_tcp_client_refused", a.logtext()[amark:])
        amark = len(a.logtext())
        err = tls_client(ports[0], os.path.join(pki, "ca.crt"))
        ok = e2e.wait_for(lambda: log_lines(a, r"refusing connection from 127\.0\.0\.1:\d+: "
                                            r"tls handshake: no certificate", amark), 5)
        ktap(ok, "client_without_certificate_refused", (err, a.logtext()[amark:]))
        amark = len(a.logtext())
        err = tls_client(ports[0], os.path.join(pki, "ca.crt"), cfg["sites"][2]["cert"],
                         cfg["sites"][2]["key"], ssl.TLSVersion.TLSv1_2)
        ok = e2e.wait_for(lambda: log_lines(a, r"refusing connection from 127\.0\.0\.1:\d+: "
                                            r"tls handshake: TLS version", amark), 5)
        ktap(ok, "tls12_client_refused", (err, a.logtext()[amark:]))

        # 7: the real bravo is welcome again; a man in the middle; clean exits
        b.start()
        ok = e2e.wait_for(lambda: all(e2e.peers_up(s) for s in sites.values()), 15)
        ktap(ok, "real_bravo_rejoins", json.dumps([s.status() for s in sites.values()], indent=1))
        ktap(*mitm_check(top, cfg, a, b))
        codes = e2e.stop(sites.values())
        bad_exit = [(s.name, s.proc.returncode) for s in sites.values()
                    if s.proc.returncode != 0 or "Sanitizer" in s.logtext() or
                    "runtime error" in s.logtext()]
        ktap(codes == [0, 0, 0] and not bad_exit, "daemons_exit_cleanly", bad_exit)

        # 8: georepctl site ca / init make what the openssl recipe makes
        ktap(*site_init_check(top))
        if os.environ.get("E2E_TLS_SHOW_LOGS"):
            for s in (a, c):
                print("# ---- %s log ----" % s.name)
                for line in s.logtext().splitlines():
                    print("# " + line)
    finally:
        e2e.finish(list(sites.values()) + extra, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
