//! The delay router: latency between regions, added in user space because the kernel this cloud
//! runs on may have no `netem`.
//!
//! The first rule of every vNet's bridge (see `model::bridge_rules`) looks up the routing table
//! of the driver's prefix. While the router runs, that table sends the whole address pool into a
//! TUN device, `<prefix>delay`, so every packet a VM sends to another vNet reaches the router, a
//! daemon: it holds the packet for half the round-trip time between the regions of its source
//! and destination ([`Delays`]), then writes it back into the TUN device, and the kernel, seeing
//! it come in from a device no rule matches, routes it to the destination's bridge. Traffic
//! within a vNet is switched by its bridge and traffic to the host is delivered by the `local`
//! table before any rule, so neither is delayed.
//!
//! The driver starts the router when two vNets lie in regions with a round-trip time between
//! them and stops it (deleting the device, and with it the route) when that is no longer so.
//! The daemon outlives the provider, as the VMs do; it holds an `fcntl` lock on
//! `<state_dir>/router.lock` while it runs, which tells the driver and `cleanup` which process it
//! is (and keeps a second router off), writes to `<state_dir>/router.log`, and reads the vNet
//! records and `<state_dir>/latency.json` again on `SIGHUP`, which the driver sends whenever
//! either changes.

use std::convert::Infallible;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::config::{check_prefix, RegionLatency};
use super::host;
use super::latency::{self, DelayQueue, Delays};
use super::model;
use super::state::{self, Layout, VnetRecord};
use crate::net::Cidr;
use crate::ResourceKind;

/// What the router prints on its standard output once it serves; the driver waits for it.
const READY: &str = "ready";

/// The most packets the router holds at once; more are dropped, as a full link drops them.
/// 40 000 full-size packets are 60 MB: a second of 500 Mbit/s.
const QUEUE_LIMIT: usize = 40_000;

/// Room for the largest packet a TUN device hands over.
const MAX_PACKET: usize = 65_536;

/// The delays the records in `layout` call for: the latency table the driver wrote and the
/// subnet and region of every vNet.
pub(crate) fn load_delays(layout: &Layout) -> Result<Delays, String> {
    let latency: Vec<RegionLatency> = state::read_json(&layout.latency_file())
        .map_err(|e| format!("cannot read the latency table: {e}"))?
        .unwrap_or_default();
    let vnets: Vec<VnetRecord> = layout
        .all(ResourceKind::Vnet)
        .map_err(|e| format!("cannot read the vNets: {e}"))?;
    let subnets = vnets
        .into_iter()
        .filter_map(|vnet| Some((Cidr::parse(&vnet.subnet).ok()?, vnet.connection.region)))
        .collect();
    Ok(Delays::new(&latency, subnets))
}

/// Makes the router serve: its TUN device up and able to forward, the pool routed into it, and
/// its process running, started with `command` or, when it runs already, told to read the
/// records again.
pub(crate) fn start(
    layout: &Layout,
    prefix: &str,
    pool: &str,
    command: &[String],
) -> Result<(), String> {
    let strict = fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter")
        .is_ok_and(|value| value.trim() == "1");
    if strict {
        let why = "strict reverse-path filtering (net.ipv4.conf.all.rp_filter = 1) would drop \
                   the packets the delay router hands back; set it to 0 or 2";
        return Err(why.to_string());
    }
    let device = model::delay_device(prefix);
    if !host::link_exists(&device) {
        host::run("ip", &["tuntap", "add", "dev", &device, "mode", "tun"])?;
    }
    host::set_interface_setting(&device, "forwarding", "1")?;
    host::set_interface_setting(&device, "rp_filter", "0")?;
    host::run("ip", &["link", "set", &device, "up"])?;
    let table = model::route_table(prefix).to_string();
    host::run(
        "ip",
        &["route", "replace", pool, "dev", &device, "table", &table],
    )?;
    match router_pid(layout) {
        Some(pid) => {
            host::signal(pid, libc::SIGHUP);
            Ok(())
        }
        None => spawn(layout, command),
    }
}

/// Stops the router and deletes its TUN device (the route into it goes with it). True if and
/// only if its process was running.
pub(crate) fn stop(layout: &Layout, prefix: &str) -> Result<bool, String> {
    let ended = stop_process(layout)?;
    let device = model::delay_device(prefix);
    if host::link_exists(&device) {
        host::run_removal("ip", &["link", "del", &device])?;
    }
    Ok(ended)
}

