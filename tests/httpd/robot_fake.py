#!/usr/bin/env python3
"""tests/httpd/robot_fake.py: a loopback stand-in for Hetzner's Robot webservice
(robot-ws.your-server.de), which cannot be reached from tests. It follows the webservice as
Hetzner documents it (robot.hetzner.com/doc/webservice/en.html; the endpoints, wrappers and
errors that nmmm uses are listed in docs/provision.md): HTTP Basic auth, form-encoded POST
bodies, every answer object wrapped in its type ({"server": {...}}), errors as
{"error": {"status", "code", "message", ...}}.

Endpoints: GET /server, GET /server/N, GET|POST|DELETE /boot/N/rescue, GET|POST /reset/N,
GET|POST /key. State is kept while it runs: keys registered (fingerprint = MD5 of the key blob,
colon hex, as Robot computes it), the rescue of each server (a reset boots it and so ends the
activation), resets done, manual resets pending, and a log of every request.

Command line (faults included):
  --user U --password P   the web service credentials it accepts (or ROBOT_FAKE_USER /
                          ROBOT_FAKE_PASSWORD; a value @FILE is read from FILE's first line)
  --server N              a server of the account (repeatable; default 321): IPv4 203.0.113.x,
                          IPv6 net 2001:db8:0:N:: (documentation prefixes)
  --ipv6-only             server_ip is null (servers delivered without an IPv4 since 2022-03)
  --reset-types hw,man    the reset types offered (default sw,hw,man)
  --manual-reset-active   POST /reset answers 409 RESET_MANUAL_ACTIVE
  --rate-limit-once S     the first request answers 403 RATE_LIMIT_EXCEEDED with interval S
  --rate-limit-always S   every request does
  --fail [METHOD ]PATH=STATUS[:CODE]  that request answers STATUS with error CODE (repeatable);
                          without CODE the body is plain text, not JSON (a maintenance page)
  --rescue-host-key-fp FP the rescue's host key fingerprints (repeatable)
  --rescue-password-file F  the rescue password handed out (default: a random one)
  --on-reset CMD          run CMD (a shell command; ROBOT_FAKE_SERVER, ROBOT_FAKE_RESET_TYPE in
                          its environment) when a reset is accepted: a stand-in server "reboots"
  --rescue-until-boot     a reset leaves the activation alone: the stand-in server's next boot
                          ends it (POST /_fake/boot), as Robot's lasts for exactly one boot
  --port-file F           write the port there (else "PORT <n>" on stdout)

Control endpoints (no auth, not logged): GET /_fake/log (the requests: method, path, form as
[name, value] pairs, authorized_key as parsed, status), GET /_fake/state, POST /_fake/set with
the form fields rate_limit_once=S, manual_reset_active=0|1, reset_types=a,b, fail=SPEC, and
POST /_fake/boot server=N (a stand-in server powers on: {"rescue": true} when the rescue was
active, which that boot ends; {"rescue": false} otherwise).

It binds 127.0.0.1 only, on an ephemeral port. It is a test double, nothing more.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

RESCUE_OS = ["linux", "vkvm"]
KEY_TYPES = {"ssh-ed25519": "ED25519", "ssh-rsa": "RSA", "ecdsa-sha2-nistp256": "ECDSA",
             "ecdsa-sha2-nistp384": "ECDSA", "ecdsa-sha2-nistp521": "ECDSA"}


class Invalid(Exception):
    """An answer other than success: status, code and the extra fields of the error object."""

    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def secret_value(value, env):
    value = value if value is not None else os.environ.get(env)
    if value and value.startswith("@"):
        with open(value[1:], encoding="utf-8") as f:
            value = f.readline().rstrip("\n")
    return value


def parse_fail(spec):
    target, _, answer = spec.partition("=")
    method, _, path = target.rpartition(" ")
    status, _, code = answer.partition(":")
    return (method or None, path), (int(status), code or None)


def key_facts(data):
    """(type, size, MD5 colon fingerprint) of an OpenSSH public key line, or None."""
    fields = data.split()
    if len(fields) < 2 or fields[0] not in KEY_TYPES:
        return None
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except ValueError:
        return None
    if len(blob) < 4 or blob[4:4 + int.from_bytes(blob[:4], "big")].decode(errors="replace") != fields[0]:
        return None
    kind = KEY_TYPES[fields[0]]
    size = 256 if kind == "ED25519" else rsa_bits(blob) if kind == "RSA" else int(fields[0][-3:])
    md5 = hashlib.md5(blob).hexdigest()
    return kind, size, ":".join(md5[i:i + 2] for i in range(0, 32, 2))


def rsa_bits(blob):
    """Bits of the modulus: string "ssh-rsa", mpint e, mpint n."""
    at = 0
    for _ in range(2):
        at += 4 + int.from_bytes(blob[at:at + 4], "big")
    n_len = int.from_bytes(blob[at:at + 4], "big")
    return int.from_bytes(blob[at + 4:at + 4 + n_len], "big").bit_length()


def authorized_keys(form):
    """The fingerprints of authorized_key[]=, authorized_key[N]= and bare authorized_key=, in order
    (indexed ones by their index)."""
    found = []
    for pos, (name, value) in enumerate(form):
        m = re.fullmatch(r"authorized_key(?:\[(\d*)\])?", name)
        if m:
            index = int(m.group(1)) if m.group(1) else None
            found.append((index if index is not None else pos, pos, value))
    if any(re.fullmatch(r"authorized_key\[\d+\]", n) for n, _ in form):
        found.sort()
    return [v for _, _, v in found]


class Fake:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.user = secret_value(args.user, "ROBOT_FAKE_USER")
        self.password = secret_value(args.password, "ROBOT_FAKE_PASSWORD")
        if not self.user or not self.password:
            sys.exit("robot_fake: give --user and --password (or ROBOT_FAKE_USER / ROBOT_FAKE_PASSWORD)")
        self.ipv6_only = args.ipv6_only
        self.servers = {n: self.server_facts(n) for n in (args.server or [321])}
        self.reset_types = args.reset_types.split(",")
        self.manual_reset_active = args.manual_reset_active
        self.rate_limit_once = args.rate_limit_once
        self.rate_limit_always = args.rate_limit_always
        self.fail = dict(parse_fail(s) for s in args.fail or [])
        self.host_keys = args.rescue_host_key_fp or []
        self.rescue_password_file = args.rescue_password_file
        self.on_reset = args.on_reset
        self.rescue_until_boot = args.rescue_until_boot
        self.keys = []
        self.rescue = {}
        self.resets = []
        self.log = []
        self.children = []

    def server_facts(self, n):
        return {"server_ip": None if self.ipv6_only else "203.0.113.%d" % (n % 250 + 1),
                "server_ipv6_net": "2001:db8:0:%d::" % (n % 10000), "server_number": n,
                "server_name": "server-%d" % n, "product": "AX42", "dc": "FSN1-DC18", "traffic": "unlimited",
                "status": "ready", "cancelled": False, "paid_until": "2027-01-31"}

    # ---- answers ----

    def server(self, n):
        if n not in self.servers:
            raise Invalid(404, "SERVER_NOT_FOUND", "Server with id %d not found" % n)
        return self.servers[n]

    def rescue_shape(self, n):
        s, r = self.server(n), self.rescue.get(n)
        base = {"server_ip": s["server_ip"], "server_ipv6_net": s["server_ipv6_net"], "server_number": n}
        if not r:
            return dict(base, os=RESCUE_OS, arch=[64], active=False, password=None, authorized_key=[],
                        host_key=[], boot_time=None)
        return dict(base, os=r["os"], arch=64, active=True, password=r["password"],
                    authorized_key=[{"key": k} for k in r["keys"]],
                    host_key=[{"key": {"fingerprint": fp, "type": "ED25519", "size": 256}}
                              for fp in self.host_keys],
                    boot_time=None)

    def rescue_password(self):
        if self.rescue_password_file:
            with open(self.rescue_password_file, encoding="utf-8") as f:
                return f.readline().rstrip("\n")
        return secrets.token_urlsafe(12)

    def activate_rescue(self, n, form):
        self.server(n)
        fields = dict(form)
        os_name = fields.get("os")
        if not os_name:
            raise Invalid(400, "INVALID_INPUT", "invalid input", missing=["os"], invalid=None)
        wanted = authorized_keys(form)
        known = {k["fingerprint"]: k for k in self.keys}
        bad = ["os"] if os_name not in RESCUE_OS else []
        if any(fp not in known for fp in wanted):
            bad.append("authorized_key")
        if bad:
            raise Invalid(400, "INVALID_INPUT", "invalid input", missing=None, invalid=bad)
        keys = [{k: known[fp][k] for k in ("name", "fingerprint", "type", "size")} for fp in wanted]
        self.rescue[n] = {"os": os_name, "password": self.rescue_password(), "keys": keys}
        return {"rescue": self.rescue_shape(n)}

    def reset_shape(self, n, types):
        s = self.server(n)
        return {"reset": {"server_ip": s["server_ip"], "server_ipv6_net": s["server_ipv6_net"],
                          "server_number": n, "type": types, "operating_status": "running"}}

    def reset(self, n, form):
        self.server(n)
        kind = dict(form).get("type")
        if not kind:
            raise Invalid(400, "INVALID_INPUT", "invalid input", missing=["type"], invalid=None)
        if kind not in self.reset_types:
            raise Invalid(400, "INVALID_INPUT", "invalid input", missing=None, invalid=["type"])
        if self.manual_reset_active:
            raise Invalid(409, "RESET_MANUAL_ACTIVE", "There is already a running manual reset")
        self.resets.append({"server": n, "type": kind})
        if not self.rescue_until_boot:
            self.rescue.pop(n, None)  # the activation lasts for the next boot, which this is
        if kind == "man":
            self.manual_reset_active = True
        if self.on_reset:
            env = dict(os.environ, ROBOT_FAKE_SERVER=str(n), ROBOT_FAKE_RESET_TYPE=kind)
            self.children.append(subprocess.Popen(self.on_reset, shell=True, env=env))
        return self.reset_shape(n, kind)

    def add_key(self, form):
        fields = dict(form)
        missing = [f for f in ("name", "data") if not fields.get(f)]
        if missing:
            raise Invalid(400, "INVALID_INPUT", "invalid input", missing=missing, invalid=None)
        facts = key_facts(fields["data"])
        if not facts:
            raise Invalid(400, "INVALID_INPUT", "invalid input", missing=None, invalid=["data"])
        kind, size, fp = facts
        if any(k["fingerprint"] == fp for k in self.keys):
            raise Invalid(409, "KEY_ALREADY_EXISTS", "The key already exists")
        key = {"name": fields["name"], "fingerprint": fp, "type": kind, "size": size,
               "data": fields["data"], "created_at": "2026-12-01 12:00:00"}
        self.keys.append(key)
        return 201, {"key": key}

    def list_keys(self):
        if not self.keys:
            raise Invalid(404, "NOT_FOUND", "No keys found")
        return [{"key": k} for k in self.keys]

    def route(self, method, path, form):
        """(status, body) of an authenticated request."""
        m = re.fullmatch(r"/(server|boot|reset|key)(?:/(\d+))?(/rescue)?", path)
        if not m or (m.group(1) == "boot") != bool(m.group(3)) or (m.group(1) == "boot" and not m.group(2)):
            raise Invalid(404, "NOT_FOUND", "Not found")
        what, n = m.group(1), int(m.group(2)) if m.group(2) else None
        if what == "server" and method == "GET":
            if n is None:
                return 200, [{"server": s} for s in self.servers.values()]
            return 200, {"server": dict(self.server(n), reset=True, rescue=True, vnc=True, windows=False)}
        if what == "boot" and method == "GET":
            return 200, {"rescue": self.rescue_shape(n)}
        if what == "boot" and method == "POST":
            return 200, self.activate_rescue(n, form)
        if what == "boot" and method == "DELETE":
            self.server(n)
            self.rescue.pop(n, None)
            return 200, {"rescue": self.rescue_shape(n)}
        if what == "reset" and n is not None and method == "GET":
            return 200, self.reset_shape(n, self.reset_types)
        if what == "reset" and n is not None and method == "POST":
            return 200, self.reset(n, form)
        if what == "key" and n is None and method == "GET":
            return 200, self.list_keys()
        if what == "key" and n is None and method == "POST":
            return self.add_key(form)
        raise Invalid(404, "NOT_FOUND", "Not found")

    def fault(self, method, path):
        """A rate limit or an injected failure for this request, or None."""
        if self.rate_limit_always or self.rate_limit_once:
            interval = self.rate_limit_always or self.rate_limit_once
            self.rate_limit_once = 0
            return Invalid(403, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded", max_request=200, interval=interval)
        hit = self.fail.get((method, path)) or self.fail.get((None, path))
        if hit:
            return Invalid(hit[0], hit[1], "injected failure")
        return None

    def control(self, method, path, form):
        if path == "/_fake/log":
            return 200, self.log
        if path == "/_fake/state":
            return 200, {"keys": self.keys, "rescue": {str(n): self.rescue_shape(n) for n in self.servers},
                         "resets": self.resets, "manual_reset_active": self.manual_reset_active}
        if path == "/_fake/boot" and method == "POST":
            n = int(dict(form).get("server", "0"))
            return 200, {"rescue": self.rescue.pop(n, None) is not None}
        if path == "/_fake/set" and method == "POST":
            for name, value in form:
                if name == "rate_limit_once":
                    self.rate_limit_once = int(value)
                elif name == "manual_reset_active":
                    self.manual_reset_active = value == "1"
                elif name == "reset_types":
                    self.reset_types = value.split(",")
                elif name == "fail":
                    self.fail.update([parse_fail(value)])
            return 200, {"ok": True}
        return 404, {"error": {"status": 404, "code": "NOT_FOUND", "message": "no such control"}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Robot's front end: the client reuses its connection
    server_version = "robot-fake"
    fake = None

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body):
        """JSON, or bytes as plain text (a maintenance page)."""
        text = isinstance(body, bytes)
        data = body if text else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        want = "Basic " + base64.b64encode(("%s:%s" % (self.fake.user, self.fake.password)).encode()).decode()
        return self.headers.get("Authorization") == want

    def handle_any(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        path = urlsplit(self.path).path
        form = parse_qsl(body, keep_blank_values=True)
        fake = self.fake
        with fake.lock:
            if path.startswith("/_fake/"):
                self.answer(*fake.control(method, path, form))
                return
            entry = {"method": method, "path": path, "form": form, "authorized_key": authorized_keys(form),
                     "content_type": self.headers.get("Content-Type")}
            fake.log.append(entry)
            try:
                if not self.authorized():
                    raise Invalid(401, "UNAUTHORIZED", "Unauthorized")
                err = fake.fault(method, path)
                if err:
                    raise err
                status, out = fake.route(method, path, form)
            except Invalid as e:
                status = e.status
                out = {"error": dict({"status": e.status, "code": e.code, "message": e.message}, **e.extra)}
                if e.code is None:
                    out = b"Service temporarily unavailable (maintenance)\n"
            entry["status"] = status
            self.answer(status, out)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--server", type=int, action="append")
    p.add_argument("--ipv6-only", action="store_true")
    p.add_argument("--reset-types", default="sw,hw,man")
    p.add_argument("--manual-reset-active", action="store_true")
    p.add_argument("--rate-limit-once", type=int, default=0, metavar="SECONDS")
    p.add_argument("--rate-limit-always", type=int, default=0, metavar="SECONDS")
    p.add_argument("--fail", action="append", metavar="[METHOD ]PATH=STATUS[:CODE]")
    p.add_argument("--rescue-host-key-fp", action="append", metavar="FP")
    p.add_argument("--rescue-password-file")
    p.add_argument("--on-reset", metavar="CMD")
    p.add_argument("--rescue-until-boot", action="store_true")
    p.add_argument("--port-file")
    args = p.parse_args()
    Handler.fake = Fake(args)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    else:
        print("PORT %d" % port, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    for child in Handler.fake.children:
        child.wait()


if __name__ == "__main__":
    main()
