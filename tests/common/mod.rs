//! Shared harness for Mayfly's integration tests.
//!
//! [`Server`] starts the real `mayfly` binary on a free loopback port and stops
//! it with SIGTERM when dropped; [`Client`] speaks RESP over TCP and hands back
//! the raw bytes of each reply, so that tests compare replies byte for byte
//! with what Redis 7 sends.
//!
//! Set `MAYFLY_TEST_PORT=<port>` to point every test at a server that is
//! already running instead (a real `redis-server`, say, to check the expected
//! bytes). Tests then take turns (one at a time per test binary), each starts
//! with `FLUSHALL`, and checks that only Mayfly can pass (its `# Shards` INFO
//! section, its command line, its exit status) are skipped.

#![allow(dead_code, unused_macros)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How long a test waits for any one reply before it fails.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to accept its first connection.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Environment variable naming the port of an already-running server.
pub const EXTERNAL_PORT_VAR: &str = "MAYFLY_TEST_PORT";

pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

extern "C" {
    // libc's kill(2); std links libc, and this saves a dependency.
    fn kill(pid: i32, sig: i32) -> i32;
}

/// Serialises the tests of one binary while they share an external server.
static EXTERNAL_SERVER: Mutex<()> = Mutex::new(());
/// Ports handed out in this process, never handed out twice.
static USED_PORTS: Mutex<Vec<u16>> = Mutex::new(Vec::new());

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A loopback port that was free a moment ago and that this process has not
/// used before.
pub fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        drop(listener);
        let mut used = lock(&USED_PORTS);
        if !used.contains(&port) {
            used.push(port);
            return port;
        }
    }
}

/// The port of an already-running server to test instead of spawning Mayfly.
pub fn external_port() -> Option<u16> {
    let value = std::env::var(EXTERNAL_PORT_VAR).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{EXTERNAL_PORT_VAR}={value:?} is not a port number")),
    )
}

/// True (with a notice) when the tests run against an external server
/// (`MAYFLY_TEST_PORT`): tests of the `mayfly` process itself skip then.
pub fn skip_if_external() -> bool {
    if external_port().is_some() {
        eprintln!("skipped: this test checks the mayfly process itself");
        return true;
    }
    false
}

/// Finds an executable on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A child process whose stdout and stderr are collected in the background
/// (so that a chatty process never blocks on a full pipe).
pub struct Process {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    exit: Option<ExitStatus>,
}

impl Process {
    pub fn spawn(command: &mut Command) -> io::Result<Process> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let output = Arc::new(Mutex::new(Vec::new()));
        fn drain(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) {
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    into.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&buf[..n]);
                }
            });
        }
        if let Some(out) = child.stdout.take() {
            drain(out, output.clone());
        }
        if let Some(err) = child.stderr.take() {
            drain(err, output.clone());
        }
        Ok(Process {
            child,
            output,
            exit: None,
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    pub fn signal(&mut self, sig: i32) {
        if self.try_wait().is_none() {
            // SAFETY: kill(2) with the pid of our own child, which has not been reaped.
            unsafe { kill(self.pid(), sig) };
        }
    }

    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("waitpid");
        }
        self.exit
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL, then reap.
    pub fn kill_now(&mut self) {
        if self.try_wait().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }

    /// SIGTERM; SIGKILL if it is still running after [`STOP_TIMEOUT`].
    pub fn stop(&mut self) {
        self.signal(SIGTERM);
        if self.wait_timeout(STOP_TIMEOUT).is_none() {
            self.kill_now();
        }
    }
}

/// Why a server did not come up.
enum StartError {
    /// It exited (most likely its port was taken meanwhile): worth another port.
    Exited(String),
    /// It runs but does not serve: a bug to report, not to retry.
    Unresponsive(String),
}

impl StartError {
    fn message(self) -> String {
        match self {
            StartError::Exited(m) | StartError::Unresponsive(m) => m,
        }
    }
}

