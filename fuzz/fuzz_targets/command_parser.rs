//! Any text typed after `/pitcrew`: the parser answers with a command or an error, never a
//! panic; and every command it accepts prints (`Display`) as text that parses back to the
//! same command — the canonical form recorded in the audit trail means what was typed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(command) = pitcrew_command::command::parse(text) else {
        return;
    };
    let canonical = command.to_string();
    match pitcrew_command::command::parse(&canonical) {
        Ok(again) => assert_eq!(
            again, command,
            "{text:?} parsed, but its canonical form {canonical:?} means something else"
        ),
        Err(e) => panic!("{text:?} parsed, but its canonical form {canonical:?} does not: {e}"),
    }
});
