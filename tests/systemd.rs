//! systemd's side of `Type=notify`: each test binds the datagram socket that
//! systemd would pass in `NOTIFY_SOCKET`, starts the real binary with it, and
//! checks what arrives: `READY=1` only once the port serves, `STOPPING=1` and
//! a clean exit on SIGTERM, and `WATCHDOG=1` pings while (and only while)
//! every shard runs. These check the `mayfly` process itself, so they do
//! nothing under `MAYFLY_TEST_PORT`.

#[macro_use]
mod common;

use common::{free_port, skip_if_external, Client, Process, SIGTERM};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// systemd's end of the notification socket, bound in a fresh directory.
struct NotifySocket {
    socket: UnixDatagram,
    /// What to put in `NOTIFY_SOCKET`.
    name: String,
    dir: Option<PathBuf>,
}

impl NotifySocket {
    /// A socket on a path in the file system.
    fn on_path() -> NotifySocket {
        let dir = std::env::temp_dir().join(format!(
            "mayfly-notify-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("create the socket's directory");
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        NotifySocket {
            socket,
            name: path.display().to_string(),
            dir: Some(dir),
        }
    }

    /// A socket in the abstract namespace, which systemd writes as `@name`.
    fn abstract_name() -> NotifySocket {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("mayfly-notify-{}-{}", std::process::id(), free_port());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .expect("abstract address");
        let socket = UnixDatagram::bind_addr(&addr).expect("bind the abstract notify socket");
        NotifySocket {
            socket,
            name: format!("@{name}"),
            dir: None,
        }
    }

    /// The next message, or None if none arrives within `wait`.
    fn recv(&self, wait: Duration) -> Option<String> {
        self.socket
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .expect("set_read_timeout");
        let mut buf = [0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => None,
        }
    }

    /// Every message that arrives within `wait`.
    fn collect(&self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut messages = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.recv(left) {
                Some(message) => messages.push(message),
                None => break,
            }
        }
        messages
    }

    /// Waits up to `wait` for a message with the line `line`; returns it.
    fn wait_for_line(&self, line: &str, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let message = self.recv(left)?;
            if message.lines().any(|l| l == line) {
                return Some(message);
            }
        }
        None
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// `mayfly` on a free port with `NOTIFY_SOCKET` and the extra environment.
fn launch(notify: &NotifySocket, env: &[(&str, &str)], args: &[&str]) -> (Process, u16) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mayfly"));
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(args)
        .env("NOTIFY_SOCKET", &notify.name)
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .envs(env.iter().copied());
    (Process::spawn(&mut command).expect("spawn mayfly"), port)
}

/// Kills the process if a test fails before it stopped it, showing its output.
struct Guard(Process);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.try_wait().is_none() {
            self.0.kill_now();
        }
        if std::thread::panicking() {
            eprintln!("--- mayfly wrote: ---\n{}", self.0.output());
        }
    }
}

fn ping(port: u16) {
    let mut client = Client::try_connect(port)
        .unwrap_or_else(|e| panic!("port {port} refused a connection after READY=1: {e}"));
    assert_eq!(client.cmd(&["PING"]), b"+PONG\r\n");
}

fn ready_then_stopping_then_clean_exit(notify: NotifySocket) {
    let (process, port) = launch(&notify, &[], &["--threads", "2"]);
    let mut server = Guard(process);
    let ready = notify
        .wait_for_line("READY=1", Duration::from_secs(10))
        .expect("READY=1 within 10 s");
    // Connect at once: had READY come before every shard listened, this
    // would be refused.
    ping(port);
    assert!(
        ready.lines().any(|l| l
            == format!("STATUS=Ready to accept connections on 127.0.0.1:{port} with 2 shards")),
        "READY=1 comes with a STATUS line: {ready:?}"
    );
    server.0.signal(SIGTERM);
    let stopping = notify
        .wait_for_line("STOPPING=1", Duration::from_secs(5))
        .expect("STOPPING=1 after SIGTERM");
    assert!(
        stopping.lines().any(|l| l.starts_with("STATUS=")),
        "STOPPING=1 comes with a STATUS line: {stopping:?}"
    );
    let status = server
        .0
        .wait_timeout(Duration::from_secs(5))
        .expect("exit within 5 s of SIGTERM");
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn ready_only_when_serving_and_stopping_on_sigterm() {
    if skip_if_external() {
        return;
    }
    ready_then_stopping_then_clean_exit(NotifySocket::on_path());
}

#[test]
fn notifies_an_abstract_socket() {
    if skip_if_external() {
        return;
    }
    ready_then_stopping_then_clean_exit(NotifySocket::abstract_name());
}

fn watchdog_pings(messages: &[String]) -> usize {
    messages
        .iter()
        .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"))
        .count()
}

#[test]
fn pings_the_watchdog_every_half_period() {
    if skip_if_external() {
        return;
    }
    let notify = NotifySocket::on_path();
    let (process, _port) = launch(&notify, &[("WATCHDOG_USEC", "200000")], &["--threads", "2"]);
    let _server = Guard(process);
    notify
        .wait_for_line("READY=1", Duration::from_secs(10))
        .expect("READY=1 within 10 s");
    let pings = watchdog_pings(&notify.collect(Duration::from_secs(1)));
    assert!(
        pings >= 2,
        "{pings} WATCHDOG=1 in 1 s with WATCHDOG_USEC=200000"
    );
}

#[test]
fn no_watchdog_pings_for_another_pid() {
    if skip_if_external() {
        return;
    }
    let notify = NotifySocket::on_path();
    // pid 1 is never the server: the watchdog is meant for another process.
    let (process, _port) = launch(
        &notify,
        &[("WATCHDOG_USEC", "200000"), ("WATCHDOG_PID", "1")],
        &["--threads", "1"],
    );
    let _server = Guard(process);
    notify
        .wait_for_line("READY=1", Duration::from_secs(10))
        .expect("READY=1 within 10 s");
    let pings = watchdog_pings(&notify.collect(Duration::from_millis(500)));
    assert_eq!(
        pings, 0,
        "WATCHDOG=1 sent although WATCHDOG_PID is not ours"
    );
}

#[test]
fn a_stuck_shard_stops_the_watchdog_pings() {
    if skip_if_external() {
        return;
    }
    let notify = NotifySocket::on_path();
    let (process, port) = launch(&notify, &[("WATCHDOG_USEC", "200000")], &["--threads", "1"]);
    let _server = Guard(process);
    notify
        .wait_for_line("READY=1", Duration::from_secs(10))
        .expect("READY=1 within 10 s");
    let mut client = Client::connect(port);
    // DEBUG SLEEP blocks the shard's thread, as a stuck shard would.
    client.send(&["DEBUG", "SLEEP", "1.2"]);
    // A ping already due when the shard froze may still go out.
    notify.collect(Duration::from_millis(250));
    let frozen = watchdog_pings(&notify.collect(Duration::from_millis(600)));
    assert_eq!(frozen, 0, "WATCHDOG=1 sent while the only shard was stuck");
    assert_eq!(client.read_reply(), b"+OK\r\n");
    let resumed = watchdog_pings(&notify.collect(Duration::from_millis(500)));
    assert!(resumed >= 1, "no WATCHDOG=1 after the shard came back");
}
