"""A webhook receiver on 127.0.0.1 for scripts/ci/rehearse.sh: it stands in
for Slack's incoming webhook, answers every POST with 200 and records it.

    python3 scripts/ci/receiver.py DIR

Writes the port it listens on to DIR/port, and each request, as a line of
JSON (`path` and the `body` parsed), to DIR/requests.jsonl.
"""

import http.server
import json
import os
import sys


class Recorder(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        with open(os.path.join(self.server.dir, "requests.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps({"path": self.path, "body": parsed}) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format, *args):
        pass


def main(dir):
    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    server.dir = dir
    open(os.path.join(dir, "requests.jsonl"), "a").close()
    with open(os.path.join(dir, "port.tmp"), "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(os.path.join(dir, "port.tmp"), os.path.join(dir, "port"))
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
