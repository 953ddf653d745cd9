//! Log lines: env_logger with one format for every thread, `[time level
//! thread module] message` (`[2026-01-02T03:04:05.678Z INFO  shard-3
//! server::reactor] ...`), to standard error or, with `logfile`, appended
//! to that file. `loglevel` sets the level (CONFIG SET changes it at run
//! time); `RUST_LOG`, when set, rules instead.
//!
//! Redis logs to standard output when `logfile` is empty; Mayfly writes to
//! standard error (under systemd both go to the journal). Like Redis, it
//! opens `logfile` for each line, so that a log rotated by renaming the
//! file (logrotate without `copytruncate`) continues in a new file.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

/// Starts logging to `logfile` (standard error if empty), keeping the level
/// the configuration set; fails if the file cannot be opened.
pub fn init(logfile: &[u8]) -> std::io::Result<()> {
    let level = log::max_level();
    let from_env = std::env::var_os("RUST_LOG").is_some();
    let mut builder = env_logger::Builder::new();
    // The logger passes every level and `log`'s max level filters, so that
    // CONFIG SET loglevel can change it at run time (unless RUST_LOG rules).
    builder
        .filter_level(log::LevelFilter::Trace)
        .parse_env("RUST_LOG")
        .format(line);
    if !logfile.is_empty() {
        let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(logfile));
        // Opened once now, so that a file that cannot be written stops the
        // start-up with a clear error.
        LogFile::open(&path)?;
        builder.target(env_logger::Target::Pipe(Box::new(LogFile {
            path,
            line: Vec::new(),
        })));
    }
    builder.init();
    if !from_env {
        log::set_max_level(level);
    }
    Ok(())
}

/// One log line: time in ms, level, the thread (`shard-N` for a shard's
/// executor, else the thread's name, e.g. `main`), module, message.
fn line(out: &mut env_logger::fmt::Formatter, record: &log::Record) -> std::io::Result<()> {
    write!(out, "[{} {:<5} ", out.timestamp_millis(), record.level())?;
    match server::current_shard() {
        Some(id) => write!(out, "shard-{id}")?,
        None => write!(
            out,
            "{}",
            std::thread::current().name().unwrap_or("unnamed")
        )?,
    }
    writeln!(
        out,
        " {}] {}",
        record.module_path().unwrap_or("mayfly"),
        record.args()
    )
}

/// The log file, opened in append mode for each line and closed after it,
/// as Redis's `serverLogRaw` does.
struct LogFile {
    path: std::path::PathBuf,
    /// The line being written (env_logger may write a record in pieces).
    line: Vec<u8>,
}

impl LogFile {
    fn open(path: &std::path::Path) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    }

    /// Appends what is pending to the file. A line that cannot be written
    /// is lost, as in Redis: logging never stops the server.
    fn write_out(&mut self) {
        if let Ok(mut file) = Self::open(&self.path) {
            let _ = file.write_all(&self.line);
        }
        self.line.clear();
    }
}

impl Write for LogFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(bytes);
        if self.line.ends_with(b"\n") {
            self.write_out();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.line.is_empty() {
            self.write_out();
        }
        Ok(())
    }
}
