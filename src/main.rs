//! The `mayfly` binary: the command line (as `redis-server`'s: an optional
//! config file, then `--name value` options that override it), the
//! configuration, logging, then the server.

mod logging;
mod usage;

use server::config;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: store::memory::CountingAllocator = store::memory::CountingAllocator;

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().map(|a| a.as_bytes()) {
        Some(b"-h" | b"--help") => {
            print!("{}", usage::help());
            return ExitCode::SUCCESS;
        }
        Some(b"-v" | b"--version") => {
            println!("{}", usage::version());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    // As redis-server: a first argument that is no option names the config
    // file, kept as an absolute path for CONFIG REWRITE.
    let config_file = match args.first() {
        Some(first) if !first.as_bytes().starts_with(b"-") => {
            let path = PathBuf::from(args.remove(0));
            Some(std::path::absolute(&path).unwrap_or(path))
        }
        _ => None,
    };
    let options: Vec<Vec<u8>> = args.into_iter().map(OsString::into_vec).collect();
    let startup = match config::start_up(config_file.as_deref(), &options) {
        Ok(startup) => startup,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = logging::init(&startup.logfile) {
        eprintln!(
            "\n*** FATAL CONFIG FILE ERROR (Mayfly {}) ***\nCan't open the log file {}: {}",
            env!("CARGO_PKG_VERSION"),
            String::from_utf8_lossy(&startup.logfile),
            config::os_reason(&e)
        );
        return ExitCode::FAILURE;
    }
    let threads = match startup.threads {
        0 => server::cpu::available(),
        n => n,
    };
    let config = server::Config {
        options: startup,
        threads,
        config_file,
    };
    match server::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