/// Ends the router's process: `SIGTERM`, then `SIGKILL` if it is still there after 2 s. True if
/// and only if it was running.
pub(crate) fn stop_process(layout: &Layout) -> Result<bool, String> {
    let Some(pid) = router_pid(layout) else {
        return Ok(false);
    };
    host::signal(pid, libc::SIGTERM);
    let gone = || router_pid(layout).is_none();
    if !host::wait_until(Duration::from_secs(2), gone) {
        host::signal(pid, libc::SIGKILL);
        if !host::wait_until(Duration::from_secs(5), gone) {
            return Err(format!("the delay router (pid {pid}) survives SIGKILL"));
        }
    }
    // The router is this process's child when this process started it: collect its exit
    // status, so it does not linger as a zombie. For anyone else's process this does nothing.
    // SAFETY: waitpid with a null status pointer writes nothing.
    unsafe {
        libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
    }
    Ok(true)
}

/// Starts the router with `command` and the state directory, and waits until it says it serves.
fn spawn(layout: &Layout, command: &[String]) -> Result<(), String> {
    let (program, arguments) = command
        .split_first()
        .ok_or("no router_command is configured to start the delay router")?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.router_log())
        .map_err(|e| format!("cannot open the delay router's log: {e}"))?;
    let mut child = Command::new(program)
        .args(arguments)
        .arg(layout.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot run the delay router ({program}): {e}"))?;
    let mut said = String::new();
    if let Some(stdout) = child.stdout.take() {
        // Ends at the READY line, or with nothing when the router exits first.
        let _ = BufReader::new(stdout).read_line(&mut said);
    }
    if said.trim() == READY {
        return Ok(());
    }
    let _ = child.wait();
    let log = fs::read_to_string(layout.router_log()).unwrap_or_default();
    Err(format!(
        "the delay router did not start: {}",
        log.lines().last().unwrap_or("it said nothing")
    ))
}

/// A lock covering all of a file, as `fcntl` takes it.
fn whole_file(kind: libc::c_int) -> libc::flock {
    // SAFETY: flock is plain data; all zeroes is a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock
}

/// The process holding the router's lock: the running router, if any. An `fcntl` lock (unlike
/// `flock`) tells who holds it, and dies with its holder, so a pid read here is never stale.
fn router_pid(layout: &Layout) -> Option<i32> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(layout.router_lock())
        .ok()?;
    let mut lock = whole_file(libc::F_WRLCK);
    // SAFETY: the descriptor is valid while `file` lives; F_GETLK writes into `lock`.
    let asked = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    (asked == 0 && lock.l_type != libc::F_UNLCK as libc::c_short).then_some(lock.l_pid)
}

/// Takes the router's lock for this process, for as long as the returned file stays open.
fn hold_router_lock(layout: &Layout) -> Result<File, String> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(layout.router_lock())
        .map_err(|e| format!("cannot open the router's lock: {e}"))?;
    let lock = whole_file(libc::F_WRLCK);
    // SAFETY: the descriptor is valid while `file` lives; F_SETLK only reads `lock`.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) } != 0 {
        return Err(match router_pid(layout) {
            Some(pid) => format!("another delay router (pid {pid}) serves this state directory"),
            None => format!(
                "cannot lock the router's lock: {}",
                io::Error::last_os_error()
            ),
        });
    }
    Ok(file)
}

/// Set by `SIGHUP`: read the records again.
static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn ask_reload(_signal: libc::c_int) {
    RELOAD.store(true, Ordering::SeqCst);
}

/// A TUN device this process is attached to: it reads the packets the kernel routes into the
/// device and writes packets the kernel then receives from it.
struct Tun {
    file: File,
}

