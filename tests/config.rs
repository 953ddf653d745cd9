//! Configuration as redis-server's: the config file's syntax, the command
//! line over it, start-up errors, CONFIG GET/SET/REWRITE and the options'
//! effects at run time, each compared with a redis-server given the same
//! file or commands where Redis has the same option; `--help` and
//! config/mayfly.conf against the options table; logfile, pidfile, dir and
//! bind; scripts/install. These check the `mayfly` process itself, so they
//! do nothing under `MAYFLY_TEST_PORT`.

#[macro_use]
mod common;

use common::{
    free_port, info_field, parse_value, show, skip_if_external, text_of, wait_for, Client, Process,
    RedisServer, Server, Value,
};
use server::config::options::Access;
use server::config::OPTIONS;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("mayfly-test-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        // Canonical, as getcwd(3) (CONFIG GET dir) reports it.
        Scratch(std::fs::canonicalize(&dir).expect("canonical scratch path"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `command` to its exit (killed after 10 s): its status code and
/// everything it wrote.
fn run_to_exit(command: &mut Command) -> (Option<i32>, String) {
    let mut process = Process::spawn(command).expect("spawn");
    let status = process.wait_timeout(Duration::from_secs(10));
    if status.is_none() {
        process.kill_now();
    }
    std::thread::sleep(Duration::from_millis(50));
    (status.and_then(|s| s.code()), process.output())
}

fn mayfly() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mayfly"))
}

/// The value CONFIG GET replies for `name` (one name, no pattern).
fn config_get(client: &mut Client, name: &str) -> Vec<u8> {
    match parse_value(&client.cmd(&["CONFIG", "GET", name])) {
        Value::Array(items) if items.len() == 2 => items[1].as_bytes().unwrap_or_default().to_vec(),
        other => panic!("CONFIG GET {name}: {other:?}"),
    }
}

/// CONFIG GET's reply as (name, value) pairs.
fn config_pairs(reply: &[u8]) -> BTreeSet<(String, String)> {
    match parse_value(reply) {
        Value::Array(items) => items
            .chunks(2)
            .map(|pair| {
                let text = |v: &Value| {
                    String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned()
                };
                (text(&pair[0]), text(&pair[1]))
            })
            .collect(),
        other => panic!("CONFIG GET replied {other:?}"),
    }
}

/// The options of the table, by name.
fn table_names() -> BTreeSet<String> {
    OPTIONS.iter().map(|o| o.name.to_string()).collect()
}

/// The options only Mayfly has.
const MAYFLY_ONLY: [&str; 3] = ["threads", "keyspace-segments", "cluster-mode"];

#[test]
fn help_lists_every_option_with_its_default_and_doc() {
    if skip_if_external() {
        return;
    }
    let (code, help) = run_to_exit(mayfly().arg("--help"));
    assert_eq!(code, Some(0), "{help}");
    assert!(help.starts_with("Mayfly"), "{help}");
    assert!(
        help.contains("Usage: mayfly [/path/to/mayfly.conf]"),
        "{help}"
    );
    let flatten = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    for option in OPTIONS {
        let start = help
            .find(&format!("\n  --{} ", option.name))
            .unwrap_or_else(|| panic!("--help does not list --{}:\n{help}", option.name));
        let block = &help[start + 1..];
        let end = block[1..].find("\n  --").map_or(block.len(), |i| i + 1);
        let block = flatten(&block[..end]);
        assert!(
            block.contains(&flatten(option.doc)),
            "--{}'s doc:\n{block}",
            option.name
        );
        let default = if option.default.is_empty() {
            "\"\""
        } else {
            option.default
        };
        assert!(
            block.contains(&format!("[default: {default}]")),
            "--{}'s default:\n{block}",
            option.name
        );
    }
    let (code, version) = run_to_exit(mayfly().arg("-v"));
    assert_eq!(code, Some(0));
    assert!(
        version.starts_with(&format!("Mayfly server v={}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
}

/// config/mayfly.conf in the repository.
fn sample_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mayfly.conf")
}

#[test]
fn the_sample_config_documents_every_option_with_its_default() {
    let text = std::fs::read_to_string(sample_config()).expect("read config/mayfly.conf");
    let lines: Vec<&str> = text.lines().collect();
    for option in OPTIONS {
        let default = option.default_value().expect("a valid default");
        let expected = format!(
            "{} {}",
            option.name,
            String::from_utf8_lossy(&option.kind.rewrite(&default))
        );
        let at: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.split_whitespace().next() == Some(option.name))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            at.len(),
            1,
            "config/mayfly.conf sets {} {} times",
            option.name,
            at.len()
        );
        assert_eq!(
            lines[at[0]], expected,
            "config/mayfly.conf must set {} to its default",
            option.name
        );
        // The comment block right above it says what it does, its default
        // and whether CONFIG SET changes it.
        let comments: Vec<&str> = lines[..at[0]]
            .iter()
            .rev()
            .take_while(|l| l.starts_with('#'))
            .copied()
            .collect();
        let block = comments.into_iter().rev().collect::<Vec<_>>().join("\n");
        let shown = String::from_utf8_lossy(&option.kind.rewrite(&default)).into_owned();
        assert!(
            block.contains(&format!("Default: {shown}.")),
            "{}'s comment gives no `Default: {shown}.`:\n{block}",
            option.name
        );
        let settable = match option.access {
            Access::Startup { .. } => "CONFIG SET: no",
            _ => "CONFIG SET: yes",
        };
        assert!(
            block.contains(settable),
            "{}'s comment should say {settable}:\n{block}",
            option.name
        );
    }
    // And Mayfly reads it: every line is valid.
    let directives = server::config::load::read(Some(&sample_config()), &[]).expect("a valid file");
    assert_eq!(directives.len(), OPTIONS.len());
}

#[test]
fn the_sample_config_starts_on_a_port_from_the_command_line() {
    if skip_if_external() {
        return;
    }
    let dir = Scratch::new("sample");
    let s = Server::start_with_config(&sample_config(), &dir.0, &[]);
    let mut c = s.client();
    assert_eq!(config_get(&mut c, "port"), s.port().to_string().as_bytes());
    assert_eq!(config_get(&mut c, "bind"), b"127.0.0.1");
    assert_eq!(
        config_get(&mut c, "dir"),
        dir.0.as_os_str().as_encoded_bytes()
    );
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
}

/// A config file in Redis's syntax: comments, case, blanks, quotes and
/// escapes, a repeated option, an include.
const SYNTAX: &str = "# a comment\n   # an indented comment\n\n\
    LOGLEVEL   warning  \r\n\
    requirepass \"a\\x41\\n\\t\\\"b\\\\\"\n\
    timeout 5\n\
    Timeout '6'\n\
    tcp-keepalive '1' \n\
    pidfile 'it\\'s.pid'\n\
    include INCLUDED\n\
    maxmemory \"1mb\"\n";

#[test]
fn file_syntax_and_the_command_line_as_redis() {
    if skip_if_external() {
        return;
    }
    let dir = Scratch::new("syntax");
    dir.write("included.conf", "maxclients 50\nslowlog-max-len 7\n");
    let text = SYNTAX.replace("INCLUDED", &dir.path("included.conf").display().to_string());
    let conf = dir.write("syntax.conf", &text);
    let args = ["--slowlog-max-len", "9", "--save", "--appendonly", "no"];
    let mayfly = Server::start_with_config(&conf, &dir.0, &args);
    let redis = RedisServer::start_with_config(&conf, &dir.0, &args);
    let password = b"aA\n\t\"b\\".as_slice();
    let expected: [(&str, &[u8]); 10] = [
        ("pidfile", b"it's.pid"),
        ("requirepass", password),
        ("loglevel", b"warning"),
        ("timeout", b"6"),
        ("tcp-keepalive", b"1"),
        ("maxclients", b"50"),
        ("maxmemory", b"1048576"),
        ("slowlog-max-len", b"9"),
        ("save", b""),
        ("appendonly", b"no"),
    ];
    let mut ports = vec![("mayfly", mayfly.port())];
    if let Some(redis) = &redis {
        ports.push(("redis", redis.port));
    }
    for (name, port) in ports {
        let mut c = Client::connect(port);
        assert_cmd!(c, ["PING"], b"-NOAUTH Authentication required.\r\n");
        assert_cmd!(c, [b"AUTH".as_slice(), password], b"+OK\r\n");
        for (option, value) in expected {
            assert_eq!(
                config_get(&mut c, option),
                value,
                "{name}: CONFIG GET {option}"
            );
        }
    }
}

/// The parts of a FATAL CONFIG FILE ERROR message: the line number (none
/// for the command line), the `>>>` line and the reason.
fn fatal(output: &str) -> (Option<usize>, String, String) {
    let lines: Vec<&str> = output.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(">>> '"))
        .unwrap_or_else(|| panic!("no >>> line in:\n{output}"));
    let number = lines[at - 1]
        .split(", at line ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok());
    (
        number,
        lines[at].to_string(),
        lines.last().copied().unwrap_or_default().to_string(),
    )
}

#[test]
fn bad_lines_stop_the_server_as_they_stop_redis() {
    if skip_if_external() {
        return;
    }
    let dir = Scratch::new("fatal");
    let redis = RedisServer::binary();
    let cases: &[(&str, &str, &str)] = &[
        // (file, option named, reason: Redis's text)
        (
            "# ok\nport \"abc\"\n",
            "port",
            "argument couldn't be parsed into an integer",
        ),
        (
            "\n  port   \"12\n",
            "",
            "Unbalanced quotes in configuration line",
        ),
        (
            "timeout \"1\"x\n",
            "",
            "Unbalanced quotes in configuration line",
        ),
        (
            "foo bar\n",
            "foo",
            "Bad directive or wrong number of arguments",
        ),
        (
            "include\n",
            "include",
            "Bad directive or wrong number of arguments",
        ),
        ("loglevel\n", "loglevel", "wrong number of arguments"),
        (
            "requirepass a b\n",
            "requirepass",
            "wrong number of arguments",
        ),
        (
            "loglevel warn\n",
            "loglevel",
            "argument(s) must be one of the following: debug, verbose, notice, warning",
        ),
        (
            "maxmemory 1.5mb\n",
            "maxmemory",
            "argument must be a memory value",
        ),
        (
            "maxclients -1\n",
            "maxclients",
            "argument must be between 1 and 4294967295 inclusive",
        ),
        (
            "timeout 99999999999\n",
            "timeout",
            "argument must be between 0 and 2147483647 inclusive",
        ),
        (
            "proto-max-bulk-len 1000\n",
            "proto-max-bulk-len",
            "argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
        (
            "appendonly maybe\n",
            "appendonly",
            "argument must be 'yes' or 'no'",
        ),
        ("save 1\n", "save", "Invalid save parameters"),
        (
            "port 7000\nport 70000\n",
            "port",
            "argument must be between 0 and 65535 inclusive",
        ),
    ];
    for (i, &(text, option, reason)) in cases.iter().enumerate() {
        let conf = dir.write(&format!("bad{i}.conf"), text);
        let (code, out) = run_to_exit(mayfly().arg(&conf));
        assert_eq!(code, Some(1), "{text:?}: {out}");
        assert!(
            out.contains(&format!(
                "*** FATAL CONFIG FILE ERROR (Mayfly {}) ***\nReading the configuration file {}, at line",
                env!("CARGO_PKG_VERSION"),
                conf.display()
            )),
            "{text:?}: {out}"
        );
        if !option.is_empty() {
            assert!(
                out.contains(&format!(", option '{option}'\n")),
                "{text:?}: {out}"
            );
        }
        let (number, line, why) = fatal(&out);
        assert_eq!(why, reason, "{text:?}: {out}");
        let bad_line = text
            .lines()
            .collect::<Vec<_>>()
            .iter()
            .rposition(|l| !l.trim().is_empty() && !l.starts_with('#'));
        assert_eq!(number, bad_line.map(|i| i + 1), "{text:?}: {out}");
        assert_eq!(
            line,
            format!(
                ">>> '{}'",
                text.lines()
                    .nth(number.unwrap_or(1) - 1)
                    .unwrap_or_default()
                    .trim()
            )
        );
        if let Some(redis) = &redis {
            let (redis_code, redis_out) = run_to_exit(
                Command::new(redis)
                    .arg(&conf)
                    .args(["--port", &free_port().to_string()]),
            );
            assert_eq!(
                redis_code,
                Some(1),
                "redis-server with {text:?}: {redis_out}"
            );
            assert_eq!(
                fatal(&redis_out),
                (number, line, why),
                "{text:?}: Redis said\n{redis_out}"
            );
        }
    }
    // The command line, read after the file.
    let conf = dir.write("good.conf", "port 7000\n");
    let (code, out) =
        run_to_exit(
            mayfly()
                .arg(&conf)
                .args(["--timeout", "1", "--loglevel", "warn"]),
        );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Reading the command line, at option --loglevel\n>>> 'loglevel \"warn\"'\n"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "argument(s) must be one of the following: debug, verbose, notice, warning\n"
        ),
        "{out}"
    );
    if let Some(redis) = &redis {
        let (_, redis_out) = run_to_exit(Command::new(redis).arg(&conf).args([
            "--timeout",
            "1",
            "--loglevel",
            "warn",
        ]));
        let (_, line, why) = fatal(&redis_out);
        assert_eq!((line, why), {
            let (_, line, why) = fatal(&out);
            (line, why)
        });
    }
    let (code, out) = run_to_exit(mayfly().arg(dir.path("missing.conf")));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "Can't open config file '{}': No such file or directory",
            dir.path("missing.conf").display()
        )),
        "{out}"
    );
    let (code, out) =
        run_to_exit(mayfly().args(["--port", &free_port().to_string(), "--dir", "/nonexistent"]));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("at option --dir\n>>> 'dir \"/nonexistent\"'\nNo such file or directory"),
        "{out}"
    );
    let (code, out) = run_to_exit(mayfly().args([
        "--port",
        &free_port().to_string(),
        "--logfile",
        "/nonexistent/m.log",
    ]));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Can't open the log file /nonexistent/m.log: No such file or directory"),
        "{out}"
    );
}

