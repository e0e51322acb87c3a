#!/usr/bin/env python3
"""A server of another kind for cli_test.sh: its JSON has the fields troupe reads, in other
types. `troupe drain --url http://HOST:PORT/CASE` asks /CASE/cluster/drain, then polls
/CASE/cluster, whose answer is CLUSTER[CASE]; `troupe bench serve` finds /v1/models' `data` an
object and every streamed event's `choices` a number. Prints its port, then serves until
killed."""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def node(**fields):
    return {"name": "n1", "connected": True, "draining": True, "outstanding": 0, "running": 0,
            **fields}


CLUSTER = {
    "outstanding-a-string": {"nodes": [node(outstanding="0")]},
    "name-a-number": {"nodes": [node(name=7)]},
    "node-a-string": {"nodes": ["n1"]},
    "nodes-an-object": {"nodes": {"n1": node()}},
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # bench serve keeps its connection

    def log_message(self, *args):
        pass

    def reply(self, body, content_type="application/json"):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":
            return self.reply(json.dumps({"object": "list", "data": {"id": "m"}}))
        case = self.path.split("/")[1]
        self.reply(json.dumps(CLUSTER[case]))

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/v1/completions":
            return self.reply('data: {"choices": 5}\n\ndata: [DONE]\n\n', "text/event-stream")
        self.reply(json.dumps({"node": "n1"}))


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
