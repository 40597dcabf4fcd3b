//! Properties of the parser over generated input: it never panics, and the canonical text of
//! any command it accepts parses back to the same command.

use pitcrew::command;
use proptest::prelude::*;

/// Words that make generated text look like commands, so that many cases get deep into the
/// parser instead of stopping at "unknown command".
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("restart".to_string()),
        Just("rollback".to_string()),
        Just("promote".to_string()),
        Just("status".to_string()),
        Just("history".to_string()),
        Just("can-i".to_string()),
        Just("audit".to_string()),
        Just("help".to_string()),
        Just("scale".to_string()),
        Just("--replicas".to_string()),
        Just("--hpa".to_string()),
        Just("scale checkout --replicas 3".to_string()),
        Just("pause".to_string()),
        Just("resume".to_string()),
        Just("freeze".to_string()),
        Just("unfreeze".to_string()),
        Just("gitops".to_string()),
        Just("advance".to_string()),
        Just("abort".to_string()),
        Just("retry".to_string()),
        Just("--full".to_string()),
        Just("rollout/web".to_string()),
        Just("gitops suspend".to_string()),
        Just("gitops resume".to_string()),
        Just("gitops suspend checkout --for 2h".to_string()),
        Just("app/checkout".to_string()),
        Just("ks/apps".to_string()),
        Just("hr/podinfo".to_string()),
        Just("--until".to_string()),
        Just("--for".to_string()),
        Just("2026-12-27T08:00Z".to_string()),
        Just("freeze prod --for 4h --reason".to_string()),
        Just("freeze staging --until 2026-12-27T08:00Z".to_string()),
        Just("/pitcrew".to_string()),
        Just("-e".to_string()),
        Just("-n".to_string()),
        Just("--env".to_string()),
        Just("—env".to_string()),
        Just("--reason".to_string()),
        Just("--break-glass".to_string()),
        Just("--dry-run".to_string()),
        Just("--to-revision".to_string()),
        Just("--from".to_string()),
        Just("--to".to_string()),
        Just("promote checkout --from staging --to prod".to_string()),
        Just("can-i restart".to_string()),
        Just("--since".to_string()),
        Just("--actor".to_string()),
        Just("--outcome".to_string()),
        Just("--action".to_string()),
        Just("--target".to_string()),
        Just("prod".to_string()),
        Just("staging".to_string()),
        Just("CHG-12".to_string()),
        Just("PT4KHL9".to_string()),
        Just("24h".to_string()),
        Just("failed".to_string()),
        Just("<@U012ABCDEF|alice>".to_string()),
        Just("<https://acme.pagerduty.com/incidents/Q1W2E3R4T5|INC>".to_string()),
        Just("https://acme.atlassian.net/browse/OPS-3?a=1&amp;b=2".to_string()),
        Just("\"two words\"".to_string()),
        Just("“smart quoted text”".to_string()),
        "(deploy|sts|ds|deployment)/[a-z0-9][a-z0-9.-]{0,12}",
        "[a-z][a-z0-9-]{0,10}",
        "[0-9]{1,4}",
        "\"[ -~]{0,20}\"",
        "\\PC{1,6}",
    ]
}

fn command_like() -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 0..9).prop_map(|w| w.join(" "))
}

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"
}

fn target() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "",
            "deploy/",
            "deployment/",
            "sts/",
            "statefulsets/",
            "ds/",
            "Deploy/",
        ]),
        name(),
    )
        .prop_map(|(k, n)| format!("{k}{n}"))
}

fn reason() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        "[A-Z]{2,5}-[1-9][0-9]{0,4}".prop_map(|k| vec!["--reason".into(), k]),
        "P[A-Z0-9]{6,12}[0-9]".prop_map(|k| vec!["--reason".into(), k]),
        "[A-Z0-9]{8,12}".prop_map(|k| vec![
            "--reason".into(),
            format!("<https://acme.pagerduty.com/incidents/Q{k}9|incident>")
        ]),
        "[a-z]{8,12}( [a-z]{1,8}){0,4}"
            .prop_map(|t| vec!["--break-glass".into(), format!("\"{t}\"")]),
    ]
}