/// Waits until `port` accepts a TCP connection and answers PING there.
fn wait_until_serving(process: &mut Process, port: u16, what: &str) -> Result<(), StartError> {
    let deadline = Instant::now() + START_TIMEOUT;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if let Some(status) = process.try_wait() {
            // Give the output drainers a moment to catch the last lines.
            thread::sleep(Duration::from_millis(50));
            return Err(StartError::Exited(format!(
                "{what} exited with {status} before serving on port {port}; its output:\n{}",
                process.output()
            )));
        }
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = stream.set_read_timeout(Some(left.max(Duration::from_millis(1))));
            let mut reply = [0u8; 7];
            let answered = stream
                .write_all(b"*1\r\n$4\r\nPING\r\n")
                .and_then(|()| stream.read_exact(&mut reply));
            match answered {
                // With --requirepass, PING before AUTH is refused: also serving.
                Ok(()) if &reply == b"+PONG\r\n" || &reply == b"-NOAUTH" => return Ok(()),
                Ok(()) => {
                    process.kill_now();
                    return Err(StartError::Unresponsive(format!(
                        "{what} on port {port} answered PING with {}; its output:\n{}",
                        show(&reply),
                        process.output()
                    )));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    process.kill_now();
                    return Err(StartError::Unresponsive(format!(
                        "{what} accepted a connection on port {port} but did not answer PING \
                         within {START_TIMEOUT:?}; its output:\n{}",
                        process.output()
                    )));
                }
                // Reset or closed: look again (has it exited?).
                Err(_) => {}
            }
        }
        if Instant::now() >= deadline {
            process.kill_now();
            return Err(StartError::Unresponsive(format!(
                "{what} did not serve on port {port} within {START_TIMEOUT:?}; its output:\n{}",
                process.output()
            )));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A Mayfly server under test: a `mayfly` process we started, or the server
/// named by `MAYFLY_TEST_PORT`.
pub struct Server {
    port: u16,
    process: Option<Process>,
    _turn: Option<MutexGuard<'static, ()>>,
}

impl Server {
    /// Starts `mayfly --port <free port> --bind 127.0.0.1 <args>` and waits
    /// until it answers PING. With `MAYFLY_TEST_PORT` set, `args` are
    /// ignored: the external server is flushed and used instead.
    pub fn start(args: &[&str]) -> Server {
        if let Some(port) = external_port() {
            let turn = lock(&EXTERNAL_SERVER);
            let server = Server {
                port,
                process: None,
                _turn: Some(turn),
            };
            let mut client = server.client();
            assert_eq!(
                client.cmd(&["FLUSHALL"]),
                b"+OK\r\n",
                "FLUSHALL on the external server"
            );
            return server;
        }
        let mut last_error = String::new();
        for _ in 0..5 {
            match Server::spawn(free_port(), args) {
                Ok(server) => return server,
                // Most likely someone else took the port in the meantime: try another.
                Err(StartError::Exited(error)) => last_error = error,
                Err(StartError::Unresponsive(error)) => panic!("{error}"),
            }
        }
        panic!("could not start mayfly: {last_error}");
    }

    /// Starts `mayfly` on the given port (never the external server) and
    /// waits until it answers PING.
    pub fn start_on_port(port: u16, args: &[&str]) -> Result<Server, String> {
        Server::spawn(port, args).map_err(StartError::message)
    }

    /// Starts `mayfly` on the given port without waiting for it.
    pub fn launch(port: u16, args: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mayfly"));
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(args);
        Server::launch_command(port, &mut command)
    }

    fn launch_command(port: u16, command: &mut Command) -> Server {
        let process = Process::spawn(command).expect("spawn mayfly");
        Server {
            port,
            process: Some(process),
            _turn: None,
        }
    }

    fn spawn(port: u16, args: &[&str]) -> Result<Server, StartError> {
        let mut server = Server::launch(port, args);
        wait_until_serving(server.process(), port, "mayfly")?;
        Ok(server)
    }

    /// Starts `mayfly <config_file> --port <free port> <args>` in `dir` (never
    /// the external server) and waits until it answers PING.
    pub fn start_with_config(config_file: &Path, dir: &Path, args: &[&str]) -> Server {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut command = Command::new(env!("CARGO_BIN_EXE_mayfly"));
            command
                .current_dir(dir)
                .arg(config_file)
                .args(["--port", &port.to_string()])
                .args(args);
            let mut server = Server::launch_command(port, &mut command);
            match wait_until_serving(server.process(), port, "mayfly") {
                Ok(()) => return server,
                Err(StartError::Exited(error)) => last_error = error,
                Err(StartError::Unresponsive(error)) => panic!("{error}"),
            }
        }
        panic!("could not start mayfly: {last_error}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// True when the tests run against `MAYFLY_TEST_PORT` rather than a Mayfly we started.
    pub fn is_external(&self) -> bool {
        self.process.is_none()
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port)
    }

    /// What the server wrote to stdout and stderr so far ("" for an external one).
    pub fn log(&self) -> String {
        self.process
            .as_ref()
            .map(Process::output)
            .unwrap_or_default()
    }

    pub fn process(&mut self) -> &mut Process {
        self.process
            .as_mut()
            .expect("an external server has no process")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(process) = self.process.as_mut() {
            process.stop();
            if thread::panicking() {
                // Shown with the failed test's output.
                eprintln!(
                    "--- mayfly on port {} (pid {}) wrote: ---\n{}",
                    self.port,
                    process.pid(),
                    process.output()
                );
            }
        }
    }
}

/// A real `redis-server` on its own free port, for differential tests.
pub struct RedisServer {
    pub port: u16,
    process: Process,
}

impl RedisServer {
    /// Starts `redis-server` (no persistence, not daemonised). `None` when it
    /// is not installed and `CI` is unset; panics when `CI` is set.
    pub fn start() -> Option<RedisServer> {
        RedisServer::start_with(&[])
    }

    /// Like [`RedisServer::start`], with extra command-line arguments
    /// (`["--enable-debug-command", "yes"]`, say).
    pub fn start_with(extra: &[&str]) -> Option<RedisServer> {
        let binary = RedisServer::binary()?;
        RedisServer::spawn_with(&binary, |command, port| {
            command.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
            command.args(["--save", "", "--appendonly", "no", "--daemonize", "no"]);
            command.args(["--loglevel", "warning"]);
            command.args(extra);
        })
    }

    /// Starts `redis-server <config_file> --port <free port> <extra>` in
    /// `dir`, the config file giving every other option. `None` as
    /// [`RedisServer::start`].
    pub fn start_with_config(
        config_file: &Path,
        dir: &Path,
        extra: &[&str],
    ) -> Option<RedisServer> {
        let binary = RedisServer::binary()?;
        RedisServer::spawn_with(&binary, |command, port| {
            command.current_dir(dir).arg(config_file);
            command.args(["--port", &port.to_string()]).args(extra);
        })
    }

    /// The path of `redis-server`; `None` (with a notice) when it is not
    /// installed and `CI` is unset; panics when `CI` is set.
    pub fn binary() -> Option<PathBuf> {
        let Some(binary) = find_on_path("redis-server") else {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "redis-server is not on PATH, and CI is set: the differential tests need it \
                     (apt-get install redis-server redis-tools)"
                );
            }
            let _ = writeln!(
                io::stderr(),
                "NOTICE: redis-server is not on PATH; skipping the comparison with Redis \
                 (apt-get install redis-server redis-tools)"
            );
            return None;
        };
        Some(binary)
    }

    /// Starts `binary` with the arguments `arguments` adds for a free port,
    /// trying other ports if it exits (most likely its port was taken).
    fn spawn_with(binary: &Path, arguments: impl Fn(&mut Command, u16)) -> Option<RedisServer> {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut command = Command::new(binary);
            arguments(&mut command, port);
            let mut process = Process::spawn(&mut command).expect("spawn redis-server");
            match wait_until_serving(&mut process, port, "redis-server") {
                Ok(()) => return Some(RedisServer { port, process }),
                Err(StartError::Exited(error)) => last_error = error,
                Err(StartError::Unresponsive(error)) => panic!("{error}"),
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.process.kill_now();
    }
}

