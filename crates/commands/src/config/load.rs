//! Start-up: the config file (with its `include`s) and then the command
//! line, read as Redis's `loadServerConfigFromString` reads them, line by
//! line, each option checked by the table; the first bad line stops the
//! server with a message that names the file, the line number, the line,
//! the option and why (Redis's reasons).

use super::options::{lookup, Access, ConfigOption, Startup, OPTIONS};
use super::syntax::{command_line_lines, split_args, trim_line};
use super::value::Value;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Includes nested deeper than this are refused (a file that includes
/// itself would otherwise recurse forever).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Where a config line was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A config file (the one given, or one it includes).
    File(PathBuf),
    /// The command line (`--name value ...`).
    CommandLine,
}

/// A config line and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, or the command line.
    pub source: Source,
    /// The line number in the file (from 1), or the option's rank on the
    /// command line.
    pub line: usize,
    /// The line, trimmed.
    pub text: Vec<u8>,
}

/// One checked option line.
#[derive(Debug, Clone)]
pub struct Directive {
    /// The option.
    pub option: &'static ConfigOption,
    /// Its value.
    pub value: Value,
    /// Where it was read.
    pub origin: Origin,
}

/// Why the configuration cannot be used: what `mayfly` prints before it
/// exits with status 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The line at fault, if one is.
    pub origin: Option<Origin>,
    /// The option the line names, if it names one.
    pub option: Option<String>,
    /// Why (Redis's text where Redis has one).
    pub reason: String,
}

