//! Any body that passed the signature check (Slack, or whoever holds the signing secret, can
//! send anything): slash-command forms, interaction forms and Events API JSON decode or are
//! refused as malformed, never a panic; a decoded command's text goes on to the parser.
//! The first byte picks the endpoint, so one corpus covers all three.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pitcrew_slack_wire::payloads::{decode_click, decode_command, decode_event};

fuzz_target!(|data: &[u8]| {
    let Some((&endpoint, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match endpoint % 3 {
        0 => {
            if let Ok((event, _name)) = decode_command(text) {
                let _ = pitcrew_command::command::parse(event.text.as_deref().unwrap_or_default());
            }
        }
        1 => {
            let _ = decode_click(text);
        }
        _ => {
            let _ = decode_event(text);
        }
    }
});
