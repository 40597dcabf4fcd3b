"""Writes pitcrew's hostile-input corpus (tests/corpus/), checked in as test data.

    python3 scripts/corpus/generate.py

Each file holds inputs that a user, a broken client or an attacker could send; the tests in
tests/integration/hostile.rs feed every one to pitcrew and expect a clear error or a correct
parse, never a panic or a hang. Deterministic: re-running writes the same files.
"""
import json
import pathlib

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests/corpus"

# --- command texts ------------------------------------------------------------------------
names = [
    "checkout", "CHECKOUT", "check_out", "check.out", "-checkout", "checkout-", "a" * 64,
    "a" * 254, "a" * 300, "../etc/passwd", "$(rm -rf /)", "`id`", "x;reboot", "x|cat", "x&&y",
    "ch\u0435ckout",  # Cyrillic e
    "check\u200bout", "check\u202eout", "checkout\u0000", "\u00e9t\u00e9", "💥", "%00", "%2e%2e",
    "deploy/", "/checkout", "deploy//checkout", "pod/checkout", "ds/", "sts/a/b", "deployment/" + "b" * 260,
]
commands = [
    "", " ", "\t", "\n", "\u00a0", "\u3000", "/pitcrew", "/pitcrew ", "pitcrew", "restart",
    "rollback", "promote", "status", "history", "can-i", "audit", "help", "help help",
    "help restart", "help nothing", "restar checkout", "RESTART checkout", "Restart checkout",
    "restart checkout -e", "restart checkout -e ''", "restart checkout -e prod -e staging",
    "restart checkout --env", "restart checkout --namspace x", "restart checkout -n",
    "restart checkout -n -e prod", "restart checkout --reason", "restart checkout --reason ''",
    "restart checkout --reason --dry-run", "restart checkout --reason PT4KHLK --reason PT4KHLK",
    "restart checkout --reason PT4KHLK --break-glass 'down'", "restart checkout --break-glass",
    "restart checkout --break-glass ''", "restart checkout --break-glass \"\"",
    "restart checkout --break-glass \"" + "x" * 5000 + "\"", "restart checkout --dry-run --dry-run",
    "restart checkout --yes", "restart checkout -y", "restart checkout --force",
    "restart checkout extra", "restart a b c", "restart -- checkout", "restart --",
    "restart -e prod", "rollback checkout --to-revision", "rollback checkout --to-revision 0",
    "rollback checkout --to-revision -1", "rollback checkout --to-revision 1.5",
    "rollback checkout --to-revision 99999999999999999999999", "rollback checkout --to-revision ٣",
    "rollback checkout --to-revision 0x10", "rollback checkout --to-revision 2 --to-revision 3",
    "promote checkout", "promote checkout --from staging", "promote checkout --to prod",
    "promote checkout --from prod --to prod", "promote --from staging --to prod",
    "promote checkout --from staging --to prod --reason CHG-42 --dry-run",
    "promote deploy/checkout --from staging --to prod", "status", "status checkout -e prod -n shop-prod",
    "history ds/log-agent -e prod", "can-i", "can-i restart", "can-i explode checkout",
    "can-i restart checkout -e prod", "audit --since", "audit --since 0s", "audit --since -5m",
    "audit --since 99999999999d", "audit --since yesterday", "audit --since 2026-13-45T99:00:00Z",
    "audit --actor", "audit --actor <@U01ALICE>", "audit --actor @alice", "audit --outcome boom",
    "audit --action reboot", "audit --target", "audit --env '*'", "audit --since 24h --since 1h",
    # Slack's escapes and formatting
    "restart &lt;checkout&gt;", "restart checkout &amp;&amp; reboot", "restart <!channel>",
    "restart checkout <!here>", "restart checkout <!everyone>", "restart <@U01ALICE>",
    "restart checkout --reason <https://acme.pagerduty.com/incidents/PT4KHLK|PT4KHLK>",
    "restart checkout --reason <https://evil.example/incidents/PT4KHLK|https://acme.pagerduty.com/incidents/PT4KHLK>",
    "restart checkout --reason <javascript:alert(1)|PT4KHLK>", "restart checkout --reason <file:///etc/passwd>",
    "restart checkout --reason https://acme.pagerduty.com.evil.example/incidents/PT4KHLK",
    "restart checkout --reason https://acme.atlassian.net/browse/CHG-42",
    "restart checkout --reason https://acme.atlassian.net/browse/chg-42", "restart checkout --reason CHG-0",
    "restart checkout --reason A-1", "restart checkout --reason CHG-١٢", "restart checkout --reason ' OR 1=1 --",
    "restart checkout --reason %s%s%s%n", "restart checkout --reason {}{}{}", "restart checkout --reason ${jndi:ldap://x}",
    "restart <#C01INCIDENT|incidents>", "restart checkout <mailto:a@b.c|a@b.c>", "restart *checkout*",
    "restart _checkout_", "restart ~checkout~", "restart `checkout`", "restart ```checkout```",
    # phones: smart quotes, dashes, odd spaces
    "restart checkout —env prod", "restart checkout –e prod", "restart checkout ——env prod",
    "restart checkout --break-glass “pagerduty down”", "restart checkout --break-glass ‘x’",
    "restart checkout --break-glass “unbalanced", "restart checkout --break-glass \"unbalanced",
    "restart\u00a0checkout\u00a0-e\u00a0prod", "restart\u2009checkout", "restart\u200bcheckout",
    "restart checkout\u2028-e prod", "restart checkout\r\n-e prod", "restart checkout\x1b[31m",
    "restart checkout\x07", "restart checkout\x00", "restart \ufeffcheckout", "restart checkout \u202e-e prod",
    "\u202erestart checkout", "ｒｅｓｔａｒｔ checkout", "restart ｃｈｅｃｋｏｕｔ",
    "restart " + " " * 5000 + "checkout", "restart " + "-" * 100, "restart " + "--x " * 500,
    "x" * 100000, "restart " + "checkout " * 1000, "\"" * 1000, "“" * 500, "<" * 1000, "&lt;" * 500,
    "&#60;&#33;channel&#62;", "&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;",
    # scale
    "scale", "scale checkout", "scale checkout --replicas", "scale checkout --replicas -1",
    "scale checkout --replicas 1e3", "scale checkout --replicas 99999999999999999999",
    "scale checkout --replicas ٣", "scale checkout --replicas 0x10", "scale ds/agent --replicas 1",
    "scale checkout --replicas 2 --replicas 3", "scale checkout --hpa", "scale checkout --replicas 0 --hpa",
    "scale checkout --replicas '2'", "scale checkout --replicas “2”", "scale checkout —replicas 2",
    # pause / resume
    "pause", "resume", "pause sts/db", "resume ds/agent", "pause checkout --to-revision 2",
    "pause checkout --reason PT4KHLK --break-glass 'x'", "resume checkout checkout",
    "pause deploy/" + "a" * 300, "pause <@U01ALICE>", "resume checkout --dry-run --dry-run",
    # freeze / unfreeze
    "freeze", "unfreeze", "freeze prod", "freeze prod --for", "freeze prod --until",
    "freeze prod --for 4h --reason", "freeze prod --for 4h --reason ''",
    "freeze prod --for -4h --reason CHG-77", "freeze prod --for 99999999999999d --reason CHG-77",
    "freeze prod --for 4h --for 5h --reason CHG-77", "freeze prod --until 2026-02-30T08:00Z --reason x12",
    "freeze prod --until 2026-12-27T25:00Z --reason CHG-77", "freeze prod --until 9999-12-31T23:59Z --reason CHG-77",
    "freeze prod --until 2026-12-27T08:00+99:00 --reason CHG-77", "freeze prod --until 2026-12-27T08:00Zjunk --reason CHG-77",
    "freeze prod --until 2026-12-27T08:00Z‮ --reason CHG-77", "freeze prod --until ٢٠٢٦-12-27T08:00Z --reason CHG-77",
    "freeze prod --for 4h --reason <!channel>", "freeze prod --for 4h --reason \"<@U01ALICE> says so\"",
    "freeze prod --for 4h --reason \"" + "x" * 600 + "\"", "freeze * --for 4h --reason CHG-77",
    "freeze prod* --for 4h --reason CHG-77", "freeze ../prod --for 4h --reason CHG-77",
    "freeze prod --for 4h --reason CHG-77 --break-glass \"x\"", "unfreeze prod prod", "unfreeze *",
    "unfreeze prod --yes", "freeze prod —for 4h —reason “CHG-77”", "FREEZE PROD --FOR 4H --REASON CHG-77",
    # gitops suspend / resume
    "gitops", "gitops suspend", "gitops resume", "gitops suspend checkout", "gitops pause checkout --for 1h",
    "gitops suspend checkout --for", "gitops suspend checkout --for 0s", "gitops suspend checkout --for -2h",
    "gitops suspend checkout --for 99999999999999d", "gitops suspend checkout --for 8d",
    "gitops suspend checkout --for 2h --for 3h", "gitops resume checkout --for 2h",
    "gitops suspend deploy/checkout --for 1h", "gitops suspend pod/checkout --for 1h",
    "gitops suspend app/ --for 1h", "gitops suspend app/../argocd --for 1h", "gitops suspend ks/a/b --for 1h",
    "gitops suspend app/" + "a" * 300 + " --for 1h", "gitops suspend app/* --for 1h",
    "gitops suspend <@U01ALICE> --for 1h", "gitops suspend app/checkout --for 1h --reason <!channel>",
    "gitops suspend checkout checkout --for 1h", "gitops suspend checkout --for 1h -n ../argocd",
    "gitops suspend checkout —for 2h —reason “CHG-77”", "GITOPS SUSPEND APP/CHECKOUT --FOR 2H",
    "gitops suspend checkout --for 2h --reason PT4KHLK --break-glass 'x'", "restart app/checkout",
    "gitops suspend hr/podinfo --for ٢h", "gitops resume ks/apps\u202e -e prod",
    # Argo Rollouts
    "advance", "abort", "retry", "advance deploy/web", "advance rollout/", "advance rollout/web --full --full",
    "abort rollout/web --full", "retry rollout/web rollout/api", "advance ro/" + "w" * 300,
    "advance rollout/web --to-revision 2", "scale rollout/web --replicas 3", "promote rollout/web --from a --to b",
    "advance rollout/<@U01ALICE>", "abort rollout/web —reason “CHG-1”", "ADVANCE RO/WEB --FULL",
    "rollback rollout/web --to-revision -1", "restart rollouts.argoproj.io/web\u200b",
]
for n in names:
    commands.append(f"restart {n} -e staging")
    commands.append(f"rollback deploy/{n} -e prod --to-revision 2")
