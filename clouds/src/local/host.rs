//! The `local` driver's dealings with the host: the commands it runs (`ip`, `tc`, `ssh-keygen`,
//! `unshare`, sshd), the processes of a network namespace, signals, and file locks. Everything
//! here is synchronous and needs root; the driver calls it from blocking threads.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::model::{self, Sshd};

/// Where `ip netns` keeps its namespaces.
const NETNS_DIR: &str = "/run/netns";

/// True if and only if the process runs as root (effective uid 0).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The programs the driver runs, by name (looked up in `PATH`).
pub(crate) const PROGRAMS: [&str; 7] = ["ip", "tc", "nft", "unshare", "mount", "ssh-keygen", "sh"];

/// The programs of [`PROGRAMS`] that `PATH` does not hold.
pub(crate) fn missing_programs() -> Vec<&'static str> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    PROGRAMS
        .into_iter()
        .filter(|name| !std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
        .collect()
}

/// Runs `program` with `args`; its standard output on success, else one line naming the command
/// and what it printed on standard error.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Like [`run`], for removals: succeeds when the thing is already gone. `ip` says "Cannot find
/// device" for a missing link and "No such file or directory" for a missing namespace.
pub(crate) fn run_removal(program: &str, args: &[&str]) -> Result<(), String> {
    match run(program, args) {
        Ok(_) => Ok(()),
        Err(e) if e.contains("Cannot find device") || e.contains("No such file") => Ok(()),
        Err(e) => Err(e),
    }
}

/// True if and only if the host (the root network namespace) has an interface named `name`.
pub(crate) fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Sets the IPv4 setting `key` of interface `device` (`/proc/sys/net/ipv4/conf/<device>/<key>`).
pub(crate) fn set_interface_setting(device: &str, key: &str, value: &str) -> Result<(), String> {
    let path = Path::new("/proc/sys/net/ipv4/conf").join(device).join(key);
    fs::write(&path, value).map_err(|e| format!("cannot set {}: {e}", path.display()))
}

/// Deletes every IPv4 policy-routing rule whose input interface passes `ours`; returns how many
/// there were.
pub(crate) fn delete_rules(ours: impl Fn(&str) -> bool) -> Result<usize, String> {
    let rules = model::rule_inputs(&run("ip", &["-4", "rule", "show"])?);
    let mut deleted = 0;
    for (priority, input) in rules.iter().filter(|(_, input)| ours(input)) {
        run_removal(
            "ip",
            &[
                "-4",
                "rule",
                "del",
                "priority",
                &priority.to_string(),
                "iif",
                input,
            ],
        )?;
        deleted += 1;
    }
    Ok(deleted)
}

/// True if and only if the named network namespace exists.
pub(crate) fn netns_exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

/// The names of every network namespace `ip netns` knows.
pub(crate) fn netns_names() -> Vec<String> {
    fs::read_dir(NETNS_DIR)
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The namespace's identity (device and inode of its nsfs file), or `None` when it is gone.
fn netns_identity(name: &str) -> Option<(u64, u64)> {
    let meta = fs::metadata(Path::new(NETNS_DIR).join(name)).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// True if and only if process `pid` lives in the network namespace `identity`.
fn in_netns(pid: i32, identity: (u64, u64)) -> bool {
    fs::metadata(format!("/proc/{pid}/ns/net"))
        .map(|meta| (meta.dev(), meta.ino()) == identity)
        .unwrap_or(false)
}

/// Every process in the named network namespace: the VM's processes. (Zombies have no namespace
/// left and are not listed: they are already dead.)
pub(crate) fn netns_pids(name: &str) -> Vec<i32> {
    let Some(identity) = netns_identity(name) else {
        return Vec::new();
    };
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc_dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| in_netns(pid, identity))
        .collect()
}

/// The one-letter state of a process (`R`, `S`, `T`, `Z`, ...), or `None` when it is gone.
pub(crate) fn process_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may itself hold spaces and parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.trim_start().chars().next()
}

pub(crate) fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: kill has no memory preconditions; a process that is already gone gives ESRCH,
    // which is what the callers expect to happen eventually.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Waits until `done` holds or `limit` passes; true if and only if it held.
pub(crate) fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        sleep(Duration::from_millis(20));
    }
}

/// Ends every process of the namespace: `SIGTERM` (after `SIGCONT`, so frozen processes can act
/// on it), `grace` to exit, then `SIGKILL` until none is left. Returns how many there were, or an
/// error if some survive `SIGKILL` for 5 s (a process stuck in the kernel).
pub(crate) fn kill_all(netns: &str, grace: Duration) -> Result<usize, String> {
    let first = netns_pids(netns);
    for &pid in &first {
        signal(pid, libc::SIGTERM);
        signal(pid, libc::SIGCONT);
    }
    if !wait_until(grace, || netns_pids(netns).is_empty()) {
        let gone = wait_until(Duration::from_secs(5), || {
            let left = netns_pids(netns);
            left.iter().for_each(|&pid| signal(pid, libc::SIGKILL));
            left.is_empty()
        });
        if !gone {
            return Err(format!(
                "processes {:?} of namespace {netns} survive SIGKILL",
                netns_pids(netns)
            ));
        }
    }
    Ok(first.len())
}

/// Stops (`SIGSTOP`) every process of the namespace, repeating until all are stopped, so that a
/// process forked during the sweep is caught by the next one.
pub(crate) fn freeze(netns: &str) -> Result<(), String> {
    let frozen = wait_until(Duration::from_secs(5), || {
        let running: Vec<i32> = netns_pids(netns)
            .into_iter()
            .filter(|&pid| !matches!(process_state(pid), Some('T' | 't') | None))
            .collect();
        running.iter().for_each(|&pid| signal(pid, libc::SIGSTOP));
        running.is_empty()
    });
    if frozen {
        Ok(())
    } else {
        Err(format!("the processes of namespace {netns} did not stop"))
    }
}

