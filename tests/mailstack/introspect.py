"""Loopback OAuth 2 token introspection (RFC 7662) for the test Dovecot.

A token is active while it is a line `TOKEN USER` in the tokens file, so a
test makes a token expire by removing its line.

    python3 introspect.py PORT TOKENS_FILE
"""
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer


class Introspection(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        token = (form.get("token") or [""])[0]
        users = {}
        with open(sys.argv[2]) as tokens:
            for line in tokens:
                parts = line.split()
                if len(parts) == 2:
                    users[parts[0]] = parts[1]
        answer = {"active": True, "username": users[token]} if token in users else {"active": False}
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Introspection).serve_forever()