for ns in ["shop-prod", "SHOP", "a" * 64, "-x", "x-", "kube-system", "../x", "ns/x"]:
    commands.append(f"status checkout -e prod -n {ns}")
for env in ["prod", "PROD", "pr od", "*", "prod*", "..", "a" * 100, "é"]:
    commands.append(f"restart checkout -e {env}")
(OUT / "commands.jsonl").write_text("".join(json.dumps(c) + "\n" for c in commands))

# --- Slack payloads ---------------------------------------------------------------------
form = "token=x&team_id=T0PITCREW&channel_id=C01INCIDENT&user_id=U01DEV&command=%2Fpitcrew&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fcommands%2F1&trigger_id="
payloads = []
def add(endpoint, content_type, body):
    payloads.append({"endpoint": endpoint, "content_type": content_type, "body": body})
for i, text in enumerate(["help", "status checkout -e staging", "", "%ZZ", "%00", "+" * 100, "a=b=c"]):
    add("commands", "application/x-www-form-urlencoded", form + f"corpus.{i}&text={text}")
for body in ["", "=", "&&&", "text", "team_id=", "team_id=T0PITCREW", "user_id=U01DEV&text=help",
             form.replace("team_id=T0PITCREW", "team_id=T0PITCREW&team_id=T0OTHER") + "dup&text=help",
             form.replace("user_id=U01DEV", "user_id=") + "nouser&text=help",
             form.replace("user_id=U01DEV", "user_id=%3C%21channel%3E") + "badid&text=help",
             form.replace("response_url=http%3A%2F%2F127.0.0.1%3A9%2Fcommands%2F1", "response_url=https%3A%2F%2Fevil.example%2F") + "evil&text=help",
             form.replace("response_url=http%3A%2F%2F127.0.0.1%3A9%2Fcommands%2F1", "response_url=not+a+url") + "bad&text=help",
             form + "long&text=" + "a" * 60000, "\u00ff\u00fe", "\ud7ff"]:
    add("commands", "application/x-www-form-urlencoded", body)