/// Splits one script line into arguments the way redis-cli does: blanks
/// separate arguments, double quotes group them and understand
/// `\r \n \t \0 \\ \" \xHH`. Panics on malformed lines (a bug in the script).
pub fn split_args(line: &str) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return args;
        };
        let mut arg = Vec::new();
        if first == '"' {
            chars.next();
            loop {
                match chars
                    .next()
                    .unwrap_or_else(|| panic!("unbalanced quotes in {line:?}"))
                {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('r') => arg.push(b'\r'),
                        Some('n') => arg.push(b'\n'),
                        Some('t') => arg.push(b'\t'),
                        Some('0') => arg.push(0),
                        Some('x') => {
                            let hex: String =
                                [chars.next(), chars.next()].iter().flatten().collect();
                            arg.push(u8::from_str_radix(&hex, 16).expect("\\xHH"));
                        }
                        Some(c) => arg.extend_from_slice(c.to_string().as_bytes()),
                        None => panic!("dangling backslash in {line:?}"),
                    },
                    c => arg.extend_from_slice(c.to_string().as_bytes()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                arg.extend_from_slice(c.to_string().as_bytes());
                chars.next();
            }
        }
        args.push(arg);
    }
}

/// Encodes a request as a RESP multibulk.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The RESP2 bulk string reply for `value`.
pub fn bulk(value: impl AsRef<[u8]>) -> Vec<u8> {
    let value = value.as_ref();
    let mut out = format!("${}\r\n", value.len()).into_bytes();
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    out
}

