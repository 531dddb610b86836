#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check that the netlink spec, the uapi header and the kernel policies agree.

Documentation/netlink/georep.yaml is the contract; 6.1 has no YNL code
generator, so include/uapi/linux/georep.h and the per-command policies in
kmod/netlink.c are written by hand. This compares them:

  1. attribute, key attribute and command numbering (uapi enums vs spec);
  2. enum values and constants;
  3. per command: the policy accepts exactly the spec's request attributes,
     admin-perm matches GENL_ADMIN_PERM, a dump exists where the spec has one;
  4. per attribute: policy type and checks (min, max, exact-len, max-len)
     match the spec.

KTAP on stdout; exit 0 when everything agrees, 1 otherwise.
"""

import os
import re
import sys

try:
    import yaml
except ImportError:
    print("KTAP version 1\n1..0 # SKIP python3-yaml not installed")
    sys.exit(0)

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC = os.path.join(TOP, "Documentation/netlink/georep.yaml")
UAPI = os.path.join(TOP, "include/uapi/linux/georep.h")
NLC = os.path.join(TOP, "kmod/netlink.c")

results = []

def check(ok, name, why=""):
    results.append((bool(ok), name, why))


def c_name(prefix, spec_name):
    return prefix + spec_name.upper().replace("-", "_")


def uapi_enum(text, enum):
    """Members of `enum <enum> { ... };`, in order, with their values."""
    m = re.search(r"enum %s \{(.*?)\};" % enum, text, re.S)
    members, value = [], -1
    for line in m.group(1).splitlines():
        line = re.sub(r"/\*.*?\*/", "", line).strip().rstrip(",")
        if not line:
            continue
        name, _, val = line.partition("=")
        value = int(val.strip(), 0) if val.strip() else value + 1
        members.append((name.strip(), value))
    return members


def uapi_define(text, name):
    m = re.search(r"#define\s+%s\s+(\S+)" % name, text)
    return int(m.group(1), 0) if m else None


NLA_TYPES = {"NLA_U8": "u8", "NLA_U16": "u16", "NLA_U32": "u32", "NLA_U64": "u64",
             "NLA_S32": "s32", "NLA_FLAG": "flag", "NLA_BINARY": "binary",
             "NLA_NUL_STRING": "string", "NLA_STRING": "string"}


class Policy:
    """Interprets the policy expressions of kmod/netlink.c in spec terms."""

    def __init__(self, nlc, uapi):
        self.nlc = nlc
        self.uapi = uapi
        self.macros = {}
        for m in re.finditer(r"#define\s+(GEOREP_NL_\w+_POLICY)\s+((?:.*\\\n)*.*)", nlc):
            self.macros[m.group(1)] = re.sub(r"\\\n\s*", " ", m.group(2)).strip()
        self.values = {"PATH_MAX": 4096}
        for enum in ("georep_role", "georep_commit_rule", "georep_io_state"):
            self.values.update(dict(uapi_enum(uapi, enum)))
        for m in re.finditer(r"#define\s+(GEOREP_\w+)\s+(\d+)", uapi):
            self.values[m.group(1)] = int(m.group(2))

    def value(self, expr):
        expr = expr.strip()
        m = re.fullmatch(r"(\w+)\s*-\s*(\d+)", expr)
        if m:
            return self.value(m.group(1)) - int(m.group(2))
        return int(expr, 0) if re.fullmatch(r"\d+", expr) else self.values[expr]

    def meaning(self, text):
        """(spec type, {check: number}) of a policy expression"""
        text = self.macros.get(text.strip(), text.strip())
        m = re.fullmatch(r"NLA_POLICY_RANGE\((NLA_\w+),\s*(.+?),\s*(.+?)\)", text)
        if m:
            lo, hi = self.value(m.group(2)), self.value(m.group(3))
            return NLA_TYPES[m.group(1)], dict(([("min", lo)] if lo else []) + [("max", hi)])
        m = re.fullmatch(r"NLA_POLICY_MIN\((NLA_\w+),\s*(.+?)\)", text)
        if m:
            return NLA_TYPES[m.group(1)], {"min": self.value(m.group(2))}
        m = re.fullmatch(r"NLA_POLICY_MAX\((NLA_\w+),\s*(.+?)\)", text)
        if m:
            return NLA_TYPES[m.group(1)], {"max": self.value(m.group(2))}
        m = re.fullmatch(r"NLA_POLICY_EXACT_LEN\((.+?)\)", text)
        if m:
            return "binary", {"exact-len": self.value(m.group(1))}
        m = re.fullmatch(r"NLA_POLICY_NESTED_ARRAY\((\w+)\)", text)
        if m:
            return "indexed-array", {}
        m = re.fullmatch(r"NLA_POLICY_VALIDATE_FN\(NLA_NUL_STRING,\s*(\w+)\)", text)
        if m:
            # the length limit lives in the function: "len >= GEOREP_X"
            body = re.search(r"static int %s\(.*?\n\}" % m.group(1), self.nlc, re.S).group(0)
            lim = re.search(r"len >= (\w+)", body)
            return "string", {"max-len": self.value(lim.group(1)) - 1} if lim else {}
        m = re.fullmatch(r"\{\s*\.type = (NLA_\w+)(?:,\s*\.len = (.+?))?\s*\}", text)
        if m:
            checks = {"max-len": self.value(m.group(2))} if m.group(2) else {}
            return NLA_TYPES[m.group(1)], checks
        return None


def policy_tables(text):
    """name -> {C attribute name: policy text}"""
    tables = {}
    for m in re.finditer(r"static const struct nla_policy (\w+)\[[^\]]*\] = \{(.*?)\n\};",
                         text, re.S):
        entries = {}
        for e in re.finditer(r"\[(\w+)\]\s*=\s*(.*?),?\s*$", m.group(2), re.M):
            entries[e.group(1)] = e.group(2).strip().rstrip(",")
        tables[m.group(1)] = entries
    return tables


def genl_ops(text):
    """C command name -> dict(policy, admin, dump)"""
    ops = {}
    block = re.search(r"static const struct genl_ops \w+\[\] = \{(.*?)\n\};", text, re.S)
    for op in re.finditer(r"\{(.*?)\}", block.group(1), re.S):
        body = op.group(1)
        cmd = re.search(r"\.cmd\s*=\s*(\w+)", body).group(1)
        pol = re.search(r"\.policy\s*=\s*(\w+)", body)
        ops[cmd] = {
            "policy": pol.group(1) if pol else None,
            "admin": "GENL_ADMIN_PERM" in body,
            "dump": ".dumpit" in body,
        }
    return ops


def main():
    spec = yaml.safe_load(open(SPEC))
    uapi = open(UAPI).read()
    nlc = open(NLC).read()

    sets = {s["name"]: s for s in spec["attribute-sets"]}
    consts = {d["name"]: d["value"] for d in spec["definitions"] if d["type"] == "const"}

    # 1. numbering
    for set_name, enum, prefix in (("georep", "georep_attr", "GEOREP_A_"),
                                   ("key", "georep_key_attr", "GEOREP_KEY_A_")):
        want = [c_name(prefix, a["name"]) for a in sets[set_name]["attributes"]]
        got = [n for n, v in uapi_enum(uapi, enum) if not n.endswith("UNSPEC")
               and not n.startswith("__")]
        check(want == got, "attribute set %s numbered as enum %s" % (set_name, enum),
              "spec %s, uapi %s" % (want, got))
    want = [c_name("GEOREP_CMD_", o["name"]) for o in spec["operations"]["list"]]
    got = [n for n, v in uapi_enum(uapi, "georep_cmd") if not n.endswith("UNSPEC")
           and not n.startswith("__")]
    check(want == got, "operations numbered as enum georep_cmd", "spec %s, uapi %s" % (want, got))

    # 2. enums and constants
    enum_c = {"role": ("georep_role", "GEOREP_ROLE_"),
              "commit-rule": ("georep_commit_rule", "GEOREP_COMMIT_"),
              "io-state": ("georep_io_state", "GEOREP_IO_"),
              "event": ("georep_event", "GEOREP_EVENT_")}
    for d in spec["definitions"]:
        if d["type"] != "enum":
            continue
        enum, prefix = enum_c[d["name"]]
        start = d.get("value-start", 0)
        want = [(c_name(prefix, e["name"]), start + i) for i, e in enumerate(d["entries"])]
        got = [(n, v) for n, v in uapi_enum(uapi, enum) if not n.startswith("__")]
        check(want == got, "enum %s matches enum %s" % (d["name"], enum),
              "spec %s, uapi %s" % (want, got))
    for name, define in (("name-max", "GEOREP_NAME_MAX"), ("key-len", "GEOREP_KEY_LEN"),
                         ("hash-len", "GEOREP_HASH_LEN"), ("uuid-len", "GEOREP_UUID_LEN"),
                         ("max-keys", "GEOREP_MAX_KEYS")):
        check(consts.get(name) == uapi_define(uapi, define),
              "constant %s == %s" % (name, define),
              "%s vs %s" % (consts.get(name), uapi_define(uapi, define)))

    # 3. and 4. per command
    tables = policy_tables(nlc)
    ops = genl_ops(nlc)
    attrs = {c_name("GEOREP_A_", a["name"]): a for a in sets["georep"]["attributes"]}
    key_attrs = {c_name("GEOREP_KEY_A_", a["name"]): a for a in sets["key"]["attributes"]}

    pol = Policy(nlc, uapi)

    def same_policy(spec_attr, text):
        meaning = pol.meaning(text)
        if meaning is None:
            return False, "policy %r not understood" % text
        checks = {k: consts.get(v, v) for k, v in spec_attr.get("checks", {}).items()}
        want = (spec_attr["type"], checks)
        return meaning == want, "policy %r means %s, spec says %s" % (text, meaning, want)

    for op in spec["operations"]["list"]:
        cmd = c_name("GEOREP_CMD_", op["name"])
        if "event" in op:
            check(cmd not in ops, "%s is not a request" % op["name"])
            continue
        c = ops.get(cmd)
        check(c is not None, "%s has a genl_ops entry" % op["name"])
        if c is None:
            continue
        want = set(c_name("GEOREP_A_", a) for a in op["do"]["request"]["attributes"])
        table = tables.get(c["policy"], {})
        check(set(table) == want, "%s policy %s accepts exactly the spec's request"
              % (op["name"], c["policy"]), "policy %s, spec %s" % (sorted(table), sorted(want)))
        check(c["admin"] == ("admin-perm" in op.get("flags", [])),
              "%s admin-perm matches GENL_ADMIN_PERM" % op["name"])
        check(c["dump"] == ("dump" in op), "%s dump matches .dumpit" % op["name"])
        for a, text in sorted(table.items()):
            if a in attrs:
                ok, why = same_policy(attrs[a], text)
                check(ok, "%s %s type and checks" % (op["name"], a), why)
    for a, text in sorted(tables.get("georep_nl_key_policy", {}).items()):
        ok, why = same_policy(key_attrs[a], text)
        check(ok, "key %s type and checks" % a, why)
    check(set(tables.get("georep_nl_key_policy", {})) == set(key_attrs),
          "key policy covers every key attribute")

    print("KTAP version 1")
    print("1..%d" % len(results))
    for i, (ok, name, why) in enumerate(results, 1):
        if not ok and why:
            print("# " + why)
        print("%s %d %s" % ("ok" if ok else "not ok", i, name))
    return 0 if all(ok for ok, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