/// The servers of a comparison: a Mayfly with `args`, and a redis-server
/// with the same arguments where installed.
fn both(args: &[&str]) -> (Server, Option<RedisServer>, Vec<(&'static str, u16)>) {
    let mut mayfly_args = vec!["--threads", "2"];
    mayfly_args.extend_from_slice(args);
    let mayfly = Server::start(&mayfly_args);
    let redis = RedisServer::start_with(args);
    let mut ports = vec![("mayfly", mayfly.port())];
    if let Some(redis) = &redis {
        ports.push(("redis", redis.port));
    }
    (mayfly, redis, ports)
}

#[test]
fn config_get_patterns_as_redis() {
    if skip_if_external() {
        return;
    }
    let (mayfly, redis, _) = both(&["--loglevel", "warning"]);
    let mut m = mayfly.client();
    let all = config_pairs(&m.cmd(&["CONFIG", "GET", "*"]));
    assert_eq!(
        all.iter().map(|(n, _)| n.clone()).collect::<BTreeSet<_>>(),
        table_names()
    );
    let Some(redis) = redis else { return };
    let mut r = redis.client();
    let differ = ["port", "maxclients"];
    for pattern in [
        "*",
        "*max*",
        "MAX*",
        "*port",
        "tim?out",
        "[mt]*",
        "*-*-*",
        "save",
        "nosuch",
        "slowlog-*",
    ] {
        let ours = config_pairs(&m.cmd(&["CONFIG", "GET", pattern]));
        let theirs: BTreeSet<(String, String)> = config_pairs(&r.cmd(&["CONFIG", "GET", pattern]))
            .into_iter()
            .filter(|(name, _)| table_names().contains(name))
            .collect();
        let names = |pairs: &BTreeSet<(String, String)>| -> BTreeSet<String> {
            pairs
                .iter()
                .map(|(n, _)| n.clone())
                .filter(|n| !MAYFLY_ONLY.contains(&n.as_str()))
                .collect()
        };
        assert_eq!(names(&ours), names(&theirs), "CONFIG GET {pattern}");
        let same = |pairs: &BTreeSet<(String, String)>| -> BTreeSet<(String, String)> {
            pairs
                .iter()
                .filter(|(n, _)| {
                    !differ.contains(&n.as_str()) && !MAYFLY_ONLY.contains(&n.as_str())
                })
                .cloned()
                .collect()
        };
        assert_eq!(same(&ours), same(&theirs), "CONFIG GET {pattern}");
    }
    // A name is replied as given, once, even when a pattern matched it too.
    for c in [&mut m, &mut r] {
        assert_eq!(
            c.cmd(&["CONFIG", "GET", "TIMEOUT", "timeout", "tim*"]),
            b"*2\r\n$7\r\nTIMEOUT\r\n$1\r\n0\r\n"
        );
    }
}

#[test]
fn config_set_errors_as_redis_for_every_kind_of_value() {
    if skip_if_external() {
        return;
    }
    let (mayfly, redis, ports) = both(&["--enable-protected-configs", "yes"]);
    let cases: &[&[&str]] = &[
        // integers, signed and unsigned, of each width
        &["timeout", "-1"],
        &["timeout", "2147483648"],
        &["timeout", "abc"],
        &["timeout", "1.5"],
        &["timeout", ""],
        &["timeout", " 5"],
        &["timeout", "+5"],
        &["timeout", "007"],
        &["tcp-keepalive", "0x10"],
        &["maxclients", "-1"],
        &["maxclients", "0"],
        &["maxclients", "4294967296"],
        &["maxclients", "99999999999999999999"],
        &["slowlog-log-slower-than", "-2"],
        &["slowlog-log-slower-than", "9223372036854775808"],
        &["slowlog-max-len", "-1"],
        &["latency-monitor-threshold", "-1"],
        // memory
        &["maxmemory", "-1"],
        &["maxmemory", "1.5gb"],
        &["maxmemory", " 1"],
        &["maxmemory", "1 mb"],
        &["maxmemory", "1tb"],
        &["proto-max-bulk-len", "1000"],
        &["proto-max-bulk-len", "-1"],
        &["proto-max-bulk-len", "abc"],
        &["client-query-buffer-limit", "1000"],
        &["client-query-buffer-limit", "9223372036854775808"],
        // yes/no, enums, save
        &["appendonly", "maybe"],
        &["loglevel", "x"],
        &["loglevel", "warn"],
        &["maxmemory-policy", "x"],
        &["save", "1 2 3"],
        &["save", "a b"],
        &["save", "0 1"],
        &["save", "1 -1"],
        // strings: dir is changed with chdir(2)
        &["dir", "/nonexistent"],
        &["dir", "/etc/passwd"],
        &["dir", ""],
        // immutable, unknown, repeated, arity
        &["databases", "3"],
        &["logfile", "x"],
        &["pidfile", "x"],
        &["enable-protected-configs", "no"],
        &["foo", "bar"],
        &["timeout", "1", "timeout", "2"],
        &["Timeout", "1", "foo", "2"],
        &["timeout", "1", "databases", "1", "foo", "2"],
        &["timeout", "1", "DATABASES", "1", "TIMEOUT", "2"],
        &["timeout"],
        &["timeout", "1", "x"],
        &["requirepass", "a", "b"],
        // a later bad value undoes the earlier good ones
        &["timeout", "5", "maxclients", "abc"],
        &["loglevel", "verbose", "save", "1 2 3"],
    ];
    let gets = ["timeout", "loglevel", "maxclients", "dir"];
    let mut replies: Vec<Vec<Vec<u8>>> = Vec::new();
    for (_, port) in &ports {
        let mut c = Client::connect(*port);
        let mut these = Vec::new();
        for case in cases {
            let mut command = vec!["CONFIG", "SET"];
            command.extend_from_slice(case);
            these.push(c.cmd(&command));
        }
        for name in gets {
            these.push(c.cmd(&["CONFIG", "GET", name]));
        }
        replies.push(these);
    }
    let ours = &replies[0];
    for (reply, case) in ours.iter().zip(cases) {
        assert!(
            reply.starts_with(b"-ERR"),
            "CONFIG SET {case:?} should fail: {}",
            show(reply)
        );
    }
    assert_eq!(
        ours[cases.len()..],
        [
            b"*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n".to_vec(),
            b"*2\r\n$8\r\nloglevel\r\n$6\r\nnotice\r\n".to_vec(),
            b"*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n".to_vec(),
            {
                let cwd = std::env::current_dir().expect("cwd").display().to_string();
                format!("*2\r\n$3\r\ndir\r\n${}\r\n{cwd}\r\n", cwd.len()).into_bytes()
            },
        ][..],
        "nothing changed"
    );
    if redis.is_some() {
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(
                show(&replies[0][i]),
                show(&replies[1][i]),
                "CONFIG SET {case:?}: mayfly vs redis"
            );
        }
    }
    // Odd forms that set the default, then values that round-trip.
    let sets: &[(&[&str], &str, &str)] = &[
        (&["maxmemory", ""], "maxmemory", "0"),
        (&["maxmemory", "mb"], "maxmemory", "0"),
        (&["maxmemory", "1MB"], "maxmemory", "1048576"),
        (
            &["maxmemory", "18446744073709551615"],
            "maxmemory",
            "18446744073709551615",
        ),
        (&["maxmemory", "0"], "maxmemory", "0"),
        (&["loglevel", "VERBOSE"], "loglevel", "verbose"),
        (&["loglevel", "notice"], "loglevel", "notice"),
        (&["appendonly", "NO"], "appendonly", "no"),
        (&["save", ""], "save", ""),
        (
            &["maxmemory-policy", "NoEviction"],
            "maxmemory-policy",
            "noeviction",
        ),
        (
            &["slowlog-log-slower-than", "-1", "slowlog-max-len", "0"],
            "slowlog-log-slower-than",
            "-1",
        ),
        (&["dir", "/tmp"], "dir", "/tmp"),
    ];
    for (name, port) in &ports {
        let mut c = Client::connect(*port);
        for (set, get, value) in sets {
            let mut command = vec!["CONFIG", "SET"];
            command.extend_from_slice(set);
            assert_eq!(c.cmd(&command), b"+OK\r\n", "{name}: CONFIG SET {set:?}");
            assert_eq!(
                config_get(&mut c, get),
                value.as_bytes(),
                "{name}: after CONFIG SET {set:?}"
            );
        }
    }
    // What Mayfly cannot do, where Redis can: rebind, persist, evict.
    let mut c = mayfly.client();
    for (set, why) in [
        (["port", "7000"], "can't set immutable config"),
        (["bind", "127.0.0.1"], "can't set immutable config"),
        (["threads", "1"], "can't set immutable config"),
        (["appendonly", "yes"], "can't set immutable config"),
        (["save", "3600 1"], "can't set immutable config"),
        (
            ["maxmemory-policy", "allkeys-lru"],
            "can't set immutable config",
        ),
    ] {
        assert_cmd!(
            c,
            ["CONFIG", "SET", set[0], set[1]],
            format!(
                "-ERR CONFIG SET failed (possibly related to argument '{}') - {why}\r\n",
                set[0]
            )
        );
    }
}