impl Tun {
    /// Attaches to the existing TUN device `name`, without packet information headers (each
    /// read gives one bare IP packet), non-blocking.
    fn attach(name: &str) -> Result<Tun, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/net/tun")
            .map_err(|e| format!("cannot open /dev/net/tun: {e}"))?;
        // SAFETY: ifreq is plain data; all zeroes is a valid value.
        let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
        if name.len() >= request.ifr_name.len() {
            return Err(format!("the device name {name} is too long"));
        }
        for (slot, byte) in request.ifr_name.iter_mut().zip(name.bytes()) {
            *slot = byte as libc::c_char;
        }
        request.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which `request` is.
        if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut request) } != 0 {
            return Err(format!(
                "cannot attach to the TUN device {name}: {}",
                io::Error::last_os_error()
            ));
        }
        Ok(Tun { file })
    }

    /// Waits until a packet can be read, `timeout` passes (`None`: no limit) or a signal comes.
    fn wait(&self, timeout: Option<Duration>) -> Result<(), String> {
        let mut poll = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Rounded up: a packet may leave a little late, never early.
        let millis = timeout.map_or(-1, |t| t.as_micros().div_ceil(1000).min(60_000) as i32);
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut poll, 1, millis) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(format!("cannot wait for packets: {e}"));
            }
        }
        Ok(())
    }

    /// The next packet's length in `buffer`; `None` when no packet is waiting.
    fn receive(&self, buffer: &mut [u8]) -> Result<Option<usize>, String> {
        match (&self.file).read(buffer) {
            Ok(length) => Ok(Some(length)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(format!("cannot read from the TUN device: {e}")),
        }
    }

    /// Hands `packet` to the kernel. A packet the kernel refuses is lost, as on a real link.
    fn send(&self, packet: &[u8]) {
        let _ = (&self.file).write(packet);
    }
}

/// Runs the delay router of the state directory `state_dir` until it is stopped (`SIGTERM`) or
/// fails; returns only the reason it failed. The driver runs it through
/// [`LocalConfig::router_command`](super::LocalConfig::router_command) as a daemon, with its
/// standard error going to `router.log`: a program offering it needs only to call this with the
/// directory it is given. Prints `ready` on standard output once it serves, then closes it.
pub fn run_delay_router(state_dir: &Path) -> Result<Infallible, String> {
    let layout = Layout::new(state_dir);
    let prefix = fs::read_to_string(layout.prefix_file())
        .map_err(|e| format!("{} is no state directory: {e}", state_dir.display()))?;
    let prefix = prefix.trim();
    check_prefix(prefix)?;
    // A session of its own, so that the end of the provider's session or terminal does not
    // reach it, and no hold on the directory it was started in.
    // SAFETY: setsid has no memory preconditions; it fails only for a group leader, harmlessly.
    unsafe {
        libc::setsid();
    }
    std::env::set_current_dir("/").map_err(|e| format!("cannot change to /: {e}"))?;
    // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGHUP, ask_reload as *const () as libc::sighandler_t);
    }
    let _lock = hold_router_lock(&layout)?;
    let tun = Tun::attach(&model::delay_device(prefix))?;
    let delays = load_delays(&layout)?;
    announce_ready()?;
    eprintln!(
        "delay router {} serves {}",
        std::process::id(),
        model::delay_device(prefix)
    );
    serve(&tun, &layout, delays)
}

/// Tells the driver the router serves, and closes standard output (on `/dev/null`), so the
/// driver's read ends.
fn announce_ready() -> Result<(), String> {
    let mut stdout = io::stdout();
    writeln!(stdout, "{READY}")
        .and_then(|_| stdout.flush())
        .map_err(|e| format!("cannot tell the driver: {e}"))?;
    let null = File::open("/dev/null").map_err(|e| format!("cannot open /dev/null: {e}"))?;
    // SAFETY: both descriptors are valid; dup2 replaces descriptor 1 atomically.
    unsafe {
        libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
    }
    Ok(())
}

/// The router's loop: release the packets that are due, wait for the next packet or release,
/// take every waiting packet and hold it for its delay (or pass it on at once).
fn serve(tun: &Tun, layout: &Layout, mut delays: Delays) -> Result<Infallible, String> {
    let mut queue: DelayQueue<Vec<u8>> = DelayQueue::new();
    let mut buffer = vec![0u8; MAX_PACKET];
    loop {
        if RELOAD.swap(false, Ordering::SeqCst) {
            match load_delays(layout) {
                Ok(new) => delays = new,
                Err(why) => eprintln!("keeping the delays it had: {why}"),
            }
        }
        let now = Instant::now();
        while let Some(packet) = queue.pop_due(now) {
            tun.send(&packet);
        }
        tun.wait(
            queue
                .next_release()
                .map(|at| at.saturating_duration_since(now)),
        )?;
        let now = Instant::now();
        while let Some(length) = tun.receive(&mut buffer)? {
            let packet = &buffer[..length];
            let delay = latency::addresses(packet)
                .map_or(Duration::ZERO, |(from, to)| delays.one_way(from, to));
            if delay.is_zero() {
                tun.send(packet);
            } else if queue.len() < QUEUE_LIMIT {
                queue.push(now + delay, packet.to_vec());
            }
        }
    }
}
