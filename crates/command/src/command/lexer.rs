//! From the text Slack (or a terminal) delivers to a list of tokens.
//!
//! Slack and phones change what people type: `--` becomes `—`, quotes become “smart”, spaces
//! become non-breaking, `<`, `>` and `&` arrive as `&lt;`, `&gt;`, `&amp;`, and links and
//! mentions arrive as `<https://…|label>` and `<@U123|name>`
//! (<https://api.slack.com/reference/surfaces/formatting#escaping>). This module undoes all of
//! that, and refuses what has no business in a command: control, zero-width and bidi
//! characters (which can make text read differently than it parses), and special mentions.

use super::ParseError;

/// Longer text is not a command: Slack's own limit for a message, counted on the text as
/// delivered. It bounds the work before anything is decoded; what a command may hold is
/// bounded field by field (names by their RFC, `--reason` links and `--break-glass` text by
/// 500 characters each). It must stay above the longest canonical form those allow (about
/// 3,000 characters: a 500-character value whose every character is escaped again, `&amp;`),
/// since the canonical form, which the audit trail records, must parse back to the command.
/// (A limit of 1,000 on the text as typed broke that: the `command_parser` fuzz target found
/// accepted commands whose canonical form, re-escaped or quoted, was longer.)
pub const MAX_CHARS: usize = 4000;

/// One word of the command. A quoted token is never taken for a flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub quoted: bool,
}

/// Normalises `input` and splits it into tokens, dropping a leading `/pitcrew` or `pitcrew`.
pub fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    let len = input.chars().count();
    if len > MAX_CHARS {
        return Err(ParseError::TooLong {
            len,
            max: MAX_CHARS,
        });
    }
    check_hidden(input)?;
    let text = unslack(input)?;
    let text: String = text.chars().map(normalize_char).collect();
    let mut tokens = split(&text)?;
    if let Some(first) = tokens.first()
        && !first.quoted
        && matches!(first.text.to_lowercase().as_str(), "/pitcrew" | "pitcrew")
    {
        tokens.remove(0);
    }
    Ok(tokens)
}

fn check_hidden(input: &str) -> Result<(), ParseError> {
    for (position, c) in input.chars().enumerate() {
        if let Some(name) = hidden_name(c) {
            return Err(ParseError::HiddenCharacter {
                name,
                code: c as u32,
                position: position + 1,
            });
        }
    }
    Ok(())
}

/// A name for characters that must not appear in a command, `None` for acceptable ones.
fn hidden_name(c: char) -> Option<&'static str> {
    Some(match c {
        ' ' | '\t' | '\n' | '\r' => return None,
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{2060}' => "WORD JOINER",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE",
        '\u{180E}' => "MONGOLIAN VOWEL SEPARATOR",
        '\u{00AD}' => "SOFT HYPHEN",
        '\u{034F}' => "COMBINING GRAPHEME JOINER",
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{202A}'..='\u{202E}' => "BIDIRECTIONAL FORMATTING",
        '\u{2066}'..='\u{2069}' => "BIDIRECTIONAL ISOLATE",
        '\u{FE00}'..='\u{FE0F}' => "VARIATION SELECTOR",
        '\u{E0000}'..='\u{E007F}' => "TAG CHARACTER",
        '\u{FFF9}'..='\u{FFFB}' => "INTERLINEAR ANNOTATION",
        c if c.is_control() => "CONTROL CHARACTER",
        _ => return None,
    })
}

/// Replaces Slack's `<…>` markup with what it stands for, then decodes `&lt;`, `&gt;`, `&amp;`.
/// A raw `<` is always markup: Slack escapes a typed one as `&lt;`.
fn unslack(input: &str) -> Result<String, ParseError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(open) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..open]));
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            return Err(ParseError::Markup {
                markup: truncate(&rest[open..]),
                hint: "; a `<` must be closed by `>`".into(),
            });
        };
        let inner = &after[..close];
        out.push_str(&decode_entities(&markup_value(inner)?));
        rest = &after[close + 1..];
    }
    out.push_str(&decode_entities(rest));
    Ok(out)
}

fn markup_value(inner: &str) -> Result<String, ParseError> {
    // `<target|label>`: the target is what was meant; the label is only what was shown.
    let target = inner.split('|').next().unwrap_or(inner);
    let refuse = |hint: &str| ParseError::Markup {
        markup: truncate(&format!("<{inner}>")),
        hint: hint.to_string(),
    };
    if target.starts_with("http://") || target.starts_with("https://") {
        return Ok(target.to_string());
    }
    if let Some(id) = target.strip_prefix('@') {
        return Ok(format!("@{id}"));
    }
    if let Some(id) = target.strip_prefix('#') {
        return Ok(format!("#{id}"));
    }
    if target.starts_with('!') {
        return Err(refuse(
            " (a special mention such as @channel or @here); remove it",
        ));
    }
    if target.starts_with("mailto:") {
        return Err(refuse(" (an email link); remove it"));
    }
    Err(refuse(
        "; remove the formatting and type the command as plain text",
    ))
}