#[test]
fn dir_is_protected_unless_enabled() {
    if skip_if_external() {
        return;
    }
    for (setting, reply) in [
        ("no", "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n"),
        ("local", "+OK\r\n"),
    ] {
        let (_mayfly, _redis, ports) = both(&["--enable-protected-configs", setting]);
        for (name, port) in &ports {
            let mut c = Client::connect(*port);
            assert_eq!(show(&c.cmd(&["CONFIG", "SET", "dir", "/tmp"])), show(reply.as_bytes()), "{name} with {setting}");
        }
    }
}

#[test]
fn config_set_maxclients_refuses_the_next_client_as_redis() {
    if skip_if_external() {
        return;
    }
    let (_mayfly, _redis, ports) = both(&[]);
    for (name, port) in ports {
        let mut first = Client::connect(port);
        // The start-up probe's connection may still be closing.
        assert!(
            wait_for(Duration::from_secs(5), || info(
                &mut first,
                "connected_clients"
            ) == "1"),
            "{name}: connected_clients never settled at 1"
        );
        assert_cmd!(first, ["CONFIG", "SET", "maxclients", "2"], b"+OK\r\n");
        let _second = common::assert_one_client_too_many(port, name);
        assert_cmd!(first, ["CONFIG", "SET", "maxclients", "3"], b"+OK\r\n");
        let mut fourth = Client::connect(port);
        assert_cmd!(fourth, ["PING"], b"+PONG\r\n");
    }
}

