"""A local PagerDuty stand-in for the demo (NOT the real service).

Answers like PagerDuty's REST API v2 with the examples of its official description
(tests/specs/pagerduty-rest-v2.openapi.json): incident PT4KHLK (acknowledged, service PIJ90N7),
its notes, and adding a note. Checks what the real API requires (token, the v2 Accept media
type, the From header on writes). Prism's own mock cannot play this part: the description
declares `application/json` responses, so Prism answers 406 to the v2 Accept header real
clients send.

    python3 pagerduty_standin.py PORT
"""
import json
import pathlib
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SPEC = pathlib.Path(__file__).resolve().parents[2] / "tests/specs/pagerduty-rest-v2.openapi.json"
PATHS = json.loads(SPEC.read_text())["paths"]


def example(path, method, status):
    content = PATHS[path][method]["responses"][status]["content"]["application/json"]
    return content["examples"]["response"]["value"]


INCIDENT = example("/incidents/{id}", "get", "200")
NOTES = example("/incidents/{id}/notes", "get", "200")
NOTE = example("/incidents/{id}/notes", "post", "200")
ACCEPT = "application/vnd.pagerduty+json;version=2"


class StandIn(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def checked(self):
        if not (self.headers.get("Authorization") or "").startswith("Token token="):
            self.answer(401, {"error": {"message": "Unauthorized", "code": 2006}})
            return False
        if self.headers.get("Accept") != ACCEPT:
            self.answer(406, {"error": {"message": "Not Acceptable"}})
            return False
        return True

    def do_GET(self):
        if not self.checked():
            return
        incident_id = INCIDENT["incident"]["id"]
        if self.path == f"/incidents/{incident_id}":
            self.answer(200, INCIDENT)
        elif self.path == f"/incidents/{incident_id}/notes":
            self.answer(200, NOTES)
        else:
            self.answer(404, {"error": {"message": "Not Found", "code": 2100}})

    def do_POST(self):
        if not self.checked():
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.headers.get("From"):
            self.answer(400, {"error": {"message": "Requester User Not Found", "code": 2100}})
            return
        note = json.loads(json.dumps(NOTE))
        note["note"]["content"] = body.get("note", {}).get("content", "")
        print(f"PagerDuty stand-in: note added: {note['note']['content']!r}", file=sys.stderr)
        self.answer(200, note)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), StandIn).serve_forever()
