#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Certificate and CA rollover without downtime (admin-guide.rst, "Rolling
over certificates and the CA"): three `georepd --ledger mem` on 127.0.0.1,
one quorum volume, mutual TLS 1.3, a writer at the primary the whole time.

 1. the three sites are up over TLS, a primary is elected, writes commit;
 2. a reload of a broken certificate is refused, the old credentials stay
    and the peers stay up;
 3. overlap: the CA file becomes the bundle old CA + new CA, SIGHUP at every
    site: each logs the reload and renews its connections, all up again;
 4. every site gets a certificate and key of the new CA (same files), SIGHUP
    one site at a time: all up again;
 5. the old CA leaves the bundle, SIGHUP everywhere: all up again, so every
    site now presents a certificate of the new CA;
 6. a client with a certificate of the old CA is refused for the chain;
 7. no write failed, the same leader in the same term throughout, every
    site holds the same data.

Usage: e2e_rollover.py [BINDIR]. Prints KTAP.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e_replication import Site, primary, committed_everywhere  # noqa: E402
from e2e_tls import tls_client  # noqa: E402

SITES = ["alpha", "bravo", "charlie"]
N_TESTS = 8
ktap = e2e.ktap


class Writer(threading.Thread):
    """test-write at @site every 20 ms until stopped; counts failures."""

    def __init__(self, site):
        super().__init__(daemon=True)
        self.site, self.stop, self.ok, self.failed, self.last_seq = site, False, 0, [], 0

    def run(self):
        i = 0
        while not self.stop:
            w = self.site.write(i % 256, 1, i % 251)
            if w.get("ok"):
                self.ok += 1
                self.last_seq = w["last_seq"]
            else:
                self.failed.append(w)
            i += 1
            time.sleep(0.02)


def make_pki(dirpath):
    subprocess.run(["bash", "-c", '. "$0" && tls_make_ca "$1" && for s in $2; do '
                    'tls_make_site "$1" "$s" || exit 1; done', e2e.TLS_CERTS_SH, dirpath,
                    " ".join(SITES)], check=True, stdout=subprocess.DEVNULL)


def install(src, dst):
    """Replace @dst's contents in place (a key stays 0600)."""
    shutil.copyfile(src, dst + ".new")
    os.chmod(dst + ".new", os.stat(dst).st_mode & 0o777)
    os.replace(dst + ".new", dst)


def all_up(sites):
    return all(e2e.peers_up(s) for s in sites)


def ups(sites):
    return {s.name: {p["name"]: p["ups"] for p in (s.status() or {}).get("peers", [])}
            for s in sites}


def renewed(sites, before):
    """Every link came up again since @before (ups grew) and is up now."""
    now = ups(sites)
    return all_up(sites) and all(now[s][p] > before[s][p] for s in before for p in before[s])


def hup(sites, marks):
    for s in sites:
        marks[s.name] = len(s.logtext())
        s.proc.send_signal(signal.SIGHUP)


def logged(sites, marks, pattern):
    return all(re.search(pattern, s.logtext()[marks[s.name]:]) for s in sites)