fn info(client: &mut Client, field: &str) -> String {
    let text = text_of(&client.cmd(&["INFO"]));
    info_field(&text, field)
        .unwrap_or_else(|| panic!("INFO has no {field}: {text}"))
        .to_string()
}

#[test]
fn config_set_maxclients_beyond_the_open_files_limit_fails_as_redis() {
    if skip_if_external() {
        return;
    }
    // Under a hard limit of 200 descriptors both lower maxclients at
    // start-up and refuse more at run time, each saying how many fit:
    // Redis keeps 32 descriptors, Mayfly 32 and 8 per shard.
    let fits = [("mayfly", 200 - 32 - 8 * 2), ("redis", 200 - 32)];
    let mut servers: Vec<(&str, u16, Killed)> = Vec::new();
    let port = free_port();
    let script = format!(
        "ulimit -n 200 && exec {} --port {port} --threads 2",
        env!("CARGO_BIN_EXE_mayfly")
    );
    servers.push(("mayfly", port, Killed::spawn(&script)));
    if let Some(redis) = RedisServer::binary() {
        let port = free_port();
        let script = format!(
            "ulimit -n 200 && exec {} --port {port} --save '' --bind 127.0.0.1",
            redis.display()
        );
        servers.push(("redis", port, Killed::spawn(&script)));
    }
    for (name, port, process) in &mut servers {
        let port = *port;
        assert!(
            wait_for(Duration::from_secs(10), || Client::try_connect(port)
                .is_ok()),
            "{name} did not start: {}",
            process.0.output()
        );
        let fit = fits.iter().find(|(n, _)| n == name).map_or(0, |(_, f)| *f);
        let mut c = Client::connect(port);
        assert_eq!(
            config_get(&mut c, "maxclients"),
            fit.to_string().as_bytes(),
            "{name}"
        );
        assert_cmd!(
            c,
            ["CONFIG", "SET", "maxclients", "1000"],
            format!(
                "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating \
                 system is not able to handle the specified number of clients, try with {fit}\r\n"
            )
        );
        assert_eq!(
            config_get(&mut c, "maxclients"),
            fit.to_string().as_bytes(),
            "{name}"
        );
        assert_cmd!(c, ["CONFIG", "SET", "maxclients", "100"], b"+OK\r\n");
    }
}