/// The integer reply for `n`.
pub fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

/// Bytes shown the way a reader wants to see them in a failure message:
/// printable ASCII as is, everything else escaped (`\r`, `\n`, `\x00`).
pub fn show(bytes: &[u8]) -> String {
    const LIMIT: usize = 4000;
    let mut out = String::new();
    for &b in bytes.iter().take(LIMIT) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > LIMIT {
        out.push_str(&format!("... ({} bytes in all)", bytes.len()));
    }
    format!("\"{out}\"")
}

/// The arguments of a command, shown for a failure message.
pub fn show_command(args: &[&[u8]]) -> String {
    args.iter().map(|a| show(a)).collect::<Vec<_>>().join(" ")
}

/// Asserts that `got` is exactly `expected`, showing both readably.
#[track_caller]
pub fn assert_reply(got: &[u8], expected: &[u8]) {
    if got != expected {
        panic!(
            "reply mismatch\n  expected: {}\n       got: {}",
            show(expected),
            show(got)
        );
    }
}

/// Sends a command and asserts its exact reply:
/// `assert_cmd!(c, ["SETEX", "k", "0", "v"], b"-ERR invalid expire time in 'setex' command\r\n")`.
/// Arguments may mix `&str`, byte strings and `String`s.
macro_rules! assert_cmd {
    ($client:expr, [$($arg:expr),+ $(,)?], $expected:expr) => {
        $client.check(
            &[$(::std::convert::AsRef::<[u8]>::as_ref(&$arg)),+],
            ::std::convert::AsRef::<[u8]>::as_ref(&$expected),
        )
    };
}

