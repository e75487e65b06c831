#!/usr/bin/env python3
"""Check `muxrun status --json` or `muxrun doctor --json` against the text form taken at the
same moment: the text's lines rebuilt from the JSON fields (docs/status-json.md) must be the
text's own. Prints one summary line; exits 1 with the differences.

  status_json.py status JSON_FILE TEXT_FILE [REASON=COUNT | conn:HOST:PORT:STATE ...]
        (each hand-over reason must appear with that count under one host; a connection
        in that state must be listed)
  status_json.py doctor JSON_FILE TEXT_FILE [FIELD=VALUE ...]
        (FIELD a member's name, or NAME.NAME within an object; VALUE as Python prints it)
"""
import json
import re
import sys

bad = []


def want(cond, what):
    if not cond:
        bad.append(what)


def pair(cs, sc):
    cs, sc = cs or "", sc or ""
    return (cs or "-") + ("/" + sc if cs != sc else "")


def algs_text(a):
    if a is None:
        return "-"
    return "kex %s, host key %s, cipher %s, MAC %s" % (
        a["kex"] or "-", a["host_key"] or "-", pair(a["cipher_cs"], a["cipher_sc"]),
        pair(a["mac_cs"], a["mac_sc"]))


def engine_text(e):
    pq = e["post_quantum_kex"]
    return "libssh2 %s, %s" % (e["version"], "post-quantum key exchange: " + ",".join(pq)
                               if pq else "no post-quantum key exchange")


def status(doc, text, extra):
    lines = text.splitlines()
    want(lines[0] == "muxbroker with " + engine_text(doc["engine"]),
         "engine: %r vs %r" % (lines[0], engine_text(doc["engine"])))
    row = re.compile(r"^(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.*)$")
    rows = [m.groups() for m in map(row.match, lines[2:]) if m]
    for c in doc["connections"]:
        algs = algs_text(c["algorithms"])
        if c["kem_key_pairs_ahead"]:
            algs += ", KEM key pairs made ahead %d" % c["kem_key_pairs_ahead"]
        mine = (c["host"][:28], c["user"][:12] or "", str(c["port"]), c["state"],
                str(c["sessions"]), str(c["total"]), str(c["bytes_in"]), str(c["bytes_out"]))
        got = [r for r in rows if r[:8] == mine and r[9] == algs]
        want(len(got) == 1, "connection %r / %r not in the text's rows %r" % (mine, algs, rows))
        want((c["idle_s"] is None) == (got[0][8] == "-" if got else True), "idle %r" % c["idle_s"])
    want(len(rows) == len(doc["connections"]), "%d rows, %d connections" % (len(rows), len(doc["connections"])))
    counted = [l for l in lines if re.search(r": served \d+, handed to ssh \d+", l)]
    for h in doc["hosts"]:
        line = "%s:%d %s: served %d, handed to ssh %d" % (h["host"], h["port"], h["user"] or "-",
                                                          h["served"], h["handed"])
        if h["reasons"]:
            line += " (" + ", ".join("%s: %d" % (r["reason"], r["count"]) for r in h["reasons"]) + ")"
        want(line in counted, "host line %r not in the text's %r" % (line, counted))
    want(len(counted) == len(doc["hosts"]), "%d host lines, %d hosts" % (len(counted), len(doc["hosts"])))
    fwd = [l for l in lines if re.match(r"^[LDR] ", l)]
    want(len(fwd) == len(doc["forwards"]), "%d forward lines, %d forwards" % (len(fwd), len(doc["forwards"])))
    want(("ROUTED TO" in text) == bool(doc["routes"]), "routes %r" % doc["routes"])
    b = doc["broker"]
    m = re.search(r"^broker pid (\d+), (\d+) connections?,", text, re.M)
    want(m and (int(m.group(1)), int(m.group(2))) == (b["pid"], b["connections"]),
         "broker %r vs %r" % (b, m and m.groups()))
    for r in extra:
        if r.startswith("conn:"):
            host, port, state = r[5:].rsplit(":", 2)
            want(any((c["host"], c["port"], c["state"]) == (host, int(port), state)
                     for c in doc["connections"]), "no %s connection to %s port %s" % (state, host, port))
            continue
        reason, n = r.rsplit("=", 1)
        counts = [x["count"] for h in doc["hosts"] for x in h["reasons"] if x["reason"] == reason]
        want(counts == [int(n)], "reason %r: counts %r, want [%s]" % (reason, counts, n))
    served = sum(h["served"] for h in doc["hosts"])
    handed = sum(h["handed"] for h in doc["hosts"])
    return "%d connection(s), %d host(s): served %d, handed %d" % (
        len(doc["connections"]), len(doc["hosts"]), served, handed)


def doctor(doc, text, extra):
    lines = text.splitlines()
    if "user" in doc:
        want(lines[0] == "destination: %s -> %s@%s port %d" % (doc["destination"], doc["user"],
                                                              doc["host"], doc["port"]),
             "destination line %r" % lines[0])
        r = doc["route"]
        route = {"direct": "route: direct", "proxyjump": "route: ProxyJump %s" % r["via"],
                 "proxycommand": "route: ProxyCommand %s" % r["via"]}[r["kind"]]
        if r["bind_address"]:
            route += ", from " + r["bind_address"]
        elif r["bind_interface"]:
            route += ", from interface " + r["bind_interface"]
        want(lines[1] == route, "route %r vs %r" % (lines[1], route))
    if doc["served"]:
        want("engine: " + engine_text(doc["engine"]) in lines, "engine")
        n = len(doc["open_connections"])
        for o in doc["open_connections"]:
            want("open connection %d of %d: %s" % (o["index"], doc["connection"]["open"],
                                                   algs_text(o["algorithms"])) in lines, "open %r" % o)
            want(o["takes_it"] or "open connection %d of %d does not take it: %s" % (
                o["index"], doc["connection"]["open"], o["reason"]) in lines, "refusal %r" % o)
        c = doc["connection"]
        if c["kind"] == "open":
            s = "served by the broker: yes, sharing open connection %d of %d (%d session%s now, %d so far)" % (
                c["index"], c["open"], c["sessions"], "" if c["sessions"] == 1 else "s", c["total"])
        else:
            s = "served by the broker: yes, on a new connection" + ("" if n else " (none open to this authority)")
    else:
        s = "served by the broker: no, handed to ssh: " + doc["reason"]
    want(lines[-1] == s, "last line %r vs %r" % (lines[-1], s))
    for f in extra:
        k, v = f.split("=", 1)
        got = doc
        for part in k.split("."):  # connection.kind: a member of a member
            got = got.get(part) if isinstance(got, dict) else None
        want(str(got) == v, "%s: %r, want %r" % (k, got, v))
    return "served %s%s" % (doc["served"], ", " + doc["reason"] if doc["reason"] else "")


def main():
    kind, jf, tf = sys.argv[1:4]
    try:
        with open(jf, encoding="utf-8") as f:
            raw = f.read()
        doc = json.loads(raw)
        want(raw.endswith("}\n") and raw.count("\n") == 1, "not one line")
        want(doc.get("format") == 1, "format %r" % doc.get("format"))
        want("truncated" not in doc, "truncated")
        with open(tf, encoding="utf-8") as f:
            text = f.read()
        say = (status if kind == "status" else doctor)(doc, text, sys.argv[4:])
    except (ValueError, KeyError, TypeError, IndexError) as e:
        bad.append("%s: %s" % (type(e).__name__, e))
    if bad:
        print("; ".join(bad)[:1500])
        return 1
    print(say)
    return 0


sys.exit(main())
