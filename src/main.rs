//! The `pitcrew` binary: a thin shell over the library (see `cli.rs`).

fn main() -> std::process::ExitCode {
    pitcrew::cli::main()
}
