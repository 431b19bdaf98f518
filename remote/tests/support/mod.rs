//! Real OpenSSH servers for tests and the benchmark: each "host" is an `sshd -D` with its own
//! port, host key, authorized-keys file and directory. Everything lives in one temporary
//! directory and every process is killed on drop, even when a test panics.
//!
//! Shared by `tests/*.rs` and (through `#[path]`) the `transfer-bench` binary.

#![allow(dead_code)] // Each user of this module uses a different part of it.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use remote::{Host, SecretKey, Target};

/// Where the Debian/Ubuntu package `openssh-server` installs the daemon.
pub const SSHD: &str = "/usr/sbin/sshd";

/// One running sshd.
pub struct Sshd {
    /// Host name in `remote`'s terms.
    pub name: String,
    /// Address it listens on.
    pub address: String,
    /// Port it listens on.
    pub port: u16,
    /// Its private directory (destination files go here).
    pub dir: PathBuf,
    /// Its host key as an OpenSSH public key line.
    pub host_key: String,
    /// Command prefix to start it with (e.g. `ip netns exec h1`).
    prefix: Vec<String>,
    child: Option<Child>,
}

/// A set of sshd "hosts" and the client key they all accept.
pub struct Fleet {
    /// Holds every file; removed on drop, after the processes are gone.
    pub root: tempfile::TempDir,
    /// The client's private key (OpenSSH text).
    pub client_key: String,
    /// The hosts.
    pub hosts: Vec<Sshd>,
}

fn keygen(path: &Path, comment: &str) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen (package openssh-client) must be installed");
    assert!(status.success(), "ssh-keygen failed");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Fleet {
    /// `n` hosts on 127.0.0.1, each on a free port.
    pub fn loopback(n: usize) -> Fleet {
        Fleet::start((0..n).map(|i| {
            (
                format!("h{i}"),
                "127.0.0.1".to_string(),
                free_port(),
                vec![],
            )
        }))
    }

    /// Hosts given as (name, listen address, port, command prefix).
    pub fn start(specs: impl IntoIterator<Item = (String, String, u16, Vec<String>)>) -> Fleet {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install the openssh-server package"
        );
        // The privilege separation directory Debian's sshd insists on.
        fs::create_dir_all("/run/sshd").ok();
        let root = tempfile::Builder::new()
            .prefix("tumblebug-remote-")
            .tempdir()
            .expect("a temporary directory");
        let key_path = root.path().join("client_key");
        keygen(&key_path, "tumblebug-test-client");
        let client_key = fs::read_to_string(&key_path).unwrap();
        let client_public = fs::read_to_string(key_path.with_extension("pub")).unwrap();
        let mut fleet = Fleet {
            root,
            client_key,
            hosts: Vec::new(),
        };
        for (name, address, port, prefix) in specs {
            let dir = fleet.root.path().join(&name);
            fs::create_dir_all(dir.join("data")).unwrap();
            keygen(&dir.join("host_key"), &name);
            fs::write(dir.join("authorized_keys"), &client_public).unwrap();
            let config = format!(
                "Port {port}\nListenAddress {address}\nHostKey {dir}/host_key\nPidFile none\n\
                 AuthorizedKeysFile {dir}/authorized_keys\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 PermitRootLogin prohibit-password\nAllowUsers {user}\nStrictModes no\n\
                 MaxStartups 200\nMaxSessions 100\nLogLevel ERROR\n",
                dir = dir.display(),
                user = current_user(),
            );
            fs::write(dir.join("sshd_config"), config).unwrap();
            let host_key = fs::read_to_string(dir.join("host_key.pub"))
                .unwrap()
                .trim()
                .to_string();
            let mut sshd = Sshd {
                name,
                address,
                port,
                dir,
                host_key,
                prefix,
                child: None,
            };
            sshd.spawn();
            fleet.hosts.push(sshd);
        }
        for sshd in &fleet.hosts {
            sshd.wait_ready();
        }
        fleet
    }

    /// The client key as `remote` wants it.
    pub fn key(&self) -> SecretKey {
        SecretKey::from_openssh(self.client_key.clone())
    }

    /// Host `i` in `remote`'s terms (with its own authorized-keys file).
    pub fn host(&self, i: usize) -> Host {
        let s = &self.hosts[i];
        let mut host = Host::new(&s.name, &s.address, s.port, &current_user(), &s.host_key);
        host.authorized_keys_file = Some(s.dir.join("authorized_keys").display().to_string());
        host
    }

    /// Every host, with `file` inside its own data directory as destination.
    pub fn targets(&self, file: &str) -> Vec<Target> {
        (0..self.hosts.len())
            .map(|i| Target {
                host: self.host(i),
                dest: self.dest(i, file).display().to_string(),
            })
            .collect()
    }

    /// Destination of `file` on host `i`.
    pub fn dest(&self, i: usize, file: &str) -> PathBuf {
        self.hosts[i].dir.join("data").join(file)
    }

    /// A directory for engine work files (kept inside the fleet's directory).
    pub fn work_dir(&self) -> String {
        self.root.path().join("work").display().to_string()
    }
}

impl Sshd {
    fn spawn(&mut self) {
        let mut argv = self.prefix.clone();
        // sshd runs every command through the user's shell, and bash reads ~/.bashrc for SSH
        // commands: a developer's shell set-up (pyenv, conda, ...) would slow every command
        // and make timings meaningless. As root, give sshd a mount namespace in which ~/.bashrc
        // is empty, like on a fresh VM; the namespace ends with the process.
        if is_root() && Path::new("/usr/bin/unshare").exists() {
            argv.extend(
                [
                    "/usr/bin/unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    "sh",
                    "-c",
                    "[ -f \"$HOME/.bashrc\" ] && mount --bind /dev/null \"$HOME/.bashrc\"; exec \"$@\"",
                    "sh",
                ]
                .map(String::from),
            );
        }
        argv.push(SSHD.to_string());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        let log = fs::File::create(self.dir.join("sshd.log")).unwrap();
        cmd.args(["-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(cmd.spawn().expect("start sshd"));
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = format!("{}:{}", self.address, self.port);
        while TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd {} did not listen on {addr}: {}",
                self.name,
                fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills this host: its sshd and every process its sessions started (a VM that dies takes
    /// its processes with it). Deepest processes first, so that each parent is still there to
    /// reap its children and no zombies are left to an init that may not reap them.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Twice: a session may fork while the first pass runs.
            for _ in 0..2 {
                for pid in descendants(child.id()).into_iter().rev() {
                    // SAFETY: plain kill(2) of a process this fixture started (or its offspring).
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts this host's sshd again (same port, key and files).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_ready();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every process below `pid`, children first found first (read from /proc, so it works while
/// they run).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The command name is in parentheses and may contain spaces: parse after it.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                parents.push((p, ppid));
            }
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// A file of `size` pseudo-random bytes (deterministic per seed).
pub fn random_file(dir: &Path, name: &str, size: usize, seed: u64) -> PathBuf {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut data = Vec::with_capacity(size);
    while data.len() < size {
        // xorshift64*: fast, and good enough to defeat compression.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        data.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    data.truncate(size);
    let path = dir.join(name);
    fs::write(&path, data).unwrap();
    path
}

/// SHA-256 of a local file, by `sha256sum`, independent of the code under test.
pub fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