/// A process run by `sh -c`, killed when dropped.
struct Killed(Process);

impl Killed {
    fn spawn(script: &str) -> Killed {
        Killed(Process::spawn(Command::new("sh").args(["-c", script])).expect("spawn sh"))
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.0.kill_now();
    }
}

#[test]
fn config_set_requirepass_as_redis() {
    if skip_if_external() {
        return;
    }
    let (_mayfly, _redis, ports) = both(&[]);
    let mut transcripts = Vec::new();
    for (_, port) in &ports {
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut old = Client::connect(*port);
        out.push(old.cmd(&["CONFIG", "SET", "requirepass", "pw"]));
        // A client connected before stays logged in, a new one is not.
        out.push(old.cmd(&["PING"]));
        let mut new = Client::connect(*port);
        out.push(new.cmd(&["PING"]));
        out.push(new.cmd(&["HELLO", "2"]));
        out.push(old.cmd(&["CONFIG", "GET", "requirepass"]));
        // Clearing it lets the client in without AUTH, setting it again not.
        out.push(old.cmd(&["CONFIG", "SET", "requirepass", ""]));
        out.push(new.cmd(&["PING"]));
        out.push(old.cmd(&["CONFIG", "SET", "requirepass", "pw2"]));
        out.push(new.cmd(&["PING"]));
        out.push(new.cmd(&["AUTH", "pw"]));
        out.push(new.cmd(&["AUTH", "pw2"]));
        out.push(new.cmd(&["PING"]));
        out.push(old.cmd(&["AUTH", "bad"]));
        out.push(old.cmd(&["PING"]));
        out.push(old.cmd(&["RESET"]));
        out.push(old.cmd(&["PING"]));
        out.push(old.cmd(&["AUTH", "default", "pw2"]));
        out.push(old.cmd(&["CONFIG", "SET", "requirepass", ""]));
        out.push(old.cmd(&["CONFIG", "GET", "requirepass"]));
        out.push(old.cmd(&["AUTH", "x"]));
        out.push(old.cmd(&["AUTH", "default", "x"]));
        transcripts.push(out);
    }
    let ours = &transcripts[0];
    assert_eq!(ours[2], b"-NOAUTH Authentication required.\r\n");
    assert_eq!(ours[6], b"+PONG\r\n");
    assert_eq!(ours[8], b"-NOAUTH Authentication required.\r\n");
    assert_eq!(ours[11], b"+PONG\r\n");
    if let Some(theirs) = transcripts.get(1) {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(show(a), show(b), "step {i}: mayfly vs redis");
        }
    }
}