fn flag(
    name: &'static str,
    value: impl Strategy<Value = String>,
) -> impl Strategy<Value = Vec<String>> {
    value.prop_map(move |v| vec![name.to_string(), v])
}

fn optional(groups: Vec<BoxedStrategy<Vec<String>>>) -> impl Strategy<Value = Vec<Vec<String>>> {
    groups
        .into_iter()
        .map(prop::option::of)
        .collect::<Vec<_>>()
        .prop_map(|v| v.into_iter().flatten().collect())
}

fn scope_flags() -> Vec<BoxedStrategy<Vec<String>>> {
    vec![
        flag("-e", name()).boxed(),
        flag("--namespace", name()).boxed(),
    ]
}

/// Scale needs `--replicas` (the generator's optional flag groups may leave it out) and no
/// DaemonSet.
fn with_replicas(
    (mut head, mut flags): (Vec<Vec<String>>, Vec<Vec<String>>),
) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    if let Some(target) = head.first_mut().and_then(|words| words.get_mut(1))
        && target.to_lowercase().starts_with("ds/")
    {
        *target = target.replacen("ds/", "sts/", 1);
    }
    if !flags
        .iter()
        .any(|f| f.first().is_some_and(|w| w == "--replicas"))
    {
        flags.push(vec!["--replicas".into(), "2".into()]);
    }
    (head, flags)
}

/// Pause and resume take Deployments only: any generated target becomes one.
fn deployment_only(
    (mut head, flags): (Vec<Vec<String>>, Vec<Vec<String>>),
) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    if let Some(target) = head.first_mut().and_then(|words| words.get_mut(1)) {
        let name = target.rsplit('/').next().unwrap_or(target).to_string();
        *target = format!("deploy/{name}");
    }
    (head, flags)
}

