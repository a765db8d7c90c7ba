//! The `sextant` binary: parses the command line and hands off to `cli`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// See the `mimalloc` entry in Cargo.toml for why this allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn is_release_check() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .any(|w| w[0] == "release" && w[1] == "check")
}

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        // The release gate promises exit code 3 for bad arguments (CI scripts read it).
        Err(err) if is_release_check() && err.use_stderr() => {
            let _ = err.print();
            return ExitCode::from(cli::release::EXIT_ERROR);
        }
        Err(err) => err.exit(),
    };
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