/// A RESP connection. Every read gives up after [`REPLY_TIMEOUT`], so a hung
/// server fails the test instead of hanging it.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    #[track_caller]
    pub fn connect(port: u16) -> Client {
        match Client::try_connect(port) {
            Ok(client) => client,
            Err(e) => panic!("connect to 127.0.0.1:{port}: {e}"),
        }
    }

    pub fn try_connect(port: u16) -> io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
        let writer = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::with_capacity(64 * 1024, stream),
            writer,
        })
    }

    /// The client side's local TCP port.
    pub fn local_port(&self) -> u16 {
        self.writer.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Sends one command as a RESP multibulk.
    #[track_caller]
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send_raw(&encode(args));
    }

    /// Sends bytes exactly as given.
    #[track_caller]
    pub fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.writer.write_all(bytes) {
            panic!("write {} bytes: {e}", bytes.len());
        }
    }

    /// Sends bytes exactly as given, returning the error instead of panicking
    /// (for input the server may refuse before reading all of it).
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// The raw bytes of exactly one reply, RESP2 or RESP3, however nested.
    #[track_caller]
    pub fn read_reply(&mut self) -> Vec<u8> {
        match self.try_read_reply() {
            Ok(reply) => reply,
            Err(e) => panic!("reading a reply: {e}"),
        }
    }

    /// Like [`Client::read_reply`], but returns the error (EOF, reset, timeout,
    /// malformed reply) instead of panicking.
    pub fn try_read_reply(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        match read_resp(&mut self.reader, &mut out) {
            Ok(()) => Ok(out),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("{e} (after reading {})", show(&out)),
            )),
        }
    }

    /// The next reply if one starts arriving within `wait`; `None` if the
    /// server stays silent that long. The reply itself is read with the
    /// usual [`REPLY_TIMEOUT`].
    pub fn reply_within(&mut self, wait: Duration) -> Option<io::Result<Vec<u8>>> {
        if self.reader.buffer().is_empty() {
            let stream = self.reader.get_ref();
            if let Err(e) = stream.set_read_timeout(Some(wait)) {
                return Some(Err(e));
            }
            let arrived = self.reader.fill_buf().map(|b| b.len());
            if let Err(e) = self.reader.get_ref().set_read_timeout(Some(REPLY_TIMEOUT)) {
                return Some(Err(e));
            }
            match arrived {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                Err(e) => return Some(Err(e)),
                Ok(_) => {}
            }
        }
        Some(self.try_read_reply())
    }

    /// Writes `request` from another thread while reading up to `replies`
    /// replies here (so that a long pipeline cannot deadlock on full socket
    /// buffers). Returns the replies read and, if it stopped early, why.
    pub fn try_pipeline(
        &mut self,
        request: Vec<u8>,
        replies: usize,
    ) -> (Vec<Vec<u8>>, Option<io::Error>) {
        let mut writer = match self.writer.try_clone() {
            Ok(writer) => writer,
            Err(e) => return (Vec::new(), Some(e)),
        };
        let sender = thread::spawn(move || writer.write_all(&request));
        let mut out = Vec::with_capacity(replies);
        let mut failure = None;
        while out.len() < replies {
            match self.try_read_reply() {
                Ok(reply) => out.push(reply),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let written = sender
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("writer thread panicked")));
        if let (None, Err(e)) = (&failure, written) {
            failure = Some(e);
        }
        (out, failure)
    }

    /// Sends one command and returns its reply's raw bytes.
    #[track_caller]
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(args);
        self.read_reply()
    }

    /// Sends one command and asserts that its reply is exactly `expected`
    /// (see [`assert_cmd!`]).
    #[track_caller]
    pub fn check(&mut self, args: &[&[u8]], expected: &[u8]) {
        let got = self.cmd(args);
        if got != expected {
            panic!(
                "reply mismatch for {}\n  expected: {}\n       got: {}",
                show_command(args),
                show(expected),
                show(&got)
            );
        }
    }

    /// Writes `request` from another thread while reading `replies` replies
    /// here, so that a long pipeline cannot deadlock on full socket buffers.
    #[track_caller]
    pub fn pipeline(&mut self, request: Vec<u8>, replies: usize) -> Vec<Vec<u8>> {
        let (out, failure) = self.try_pipeline(request, replies);
        if let Some(e) = failure {
            let last = out.last().map(|r| show(r)).unwrap_or_else(|| "none".into());
            panic!(
                "pipeline failed after {} of {replies} replies (the last: {last}): {e}",
                out.len()
            );
        }
        out
    }

    /// Asserts that the server closes the connection without sending anything more.
    #[track_caller]
    pub fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) if rest.is_empty() => {}
            Ok(_) => panic!(
                "expected the connection to close, got more data: {}",
                show(&rest)
            ),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && rest.is_empty() => {}
            Err(e) => panic!(
                "expected the connection to close, got {e} after reading {}",
                show(&rest)
            ),
        }
    }

    /// Asserts that nothing arrives for `wait` and the connection stays open.
    #[track_caller]
    pub fn expect_silence(&mut self, wait: Duration) {
        let stream = self.reader.get_ref();
        stream.set_read_timeout(Some(wait)).expect("read timeout");
        let result = self.reader.fill_buf().map(|b| b.to_vec());
        self.reader
            .get_ref()
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("read timeout");
        match result {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Ok(data) if data.is_empty() => panic!("the server closed the connection"),
            Ok(data) => panic!("expected silence, got {}", show(&data)),
            Err(e) => panic!("expected silence, got {e}"),
        }
    }

    /// Half-closes our side: the server sees EOF after what was sent.
    pub fn shutdown_write(&mut self) {
        let _ = self.writer.shutdown(Shutdown::Write);
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads one CRLF-terminated line into `out`; returns the line without CRLF.
fn read_line<R: BufRead>(r: &mut R, out: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let start = out.len();
    let n = r.read_until(b'\n', out)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let line = &out[start..];
    if !line.ends_with(b"\r\n") {
        return Err(invalid(format!(
            "reply line not terminated by CRLF: {}",
            show(line)
        )));
    }
    Ok(line[..line.len() - 2].to_vec())
}

fn parse_len(line: &[u8], min: i64) -> io::Result<i64> {
    let text = std::str::from_utf8(&line[1..])
        .map_err(|_| invalid(format!("bad length {}", show(line))))?;
    match text.parse::<i64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(invalid(format!("bad length in {}", show(line)))),
    }
}

