//! The refused half of the table: what the parser turns away, and a part of the message the
//! user sees (which must say what to type instead).

use super::Expect::{self, Err, Ok};

pub(super) const REFUSED: &[(&str, Expect)] = &[
    ("", Err("the command is empty")),
    ("   ", Err("the command is empty")),
    ("/pitcrew", Err("the command is empty")),
    (
        "restrat checkout",
        Err("unknown command `restrat`; did you mean `restart`?"),
    ),
    ("rolback checkout", Err("did you mean `rollback`?")),
    ("promte checkout", Err("did you mean `promote`?")),
    ("staus checkout", Err("did you mean `status`?")),
    ("canI restart x", Err("did you mean `can-i`?")),
    ("deploy checkout", Err("unknown command `deploy`")),
    ("kubectl get pods", Err("unknown command `kubectl`")),
    ("\"restart\" checkout", Err("unknown command `restart`")),
    ("restart", Err("`restart` needs a target")),
    ("rollback -e prod", Err("`rollback` needs a target")),
    ("history -e prod", Err("`history` needs a target")),
    ("pause", Err("`pause` needs a target")),
    ("scale checkout", Err("how many replicas")),
    ("scale checkout --replicas", Err("needs a value")),
    ("scale checkout --replicas many", Err("not a replica count")),
    (
        "scale checkout --replicas 99999",
        Err("not a replica count"),
    ),
    ("scale ds/agent --replicas 2", Err("cannot be scaled")),
    (
        "scale checkout --replicas 0 --hpa",
        Err("at least one replica"),
    ),
    (
        "scale checkout --replica 2",
        Err("did you mean `--replicas`?"),
    ),
    ("scael checkout --replicas 2", Err("did you mean `scale`?")),
    (
        "pause sts/db -e prod",
        Err("only Deployments (and Argo Rollouts) can be paused"),
    ),
    (
        "resume ds/agent",
        Err("only Deployments (and Argo Rollouts) can be paused"),
    ),
    (
        "pause checkout --to-revision 2",
        Err("`pause` has no flag `--to-revision`"),
    ),
    ("resume a b", Err("unexpected `b`")),
    ("pasue checkout", Err("did you mean `pause`?")),
    ("frezee prod", Err("did you mean `freeze`?")),
    ("gitops suspend checkout", Err("how long: `--for 2h`")),
    (
        "advance deploy/web",
        Err("has none (`advance rollout/NAME`)"),
    ),
    (
        "abort rollout/web --full",
        Err("`abort` has no flag `--full`"),
    ),
    (
        "scale rollout/web --replicas 2",
        Err("an Argo Rollout's replicas belong in its spec"),
    ),
    (
        "promote rollout/web --from staging --to prod",
        Err("advance rollout/NAME"),
    ),
    ("gitops resume checkout --for 1h", Err("resumes now")),
    (
        "gitops suspend deploy/checkout --for 1h",
        Err("is a workload"),
    ),
    (
        "gitops suspend checkout --for 8d",
        Err("longer than a week"),
    ),
    (
        "gitops stop checkout",
        Err("`stop` is not `suspend` or `resume`"),
    ),
    (
        "restart app/checkout",
        Err("is a GitOps application, not a workload"),
    ),
    ("gitopz suspend checkout", Err("did you mean `gitops`?")),
    ("freeze", Err("`freeze` needs an environment")),
    (
        "freeze prod",
        Err("needs until when: `--until 2026-12-27T08:00Z` or `--for 4h`"),
    ),
    ("freeze prod --for 4h", Err("why, for the people it stops")),
    (
        "freeze prod --until 2026-12-27 --reason CHG-77",
        Err("is not a time with its zone"),
    ),
    (
        "freeze prod --until 2026-12-27T08:00 --reason CHG-77",
        Err("is not a time with its zone"),
    ),
    (
        "freeze prod --for 4h --until 2026-12-27T08:00Z --reason CHG-77",
        Err("--until"),
    ),
    (
        "freeze prod --for 0s --reason CHG-77",
        Err("a minute or more"),
    ),
    (
        "freeze prod --for 400d --reason CHG-77",
        Err("longer than a year"),
    ),
    ("freeze prod --for 4h --reason ab", Err("between 3 and 500")),
    (
        "freeze prod staging --for 4h --reason CHG-77",
        Err("unexpected `staging`"),
    ),
    (
        "freeze -e prod --for 4h --reason CHG-77",
        Err("`freeze` has no flag `-e`"),
    ),
    ("unfreeze", Err("`unfreeze` needs an environment")),
    (
        "unfreeze prod --reason CHG-77",
        Err("`unfreeze` has no flag `--reason`"),
    ),
    (
        "restart a b",
        Err("unexpected `b` after the restart command"),
    ),
    ("status checkout extra", Err("unexpected `extra`")),
    (
        "restart checkout --namspace shop",
        Err("`restart` has no flag `--namspace`; did you mean `--namespace`?"),
    ),
    (
        "restart checkout --enviroment prod",
        Err("has no flag `--enviroment`"),
    ),
    (
        "restart checkout --reasn CHG-1",
        Err("did you mean `--reason`?"),
    ),
    (
        "restart checkout --dryrun",
        Err("did you mean `--dry-run`?"),
    ),
    (
        "restart checkout --to-revision 2",
        Err("`restart` has no flag `--to-revision`"),
    ),
    (
        "status checkout --dry-run",
        Err("`status` has no flag `--dry-run`"),
    ),
    ("restart checkout -x", Err("has no flag `-x`")),
    ("restart checkout --", Err("has no flag `--`")),
    (
        "restart checkout -e",
        Err("`-e` needs a value, e.g. `-e prod`"),
    ),
    ("restart checkout --reason", Err("`--reason` needs a value")),
    (
        "restart checkout -e -n shop",
        Err("`-e` needs a value, but `-n` looks like a flag"),
    ),
    ("restart checkout -e --dry-run", Err("looks like a flag")),
    ("restart checkout --env=", Err("`--env` needs a value")),
    (
        "restart checkout -e prod -e staging",
        Err("`-e` is given twice"),
    ),
    (
        "restart checkout -e prod --env staging",
        Err("`--env` is given twice"),
    ),
    (
        "restart checkout --dry-run --dry-run",
        Err("is given twice"),
    ),
    (
        "restart checkout --dry-run=yes",
        Err("`--dry-run` takes no value"),
    ),
    (
        "restart Checkout",
        Err("names are lower-case: did you mean `checkout`?"),
    ),
    ("restart deploy/Checkout", Err("did you mean `checkout`?")),
    ("restart check_out", Err("`_` is not allowed")),
    ("restart -checkout", Err("has no flag `-checkout`")),
    (
        "restart checkout- ",
        Err("must start and end with a letter or digit"),
    ),
    ("restart checkout..v2", Err("empty part between dots")),
    (
        "restart aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        Err("at most 253 are allowed"),
    ),
    ("restart pod/checkout", Err("`pod` is not a workload kind")),
    ("restart svc/checkout", Err("is not a workload kind")),
    ("restart deploy/", Err("it is empty")),
    ("restart /checkout", Err("`` is not a workload kind")),
    ("restart deploy/a/b", Err("`/` is not allowed")),
    (
        "restart checkout -e Prod",
        Err("`Prod` is not a valid environment name"),
    ),
    (
        "restart checkout -e prod_eu",
        Err("is not a valid environment name"),
    ),
    (
        "restart checkout -n Shop",
        Err("`Shop` is not a valid namespace name"),
    ),
    (
        "restart checkout -n shop.eu",
        Err("is not a valid namespace name"),
    ),
    (
        "restart checkout -n aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        Err("at most 63 are allowed"),
    ),
    (
        "restart checkout --reason fixit",
        Err("`fixit` is not a PagerDuty incident or a Jira issue"),
    ),
    (
        "restart checkout --reason 1234",
        Err("is not a PagerDuty incident or a Jira issue"),
    ),
    (
        "restart checkout --reason CHG-0",
        Err("is not a PagerDuty incident"),
    ),
    (
        "restart checkout --reason http://acme.pagerduty.com/incidents/Q1W2E3R4",
        Err("is not a PagerDuty incident"),
    ),
    (
        "restart checkout --reason https://u:p@acme.atlassian.net/browse/CHG-1",
        Err("is not a PagerDuty incident"),
    ),
    (
        "restart checkout --reason https://acme.pagerduty.com/services/PABC123",
        Err("is not a PagerDuty incident"),
    ),
    (
        "restart checkout --reason https://evil.example/page",
        Err("is not a PagerDuty incident"),
    ),
    (
        "restart checkout --reason CHG-1 --break-glass \"PD is down now\"",
        Err("`--reason` and `--break-glass` cannot be used together"),
    ),
    (
        "restart checkout --break-glass short",
        Err("at least 8 characters"),
    ),
    (
        "restart checkout --break-glass \"\"",
        Err("say in a sentence why"),
    ),
    (
        "restart checkout --break-glass \"unclosed text",
        Err("is never closed"),
    ),
    (
        "restart checkout --break-glass \"glued\"text",
        Err("is never closed"),
    ),
    // kubectl's --to-revision 0 is the previous revision: the same command as leaving it out.
    (
        "rollback checkout --to-revision 0",
        Ok("rollback deployment/checkout"),
    ),
    (
        "rollback checkout --to-revision=0 -e prod",
        Ok("rollback deployment/checkout -e prod"),
    ),
    (
        "rollback checkout --to-revision -1",
        Err("`-1` looks like a flag"),
    ),
    (
        "rollback checkout --to-revision two",
        Err("`two` is not a revision number"),
    ),
    (
        "rollback checkout --to-revision 1.5",
        Err("is not a revision number"),
    ),
    (
        "rollback checkout --to-revision 99999999999999999999",
        Err("is not a revision number"),
    ),
    ("promote checkout", Err("`promote` needs `--from ENV`")),
    (
        "promote checkout --from staging",
        Err("`promote` needs `--to ENV`"),
    ),
    (
        "promote --from staging --to prod",
        Err("`promote` needs an app or a target"),
    ),
    (
        "promote checkout --from prod --to prod",
        Err("promoting from `prod` to itself changes nothing"),
    ),
    (
        "promote checkout -e prod --from a --to b",
        Err("`promote` has no flag `-e`"),
    ),
    (
        "promote pod/x --from a --to b",
        Err("`pod` is not a workload kind"),
    ),
    ("can-i", Err("`can-i` needs an action and a target")),
    ("can-i restart", Err("needs a target after the action")),
    ("can-i reboot checkout", Err("`reboot` is not an action")),
    ("can-i restrat checkout", Err("did you mean `restart`?")),
    ("can-i restart checkout extra", Err("unexpected `extra`")),
    (
        "audit something",
        Err("unexpected `something` after the audit command"),
    ),
    (
        "audit --since yesterday",
        Err("`yesterday` is neither a duration"),
    ),
    ("audit --since 0s", Err("is neither a duration")),
    ("audit --actor @alice", Err("`@alice` is not a Slack user")),
    ("audit --actor alice", Err("is not a Slack user")),
    (
        "audit --outcome exploded",
        Err("`exploded` is not an outcome"),
    ),
    ("audit --outcome faild", Err("did you mean `failed`?")),
    ("audit --action reboot", Err("`reboot` is not an action")),
    ("audit --target pod/x", Err("is not a workload kind")),
    ("audit --env", Err("`--env` needs a value")),
    ("help reboot", Err("unknown command `reboot`")),
    ("help restart rollback", Err("unexpected `rollback`")),
    // hidden, control and markup characters
    ("restart\u{200B} checkout", Err("ZERO WIDTH SPACE")),
    ("restart check\u{200D}out", Err("ZERO WIDTH JOINER")),
    ("restart checkout\u{FEFF}", Err("ZERO WIDTH NO-BREAK SPACE")),
    (
        "restart checkout \u{202E}dorp e-",
        Err("BIDIRECTIONAL FORMATTING"),
    ),
    (
        "restart checkout \u{2066}-e prod\u{2069}",
        Err("BIDIRECTIONAL ISOLATE"),
    ),
    ("restart checkout\u{200F}", Err("RIGHT-TO-LEFT MARK")),
    ("restart checkout\u{0}", Err("CONTROL CHARACTER")),
    ("restart checkout\u{1b}[31m", Err("CONTROL CHARACTER")),
    ("restart checkout\u{7f}", Err("CONTROL CHARACTER")),
    ("restart check\u{AD}out", Err("SOFT HYPHEN")),
    ("restart checkout \u{E0001}", Err("TAG CHARACTER")),
    (
        "restart checkout <!channel>",
        Err("a special mention such as @channel or @here"),
    ),
    ("restart checkout <!here|here>", Err("special mention")),
    ("restart <!subteam^S123|oncall>", Err("special mention")),
    (
        "restart checkout <mailto:a@b.c|a@b.c>",
        Err("an email link"),
    ),
    ("restart checkout <weird>", Err("remove the formatting")),
    (
        "restart checkout <https://x",
        Err("a `<` must be closed by `>`"),
    ),
    ("restart <@U123ABC>", Err("`@` is not allowed")),
    ("restart <#C123ABC|general>", Err("`#` is not allowed")),
    (
        "restart checkout &lt;script&gt;",
        Err("unexpected `<script>`"),
    ),
    ("restart $(reboot)", Err("`$` is not allowed")),
    ("restart checkout;reboot", Err("`;` is not allowed")),
    ("restart `checkout`", Err("is not allowed")),
    ("restart ../../etc", Err("`..` is not a workload kind")),
    ("restart ✓", Err("`✓` (U+2713) is not allowed")),
    ("restart сheckout", Err("`с` (U+0441) is not allowed")),
];