def main():
    top = tempfile.mkdtemp(prefix="georep-roll-")
    ports = e2e.free_ports(3)
    cfg = {
        "cluster": "roll",
        "sites": [{"name": n, "region": "r%d" % i, "address": "127.0.0.1:%d" % ports[i]}
                  for i, n in enumerate(SITES)],
        "volumes": [{"name": "vol0", "commit_rule": "quorum",
                     "replicas": {n: {"data": "/dev/mem-data-%s" % n, "log": "/dev/mem-log-%s" % n}
                                  for n in SITES}}],
    }
    e2e.tls_config(top, cfg)
    pki, new = os.path.join(top, "pki"), os.path.join(top, "pki-new")
    old_ca = os.path.join(top, "old-ca.crt")
    shutil.copyfile(os.path.join(pki, "ca.crt"), old_ca)
    for ext in ("crt", "key"):
        shutil.copyfile(os.path.join(pki, "bravo." + ext), os.path.join(pki, "bravo.%s.old" % ext))
    make_pki(new)
    cfgpath = os.path.join(top, "cluster.json")
    with open(cfgpath, "w") as f:
        json.dump(cfg, f)
    sites = [Site(top, n, cfgpath) for n in SITES]
    writer = None
    marks = {}

    print("KTAP version 1")
    print("1..%d" % N_TESTS, flush=True)
    try:
        for s in sites:
            s.start()
        p = e2e.wait_for(lambda: primary(sites), 15)
        w = p.write(0, 16, 7) if p else {}
        ok = p and w.get("ok") and e2e.wait_for(
            lambda: committed_everywhere(sites, w["last_seq"]), 10)
        ktap(bool(ok) and all_up(sites), "three_sites_tls_primary_writes",
             json.dumps([s.status() for s in sites], indent=1))
        if not ok:
            return 1
        term = p.rep()["term"]
        writer = Writer(p)
        writer.start()

        # 2: a broken certificate is not taken
        a = sites[0]
        cert = cfg["sites"][0]["cert"]
        shutil.copyfile(cert, cert + ".good")
        with open(cert, "w") as f:
            f.write("not a certificate\n")
        hup([a], marks)
        ok = e2e.wait_for(lambda: logged([a], marks, r"TLS credentials not reloaded, keeping "
                                         r"the old ones: certificate file"), 5)
        os.replace(cert + ".good", cert)
        time.sleep(1)
        ktap(ok and all_up(sites), "broken_certificate_not_reloaded",
             a.logtext()[marks["alpha"]:])

        # 3: overlap, both CAs trusted
        with open(cfg["tls"]["ca"], "w") as f:
            for path in (old_ca, os.path.join(new, "ca.crt")):
                with open(path) as c:
                    f.write(c.read())
        before = ups(sites)
        hup(sites, marks)
        ok = e2e.wait_for(lambda: logged(sites, marks, "TLS credentials reloaded") and
                          renewed(sites, before), 20)
        ktap(ok, "ca_bundle_reloaded_links_renewed", json.dumps(ups(sites)))

        # 4: new certificates, one site at a time
        ok = True
        for i, s in enumerate(sites):
            install(os.path.join(new, s.name + ".crt"), cfg["sites"][i]["cert"])
            install(os.path.join(new, s.name + ".key"), cfg["sites"][i]["key"])
            before = ups(sites)
            hup([s], marks)
            ok = ok and e2e.wait_for(lambda: all_up(sites) and
                                     ups([s])[s.name] != before[s.name], 20)
        ktap(ok, "new_site_certificates_one_site_at_a_time", json.dumps(ups(sites)))

        # 5: the old CA leaves
        install(os.path.join(new, "ca.crt"), cfg["tls"]["ca"])
        before = ups(sites)
        hup(sites, marks)
        ok = e2e.wait_for(lambda: renewed(sites, before), 20)
        ktap(ok, "old_ca_removed_all_links_on_new_ca", json.dumps(ups(sites)))

        # 6: the old CA's certificates are refused now
        mark = len(a.logtext())
        err = tls_client(ports[0], os.path.join(new, "ca.crt"),
                         os.path.join(pki, "bravo.crt.old"), os.path.join(pki, "bravo.key.old"))
        ok = e2e.wait_for(lambda: re.search(r"refusing connection from 127\.0\.0\.1:\d+: tls "
                                            r"handshake: bad certificate chain",
                                            a.logtext()[mark:]), 5)
        ktap(bool(ok), "old_ca_certificate_refused", (err, a.logtext()[mark:]))

        # 7: no downtime
        writer.stop = True
        writer.join()
        last = writer.last_seq
        ok = e2e.wait_for(lambda: committed_everywhere(sites, last), 10)
        shas = [s.sha() for s in sites]
        r = p.rep()
        print("# %d writes during the rollover, %d failed" % (writer.ok, len(writer.failed)))
        ktap(not writer.failed and writer.ok > 50 and r["term"] == term and
             r["role"] == "leader", "no_failed_write_same_leader_and_term",
             (writer.failed[:3], r))
        ktap(ok and len(set(shas)) == 1 and shas[0], "same_data_everywhere", shas)
    finally:
        if writer:
            writer.stop = True
        e2e.finish(sites, top)
    return e2e.summary(N_TESTS)


if __name__ == "__main__":
    sys.exit(main())