fn decode_entities(s: &str) -> String {
    // `&amp;` last, so `&amp;lt;` becomes `&lt;` (what was typed) and not `<`.
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        let cut: String = s.chars().take(40).collect();
        format!("{cut}…")
    } else {
        s.to_string()
    }
}

/// Smart quotes to ASCII quotes, every kind of space to a plain space.
fn normalize_char(c: char) -> char {
    match c {
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{00AB}' | '\u{00BB}' => '"',
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => '\'',
        '\t' | '\n' | '\r' => ' ',
        c if c != ' ' && c.is_whitespace() => ' ',
        c => c,
    }
}

fn is_dash_like(c: char) -> bool {
    matches!(
        c,
        '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2212}'
    )
}

/// Splits on spaces. A token that starts with `"` or `'` runs to the matching quote (inside
/// double quotes, `\"` and `\\` escape); quotes inside a word are ordinary characters, so
/// `don't` needs no quoting.
fn split(text: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' {
            i += 1;
            continue;
        }
        let start = i;
        let quote = chars[i];
        if quote == '"' || quote == '\'' {
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(ParseError::UnterminatedQuote {
                            position: start + 1,
                        });
                    }
                    Some('\\') if quote == '"' && matches!(chars.get(i + 1), Some('"' | '\\')) => {
                        value.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(c) if *c == quote => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        value.push(*c);
                        i += 1;
                    }
                }
            }
            if let Some(c) = chars.get(i)
                && *c != ' '
            {
                // `"abc"def`: text glued to a closing quote is almost certainly a typo.
                return Err(ParseError::UnterminatedQuote {
                    position: start + 1,
                });
            }
            tokens.push(Token {
                text: value,
                quoted: true,
            });
            continue;
        }
        while i < chars.len() && chars[i] != ' ' {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        tokens.push(Token {
            text: undash(&word),
            quoted: false,
        });
    }
    Ok(tokens)
}

/// `—reason` and `–e` (what Slack and phones make of `--reason`) become `--reason` and `--e`.
fn undash(word: &str) -> String {
    if word.starts_with(is_dash_like) {
        let rest = word.trim_start_matches(|c: char| is_dash_like(c) || c == '-');
        format!("--{rest}")
    } else {
        word.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(input: &str) -> Vec<String> {
        tokenize(input)
            .expect("tokenizes")
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn slack_formatting_is_undone() {
        assert_eq!(
            words(
                "/pitcrew restart checkout —reason <https://acme.pagerduty.com/incidents/Q1|INC 1>"
            ),
            [
                "restart",
                "checkout",
                "--reason",
                "https://acme.pagerduty.com/incidents/Q1"
            ]
        );
        assert_eq!(
            words("audit --actor <@U123ABC|alice>"),
            ["audit", "--actor", "@U123ABC"]
        );
        assert_eq!(words("x &lt;a&gt; &amp;lt;"), ["x", "<a>", "&lt;"]);
        assert_eq!(
            words("restart\u{a0}checkout  \u{2003} -e\u{202f}prod"),
            ["restart", "checkout", "-e", "prod"]
        );
    }

    #[test]
    fn quotes_group_words_and_smart_quotes_count() {
        assert_eq!(
            words("restart x --break-glass “PagerDuty is down”"),
            ["restart", "x", "--break-glass", "PagerDuty is down"]
        );
        assert_eq!(words(r#"a "say \"hi\" \\ ok""#), ["a", r#"say "hi" \ ok"#]);
        assert_eq!(words("a don't"), ["a", "don't"]);
        assert!(tokenize("a \"open").is_err());
    }

    #[test]
    fn hidden_characters_and_special_mentions_are_refused() {
        for bad in [
            "restart\u{200B} x",
            "restart x\u{202E}",
            "a\u{7}b",
            "a \u{E0041}",
        ] {
            assert!(
                matches!(tokenize(bad), Err(ParseError::HiddenCharacter { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            tokenize("restart <!channel>"),
            Err(ParseError::Markup { .. })
        ));
        assert!(matches!(
            tokenize("restart <unclosed"),
            Err(ParseError::Markup { .. })
        ));
    }
}
