//! Mayfly's runtime: one glommio executor per shard, each pinned to its CPU,
//! owning one shard's data, accepting connections on its own `SO_REUSEPORT`
//! listener, and talking to the other shards over one channel mesh.
//!
//! This crate decides *where* commands run and moves their work and replies
//! between threads; *what* they do lives in `commands`. It owns executors,
//! listeners, connections, routing, the mesh, background ticks, INFO's
//! process figures, Prometheus's /metrics, MONITOR's delivery, shutdown and
//! systemd's notifications. Nothing outside `src/main.rs` depends on it.

mod clients;
mod connection;
pub mod cpu;
mod cross;
mod mesh;
mod metrics;
mod monitor;
mod notify;
mod reactor;
mod shard;
mod shutdown;
mod stall;
mod txn;

pub use commands::config::{self, ClusterMode, Startup};
pub use commands::{REDIS_VERSION, SETTINGS};

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{IntoRawFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The options fixed at start-up (port, bind, databases, pidfile ...).
    pub options: Startup,
    /// Number of shards (executor threads): `options.threads`, or the CPUs
    /// the process may use when that is 0.
    pub threads: usize,
    /// The config file the server started with, as an absolute path
    /// (CONFIG REWRITE rewrites it); none without one.
    pub config_file: Option<PathBuf>,
}

