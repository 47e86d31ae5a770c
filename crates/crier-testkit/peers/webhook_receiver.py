"""A webhook receiver for Crier's tests that verifies every delivery with the official
`standardwebhooks` library, unchanged.

Prints `PORT <n>` once listening on 127.0.0.1. Control:
  POST /_control {"secrets": [...], "statuses": [...], "delay": s, "headers": {...}}
      every delivery must verify with EACH listed secret; the next deliveries are answered with
      the listed statuses in turn (200 once they run out), after `delay` seconds, with `headers`.
  GET /_received -> [{"id", "timestamp", "verified", "errors", "status", "body"}]
Any other POST is a delivery.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

lock = threading.Lock()
state = {"secrets": [], "statuses": [], "delay": 0.0, "headers": {}, "received": []}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_received":
            with lock:
                body = json.dumps(state["received"]).encode()
            self.reply(200, body)
        else:
            self.reply(404)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if self.path == "/_control":
            config = json.loads(body)
            with lock:
                for key in ("secrets", "statuses", "delay", "headers"):
                    if key in config:
                        state[key] = config[key]
            self.reply(204)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        with lock:
            secrets = list(state["secrets"])
            status = state["statuses"].pop(0) if state["statuses"] else 200
            delay = state["delay"]
            headers_out = dict(state["headers"])
        errors = []
        if not secrets:
            errors.append("the receiver has no secret to verify with")
        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers)
            except Exception as err:  # the library's verification error, whatever its class
                errors.append(f"{type(err).__name__}: {err}")
        record = {
            "id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signatures": headers.get("webhook-signature", ""),
            "verified": not errors,
            "errors": errors,
            "status": status,
            "path": self.path,
            "body": json.loads(body) if body else None,
        }
        with lock:
            state["received"].append(record)
        if delay:
            time.sleep(delay)
        self.reply(status, b'{"ok": true}', headers_out)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"PORT {server.server_address[1]}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