/// Reads the raw bytes of exactly one RESP2/RESP3 reply from `r` into `out`,
/// checking that it is well formed.
pub fn read_resp<R: BufRead>(r: &mut R, out: &mut Vec<u8>) -> io::Result<()> {
    let line = read_line(r, out)?;
    let Some(&kind) = line.first() else {
        return Err(invalid("empty reply line".into()));
    };
    let body = &line[1..];
    match kind {
        b'+' | b'-' => Ok(()),
        b':' => std::str::from_utf8(body)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .map(|_| ())
            .ok_or_else(|| invalid(format!("bad integer {}", show(&line)))),
        b'(' => {
            let digits = body.strip_prefix(b"-").unwrap_or(body);
            if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
                Ok(())
            } else {
                Err(invalid(format!("bad big number {}", show(&line))))
            }
        }
        b'_' if body.is_empty() => Ok(()),
        b'#' if body == b"t" || body == b"f" => Ok(()),
        b',' if !body.is_empty() => Ok(()),
        b'$' | b'!' | b'=' => {
            let len = parse_len(&line, if kind == b'$' { -1 } else { 0 })?;
            if len < 0 {
                return Ok(());
            }
            let start = out.len();
            out.resize(start + len as usize + 2, 0);
            r.read_exact(&mut out[start..])?;
            let payload = &out[start..];
            if !payload.ends_with(b"\r\n") {
                return Err(invalid(format!(
                    "bulk payload not followed by CRLF: {}",
                    show(payload)
                )));
            }
            if kind == b'=' && (len < 4 || payload[3] != b':') {
                return Err(invalid(format!(
                    "verbatim string without a format: {}",
                    show(payload)
                )));
            }
            Ok(())
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let count = parse_len(&line, if kind == b'*' { -1 } else { 0 })?;
            let items = if matches!(kind, b'%' | b'|') {
                count * 2
            } else {
                count
            };
            for _ in 0..items.max(0) {
                read_resp(r, out)?;
            }
            if kind == b'|' {
                // An attribute annotates the reply that follows it.
                read_resp(r, out)?;
            }
            Ok(())
        }
        _ => Err(invalid(format!("unknown reply type in {}", show(&line)))),
    }
}