#[test]
fn config_set_timeout_closes_idle_clients() {
    if skip_if_external() {
        return;
    }
    let (_mayfly, _redis, ports) = both(&[]);
    for (name, port) in ports {
        let mut admin = Client::connect(port);
        let mut idle = Client::connect(port);
        assert_cmd!(idle, ["PING"], b"+PONG\r\n");
        assert_cmd!(admin, ["CONFIG", "SET", "timeout", "1"], b"+OK\r\n");
        // Closed by the server's once-a-second check, within the reply timeout.
        idle.expect_closed();
        // The admin connection was idle just as long: it is gone too.
        let mut fresh = Client::connect(port);
        assert_cmd!(fresh, ["CONFIG", "SET", "timeout", "0"], b"+OK\r\n");
        assert_eq!(config_get(&mut fresh, "timeout"), b"0", "{name}");
    }
}

/// Starts Mayfly from a config file in a scratch directory (the file given
/// as `text`), returning the server and the log file's path.
fn with_log(dir: &Scratch, text: &str, args: &[&str]) -> (Server, PathBuf) {
    let conf = dir.write("mayfly.conf", text);
    let s = Server::start_with_config(&conf, &dir.0, args);
    (s, dir.path("mayfly.log"))
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn logfile_lines_name_the_thread_and_loglevel_changes_at_run_time() {
    if skip_if_external() {
        return;
    }
    let dir = Scratch::new("logfile");
    let (s, log) = with_log(
        &dir,
        "logfile mayfly.log\nloglevel warning\nthreads 2\n",
        &[],
    );
    assert!(s.log().is_empty(), "nothing on standard error: {}", s.log());
    let mut c = s.client();
    // CONFIG REWRITE logs at notice: not at warning.
    assert_cmd!(c, ["CONFIG", "REWRITE"], b"+OK\r\n");
    assert_cmd!(c, ["CONFIG", "SET", "loglevel", "notice"], b"+OK\r\n");
    assert_cmd!(c, ["CONFIG", "REWRITE"], b"+OK\r\n");
    let success = " commands::config] CONFIG REWRITE executed with success.";
    assert!(
        wait_for(Duration::from_secs(2), || read_log(&log).contains(success)),
        "{}",
        read_log(&log)
    );
    let text = read_log(&log);
    assert_eq!(text.matches(success).count(), 1, "{text}");
    let line = text
        .lines()
        .find(|l| l.ends_with(success))
        .unwrap_or_default();
    // [2026-01-02T03:04:05.678Z INFO  shard-1 commands::config] ...
    let (time, rest) = line
        .trim_start_matches('[')
        .split_once(' ')
        .unwrap_or_default();
    assert_eq!(time.len(), "2026-01-02T03:04:05.678Z".len(), "{line}");
    assert!(time.ends_with('Z') && time.as_bytes()[19] == b'.', "{line}");
    assert!(
        rest.starts_with("INFO  shard-0 ") || rest.starts_with("INFO  shard-1 "),
        "{line}"
    );
    // And the rewritten file now says notice.
    let conf = std::fs::read_to_string(dir.path("mayfly.conf")).expect("read");
    assert!(conf.contains("\nloglevel notice\n"), "{conf}");
    // Rotated by renaming (logrotate without copytruncate): the next line
    // goes to a new file of the configured name, as Redis's would.
    std::fs::rename(&log, dir.path("mayfly.log.1")).expect("rotate");
    assert_cmd!(c, ["CONFIG", "REWRITE"], b"+OK\r\n");
    assert!(
        wait_for(Duration::from_secs(2), || read_log(&log).contains(success)),
        "a new log file: {}",
        read_log(&log)
    );
    let rotated = std::fs::read_to_string(dir.path("mayfly.log.1")).expect("read");
    assert_eq!(rotated.matches(success).count(), 1, "{rotated}");
}

#[test]
fn pidfile_appears_once_listening_and_goes_at_exit() {
    if skip_if_external() {
        return;
    }
    let dir = Scratch::new("pidfile");
    let (mut s, _) = with_log(&dir, "pidfile mayfly.pid\n", &[]);
    let pidfile = dir.path("mayfly.pid");
    // Written once every shard listens, which may be just after the first
    // shard answered.
    assert!(
        wait_for(Duration::from_secs(5), || pidfile.exists()),
        "no pid file"
    );
    let pid = std::fs::read_to_string(&pidfile).expect("read the pid file");
    assert_eq!(pid, format!("{}\n", s.process().pid()));
    s.process().signal(common::SIGTERM);
    let status = s
        .process()
        .wait_timeout(Duration::from_secs(5))
        .expect("exits");
    assert!(status.success());
    assert!(!pidfile.exists(), "the pid file is removed at exit");
}

#[test]
fn dir_is_where_relative_paths_start() {
    if skip_if_external() {
        return;
    }
    let dir = Scratch::new("dir");
    let elsewhere = Scratch::new("dir-start");
    let s = Server::start_with_config(
        &dir.write("mayfly.conf", "logfile rel.log\n"),
        &elsewhere.0,
        &["--dir", &dir.0.display().to_string()],
    );
    let mut c = s.client();
    assert_eq!(
        config_get(&mut c, "dir"),
        dir.0.as_os_str().as_encoded_bytes()
    );
    assert!(
        dir.path("rel.log").exists(),
        "the log file is relative to dir"
    );
    assert!(!elsewhere.path("rel.log").exists());
}

#[test]
fn bind_several_addresses_skipping_optional_ones() {
    if skip_if_external() {
        return;
    }
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let port = free_port();
    let mut s = Server::launch(
        port,
        &[
            "--threads",
            "2",
            "--bind",
            "127.0.0.1",
            "-::1",
            "-192.0.2.1",
        ],
    );
    assert!(
        wait_for(Duration::from_secs(10), || Client::try_connect(port)
            .is_ok()),
        "{}",
        s.log()
    );
    let mut c = Client::connect(port);
    assert_eq!(config_get(&mut c, "bind"), b"127.0.0.1 -::1 -192.0.2.1");
    let v6 = std::net::TcpStream::connect(("::1", port));
    assert_eq!(
        v6.is_ok(),
        ipv6,
        "listening on ::1 exactly when this machine has it"
    );
    assert!(
        s.log().contains(&format!(
            "Could not create server TCP listening socket 192.0.2.1:{port}"
        )),
        "{}",
        s.log()
    );
    s.process().stop();
    // An address that is not optional and not available stops the server.
    let (code, out) = run_to_exit(mayfly().args([
        "--port",
        &free_port().to_string(),
        "--bind",
        "127.0.0.1",
        "192.0.2.1",
    ]));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("192.0.2.1") && out.contains("Cannot assign requested address"),
        "{out}"
    );
    let (code, out) =
        run_to_exit(mayfly().args(["--port", &free_port().to_string(), "--bind", "-192.0.2.1"]));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Configured to not listen anywhere, exiting."),
        "{out}"
    );
}

