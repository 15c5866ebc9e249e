#!/usr/bin/env python3
"""A tiny threaded HTTP/1.1 echo server (stdlib only) used as the demo/e2e upstream.

Every request is answered 200 with a JSON body
    {"method": ..., "path": ..., "headers": {lower-case name: value | [values if repeated]}}
and, with --log FILE, its request line ("METHOD PATH") is appended to FILE, so tests can
check which requests reached the upstream.

Usage: echo-upstream.py [--host 127.0.0.1] [--log FILE] PORT
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "echo-upstream/1"
    log_file = None
    log_lock = threading.Lock()

    def _echo(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        headers = {}
        for name, value in self.headers.items():
            key = name.lower()
            if key in headers:
                previous = headers[key]
                headers[key] = (previous if isinstance(previous, list) else [previous]) + [value]
            else:
                headers[key] = value
        body = json.dumps(
            {"method": self.command, "path": self.path, "headers": headers},
            indent=2,
            sort_keys=True,
        ).encode() + b"\n"
        if self.log_file:
            with self.log_lock, open(self.log_file, "a", encoding="utf-8") as f:
                f.write(f"{self.command} {self.path}\n")
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _echo

    def log_message(self, format, *args):  # noqa: A002 - keep stderr quiet
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--log", help="append each request line to this file")
    args = parser.parse_args()
    EchoHandler.log_file = args.log
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.host, args.port), EchoHandler)
    print(f"echo-upstream listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