for body in ["", "{}", "[]", "null", "\"x\"", "{\"type\":\"url_verification\"}",
             "{\"type\":\"url_verification\",\"challenge\":123}", "{\"type\":\"event_callback\"}",
             "{\"type\":\"event_callback\",\"team_id\":\"T0PITCREW\",\"event_id\":\"Ev1\",\"event\":{}}",
             "{\"type\":\"event_callback\",\"team_id\":\"T0PITCREW\",\"api_app_id\":\"A1\",\"event_id\":\"Ev2\",\"event_time\":1,\"event\":{\"type\":\"app_mention\"}}",
             "{\"type\":\"event_callback\",\"team_id\":\"T0PITCREW\",\"api_app_id\":\"A1\",\"event_id\":\"Ev3\",\"event_time\":1,\"event\":{\"type\":\"app_mention\",\"user\":\"U01DEV\",\"text\":\"<@U0BOT>\",\"ts\":\"1.2\",\"channel\":\"C1\",\"event_ts\":\"1.2\"}}",
             "{\"type\":\"event_callback\",\"team_id\":\"T0PITCREW\",\"api_app_id\":\"A1\",\"event_id\":\"Ev4\",\"event_time\":1,\"event\":{\"type\":\"message\",\"text\":\"hi\"}}",
             "{\"type\":\"app_rate_limited\",\"team_id\":\"T0PITCREW\",\"minute_rate_limited\":1,\"api_app_id\":\"A1\"}",
             "{" * 5000 + "}" * 5000, "{\"a\":" * 200 + "1" + "}" * 200, "{\"type\":\"url_verification\",\"challenge\":\"" + "c" * 60000 + "\"}"]:
    add("events", "application/json", body)
