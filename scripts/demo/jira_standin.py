"""A local Jira Cloud stand-in for the demo (NOT the real service).

Answers like Jira's REST API v3 with the examples of its official description
(tests/specs/jira-cloud-platform.openapi-v3.json), adjusted field by field for the demo's one
change ticket: CHG-42 "Release checkout 1.3.0 to prod", type Change, status Approved. Serves
its comments and takes new ones (printed to stderr, which the demo shows). Checks what the
real API requires: basic authentication with an email and an API token.

    python3 jira_standin.py PORT
"""
import base64
import json
import pathlib
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SPEC = pathlib.Path(__file__).resolve().parents[2] / "tests/specs/jira-cloud-platform.openapi-v3.json"
PATHS = json.loads(SPEC.read_text())["paths"]


def example(path, method, status):
    content = PATHS[path][method]["responses"][status]["content"]["application/json"]
    value = content.get("example")
    if value is None:
        value = content["examples"]["response"]["value"]
    # Jira's description keeps its examples as JSON inside a string.
    return json.loads(value) if isinstance(value, str) else value


ISSUE = example("/rest/api/3/issue/{issueIdOrKey}", "get", "200")
ISSUE["key"] = "CHG-42"
ISSUE["fields"] = {
    "summary": "Release checkout 1.3.0 to prod (fixes the 1.2.0 payment timeouts)",
    "status": {"name": "Approved", "id": "10001", "statusCategory": {"key": "indeterminate", "name": "In Progress", "id": 4}},
    "issuetype": {"name": "Change", "id": "10002"},
    "project": {"key": "CHG", "id": "10000", "name": "Change management"},
}
COMMENTS = example("/rest/api/3/issue/{issueIdOrKey}/comment", "get", "200")
COMMENTS["comments"] = []
COMMENTS["total"] = 0
CREATED = example("/rest/api/3/issue/{issueIdOrKey}/comment", "post", "201")


def adf_text(node):
    """The plain text of an Atlassian Document Format body: one line per paragraph."""
    if not isinstance(node, dict):
        return ""
    inner = "".join(adf_text(c) for c in node.get("content", []))
    if node.get("type") == "doc":
        return "\n".join(adf_text(c) for c in node.get("content", []))
    return (node.get("text") or "") + inner


class StandIn(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def checked(self):
        auth = self.headers.get("Authorization") or ""
        try:
            user, _, token = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            user, token = "", ""
        if not auth.startswith("Basic ") or not user or not token:
            self.answer(401, {"errorMessages": ["You are not authenticated."]})
            return False
        return True

    def do_GET(self):
        if not self.checked():
            return
        path = self.path.split("?")[0]
        if path == "/rest/api/3/issue/CHG-42":
            self.answer(200, ISSUE)
        elif path == "/rest/api/3/issue/CHG-42/comment":
            self.answer(200, COMMENTS)
        else:
            self.answer(404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]})

    def do_POST(self):
        if not self.checked():
            return
        if self.path.split("?")[0] != "/rest/api/3/issue/CHG-42/comment":
            self.answer(404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]})
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        text = adf_text(body.get("body", {}))
        comment = json.loads(json.dumps(CREATED))
        comment["body"] = body.get("body")
        COMMENTS["comments"].append(comment)
        COMMENTS["total"] = len(COMMENTS["comments"])
        print(f"Jira stand-in: comment added to CHG-42: {text!r}", file=sys.stderr)
        self.answer(201, comment)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), StandIn).serve_forever()