/// A decoded reply, for the few tests that check structure rather than bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    /// `$-1`, `*-1` and `_`.
    Null,
    Bulk(Vec<u8>),
    Array(Vec<Value>),
    Set(Vec<Value>),
    Push(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Double(String),
    Bool(bool),
    BigNumber(String),
    Verbatim(String, Vec<u8>),
    BulkError(Vec<u8>),
}

impl Value {
    /// Bulk or simple string contents.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(b) | Value::Verbatim(_, b) => Some(b),
            Value::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The value for `key` in a RESP3 map, or in a RESP2 array of key/value pairs.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_bytes() == Some(key.as_bytes()))
                .map(|(_, v)| v),
            Value::Array(items) if items.len() % 2 == 0 => items
                .chunks(2)
                .find(|pair| pair[0].as_bytes() == Some(key.as_bytes()))
                .map(|pair| &pair[1]),
            _ => None,
        }
    }
}

/// Decodes exactly one reply; panics if `bytes` hold anything else.
pub fn parse_value(bytes: &[u8]) -> Value {
    let mut cursor = bytes;
    let value =
        parse_from(&mut cursor).unwrap_or_else(|e| panic!("malformed reply {}: {e}", show(bytes)));
    assert!(
        cursor.is_empty(),
        "trailing bytes after one reply: {}",
        show(cursor)
    );
    value
}

fn parse_from(cursor: &mut &[u8]) -> io::Result<Value> {
    let mut raw = Vec::new();
    let mut probe = *cursor;
    read_resp(&mut probe, &mut raw)?; // validates; `raw` is this reply's bytes
    let line_end = raw.windows(2).position(|w| w == b"\r\n").expect("CRLF");
    let line = &raw[..line_end];
    let body = String::from_utf8_lossy(&line[1..]).into_owned();
    *cursor = &cursor[line_end + 2..];
    let mut take_payload = |len: usize| -> Vec<u8> {
        let payload = cursor[..len].to_vec();
        *cursor = &cursor[len + 2..];
        payload
    };
    Ok(match line[0] {
        b'+' => Value::Simple(body),
        b'-' => Value::Error(body),
        b':' => Value::Int(body.parse().expect("validated")),
        b'_' => Value::Null,
        b'#' => Value::Bool(body == "t"),
        b',' => Value::Double(body),
        b'(' => Value::BigNumber(body),
        b'$' | b'!' | b'=' => {
            let len: i64 = body.parse().expect("validated");
            if len < 0 {
                return Ok(Value::Null);
            }
            let payload = take_payload(len as usize);
            match line[0] {
                b'$' => Value::Bulk(payload),
                b'!' => Value::BulkError(payload),
                _ => Value::Verbatim(
                    String::from_utf8_lossy(&payload[..3]).into_owned(),
                    payload[4..].to_vec(),
                ),
            }
        }
        kind => {
            let count: i64 = body.parse().expect("validated");
            if count < 0 {
                return Ok(Value::Null);
            }
            let count = count as usize;
            match kind {
                b'%' | b'|' => {
                    let mut pairs = Vec::with_capacity(count);
                    for _ in 0..count {
                        let k = parse_from(cursor)?;
                        let v = parse_from(cursor)?;
                        pairs.push((k, v));
                    }
                    if kind == b'|' {
                        // Attributes are metadata: return the reply they annotate.
                        return parse_from(cursor);
                    }
                    Value::Map(pairs)
                }
                _ => {
                    let items = (0..count)
                        .map(|_| parse_from(cursor))
                        .collect::<io::Result<Vec<_>>>()?;
                    match kind {
                        b'*' => Value::Array(items),
                        b'~' => Value::Set(items),
                        _ => Value::Push(items),
                    }
                }
            }
        }
    })
}

