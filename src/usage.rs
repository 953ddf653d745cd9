//! `mayfly --help` and `mayfly --version`: usage as `redis-server`'s, and
//! every option of the table with its value, default and doc.

use server::config::options::Access;
use server::config::OPTIONS;
use std::fmt::Write;

/// Width the option docs are wrapped to.
const WIDTH: usize = 79;
/// Indent of an option's doc under its name.
const INDENT: &str = "        ";

/// The version line.
pub fn version() -> String {
    format!(
        "Mayfly server v={} redis_version={} bits={}",
        env!("CARGO_PKG_VERSION"),
        server::REDIS_VERSION,
        usize::BITS
    )
}

/// The usage text, then every option.
pub fn help() -> String {
    let mut out = String::from(
        "Mayfly: a Redis-compatible, thread-per-core, shared-nothing in-memory data store.\n\
         \n\
         Usage: mayfly [/path/to/mayfly.conf] [--option value [value ...] ...]\n\
         \x20      mayfly -v or --version\n\
         \x20      mayfly -h or --help\n\
         \n\
         The config file holds `option value` lines in Redis's syntax (# comments,\n\
         \"double\" and 'single' quotes, include <path>); options on the command\n\
         line are named as in the file and override it. config/mayfly.conf\n\
         documents each one.\n\
         \n\
         Examples:\n\
         \x20      mayfly                          (every option at its default)\n\
         \x20      mayfly /etc/mayfly/mayfly.conf\n\
         \x20      mayfly --port 7777 --threads 4\n\
         \x20      mayfly /etc/mayfly/mayfly.conf --loglevel verbose\n\
         \n\
         Options:\n",
    );
    for option in OPTIONS {
        let default = if option.default.is_empty() {
            "\"\""
        } else {
            option.default
        };
        let run_time = match option.access {
            Access::Startup { .. } => "fixed at start-up",
            Access::Fixed => "CONFIG SET accepts only the default",
            _ if option.protected() => {
                "CONFIG SET can change it if enable-protected-configs allows"
            }
            _ => "CONFIG SET can change it",
        };
        let _ = writeln!(out, "  --{} {}", option.name, option.kind.syntax());
        let doc = format!("{}. [default: {default}] ({run_time})", option.doc);
        wrap(&doc, &mut out);
    }
    out
}

/// Appends `text` indented, in lines of at most [`WIDTH`] columns.
fn wrap(text: &str, out: &mut String) {
    let mut line = String::from(INDENT);
    for word in text.split(' ') {
        if line.len() > INDENT.len() && line.len() + 1 + word.len() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = String::from(INDENT);
        }
        if line.len() > INDENT.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}