/// Valid commands built from the grammar, flags in any order, with Slack's dashes and spaces
/// sprinkled in.
fn grammar() -> impl Strategy<Value = String> {
    let mutating = |cmd: &'static str, extra: Vec<BoxedStrategy<Vec<String>>>| {
        let mut groups = scope_flags();
        groups.push(reason().boxed());
        groups.push(Just(vec!["--dry-run".to_string()]).boxed());
        groups.extend(extra);
        (target(), optional(groups))
            .prop_map(move |(t, flags)| (vec![vec![cmd.to_string(), t]], flags))
    };
    let read = |cmd: &'static str| {
        (target(), optional(scope_flags()))
            .prop_map(move |(t, flags)| (vec![vec![cmd.to_string(), t]], flags))
    };
    let body = prop_oneof![
        mutating("restart", vec![]),
        mutating(
            "scale",
            vec![
                flag("--replicas", "[1-9][0-9]{0,2}").boxed(),
                Just(vec!["--hpa".to_string()]).boxed()
            ]
        )
        .prop_map(with_replicas),
        mutating("pause", vec![]).prop_map(deployment_only),
        (
            prop::sample::select(vec!["advance", "abort", "retry"]),
            prop::sample::select(vec!["", "rollout/", "ro/", "Rollouts/"]),
            name(),
            optional(vec![
                flag("-e", name()).boxed(),
                flag("-n", name()).boxed(),
                reason().boxed(),
                Just(vec!["--dry-run".to_string()]).boxed(),
            ]),
            any::<bool>(),
        )
            .prop_map(|(verb, kind, n, mut flags, full)| {
                if verb == "advance" && full {
                    flags.push(vec!["--full".to_string()]);
                }
                (vec![vec![verb.to_string(), format!("{kind}{n}")]], flags)
            }),
        mutating("resume", vec![]).prop_map(deployment_only),
        mutating(
            "rollback",
            vec![flag("--to-revision", "[1-9][0-9]{0,3}").boxed()]
        ),
        (
            target(),
            name(),
            name(),
            optional(vec![
                reason().boxed(),
                Just(vec!["--dry-run".to_string()]).boxed()
            ])
        )
            .prop_filter("two environments", |(_, a, b, _)| a != b)
            .prop_map(|(t, from, to, mut flags)| {
                flags.push(vec!["--from".into(), from]);
                flags.push(vec!["--to".into(), to]);
                (vec![vec!["promote".to_string(), t]], flags)
            }),
        read("status"),
        optional(scope_flags()).prop_map(|flags| (vec![vec!["status".to_string()]], flags)),
        read("history"),
        (
            name(),
            prop_oneof![
                flag(
                    "--until",
                    prop::sample::select(vec![
                        "2026-12-27T08:00Z".to_string(),
                        "2027-01-04T09:30:00+01:00".to_string()
                    ])
                ),
                flag("--for", "[1-9][0-9]{0,1}(m|h|d)"),
            ],
            flag(
                "--reason",
                prop_oneof![Just("CHG-77".to_string()), "\"[a-z]{3,10} [a-z]{1,10}\""]
            ),
        )
            .prop_map(|(env, until, reason)| (
                vec![vec!["freeze".to_string(), env]],
                vec![until, reason]
            )),
        name().prop_map(|env| (vec![vec!["unfreeze".to_string(), env]], vec![])),
        (
            prop::sample::select(vec![
                "",
                "app/",
                "application/",
                "ks/",
                "hr/",
                "HelmRelease/"
            ]),
            name(),
            prop::option::of(flag("--for", "[1-9][0-9]{0,1}(m|h)")),
            optional(vec![
                flag("-e", name()).boxed(),
                flag("-n", name()).boxed(),
                reason().boxed(),
                Just(vec!["--dry-run".to_string()]).boxed(),
            ])
        )
            .prop_map(|(kind, app, length, mut flags)| {
                let verb = match length {
                    Some(f) => {
                        flags.push(f);
                        "suspend"
                    }
                    None => "resume",
                };
                (
                    vec![vec![
                        "gitops".to_string(),
                        verb.to_string(),
                        format!("{kind}{app}"),
                    ]],
                    flags,
                )
            }),
        (
            prop::sample::select(vec!["restart", "rollback", "approve", "break-glass"]),
            target(),
            optional(scope_flags())
        )
            .prop_map(|(a, t, flags)| (vec![vec!["can-i".to_string(), a.to_string(), t]], flags)),
        optional(vec![
            flag(
                "--since",
                prop::sample::select(vec![
                    "24h".to_string(),
                    "7d".to_string(),
                    "2026-01-02T03:04:05Z".to_string()
                ])
            )
            .boxed(),
            flag("--env", name()).boxed(),
            flag("--actor", "@U[A-Z0-9]{8}").boxed(),
            flag(
                "--outcome",
                prop::sample::select(vec!["failed".to_string(), "succeeded".to_string()])
            )
            .boxed(),
            flag("--target", target()).boxed(),
        ])
        .prop_map(|flags| (vec![vec!["audit".to_string()]], flags)),
        prop::option::of(prop::sample::select(vec!["restart", "promote", "audit"])).prop_map(|t| (
            vec![
                std::iter::once("help".to_string())
                    .chain(t.map(String::from))
                    .collect()
            ],
            vec![]
        )),
    ];
    (
        body,
        any::<u64>(),
        prop::sample::select(vec![" ", "  ", "\u{a0}", " \t"]),
        any::<bool>(),
    )
        .prop_map(|((head, flags), seed, space, dashes)| {
            let mut flags = flags;
            // A cheap deterministic shuffle of the flag groups.
            let len = flags.len().max(1) as u64;
            flags.rotate_left((seed % len) as usize);
            if seed % 3 == 0 {
                flags.reverse();
            }
            let words: Vec<String> = head
                .into_iter()
                .chain(flags)
                .flatten()
                .map(|w| {
                    if dashes && w.starts_with("--") {
                        w.replacen("--", "—", 1)
                    } else {
                        w
                    }
                })
                .collect();
            words.join(space)
        })
}

