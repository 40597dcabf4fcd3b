"""The baseline of benches/slack_ack.rs: a minimal slack-bolt app that verifies Slack's v0
signature (bolt's RequestVerification middleware, on by default) and acknowledges the
/pitcrew slash command. Served two ways:

    python app.py PORT SIGNING_SECRET     bolt's own built-in server (App.start)
    SLACK_SIGNING_SECRET=... gunicorn -w 2 -k gthread --threads 8 app:application
                                          bolt's WSGI adapter under gunicorn, for production

`authorize` is given so that bolt never calls Slack's auth.test (there is no network here);
the signature check, body parsing and routing are bolt's unchanged.
"""
import logging
import os
import sys

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult

logging.basicConfig(level=logging.WARNING)


def authorize(enterprise_id, team_id, user_id):
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-bench", bot_user_id="U0BOT", bot_id="B0BOT")


secret = sys.argv[2] if __name__ == "__main__" else os.environ["SLACK_SIGNING_SECRET"]
app = App(signing_secret=secret, authorize=authorize, token_verification_enabled=False)


@app.command("/pitcrew")
def pitcrew(ack):
    ack()


if __name__ != "__main__":
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    _wsgi = SlackRequestHandler(app, path="/slack/commands")


def application(environ, start_response):
    """The WSGI entry point gunicorn serves."""
    return _wsgi(environ, start_response)


if __name__ == "__main__":
    print(f"listening on http://127.0.0.1:{sys.argv[1]}", flush=True)
    app.start(port=int(sys.argv[1]), path="/slack/commands")