/// Why the server could not run.
#[derive(Debug)]
pub enum ServerError {
    /// A listening socket could not be set up (the address as configured,
    /// and the port).
    Listen(String, u16, std::io::Error),
    /// No address of `bind` could be listened on.
    NoListener,
    /// An executor could not be started.
    Executor(String),
    /// The open files limit leaves no room for clients.
    OpenFiles(String),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::Listen(addr, port, e) => write!(
                f,
                "Could not create server TCP listening socket {addr}:{port}: {e}. \
                 Failed listening on port {port} (TCP), aborting."
            ),
            ServerError::NoListener => f.write_str("Configured to not listen anywhere, exiting."),
            ServerError::Executor(e) => write!(f, "could not start a shard executor: {e}"),
            ServerError::OpenFiles(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for ServerError {}

/// Facts every shard shares, fixed at start-up.
pub(crate) struct Process {
    pub config: Config,
    pub started: Instant,
    /// When it started, unix seconds.
    pub started_unix: u64,
    pub run_id: String,
    /// INFO's `master_replid`: random, as a new Redis master's.
    pub replid: String,
    /// Started by systemd (`NOTIFY_SOCKET` set).
    pub supervised: bool,
    pub executable: String,
    pub next_client_id: std::sync::atomic::AtomicU64,
    /// Clients connected now, on every shard (for `maxclients`).
    pub connected_clients: std::sync::atomic::AtomicU64,
    /// The last transaction id handed out (ids order multi-shard commands).
    pub next_txid: std::sync::atomic::AtomicU64,
    pub peak_memory: std::sync::atomic::AtomicUsize,
    /// Bytes allocated once every shard was ready (`used_memory_startup`).
    pub startup_memory: std::sync::atomic::AtomicUsize,
    /// Clients in MONITOR mode.
    pub monitors: monitor::Watchers,
    pub shutdown: shutdown::Shutdown,
    /// Each shard's tick count, for systemd's watchdog.
    pub heartbeats: notify::Heartbeats,
}

thread_local! {
    /// The shard whose executor runs on this thread.
    static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The shard whose executor thread this is, if it is one (log lines name it).
pub fn current_shard() -> Option<usize> {
    SHARD.with(Cell::get)
}

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully.
pub fn run(config: Config) -> Result<(), ServerError> {
    // Descriptors for other uses than clients: Redis's 32, plus what each
    // shard holds (its io_uring rings, eventfds and listener: 5 or 6).
    commands::settings::RESERVED_FDS.store(
        32 + 8 * config.threads as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    commands::settings::adjust_open_files_limit().map_err(ServerError::OpenFiles)?;
    let addrs = listen_addresses(&config.options.bind, config.options.port)?;
    let mut listeners: Vec<Vec<RawFd>> = Vec::with_capacity(config.threads);
    for _ in 0..config.threads {
        let mut shard = Vec::with_capacity(addrs.len());
        for (text, addr) in &addrs {
            let socket =
                listen(*addr).map_err(|e| ServerError::Listen(text.clone(), addr.port(), e))?;
            shard.push(socket.into_raw_fd());
        }
        listeners.push(shard);
    }
    shutdown::block_signals();
    let process = Arc::new(Process {
        config: config.clone(),
        started: Instant::now(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        run_id: run_id(),
        replid: run_id(),
        supervised: std::env::var_os("NOTIFY_SOCKET").is_some(),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        next_client_id: std::sync::atomic::AtomicU64::new(1),
        connected_clients: std::sync::atomic::AtomicU64::new(0),
        next_txid: std::sync::atomic::AtomicU64::new(0),
        peak_memory: std::sync::atomic::AtomicUsize::new(0),
        startup_memory: std::sync::atomic::AtomicUsize::new(0),
        monitors: monitor::Watchers::new(config.threads),
        shutdown: shutdown::Shutdown::default(),
        heartbeats: notify::Heartbeats::new(config.threads),
    });
    let cpus = cpu::allowed_cpus();
    let mesh =
        glommio::channels::channel_mesh::MeshBuilder::full(config.threads, mesh::CHANNEL_CAPACITY);
    for (id, fds) in listeners.into_iter().enumerate() {
        let cpu = cpus[id % cpus.len()];
        let shard_process = process.clone();
        let mesh = mesh.clone();
        // No `spin_before_park`: on this machine's kind (2 vCPUs, shared
        // with the load generator) spinning 50 or 200 µs before parking cost
        // throughput and CPU time, cross-shard MSET most of all (see
        // docs/performance.md).
        let handle = glommio::LocalExecutorBuilder::new(glommio::Placement::Fixed(cpu))
            .name(&format!("shard-{id}"))
            .io_memory(64 * 1024)
            .preempt_timer(Duration::from_millis(5))
            .spawn(move || {
                SHARD.with(|shard| shard.set(Some(id)));
                reactor::run_shard(id, fds, mesh, shard_process)
            })
            .map_err(|e| ServerError::Executor(e.to_string()))?;
        shutdown::watch_shard(id, handle, process.clone());
    }
    let shutdown = &process.shutdown;
    let notifier = notify::Notifier::from_env();
    if !shutdown.wait_until_ready(config.threads) {
        return Err(ServerError::Executor("a shard failed to start".into()));
    }
    process.startup_memory.store(
        store::memory::allocated_bytes(),
        std::sync::atomic::Ordering::Relaxed,
    );
    let listening = addrs
        .iter()
        .map(|(_, addr)| addr.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    log::info!(
        "Mayfly {} ready to accept connections on {listening} with {} shards",
        env!("CARGO_PKG_VERSION"),
        config.threads
    );
    // As Redis, the pid file is written once the server listens.
    let _pidfile = PidFile::create(&config.options.pidfile);
    // Every shard accepts by now, so systemd may start what depends on us.
    notifier.notify(&format!(
        "READY=1\nSTATUS=Ready to accept connections on {listening} with {} shards",
        config.threads
    ));
    let mut watchdog = notifier.watchdog(config.threads);
    let mut stalls = stall::StallReport::new(config.threads);
    shutdown::wait_for_signal(shutdown, || {
        if let Some(watchdog) = watchdog.as_mut() {
            watchdog.poll(&notifier, &process.heartbeats);
        }
        stalls.check(&process.heartbeats);
    });
    notifier.notify("STOPPING=1\nSTATUS=Shutting down");
    if !shutdown.wait_until_stopped(config.threads, SHUTDOWN_LIMIT) {
        return Err(ServerError::Executor(format!(
            "shards did not stop within {SHUTDOWN_LIMIT:?}"
        )));
    }
    if shutdown.failed() {
        return Err(ServerError::Executor("a shard stopped unexpectedly".into()));
    }
    log::info!("Mayfly is now ready to exit, bye bye...");
    Ok(())
}

/// The longest a shutdown may take before the process exits anyway.
const SHUTDOWN_LIMIT: Duration = Duration::from_millis(1800);

/// A pid file written at start-up and removed when dropped (at exit).
struct PidFile(Option<PathBuf>);

impl PidFile {
    /// Writes the process id to `path` (none if empty). A failure is
    /// logged and the server goes on, as Redis's `createPidFile`.
    fn create(path: &[u8]) -> PidFile {
        if path.is_empty() {
            return PidFile(None);
        }
        let path =
            PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path));
        // Absolute, so that it is removed even after CONFIG SET dir.
        let path = std::path::absolute(&path).unwrap_or(path);
        match std::fs::write(&path, format!("{}\n", std::process::id())) {
            Ok(()) => PidFile(Some(path)),
            Err(e) => {
                log::warn!("Failed to write PID file {}: {e}", path.display());
                PidFile(None)
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The addresses of `bind` to listen on, each with the text it came from,
/// as Redis's `listenToPort`: `*` is every IPv4 address and `::*` every
/// IPv6 one; an address another process already listens on is an error
/// ([`ensure_port_free`]); one that this machine does not have is skipped
/// if it starts with `-` and an error otherwise; one whose protocol the
/// machine lacks (IPv6 turned off) is skipped. None left is an error.
fn listen_addresses(bind: &[String], port: u16) -> Result<Vec<(String, SocketAddr)>, ServerError> {
    let mut addrs = Vec::with_capacity(bind.len());
    for text in bind {
        let optional = text.starts_with('-');
        let name = text.strip_prefix('-').unwrap_or(text);
        let usable = resolve(name, port).and_then(|addr| ensure_port_free(addr).map(|()| addr));
        match usable {
            Ok(addr) => addrs.push((name.to_string(), addr)),
            Err(e) => {
                let skipped = matches!(
                    e.raw_os_error(),
                    Some(
                        libc::ENOPROTOOPT
                            | libc::EPROTONOSUPPORT
                            | libc::ESOCKTNOSUPPORT
                            | libc::EPFNOSUPPORT
                            | libc::EAFNOSUPPORT
                    )
                ) || (optional && e.raw_os_error() == Some(libc::EADDRNOTAVAIL));
                if !skipped {
                    return Err(ServerError::Listen(name.to_string(), port, e));
                }
                log::warn!("Could not create server TCP listening socket {name}:{port}: {e}");
            }
        }
    }
    if addrs.is_empty() {
        return Err(ServerError::NoListener);
    }
    Ok(addrs)
}

/// The socket address of one `bind` address (without its `-`): an IP
/// literal, `*` or `::*`, or a host name (IPv6 if it has a `:`).
fn resolve(name: &str, port: u16) -> std::io::Result<SocketAddr> {
    let ip = match name {
        "*" => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        "::*" => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        _ => name.parse().ok(),
    };
    if let Some(ip) = ip {
        return Ok(SocketAddr::new(ip, port));
    }
    let want_v6 = name.contains(':');
    std::net::ToSocketAddrs::to_socket_addrs(&(name, port))?
        .find(|addr| addr.is_ipv6() == want_v6)
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "Name or service not known")
        })
}

/// Fails if another process already listens on `addr`. With SO_REUSEPORT a
/// second Mayfly of the same user could otherwise bind the same port and
/// silently take half of the connections (and keys); a probe bound without
/// SO_REUSEPORT gets EADDRINUSE instead, as Redis would.
fn ensure_port_free(addr: SocketAddr) -> std::io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        probe.set_only_v6(true)?;
    }
    probe.set_reuse_address(true)?;
    probe.bind(&addr.into())
}

/// A listening socket with Redis's options: SO_REUSEADDR, IPV6_V6ONLY,
/// SO_REUSEPORT (one per shard, the kernel spreads connections), backlog 511.
fn listen(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // As Redis's anetV6Only: `::*` and `*` can then both be bound.
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(511)?;
    Ok(socket)
}

/// 40 random hex characters, as Redis's run_id.
fn run_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 20];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
