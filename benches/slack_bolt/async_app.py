"""The fastest served form of the slack-bolt baseline (benches/slack_ack.rs): bolt's AsyncApp
acknowledging the /pitcrew slash command, with `process_before_response=True` (the ack is the
HTTP response), through bolt's Starlette adapter, served by uvicorn:

    SLACK_SIGNING_SECRET=... uvicorn --workers 2 async_app:api

Like app.py, `authorize` is given so that bolt never calls Slack (there is no network here);
the signature check, body parsing and routing are bolt's unchanged.
"""
import logging
import os

from slack_bolt.async_app import AsyncApp
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

logging.basicConfig(level=logging.WARNING)


async def authorize(enterprise_id, team_id, user_id):
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-bench", bot_user_id="U0BOT", bot_id="B0BOT")


app = AsyncApp(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    authorize=authorize,
    process_before_response=True,
)


@app.command("/pitcrew")
async def pitcrew(ack):
    await ack()


handler = AsyncSlackRequestHandler(app)


async def commands(req: Request):
    return await handler.handle(req)


api = Starlette(routes=[Route("/slack/commands", endpoint=commands, methods=["POST"])])