/// The file REWRITE_CONF, as each server rewrote it, split into the lines
/// kept in place and the lines appended (after the signature).
fn rewritten(path: &Path, port: u16) -> (String, BTreeSet<String>) {
    let text = std::fs::read_to_string(path)
        .expect("read the rewritten file")
        .replace(&format!("port {port}\n"), "port PORT\n");
    let (kept, appended) = text
        .split_once("# Generated by CONFIG REWRITE\n")
        .unwrap_or((&text, ""));
    let appended = appended
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|name| table_names().contains(name))
        })
        .map(str::to_string)
        .collect();
    (kept.to_string(), appended)
}

const REWRITE_CONF: &str = "# top comment\n   # indented comment\n\nport 6379\n  timeout   5\n\n\n\
    Timeout 6\ninclude INCLUDED\nsave \"\"\nbind 127.0.0.1\nrequirepass \"\"\nloglevel notice\n\
    maxmemory-policy noeviction\nappendonly no\nlogfile \"\"\n";

#[test]
fn config_rewrite_as_redis() {
    if skip_if_external() {
        return;
    }
    let mut results = Vec::new();
    for name in ["mayfly", "redis"] {
        let dir = Scratch::new(&format!("rewrite-{name}"));
        let included = dir.write("included.conf", "maxclients 50\n");
        let conf = dir.write(
            "rewrite.conf",
            &REWRITE_CONF.replace("INCLUDED", &included.display().to_string()),
        );
        let (_mayfly, _redis, port);
        if name == "mayfly" {
            let s = Server::start_with_config(&conf, &dir.0, &[]);
            port = s.port();
            _mayfly = Some(s);
            _redis = None;
        } else {
            let Some(r) = RedisServer::start_with_config(&conf, &dir.0, &[]) else {
                break;
            };
            port = r.port;
            _redis = Some(r);
            _mayfly = None;
        }
        let mut c = Client::connect(port);
        assert_cmd!(
            c,
            [
                "CONFIG",
                "SET",
                "maxmemory",
                "3mb",
                "proto-max-bulk-len",
                "2000000",
                "tcp-keepalive",
                "0",
                "loglevel",
                "warning",
                "slowlog-max-len",
                "12",
                "timeout",
                "7",
                "client-query-buffer-limit",
                "2gb",
                "latency-monitor-threshold",
                "5",
                "slowlog-log-slower-than",
                "-1",
                "requirepass",
                "a\"b\\c\n"
            ],
            b"+OK\r\n"
        );
        assert_cmd!(c, ["CONFIG", "REWRITE"], b"+OK\r\n");
        let first = rewritten(&conf, port);
        assert_cmd!(
            c,
            ["CONFIG", "SET", "requirepass", "", "timeout", "0"],
            b"+OK\r\n"
        );
        assert_cmd!(c, ["CONFIG", "REWRITE"], b"+OK\r\n");
        let second = rewritten(&conf, port);
        results.push((name, first, second, dir.0.display().to_string()));
    }
    let (_, first, second, dir) = &results[0];
    assert_eq!(
        first.0,
        "# top comment\n# indented comment\n\nport PORT\ntimeout 7\n\ninclude INCLUDED\nsave \"\"\n\
         bind 127.0.0.1\nrequirepass \"a\\\"b\\\\c\\n\"\nloglevel warning\nmaxmemory-policy noeviction\n\
         appendonly no\nlogfile \"\"\n\n"
            .replace("INCLUDED", &format!("{dir}/included.conf")),
    );
    let appended: BTreeSet<String> = [
        "maxclients 50",
        "tcp-keepalive 0",
        "maxmemory 3mb",
        "proto-max-bulk-len 2000000",
        "client-query-buffer-limit 2gb",
        "slowlog-log-slower-than -1",
        "slowlog-max-len 12",
        "latency-monitor-threshold 5",
    ]
    .iter()
    .map(|l| l.to_string())
    .chain([format!("dir \"{dir}\"")])
    .collect();
    assert_eq!(first.1, appended);
    // The emptied password's line goes, timeout 0 stays where it was.
    assert!(
        second.0.contains("\nport PORT\ntimeout 0\n\ninclude"),
        "{}",
        second.0
    );
    assert!(!second.0.contains("requirepass"), "{}", second.0);
    if let Some((_, redis_first, redis_second, redis_dir)) = results.get(1) {
        let ours = |text: &str| text.replace(dir, "DIR");
        let theirs = |text: &str| text.replace(redis_dir, "DIR");
        assert_eq!(
            ours(&first.0),
            theirs(&redis_first.0),
            "kept lines: mayfly vs redis"
        );
        assert_eq!(
            ours(&second.0),
            theirs(&redis_second.0),
            "kept lines, second rewrite"
        );
        let set = |lines: &BTreeSet<String>, f: &dyn Fn(&str) -> String| -> BTreeSet<String> {
            lines.iter().map(|l| f(l)).collect()
        };
        assert_eq!(
            set(&first.1, &ours),
            set(&redis_first.1, &theirs),
            "appended lines"
        );
        assert_eq!(
            set(&second.1, &ours),
            set(&redis_second.1, &theirs),
            "appended, second rewrite"
        );
    }
}

