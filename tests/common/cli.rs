//! Running the `pitcrew` binary as an operator would, with a clean environment: only `PATH`,
//! the configuration's path and the variables a test gives (secrets).

use std::path::Path;
use std::process::Command;

/// Runs `pitcrew ARGS` on the configuration at `config` with `env` set: its exit code, and its
/// stdout then stderr as one text.
pub fn pitcrew(config: &Path, env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let config = config.to_string_lossy();
    let mut all = vec![("PITCREW_CONFIG", config.as_ref())];
    all.extend_from_slice(env);
    run(&all, args)
}

/// Runs `pitcrew ARGS` with only `PATH` and `env` set (no configuration unless `env` or `args`
/// name one): its exit code, and its stdout then stderr as one text.
pub fn run(env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run pitcrew");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned()
            + String::from_utf8_lossy(&out.stderr).as_ref(),
    )
}

/// `pitcrew exec --as USER [--channel C] [--yes] -- TEXT` on `config`.
pub fn exec(
    config: &Path,
    env: &[(&str, &str)],
    user: &str,
    channel: Option<&str>,
    yes: bool,
    text: &str,
) -> (i32, String) {
    let mut args = vec!["exec", "--as", user];
    if let Some(c) = channel {
        args.extend(["--channel", c]);
    }
    if yes {
        args.push("--yes");
    }
    args.extend(["--", text]);
    pitcrew(config, env, &args)
}