for payload in ["", "{}", "null", "[]", "{\"type\":\"block_actions\"}",
                "{\"type\":\"block_actions\",\"user\":{\"id\":\"U01DEV\"},\"team\":{\"id\":\"T0PITCREW\"}}",
                "{\"type\":\"block_actions\",\"user\":{\"id\":\"U01DEV\"},\"team\":{\"id\":\"T0PITCREW\"},\"actions\":[]}",
                "{\"type\":\"block_actions\",\"user\":{\"id\":\"U01DEV\"},\"team\":{\"id\":\"T0PITCREW\"},\"response_url\":\"http://127.0.0.1:9/x\",\"actions\":[{\"action_id\":\"pitcrew_approve\",\"value\":\"A-nope\"}]}",
                "{\"type\":\"block_actions\",\"user\":{\"id\":\"U01DEV\"},\"team\":{\"id\":\"T0PITCREW\"},\"response_url\":\"http://127.0.0.1:9/x\",\"actions\":[{\"action_id\":\"pitcrew_rollback\",\"value\":\"restart checkout -e prod\"}]}",
                "{\"type\":\"block_actions\",\"user\":{\"id\":\"U01DEV\"},\"team\":{\"id\":\"T0PITCREW\"},\"response_url\":\"http://127.0.0.1:9/x\",\"actions\":[{\"action_id\":\"pitcrew_confirm\",\"value\":\"" + "A" * 10000 + "\"}]}",
                "{\"type\":\"block_actions\",\"user\":{\"id\":\"<!channel>\"},\"team\":{\"id\":\"T0PITCREW\"},\"response_url\":\"http://127.0.0.1:9/x\",\"actions\":[{\"action_id\":\"x\"}]}",
                "{\"type\":\"view_submission\",\"user\":{\"id\":\"U01DEV\"},\"team\":{\"id\":\"T0PITCREW\"}}",
                "{\"type\":\"block_actions\",\"user\":{\"id\":\"U01DEV\"},\"team\":{\"id\":\"T0OTHER\"},\"actions\":[{\"action_id\":\"pitcrew_cancel\"}]}"]:
    from urllib.parse import quote
    add("interactions", "application/x-www-form-urlencoded", "payload=" + quote(payload))
for body in ["payload=", "payload=%7B", "nopayload=1", "payload=" + "%7B" * 3000]:
    add("interactions", "application/x-www-form-urlencoded", body)
(OUT / "slack.jsonl").write_text("".join(json.dumps(p) + "\n" for p in payloads))

