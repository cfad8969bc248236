#!/usr/bin/env python3
"""tests/httpd/server.py: the loopback HTTP server the fetch tests and benchmarks talk to.

Serves the files under --root on 127.0.0.1 (ephemeral port, printed as "PORT <n>" on the first
line of stdout) with faults chosen per request in the query string:

  drop=N        close the connection after N body bytes, on the first request for this URL only
  truncate=N    every response ends at file offset N although the full length is announced
  corrupt=N     flip the byte at file offset N
  len=+K|-K     announce a Content-Length K bytes off (body unchanged)
  stall=N       stop sending for stall_sec seconds (default 30) after N bytes, first request only
  norange=1     ignore Range requests (answer 200 with the whole file)
  status=CODE   answer CODE with a short body
  rate=BPS      pace the body at BPS bytes per second

Fixed paths: /redirect-loop (redirects to itself), /redirect-file (redirects to file://),
/redirect?to=URL, and /_log (JSON list of the requests seen: path, range, status) so tests can
check that a resume really asked for the rest. Range requests "bytes=N-" are honoured.
--redirect /from=/to adds a redirect (scripts/update-pins tests use it for the channel URL);
--tls CERT KEY serves https instead (the TLS tests use a throwaway self-signed certificate).
--auth USER:PASS answers 401 to a request without that basic-auth credential, and
--require-query KEY=VALUE answers 403 to one whose query lacks it (a mirror's access token): the
secret-URL tests prove the credentials were used, not only that they were hidden. A value
@FILE is read from FILE, so that the secret is on no command line but the agent's.
It only ever binds 127.0.0.1. It is a test double for the real mirrors, nothing more.
"""
import argparse
import base64
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CHUNK = 64 * 1024


class State:
    def __init__(self, root, redirects, auth=None, require_query=None):
        self.root = os.path.realpath(root)
        self.redirects = redirects
        self.auth = "Basic " + base64.b64encode(auth.encode()).decode() if auth else None
        self.require_query = require_query.split("=", 1) if require_query else None
        self.lock = threading.Lock()
        self.seen = {}  # url -> times requested
        self.log = []

    def first_time(self, url):
        with self.lock:
            n = self.seen.get(url, 0)
            self.seen[url] = n + 1
            return n == 0

    def record(self, entry):
        with self.lock:
            self.log.append(entry)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nmmm-test-httpd"

    def log_message(self, fmt, *args):  # quiet: tests read /_log instead
        pass

    @property
    def state(self):
        return self.server.state

    def simple(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self, to):
        self.simple(302, b"", [("Location", to)])

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        rng = self.headers.get("Range")
        entry = {"path": self.path, "range": rng, "status": None}
        self.state.record(entry)
        if url.path == "/_log":
            entry["status"] = 200
            return self.simple(200, json.dumps(self.state.log[:-1]).encode(), [("Content-Type", "application/json")])
        if self.state.auth and self.headers.get("Authorization") != self.state.auth:
            entry["status"] = 401
            return self.simple(401, b"credentials required\n", [("WWW-Authenticate", 'Basic realm="mirror"')])
        if self.state.require_query and q.get(self.state.require_query[0]) != self.state.require_query[1]:
            entry["status"] = 403
            return self.simple(403, b"token required\n")
        if url.path == "/redirect-loop":
            entry["status"] = 302
            return self.redirect("/redirect-loop")
        if url.path == "/redirect-file":
            entry["status"] = 302
            return self.redirect("file:///etc/hostname")
        if url.path == "/redirect" and "to" in q:
            entry["status"] = 302
            return self.redirect(q["to"])
        if url.path in self.state.redirects:
            entry["status"] = 302
            return self.redirect(self.state.redirects[url.path])
        if "status" in q:
            entry["status"] = int(q["status"])
            return self.simple(int(q["status"]), b"injected failure\n")
        path = os.path.realpath(os.path.join(self.state.root, url.path.lstrip("/")))
        if os.path.isdir(path) and (path + os.sep).startswith(self.state.root + os.sep):
            entry["status"] = 200  # a release directory, as the channel redirect leads to one
            return self.simple(200, "\n".join(sorted(os.listdir(path))).encode() + b"\n")
        if not path.startswith(self.state.root + os.sep) or not os.path.isfile(path):
            entry["status"] = 404
            return self.simple(404, b"not found\n")
        self.send_file(path, q, rng, entry)

    def send_file(self, path, q, rng, entry):
        size = os.path.getsize(path)
        first = self.state.first_time(self.path)
        start = 0
        if rng and "norange" not in q and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
        if start > size:
            entry["status"] = 416
            return self.simple(416, b"", [("Content-Range", "bytes */%d" % size)])
        length = size - start
        announced = length + int(q.get("len", "0"))
        entry["status"] = 206 if start else 200
        self.send_response(entry["status"])
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "none" if "norange" in q else "bytes")
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        if self.command == "HEAD":
            return
        end = size
        if "truncate" in q:
            end = min(end, int(q["truncate"]))
        if "len" in q and int(q["len"]) < 0:
            end = min(end, start + announced)  # a short Content-Length ends the body early
        drop_at = start + int(q["drop"]) if "drop" in q and first else None
        stall_at = int(q["stall"]) if "stall" in q and first else None
        corrupt = int(q["corrupt"]) if "corrupt" in q else None
        rate = float(q["rate"]) if "rate" in q else None
        self.stream(path, start, end, drop_at, stall_at, float(q.get("stall_sec", "30")), corrupt, rate)
        if end < size or drop_at is not None or "len" in q:
            # a broken server hangs up after its (wrong) body
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

    def stream(self, path, pos, end, drop_at, stall_at, stall_sec, corrupt, rate):
        t0, sent = time.monotonic(), 0
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                while pos < end:
                    limit = end
                    for mark in (drop_at, stall_at):
                        if mark is not None and mark > pos:
                            limit = min(limit, mark)
                    data = bytearray(f.read(min(CHUNK, limit - pos)))
                    if corrupt is not None and pos <= corrupt < pos + len(data):
                        data[corrupt - pos] ^= 0xFF
                    self.wfile.write(data)
                    pos += len(data)
                    sent += len(data)
                    if rate:
                        ahead = sent / rate - (time.monotonic() - t0)
                        if ahead > 0:
                            time.sleep(ahead)
                    if drop_at is not None and pos >= drop_at:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if stall_at is not None and pos >= stall_at:
                        self.wfile.flush()
                        time.sleep(stall_sec)
                        stall_at = None
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--redirect", action="append", default=[], metavar="/FROM=/TO")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve https with this certificate")
    ap.add_argument("--auth", metavar="USER:PASS", help="require this basic-auth credential")
    ap.add_argument("--require-query", metavar="KEY=VALUE", help="require this query parameter")
    args = ap.parse_args()
    redirects = dict(r.split("=", 1) for r in args.redirect)
    for name in ("auth", "require_query"):
        value = getattr(args, name)
        if value and value.startswith("@"):
            with open(value[1:]) as f:
                setattr(args, name, f.read().strip())
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.root, redirects, args.auth, args.require_query)
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