/// Continues (`SIGCONT`) every process of the namespace.
pub(crate) fn thaw(netns: &str) {
    netns_pids(netns)
        .into_iter()
        .for_each(|pid| signal(pid, libc::SIGCONT));
}

/// The VM's sshd, from the pid file it writes in the VM's `/run`: alive only if that process is
/// in the VM's namespace (so a pid reused by another process does not count).
pub(crate) fn sshd_state(netns: &str, pid_file: &Path) -> (Sshd, Option<i32>) {
    let pid = fs::read_to_string(pid_file)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok());
    let Some((pid, identity)) = pid.zip(netns_identity(netns)) else {
        return (Sshd::Down, None);
    };
    if !in_netns(pid, identity) {
        return (Sshd::Down, None);
    }
    match process_state(pid) {
        Some('T' | 't') => (Sshd::Frozen, Some(pid)),
        Some(_) => (Sshd::Serving, Some(pid)),
        None => (Sshd::Down, None),
    }
}

/// Stops the VM's sshd (the listener; open sessions are separate processes): `SIGTERM`, then
/// `SIGKILL` if it has not exited within 2 s.
pub(crate) fn stop_sshd(netns: &str, pid_file: &Path) {
    let (_, Some(pid)) = sshd_state(netns, pid_file) else {
        return;
    };
    signal(pid, libc::SIGTERM);
    signal(pid, libc::SIGCONT);
    let gone = || sshd_state(netns, pid_file).0 == Sshd::Down;
    if !wait_until(Duration::from_secs(2), gone) {
        signal(pid, libc::SIGKILL);
        wait_until(Duration::from_secs(2), gone);
    }
}

/// Starts the VM's sshd as a daemon inside its network namespace and a new mount namespace of its
/// own (see [`model::enter_script`]), then waits until it answers on `address` (port 22).
///
/// sshd detaches itself (new session, standard streams on `/dev/null`), so it outlives the
/// provider. Its mount namespace is private: its bind mounts never reach the host's.
pub(crate) fn start_sshd(
    netns: &str,
    fs_dir: &Path,
    sshd: &Path,
    address: SocketAddr,
) -> Result<(), String> {
    let run_dir = fs_dir.join("run");
    let pid_file = run_dir.join("sshd.pid");
    // A stale pid file from before a reboot must not pass for the new server.
    let _ = fs::remove_file(&pid_file);
    let script = model::enter_script();
    let fs_text = fs_dir.to_string_lossy();
    let sshd_text = sshd.to_string_lossy();
    run(
        "ip",
        &[
            "netns",
            "exec",
            netns,
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            &script,
            "sh",
            &fs_text,
            &sshd_text,
        ],
    )?;
    let ready = wait_until(Duration::from_secs(10), || {
        sshd_state(netns, &pid_file).0 == Sshd::Serving && answers_inside(netns, address)
    });
    if ready {
        Ok(())
    } else {
        let log = fs::read_to_string(run_dir.join("sshd.log")).unwrap_or_default();
        Err(format!(
            "sshd did not answer on {address} within 10 s; its log: {}",
            log.trim()
        ))
    }
}

/// True if and only if something accepts TCP connections on `address`, asked from inside the
/// namespace: the VM's firewall lets the VM reach itself whatever its security group allows the
/// host. A thread of its own enters the namespace (a namespace is per thread) and ends with it.
fn answers_inside(netns: &str, address: SocketAddr) -> bool {
    let Ok(namespace) = File::open(Path::new(NETNS_DIR).join(netns)) else {
        return false;
    };
    std::thread::spawn(move || {
        // SAFETY: setns with a valid namespace descriptor moves only this thread.
        let entered = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) } == 0;
        entered && TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
    })
    .join()
    .unwrap_or(false)
}

/// An exclusive `flock` on a file, released when dropped (the lock dies with the file
/// description, so also when the process dies: a lock is never left behind by a crash).
pub(crate) struct Lock {
    _file: File,
}

fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    // SAFETY: the descriptor is valid for the lifetime of `file`.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Lock {
    /// Waits for the exclusive lock on `path`, creating the file if needed.
    pub(crate) fn exclusive(path: &Path) -> io::Result<Lock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        flock(&file, libc::LOCK_EX)?;
        Ok(Lock { _file: file })
    }

    /// A shared lock on `path` if nobody holds the exclusive one: `Ok(Some)` when taken,
    /// `Ok(None)` when another call holds it; `Err` when the file cannot be opened (e.g. it is
    /// gone).
    pub(crate) fn try_shared(path: &Path) -> io::Result<Option<Lock>> {
        let file = File::open(path)?;
        match flock(&file, libc::LOCK_SH | libc::LOCK_NB) {
            Ok(()) => Ok(Some(Lock { _file: file })),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Creates `path` (and missing parents) and gives it `mode`.
pub(crate) fn make_dir(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Writes `path` through a temporary file and a rename, so readers never see half a file, and
/// gives it `mode`.
pub(crate) fn write_file(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut temporary = PathBuf::from(path);
    temporary.as_mut_os_string().push(".new");
    fs::write(&temporary, contents)?;
    fs::set_permissions(&temporary, fs::Permissions::from_mode(mode))?;
    fs::rename(&temporary, path)
}