#[test]
fn config_rewrite_without_a_config_file() {
    if skip_if_external() {
        return;
    }
    let (_mayfly, _redis, ports) = both(&[]);
    for (_, port) in ports {
        let mut c = Client::connect(port);
        assert_cmd!(
            c,
            ["CONFIG", "REWRITE"],
            b"-ERR The server is running without a config file\r\n"
        );
    }
}

#[test]
fn install_twice_changes_nothing_the_second_time() {
    if skip_if_external() {
        return;
    }
    let stage = Scratch::new("install");
    let install = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install");
    let run = || {
        let out = Command::new(&install)
            .args(["--destdir", &stage.0.display().to_string()])
            .args(["--binary", env!("CARGO_BIN_EXE_mayfly")])
            .output()
            .expect("run scripts/install");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run();
    assert!(first.contains("staged under"), "{first}");
    let conf = stage.path("etc/mayfly/mayfly.conf");
    assert_eq!(
        std::fs::read(&conf).expect("the configuration landed"),
        std::fs::read(sample_config()).expect("config/mayfly.conf")
    );
    let unit =
        std::fs::read_to_string(stage.path("etc/systemd/system/mayfly.service")).expect("the unit");
    assert!(
        unit.contains("\nExecStart=/usr/local/bin/mayfly /etc/mayfly/mayfly.conf\n"),
        "{unit}"
    );
    assert!(
        unit.contains("\nReadWritePaths=/var/lib/mayfly -/etc/mayfly\n"),
        "{unit}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o7777;
    assert_eq!(mode(&conf), 0o640);
    assert_eq!(mode(&stage.path("etc/mayfly")), 0o750);
    assert_eq!(mode(&stage.path("var/lib/mayfly")), 0o750);
    // An edited configuration is kept, and nothing else changes.
    std::fs::write(&conf, "port 6380\n").expect("edit");
    let second = run();
    assert!(second.contains("nothing to do"), "{second}");
    assert!(second.contains("kept: "), "{second}");
    assert_eq!(std::fs::read_to_string(&conf).expect("read"), "port 6380\n");
    // systemd accepts the staged unit (with the system's own units beside it).
    let units = Path::new("/usr/lib/systemd/system");
    if common::find_on_path("systemd-analyze").is_some() && units.is_dir() {
        std::fs::create_dir_all(stage.path("usr/lib")).expect("usr/lib");
        let copied = Command::new("cp")
            .args([
                "-a",
                "/usr/lib/systemd",
                &stage.path("usr/lib").display().to_string(),
            ])
            .status();
        assert!(copied.is_ok_and(|s| s.success()), "copy the system's units");
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", stage.0.display()))
            .arg("/etc/systemd/system/mayfly.service")
            .output()
            .expect("run systemd-analyze");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.trim().is_empty(),
            "systemd-analyze verify: {said}"
        );
    } else {
        eprintln!(
            "NOTICE: systemd-analyze or /usr/lib/systemd/system missing: the unit is not verified"
        );
    }
}