/// The payload of a bulk (RESP2) or verbatim (RESP3) string reply, as text.
#[track_caller]
pub fn text_of(reply: &[u8]) -> String {
    match parse_value(reply) {
        Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8(b).expect("UTF-8 text"),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// The value of `name:` in an INFO reply's text, if present.
pub fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
}

/// The integer in an integer reply.
#[track_caller]
pub fn int_of(reply: &[u8]) -> i64 {
    match parse_value(reply) {
        Value::Int(n) => n,
        other => panic!("expected an integer reply, got {other:?}"),
    }
}

/// Parses INFO's `# Shards` section: `(keys, expires)` per shard, in shard order.
/// `None` if the section is missing (as on a real Redis).
pub fn shard_stats(info: &str) -> Option<Vec<(u64, u64)>> {
    let count: usize = info_field(info, "shards")?
        .trim()
        .parse()
        .expect("shards:<n>");
    let stats = (0..count)
        .map(|i| {
            let line = info_field(info, &format!("shard{i}"))
                .unwrap_or_else(|| panic!("INFO has shards:{count} but no shard{i} line:\n{info}"));
            let mut keys = None;
            let mut expires = None;
            for field in line.trim().split(',') {
                match field.split_once('=') {
                    Some(("keys", n)) => keys = n.parse().ok(),
                    Some(("expires", n)) => expires = n.parse().ok(),
                    _ => {}
                }
            }
            match (keys, expires) {
                (Some(k), Some(e)) => (k, e),
                _ => panic!("malformed shard{i} line {line:?}"),
            }
        })
        .collect();
    Some(stats)
}

/// One field of every `shardN:` line of INFO's `# Shards` section (e.g.
/// `peer_batches`), in shard order; `None` if the section is missing.
pub fn shard_field(info: &str, field: &str) -> Option<Vec<u64>> {
    let count: usize = info_field(info, "shards")?.trim().parse().ok()?;
    (0..count)
        .map(|i| {
            info_field(info, &format!("shard{i}"))?
                .trim()
                .split(',')
                .find_map(|f| f.strip_prefix(field)?.strip_prefix('=')?.parse().ok())
        })
        .collect()
}

/// With one client connected to `port` and `maxclients` at 2: a second
/// client is served (and returned), a third gets Redis's error and is
/// closed. `name` names the server in failures.
#[track_caller]
pub fn assert_one_client_too_many(port: u16, name: &str) -> Client {
    let mut second = Client::connect(port);
    assert_cmd!(second, ["PING"], b"+PONG\r\n");
    let mut third = Client::connect(port);
    assert_eq!(
        third.read_reply(),
        b"-ERR max number of clients reached\r\n",
        "{name}"
    );
    third.expect_closed();
    second
}

/// Polls `probe` every 20 ms until it returns true or `limit` passes;
/// returns whether it did.
pub fn wait_for(limit: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if probe() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a Mayfly of our own with `args`, on a free port (another if that
/// one is taken meanwhile): never the external server of
/// `MAYFLY_TEST_PORT`, whose options a test cannot choose.
pub fn own_mayfly(args: &[&str]) -> Server {
    let mut last_error = String::new();
    for _ in 0..5 {
        match Server::start_on_port(free_port(), args) {
            Ok(server) => return server,
            Err(e) => last_error = e,
        }
    }
    panic!("could not start mayfly: {last_error}");
}

/// The servers of a comparison; they stop when this is dropped.
pub type Compared = (Server, Option<RedisServer>);

/// A Mayfly of our own started with `mayfly_args` and, where installed, a
/// redis-server started with `redis_args`; their names and ports, Mayfly
/// first.
pub fn mayfly_and_redis(
    mayfly_args: &[&str],
    redis_args: &[&str],
) -> (Vec<(&'static str, u16)>, Compared) {
    let server = own_mayfly(mayfly_args);
    let redis = RedisServer::start_with(redis_args);
    let mut ports = vec![("mayfly", server.port())];
    if let Some(redis) = &redis {
        ports.push(("redis", redis.port));
    }
    (ports, (server, redis))
}