fn check(text: &str) -> Result<(), TestCaseError> {
    if let Ok(cmd) = command::parse(text) {
        let canonical = cmd.to_string();
        let again = command::parse(&canonical);
        prop_assert_eq!(
            again.as_ref().ok(),
            Some(&cmd),
            "{:?} → `{}` → {:?}",
            text,
            canonical,
            again
        );
        // Canonical text is a fixed point.
        prop_assert_eq!(again.map(|c| c.to_string()).ok(), Some(canonical));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn command_like_text_never_panics_and_round_trips(text in command_like()) {
        check(&text)?;
    }

    #[test]
    fn every_grammatical_command_is_accepted_and_round_trips(text in grammar()) {
        let parsed = command::parse(&text);
        prop_assert!(parsed.is_ok(), "{:?} refused: {:?}", text, parsed);
        check(&text)?;
    }

    #[test]
    fn arbitrary_text_never_panics_and_round_trips(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }
}

/// The generator must reach deep into the parser: a property that only ever sees refusals
/// proves little about round trips.
#[test]
fn the_generator_produces_accepted_commands_of_every_kind() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = command_like();
    let mut accepted = std::collections::BTreeMap::new();
    for _ in 0..20_000 {
        let text = strategy.new_tree(&mut runner).expect("value").current();
        if let Ok(cmd) = command::parse(&text) {
            *accepted.entry(cmd.name().as_str()).or_insert(0) += 1;
        }
    }
    for name in command::CommandName::ALL {
        let n = accepted.get(name.as_str()).copied().unwrap_or(0);
        assert!(
            n >= 5,
            "only {n} generated `{name}` commands were accepted: {accepted:?}"
        );
    }
}

/// Found by the `command_parser` fuzz target, twice: with a length limit on the whole text (as
/// delivered, then as typed), an accepted command near the limit could have a canonical form
/// (the audit trail's text) that pitcrew refused, since the canonical form re-escapes `&`, `<`
/// and `>`, quotes values and names the kind. Values now have their own limits, and the
/// whole-text limit is above any canonical form they allow.
#[test]
fn commands_at_their_field_limits_keep_a_canonical_form_that_parses() {
    use pitcrew::command::{MAX_CHARS, ParseError, parse};
    let link = format!(
        "https://acme.atlassian.net/browse/CHG-1?{}",
        "&a\"".repeat(152)
    );
    for text in [
        // The first finding: `&x` is delivered as 2 characters and printed as `&amp;x`.
        format!("restart checkout --break-glass \"{}\"", "&x".repeat(240)),
        format!("restart checkout --break-glass \"{}\"", "&\\\"".repeat(166)),
        // The second: a link full of `&` and quotes, at the link limit.
        format!("restart checkout -e prod -n shop --reason {link} --dry-run"),
    ] {
        let command = parse(&text).unwrap_or_else(|e| panic!("{text:.60}…: {e}"));
        let canonical = command.to_string();
        assert!(
            canonical.chars().count() <= MAX_CHARS,
            "{}",
            canonical.len()
        );
        assert_eq!(
            parse(&canonical).expect("the canonical form parses"),
            command,
            "{canonical:.80}…"
        );
    }
    // Past a field's limit: refused with what to do; past the whole-text limit: refused too.
    let long_link = format!(
        "https://acme.atlassian.net/browse/CHG-1?{}",
        "a".repeat(500)
    );
    match parse(&format!("restart checkout --reason {long_link}")) {
        Err(ParseError::InvalidValue { flag, reason }) => {
            assert_eq!(flag, "--reason");
            assert!(reason.contains("issue key instead"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let over = format!(
        "restart checkout --break-glass \"{}\"",
        "&lt;".repeat(MAX_CHARS)
    );
    assert!(
        matches!(parse(&over), Err(ParseError::TooLong { max, .. }) if max == MAX_CHARS),
        "{over:.60}…"
    );
}