# --- configuration files --------------------------------------------------------------------
base = '[policy]\nmodel = "model.conf"\npolicy = "policy.csv"\n[clusters.main]\nkubeconfig = "kubeconfig"\n[environments.staging]\ncluster = "main"\nnamespaces = ["shop"]\n'
configs = [
    "", "\x00", "[", "[[", "]]]", "= 1", "key", "[server\nlisten = 1", base + "[server]\nlisten = 3000\n",
    base + "[server]\nlisten = \"not an address\"\n", base + "[server]\nlisten = \"127.0.0.1:99999\"\n",
    base + "[server]\nmode = \"carrier-pigeon\"\n", base + "[server]\nmax_body_bytes = -1\n",
    base + "[server]\nmax_body_bytes = 99999999999999999999\n", base + "[server]\nshutdown_grace = \"forever\"\n",
    base + "[server]\nshutdown_grace = \"-5s\"\n", base + "[server]\napproval_ttl = \"0s\"\n",
    base + "[slack]\napi_base_url = \"javascript:alert(1)\"\n", base + "[slack]\nallowed_teams = [\"not a team\"]\n",
    base + "[slack]\nallowed_teams = \"T1\"\n", base + "[slack]\nbot_token = \"xoxb-secret\"\n",
    base + "[pagerduty]\ntoken = \"secret\"\n", base + "[environments.prod]\ncluster = \"nowhere\"\nnamespaces = [\"x\"]\n",
    base + "[environments.prod]\ncluster = \"main\"\nnamespaces = []\n", base + "[environments.prod]\ncluster = \"main\"\nnamespaces = [\"UPPER\"]\n",
    base + "[environments.prod]\ncluster = \"main\"\nnamespaces = [\"x\"]\napprovals = 99\n",
    base + "[environments.prod]\ncluster = \"main\"\nnamespaces = [\"x\"]\napprovals = -1\n",
    base + "[environments.\"pr od\"]\ncluster = \"main\"\nnamespaces = [\"x\"]\n",
    base + "[environments.prod]\ncluster = \"main\"\nnamespaces = [\"x\"]\nchannels = [\"#incidents\"]\n",
    base + "[environments.staging]\ncluster = \"main\"\n", base + "[clusters.main]\nin_cluster = true\n",
    base.replace('model = "model.conf"', 'model = "/nonexistent/model.conf"'),
    base.replace('model = "model.conf"', 'model = "../../../../etc/shadow"'),
    base + "[jira]\nbase_url = \"https://x\"\nallowed_projects = []\n", base + "[rollout]\ntimeout = \"1ns\"\n",
    base + "[lisen]\n", base + "x" * 10000 + " = 1\n", base + "[a]\n" * 2000, "a = " + "[" * 500 + "]" * 500 + "\n",
    base + "[server]\nlisten = \"\u202e127.0.0.1:1\"\n", "\ufeff" + base, base + "[environments.staging]\ncluster = \"main\"\nnamespaces = [\"shop\"]\n",
]
cdir = OUT / "configs"
cdir.mkdir(exist_ok=True)
for old in cdir.glob("*.toml"):
    old.unlink()
for i, c in enumerate(configs):
    (cdir / f"{i:03}.toml").write_text(c)

# --- policy files ---------------------------------------------------------------------------
policies = [
    "", "\x00", "p", "p,", "p, a", "p, a, b, c, d, e, f, g, h, i, j", "p, U01A, prod, *, *, *, restart, *, maybe",
    "p, U01A, prod, *, *, *, reboot, *, allow", "g", "g, a", "g, a, b, c", "g2, C1", "q, a, b",
    "p, U01A, prod, *, *, *, restart, *, allow\n" * 3000, "g, role:a, role:b\ng, role:b, role:a\n",
    "".join(f"g, role:r{i}, role:r{i+1}\n" for i in range(30)), "p, \"U01A, prod\", *, *, *, *, restart, *, allow",
    "p, U01A, prod, *, *, *, restart, *, allow\r\n", "p, U01A, pr*d, *, *, *, restart, *, allow",
    "p, U01A, prod, *, *, ***, restart, *, allow", "p, 💥, prod, *, *, *, restart, *, allow",
    "p, U01A, prod, *, *, *, restart, *, allow, extra", "p,U01A,prod,*,*,*,restart,*,allow",
    "p, U01A, prod, *, *, deployment/ch\u0435ckout, restart, *, allow", "p, @alice, prod, *, *, *, restart, *, allow",
    "p, U01A, prod, *, *, *, restart, *, deny\np, U01A, prod, *, *, *, restart, *, allow",
    "# only a comment", "\ufeffp, U01A, prod, *, *, *, restart, *, allow", "p, U01A, prod, *, *, *, restart, " + "x" * 10000 + ", allow",
    "p, U01A, prod, *, *, *, restart, *, allow\n\x1b[31m", "p, U01A, prod, *, *, *, *, *, allow\n" + "g, U01A, role:x\n" * 500,
]
pdir = OUT / "policies"
pdir.mkdir(exist_ok=True)
for old in pdir.glob("*.csv"):
    old.unlink()
for i, p in enumerate(policies):
    (pdir / f"{i:03}.csv").write_text(p)

total = len(commands) + len(payloads) + len(configs) + len(policies)
print(f"{len(commands)} commands, {len(payloads)} Slack payloads, {len(configs)} configs, {len(policies)} policies: {total} inputs")