impl ConfigError {
    fn at(origin: &Origin, option: Option<&[u8]>, reason: impl Into<String>) -> Self {
        ConfigError {
            origin: Some(origin.clone()),
            option: option.map(|o| String::from_utf8_lossy(o).into_owned()),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    /// Redis's `*** FATAL CONFIG FILE ERROR ***` block, with the file's
    /// name (or "the command line") and the option added.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Mayfly {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        if let Some(origin) = &self.origin {
            match (&origin.source, &self.option) {
                (Source::File(path), option) => {
                    write!(
                        f,
                        "Reading the configuration file {}, at line {}",
                        path.display(),
                        origin.line
                    )?;
                    if let Some(option) = option {
                        write!(f, ", option '{option}'")?;
                    }
                    writeln!(f)?;
                }
                (Source::CommandLine, Some(option)) => {
                    writeln!(f, "Reading the command line, at option --{option}")?;
                }
                (Source::CommandLine, None) => writeln!(f, "Reading the command line")?,
            }
            writeln!(f, ">>> '{}'", String::from_utf8_lossy(&origin.text))?;
        }
        write!(f, "{}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Reads the config file (if any), then the command-line options after it,
/// and returns every option line in order (a later line for the same
/// option overrides an earlier one), or the first error.
pub fn read(config_file: Option<&Path>, args: &[Vec<u8>]) -> Result<Vec<Directive>, ConfigError> {
    let mut directives = Vec::new();
    if let Some(path) = config_file {
        read_file(path, None, 0, &mut directives)?;
    }
    for (rank, line) in command_line_lines(args).into_iter().enumerate() {
        let origin = Origin {
            source: Source::CommandLine,
            line: rank + 1,
            text: trim_line(&line).to_vec(),
        };
        read_line(origin, 0, &mut directives)?;
    }
    Ok(directives)
}

/// Reads the config and applies it as the server starts: every option at
/// its default first (as Redis's `initConfigValues`), then each line in
/// order. Options fixed at start-up come back in [`Startup`]; the others
/// (limits, password, log level, `dir`) are set in the process at once.
pub fn start_up(config_file: Option<&Path>, args: &[Vec<u8>]) -> Result<Startup, ConfigError> {
    let directives = read(config_file, args)?;
    let mut startup = Startup::default();
    for option in OPTIONS {
        if let Ok(value) = option.default_value() {
            // A default that cannot be applied (say, `dir ./`) leaves the
            // process as it is.
            let _ = option.store(&value);
        }
    }
    for directive in &directives {
        let option = directive.option;
        match &option.access {
            Access::Startup { set, .. } => set(&mut startup, &directive.value),
            _ => option.store(&directive.value).map_err(|reason| {
                ConfigError::at(&directive.origin, Some(option.name.as_bytes()), reason)
            })?,
        }
    }
    Ok(startup)
}

/// Reads one file; `include`d from `from` if that is set.
fn read_file(
    path: &Path,
    from: Option<&Origin>,
    depth: usize,
    out: &mut Vec<Directive>,
) -> Result<(), ConfigError> {
    let text = std::fs::read(path).map_err(|e| ConfigError {
        origin: from.cloned(),
        option: from.map(|_| "include".into()),
        reason: format!(
            "Can't open config file '{}': {}",
            path.display(),
            super::os_reason(&e)
        ),
    })?;
    if text.is_empty() {
        return Ok(());
    }
    for (index, line) in text.split(|&c| c == b'\n').enumerate() {
        let origin = Origin {
            source: Source::File(path.to_path_buf()),
            line: index + 1,
            text: trim_line(line).to_vec(),
        };
        read_line(origin, depth, out)?;
    }
    Ok(())
}

/// Reads one line (already trimmed into `origin.text`).
fn read_line(origin: Origin, depth: usize, out: &mut Vec<Directive>) -> Result<(), ConfigError> {
    let line = &origin.text;
    if line.is_empty() || line[0] == b'#' {
        return Ok(());
    }
    let words = split_args(line)
        .ok_or_else(|| ConfigError::at(&origin, None, "Unbalanced quotes in configuration line"))?;
    let Some((name, args)) = words.split_first() else {
        return Ok(());
    };
    let name = name.to_ascii_lowercase();
    if let Some(option) = lookup(&name) {
        let value = option
            .parse(args)
            .map_err(|why| ConfigError::at(&origin, Some(&name), start_up_reason(option, why)))?;
        out.push(Directive {
            option,
            value,
            origin,
        });
        return Ok(());
    }
    if name == b"include" && args.len() == 1 {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::at(
                &origin,
                Some(&name),
                format!("includes nested more than {MAX_INCLUDE_DEPTH} deep (does a file include itself?)"),
            ));
        }
        for path in include_paths(Path::new(std::ffi::OsStr::from_bytes(&args[0]))) {
            read_file(&path, Some(&origin), depth + 1, out)?;
        }
        return Ok(());
    }
    Err(ConfigError::at(
        &origin,
        Some(&name),
        "Bad directive or wrong number of arguments",
    ))
}

/// Why a line is refused at start-up: CONFIG SET's reason and, for an
/// option whose value Mayfly fixes (`appendonly yes`, say), that value.
fn start_up_reason(option: &ConfigOption, reason: String) -> String {
    if !matches!(option.access, Access::Fixed) || reason != super::IMMUTABLE {
        return reason;
    }
    let fixed = option.default_value().unwrap_or(Value::Words(Vec::new()));
    format!(
        "{reason} (Mayfly only runs with: {} {})",
        option.name,
        String::from_utf8_lossy(&option.kind.rewrite(&fixed))
    )
}

/// The files an `include` names: the path itself or, when it has glob
/// characters (`*`, `?`, `[`) anywhere, what `glob(3)` finds for it, in
/// glob's (sorted) order, as Redis's `loadServerConfig` does. Finding
/// nothing is not an error (an empty `conf.d` may be included); a matched
/// directory is skipped (Redis reads nothing from it). Relative paths start
/// from the working directory the server was started in.
fn include_paths(path: &Path) -> Vec<PathBuf> {
    let pattern = path.as_os_str().as_bytes();
    if !pattern.iter().any(|c| b"*?[".contains(c)) {
        return vec![path.to_path_buf()];
    }
    let Ok(pattern) = std::ffi::CString::new(pattern) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    // SAFETY: a zeroed glob_t is glob(3)'s initial state; glob fills it with
    // `gl_pathc` NUL-terminated paths, read before globfree releases them.
    unsafe {
        let mut matches: libc::glob_t = std::mem::zeroed();
        if libc::glob(pattern.as_ptr(), 0, None, &mut matches) == 0 {
            for i in 0..matches.gl_pathc {
                let path = std::ffi::CStr::from_ptr(*matches.gl_pathv.add(i));
                found.push(PathBuf::from(std::ffi::OsStr::from_bytes(path.to_bytes())));
            }
        }
        libc::globfree(&mut matches);
    }
    found.retain(|path| !path.is_dir());
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("mayfly-config-{name}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("scratch directory");
            Scratch(dir)
        }

        fn file(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).expect("write a config file");
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn args(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn values(directives: &[Directive]) -> Vec<(String, String)> {
        directives
            .iter()
            .map(|d| {
                (
                    d.option.name.to_string(),
                    String::from_utf8_lossy(&d.option.kind.show(&d.value)).into_owned(),
                )
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn comments_quotes_names_and_the_command_line() {
        let dir = Scratch::new("syntax");
        let conf = dir.file(
            "a.conf",
            "# a comment\n   # an indented one\n\n  PORT   7000  \r\nrequirepass \"a\\x41\\n\\\"\"\n\
             logfile 'it\\'s'\nbind 127.0.0.1 -::1\ntimeout 5\nTimeout 6\n",
        );
        let read = read(Some(&conf), &args(&["--timeout", "7", "--port 7001"])).expect("valid");
        assert_eq!(
            values(&read),
            pairs(&[
                ("port", "7000"),
                ("requirepass", "aA\n\""),
                ("logfile", "it's"),
                ("bind", "127.0.0.1 -::1"),
                ("timeout", "5"),
                ("timeout", "6"),
                ("timeout", "7"),
                ("port", "7001"),
            ])
        );
        assert_eq!(read[0].origin.line, 4);
        assert_eq!(read[0].origin.text, b"PORT   7000");
        assert_eq!(read[6].origin.source, Source::CommandLine);
    }

    #[test]
    fn includes_in_place_and_by_glob() {
        let dir = Scratch::new("include");
        dir.file("b.conf", "timeout 2\n");
        std::fs::create_dir_all(dir.0.join("conf.d")).expect("conf.d");
        dir.file("conf.d/2.conf", "maxclients 20\n");
        dir.file("conf.d/1.conf", "maxclients 10\n");
        dir.file("conf.d/.hidden.conf", "maxclients 99\n");
        // A wildcard in a directory part, as glob(3) takes it; a match that
        // is a directory (`*.d`: conf.d) is skipped.
        std::fs::create_dir_all(dir.0.join("site-x")).expect("site-x");
        dir.file("site-x/c.conf", "databases 4\n");
        let main = dir.file(
            "a.conf",
            &format!(
                "timeout 1\ninclude {}\ninclude \"{}/conf.d/*.conf\"\ninclude {}/none/*.conf\n\
                 include {}/site-*/c.conf\ninclude {}/*.d\ntimeout 3\n",
                dir.0.join("b.conf").display(),
                dir.0.display(),
                dir.0.display(),
                dir.0.display(),
                dir.0.display()
            ),
        );
        let read = read(Some(&main), &[]).expect("valid");
        assert_eq!(
            values(&read),
            pairs(&[
                ("timeout", "1"),
                ("timeout", "2"),
                ("maxclients", "10"),
                ("maxclients", "20"),
                ("databases", "4"),
                ("timeout", "3"),
            ])
        );
        assert_eq!(read[1].origin.source, Source::File(dir.0.join("b.conf")));
    }

    fn error(text: &str, cli: &[&str]) -> String {
        let dir = Scratch::new("error");
        let conf = dir.file("bad.conf", text);
        let e = read(Some(&conf), &args(cli)).expect_err("an error");
        e.to_string()
            .replace(&conf.display().to_string(), "FILE")
            .replace(env!("CARGO_PKG_VERSION"), "V")
    }

    #[test]
    fn errors_name_the_file_line_option_and_reason() {
        assert_eq!(
            error("# ok\nport \"abc\"\n", &[]),
            "\n*** FATAL CONFIG FILE ERROR (Mayfly V) ***\n\
             Reading the configuration file FILE, at line 2, option 'port'\n\
             >>> 'port \"abc\"'\n\
             argument couldn't be parsed into an integer"
        );
        assert_eq!(
            error("\n  port   \"12\n", &[]),
            "\n*** FATAL CONFIG FILE ERROR (Mayfly V) ***\n\
             Reading the configuration file FILE, at line 2\n\
             >>> 'port   \"12'\n\
             Unbalanced quotes in configuration line"
        );
        let last_line = |text: &str, cli: &[&str]| {
            error(text, cli)
                .lines()
                .last()
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(
            last_line("foo bar\n", &[]),
            "Bad directive or wrong number of arguments"
        );
        assert_eq!(
            last_line("include\n", &[]),
            "Bad directive or wrong number of arguments"
        );
        assert_eq!(last_line("loglevel\n", &[]), "wrong number of arguments");
        assert_eq!(
            last_line("loglevel a b\n", &[]),
            "wrong number of arguments"
        );
        assert_eq!(
            last_line("maxmemory 1.5mb\n", &[]),
            "argument must be a memory value"
        );
        assert_eq!(
            last_line("maxclients -1\n", &[]),
            "argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(
            last_line("appendonly maybe\n", &[]),
            "argument must be 'yes' or 'no'"
        );
        assert_eq!(last_line("save 1\n", &[]), "Invalid save parameters");
        assert_eq!(
            last_line("save 3600 1\n", &[]),
            "can't set immutable config (Mayfly only runs with: save \"\")"
        );
        assert_eq!(
            last_line("appendonly yes\n", &[]),
            "can't set immutable config (Mayfly only runs with: appendonly no)"
        );
        assert_eq!(
            last_line("timeout \"1\"x\n", &[]),
            "Unbalanced quotes in configuration line"
        );
        assert!(last_line("include /nonexistent/x.conf\n", &[]).starts_with(
            "Can't open config file '/nonexistent/x.conf': No such file or directory"
        ));
        assert_eq!(
            error("port 7000\n", &["--timeout", "1", "--loglevel", "warn"]),
            "\n*** FATAL CONFIG FILE ERROR (Mayfly V) ***\n\
             Reading the command line, at option --loglevel\n\
             >>> 'loglevel \"warn\"'\n\
             argument(s) must be one of the following: debug, verbose, notice, warning"
        );
        assert!(error("", &["x"]).contains(">>> '\"x\"'\nBad directive"));
    }

    #[test]
    fn an_include_loop_is_an_error() {
        let dir = Scratch::new("loop");
        let conf = dir.0.join("self.conf");
        std::fs::write(&conf, format!("include {}\n", conf.display())).expect("write");
        let e = read(Some(&conf), &[]).expect_err("a loop");
        assert!(e.reason.contains("nested more than 16 deep"), "{e}");
    }

    #[test]
    fn a_missing_config_file() {
        let e = read(Some(Path::new("/nonexistent/mayfly.conf")), &[]).expect_err("missing");
        assert_eq!(e.origin, None);
        assert!(e.to_string().ends_with(
            "***\nCan't open config file '/nonexistent/mayfly.conf': No such file or directory"
        ));
    }
}
