//! SSH sessions on libssh2: one [`Connection`] per host, driven by the thread that owns it.
//!
//! Why the connection is non-blocking underneath a blocking API: libssh2's own timeouts leave a
//! half-sent packet behind that the next call may not replace, so a blocking session cannot be
//! given deadlines safely. Here every libssh2 call is non-blocking and the connection waits on the
//! socket itself (`poll`), which gives exact command deadlines and lets one loop feed stdin while
//! draining stdout and stderr (a remote command that writes while we write would otherwise stall
//! on a full window).
//!
//! Liveness: a dead peer is detected by TCP keepalive plus `TCP_USER_TIMEOUT`, not by libssh2's
//! keepalive messages: `keepalive_send` may leave a partial packet that the next channel write is
//! not allowed to replace, so it cannot be interleaved with streaming. TCP keepalive also keeps
//! NAT and firewall state alive, which is the other reason for SSH keepalives.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use ssh2::{BlockDirections, ErrorCode, MethodType, Session};
use ssh_key::{HashAlg, PublicKey};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::pool::parallel_map;

/// A VM reachable over SSH. The host key is pinned: a connection that presents another key is
/// refused, so the caller must know the key (from the cloud's console output, or from the first
/// boot it provisioned).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// Unique name within a transfer (letters, digits, `.`, `_`, `-`): it names the host in
    /// errors and reports and becomes part of file names on the host.
    pub name: String,
    /// Address the front-end connects to (IP or DNS name).
    pub address: String,
    /// SSH port.
    pub port: u16,
    /// Remote user.
    pub user: String,
    /// The host's public key as an OpenSSH line (`ssh-ed25519 AAAA... [comment]`).
    pub host_key: String,
    /// Address the other hosts use to reach this one (the MCIS's private network), when it
    /// differs from `address`. Relay connections between VMs use it.
    pub private_address: Option<String>,
    /// Where this host's sshd reads `user`'s authorized keys, relative to the home directory or
    /// absolute; `.ssh/authorized_keys` when `None`. The transfer engine adds its temporary relay
    /// keys there and removes them afterwards.
    pub authorized_keys_file: Option<String>,
}

impl Host {
    /// A host with no private address and the default authorized-keys file.
    pub fn new(name: &str, address: &str, port: u16, user: &str, host_key: &str) -> Host {
        Host {
            name: name.to_string(),
            address: address.to_string(),
            port,
            user: user.to_string(),
            host_key: host_key.trim().to_string(),
            private_address: None,
            authorized_keys_file: None,
        }
    }

    /// The address other hosts use for relaying.
    pub fn relay_address(&self) -> &str {
        self.private_address.as_deref().unwrap_or(&self.address)
    }

    /// The authorized-keys file the relay keys go into.
    pub fn authorized_keys(&self) -> &str {
        self.authorized_keys_file
            .as_deref()
            .unwrap_or(".ssh/authorized_keys")
    }

    /// Checks every field that ends up in a file name, a shell command or an `authorized_keys`
    /// line, so that no field can smuggle syntax into them.
    pub fn validate(&self) -> Result<(), Error> {
        let word = |s: &str, extra: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c) || extra.contains(c))
        };
        let bad = |what: &str, value: &str| {
            Err(Error::Invalid(format!(
                "host {:?}: invalid {what} {value:?}",
                self.name
            )))
        };
        if !word(&self.name, "") || self.name.starts_with('-') {
            return bad("name (letters, digits, '.', '_', '-')", &self.name);
        }
        if !word(&self.address, ":") || self.address.starts_with('-') {
            return bad("address", &self.address);
        }
        if let Some(private) = &self.private_address {
            if !word(private, ":") || private.starts_with('-') {
                return bad("private address", private);
            }
        }
        if !word(&self.user, "") || self.user.starts_with('-') {
            return bad("user", &self.user);
        }
        if self.port == 0 {
            return bad("port", "0");
        }
        if let Some(file) = &self.authorized_keys_file {
            if file.is_empty() || file.contains(['\n', '\0']) {
                return bad("authorized keys file", file);
            }
        }
        pinned_key(self).map(|_| ())
    }
}

/// Parses the pinned host key, naming the host when it is unusable.
pub(crate) fn pinned_key(host: &Host) -> Result<PublicKey, Error> {
    PublicKey::from_openssh(host.host_key.trim()).map_err(|e| {
        Error::Invalid(format!(
            "host {:?}: the pinned host key is not an OpenSSH public key line: {e}",
            host.name
        ))
    })
}

/// The client's private key (OpenSSH format, unencrypted). Secret: its memory is wiped on drop and
/// `Debug` never shows it.
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    /// Wraps an OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----` text).
    pub fn from_openssh(text: impl Into<String>) -> SecretKey {
        SecretKey(Zeroizing::new(text.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Timeouts and limits of SSH sessions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SshConfig {
    /// TCP connect plus SSH handshake plus authentication.
    pub connect_timeout: Duration,
    /// Default deadline of a command run with [`Connection::run`].
    pub command_timeout: Duration,
    /// Idle time before TCP keepalive probes start, and the interval between probes; a peer
    /// that answers none of three probes (or leaves data unacknowledged for four intervals) is
    /// declared dead.
    pub keepalive_interval: Duration,
    /// How many sessions work at the same time in the fleet helpers and the transfer engine.
    pub max_sessions: usize,
    /// Bytes kept of each of stdout and stderr; beyond it the tail is kept.
    pub output_limit: usize,
}

impl Default for SshConfig {
    fn default() -> Self {
        SshConfig {
            connect_timeout: Duration::from_secs(15),
            command_timeout: Duration::from_secs(120),
            keepalive_interval: Duration::from_secs(10),
            max_sessions: 32,
            output_limit: 64 * 1024,
        }
    }
}

/// What a remote command produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Exit status (0 when the command was killed by a signal; see `exit_signal`).
    pub exit_status: i32,
    /// Name of the signal that ended the command, if one did.
    pub exit_signal: Option<String>,
    /// The last `output_limit` bytes of standard output.
    pub stdout: Vec<u8>,
    /// The last `output_limit` bytes of standard error.
    pub stderr: Vec<u8>,
    /// Bytes of standard output dropped from the front to respect the limit.
    pub stdout_dropped: u64,
    /// Bytes of standard error dropped from the front.
    pub stderr_dropped: u64,
}

impl Output {
    /// True if and only if the command exited with status 0 and no signal.
    pub fn success(&self) -> bool {
        self.exit_status == 0 && self.exit_signal.is_none()
    }

    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// "exit 3" or "signal TERM", for messages.
    pub fn status_text(&self) -> String {
        match &self.exit_signal {
            Some(signal) => format!("signal {signal}"),
            None => format!("exit {}", self.exit_status),
        }
    }
}

/// Keeps the last `limit` bytes written to it: when a command fails, its last lines say why.
#[derive(Debug)]
pub(crate) struct TailBuffer {
    limit: usize,
    data: Vec<u8>,
    dropped: u64,
}

impl TailBuffer {
    pub(crate) fn new(limit: usize) -> TailBuffer {
        TailBuffer {
            limit,
            data: Vec::new(),
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        // Trim only once the buffer holds twice the limit, so that trimming costs amortised O(1)
        // per byte instead of a shift on every small read.
        if self.data.len() > self.limit.saturating_mul(2).max(1) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.data.len() > self.limit {
            let excess = self.data.len() - self.limit;
            self.data.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    pub(crate) fn finish(mut self) -> (Vec<u8>, u64) {
        self.trim();
        (self.data, self.dropped)
    }
}

/// Size of the chunks read from a local stream and handed to libssh2: large, because every write
/// call costs a loop iteration and libssh2 splits the data into packets itself.
const INPUT_CHUNK: usize = 1024 * 1024;

/// The longest single wait on the socket. A bound is needed because libssh2 may queue channel
/// data while reading for another stream, data the socket no longer signals.
const MAX_POLL: Duration = Duration::from_millis(100);

/// An authenticated SSH session to one host. Not shareable across threads at the same time
/// (libssh2 serialises a session's channels anyway): give each host its own thread.
pub struct Connection {
    host: Host,
    session: Session,
    fd: RawFd,
    config: SshConfig,
    broken: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("host", &self.host.name)
            .field("broken", &self.broken)
            .finish()
    }
}

impl Connection {
    /// Connects, verifies the pinned host key and authenticates with `key`, all within
    /// `config.connect_timeout`.
    pub fn open(host: &Host, key: &SecretKey, config: &SshConfig) -> Result<Connection, Error> {
        host.validate()?;
        let pinned = pinned_key(host)?;
        let target = format!("{}:{}", host.address, host.port);
        let connect_error = |source| Error::Connect {
            host: host.name.clone(),
            address: target.clone(),
            source,
        };
        let deadline = Instant::now() + config.connect_timeout;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
        let mut stream = None;
        for addr in (host.address.as_str(), host.port)
            .to_socket_addrs()
            .map_err(connect_error)?
        {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                last = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
                break;
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or_else(|| connect_error(last))?;
        configure_socket(&stream, config).map_err(connect_error)?;
        let fd = stream.as_raw_fd();

        let ssh_error = |action: &str, source| Error::Ssh {
            host: host.name.clone(),
            action: action.to_string(),
            source,
        };
        let mut session = Session::new().map_err(|e| ssh_error("create session", e))?;
        // Offer only the pinned key's algorithm, so that a server with several host keys
        // presents the one we can compare.
        session
            .method_pref(MethodType::HostKey, host_key_methods(&pinned))
            .map_err(|e| ssh_error("set host key algorithms", e))?;
        // AES-GCM first: with AES-NI it is the cheapest cipher, and on small VMs the CPU, not the
        // link, can be the bound of a bulk stream. libssh2 ignores names it does not support.
        for method in [MethodType::CryptCs, MethodType::CryptSc] {
            session
                .method_pref(method, CIPHERS)
                .map_err(|e| ssh_error("set ciphers", e))?;
        }
        session.set_tcp_stream(stream);
        let left = deadline.saturating_duration_since(Instant::now());
        session.set_timeout(left.as_millis().clamp(1, u32::MAX as u128) as u32);
        session
            .handshake()
            .map_err(|e| timeout_or(e, host, "SSH handshake", config.connect_timeout))?;
        verify_host_key(host, &pinned, &session)?;
        session
            .userauth_pubkey_memory(&host.user, None, key.expose(), None)
            .map_err(|source| Error::Auth {
                host: host.name.clone(),
                user: host.user.clone(),
                source,
            })?;
        if !session.authenticated() {
            return Err(Error::Invalid(format!(
                "host {}: the server accepted no authentication",
                host.name
            )));
        }
        session.set_timeout(0);
        session.set_blocking(false);
        Ok(Connection {
            host: host.clone(),
            session,
            fd,
            config: config.clone(),
            broken: false,
        })
    }

    /// The host this connection is to.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// True once an error has made the session unusable; open a new connection then.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Runs `command` (through the user's login shell on the host) with the configured command
    /// timeout, and returns its output whatever its exit status.
    pub fn run(&mut self, command: &str) -> Result<Output, Error> {
        let timeout = self.config.command_timeout;
        self.execute(command, None, Some(timeout), &mut |_| {})
    }

    /// Like [`Connection::run`], but an unsuccessful exit is an [`Error::CommandFailed`] naming
    /// `action`.
    pub fn check(&mut self, action: &str, command: &str) -> Result<Output, Error> {
        let output = self.run(command)?;
        self.require_success(action, output)
    }

    /// Runs `command` with `input` streamed into its standard input; `progress` is told the number
    /// of bytes accepted by the channel after every write. `timeout` (none: no deadline) covers
    /// the whole command: bulk streams have no meaningful default. This is the bulk-data path:
    /// an exec channel with large writes runs at link speed where SFTP with small writes does not.
    pub fn run_with_input(
        &mut self,
        command: &str,
        input: &mut dyn Read,
        timeout: Option<Duration>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Output, Error> {
        self.execute(command, Some(input), timeout, progress)
    }

    /// Turns an unsuccessful output into an error naming `action`.
    pub fn require_success(&self, action: &str, output: Output) -> Result<Output, Error> {
        if output.success() {
            Ok(output)
        } else {
            Err(Error::CommandFailed {
                host: self.host.name.clone(),
                action: action.to_string(),
                status: output.status_text(),
                stderr: output.stderr_text(),
            })
        }
    }

    fn execute(
        &mut self,
        command: &str,
        input: Option<&mut dyn Read>,
        timeout: Option<Duration>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Output, Error> {
        if self.broken {
            return Err(Error::Broken {
                host: self.host.name.clone(),
            });
        }
        let result = self.execute_inner(command, input, timeout, progress);
        if result.is_err() {
            // Whatever failed may have left a channel or a packet half done: never reuse it.
            self.broken = true;
        }
        result
    }

    fn execute_inner(
        &mut self,
        command: &str,
        mut input: Option<&mut dyn Read>,
        timeout: Option<Duration>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Output, Error> {
        let deadline = timeout.map(|t| (Instant::now() + t, t));
        let mut channel = self.retry(deadline, "open a channel", |s| s.channel_session())?;
        self.retry(deadline, "start the command", |_| channel.exec(command))?;

        let mut stdout = TailBuffer::new(self.config.output_limit);
        let mut stderr = TailBuffer::new(self.config.output_limit);
        let mut chunk = vec![0u8; if input.is_some() { INPUT_CHUNK } else { 0 }];
        let (mut start, mut end) = (0usize, 0usize);
        let mut input_open = input.is_some();
        let mut eof_sent = input.is_none();
        let mut read_buf = vec![0u8; 64 * 1024];
        loop {
            let mut progressed = false;
            let mut want_write = false;
            if input_open {
                if start == end {
                    let source = input.as_mut().expect("input_open implies input");
                    let n =
                        read_retrying(&mut **source, &mut chunk).map_err(|source| Error::Io {
                            host: self.host.name.clone(),
                            action: "read the data to send".to_string(),
                            source,
                        })?;
                    (start, end) = (0, n);
                    if n == 0 {
                        input_open = false;
                    }
                }
                if start < end {
                    match channel.write(&chunk[start..end]) {
                        Ok(n) => {
                            start += n;
                            progressed |= n > 0;
                            progress(n as u64);
                        }
                        // After the remote's EOF, a blocked write may mean the command is gone and
                        // will never open the window again: stop sending once the channel is
                        // closed (checking never sends anything, so it is safe mid-write).
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock && channel.eof() => {
                            if channel.wait_close().is_ok() {
                                input_open = false;
                                eof_sent = true;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            want_write = matches!(
                                self.session.block_directions(),
                                BlockDirections::Outbound | BlockDirections::Both
                            );
                        }
                        // The command stopped reading (it exited, or closed stdin): stop sending
                        // and let its exit status tell the caller why.
                        Err(_) if channel.eof() => {
                            input_open = false;
                            eof_sent = true;
                        }
                        Err(source) => return Err(self.io_error("send data", source)),
                    }
                }
            }
            if !input_open && !eof_sent {
                match channel.send_eof() {
                    Ok(()) => {
                        eof_sent = true;
                        progressed = true;
                    }
                    Err(e) if is_eagain(&e) => {}
                    Err(_) if channel.eof() => eof_sent = true,
                    Err(source) => return Err(self.ssh_error("close the command's input", source)),
                }
            }
            progressed |= drain(&mut channel, &mut stdout, &mut read_buf, false)
                .map_err(|e| self.io_error("read output", e))?;
            progressed |= drain(&mut channel, &mut stderr, &mut read_buf, true)
                .map_err(|e| self.io_error("read error output", e))?;
            if channel.eof() && eof_sent {
                // Anything still queued arrived before the EOF; collect it.
                drain(&mut channel, &mut stdout, &mut read_buf, false)
                    .map_err(|e| self.io_error("read output", e))?;
                drain(&mut channel, &mut stderr, &mut read_buf, true)
                    .map_err(|e| self.io_error("read error output", e))?;
                break;
            }
            if !progressed {
                self.wait(deadline, "run a command", want_write)?;
            }
        }
        self.retry(deadline, "wait for the command to end", |_| {
            channel.wait_close()
        })?;
        let exit_status = channel
            .exit_status()
            .map_err(|e| self.ssh_error("read the exit status", e))?;
        let exit_signal = channel
            .exit_signal()
            .ok()
            .and_then(|s| s.exit_signal)
            .filter(|s| !s.is_empty());
        let (stdout, stdout_dropped) = stdout.finish();
        let (stderr, stderr_dropped) = stderr.finish();
        Ok(Output {
            exit_status,
            exit_signal,
            stdout,
            stderr,
            stdout_dropped,
            stderr_dropped,
        })
    }

    /// Repeats a non-blocking libssh2 call until it stops asking to be retried.
    fn retry<T>(
        &self,
        deadline: Option<(Instant, Duration)>,
        action: &str,
        mut call: impl FnMut(&Session) -> Result<T, ssh2::Error>,
    ) -> Result<T, Error> {
        loop {
            match call(&self.session) {
                Ok(value) => return Ok(value),
                Err(e) if is_eagain(&e) => self.wait(deadline, action, true)?,
                Err(e) => return Err(self.ssh_error(action, e)),
            }
        }
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on, or `MAX_POLL`.
    fn wait(
        &self,
        deadline: Option<(Instant, Duration)>,
        action: &str,
        want_write: bool,
    ) -> Result<(), Error> {
        let mut wait = MAX_POLL;
        if let Some((at, after)) = deadline {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout {
                    host: self.host.name.clone(),
                    action: action.to_string(),
                    after,
                });
            }
            wait = wait.min(left);
        }
        let mut events = libc::POLLIN;
        if want_write
            || matches!(
                self.session.block_directions(),
                BlockDirections::Outbound | BlockDirections::Both
            )
        {
            events |= libc::POLLOUT;
        }
        let mut fds = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd, owned by this frame; the fd stays open as long as the session.
        let rc = unsafe { libc::poll(&mut fds, 1, wait.as_millis() as libc::c_int) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(self.io_error("wait on the socket", e));
            }
        }
        Ok(())
    }

    fn io_error(&self, action: &str, source: io::Error) -> Error {
        Error::Io {
            host: self.host.name.clone(),
            action: action.to_string(),
            source,
        }
    }

    fn ssh_error(&self, action: &str, source: ssh2::Error) -> Error {
        Error::Ssh {
            host: self.host.name.clone(),
            action: action.to_string(),
            source,
        }
    }
}

/// Cipher preference; see [`Connection::open`].
const CIPHERS: &str = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes256-ctr,\
                       chacha20-poly1305@openssh.com";

fn host_key_methods(key: &PublicKey) -> &'static str {
    match key.algorithm().as_str() {
        "ssh-ed25519" => "ssh-ed25519",
        "ecdsa-sha2-nistp256" => "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384" => "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521" => "ecdsa-sha2-nistp521",
        // An RSA key is the same key under all three signature algorithms.
        _ => "rsa-sha2-512,rsa-sha2-256,ssh-rsa",
    }
}

fn verify_host_key(host: &Host, pinned: &PublicKey, session: &Session) -> Result<(), Error> {
    let expected = pinned.key_data().clone();
    let presented = session
        .host_key()
        .map(|(blob, _)| blob.to_vec())
        .unwrap_or_default();
    let expected_blob = PublicKey::from(expected).to_bytes().unwrap_or_default();
    if !presented.is_empty() && presented == expected_blob {
        return Ok(());
    }
    let presented = PublicKey::from_bytes(&presented)
        .map(|k| k.fingerprint(HashAlg::Sha256).to_string())
        .unwrap_or_else(|_| "no readable key".to_string());
    Err(Error::HostKeyMismatch {
        host: host.name.clone(),
        expected: pinned.fingerprint(HashAlg::Sha256).to_string(),
        presented,
    })
}

fn configure_socket(stream: &TcpStream, config: &SshConfig) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let socket = socket2::SockRef::from(stream);
    let interval = config.keepalive_interval.max(Duration::from_secs(1));
    socket.set_tcp_keepalive(
        &socket2::TcpKeepalive::new()
            .with_time(interval)
            .with_interval(interval)
            .with_retries(3),
    )?;
    socket.set_tcp_user_timeout(Some(interval * 4))
}

fn timeout_or(source: ssh2::Error, host: &Host, action: &str, after: Duration) -> Error {
    if source.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) {
        Error::Timeout {
            host: host.name.clone(),
            action: action.to_string(),
            after,
        }
    } else {
        Error::Ssh {
            host: host.name.clone(),
            action: action.to_string(),
            source,
        }
    }
}

/// libssh2's code for a blocking call that outlived `set_timeout`.
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

/// libssh2's code for "would block, call again".
const LIBSSH2_ERROR_EAGAIN: i32 = -37;

fn is_eagain(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_EAGAIN)
}

fn read_retrying(source: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match source.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads everything available on stdout (or stderr) without blocking; true if anything came.
fn drain(
    channel: &mut ssh2::Channel,
    into: &mut TailBuffer,
    buf: &mut [u8],
    stderr: bool,
) -> io::Result<bool> {
    let mut any = false;
    loop {
        let read = if stderr {
            channel.stderr().read(buf)
        } else {
            channel.read(buf)
        };
        match read {
            Ok(0) => return Ok(any),
            Ok(n) => {
                into.push(&buf[..n]);
                any = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(any),
            Err(e) => return Err(e),
        }
    }
}

/// Runs `command` on every host, at most `config.max_sessions` at a time, one connection per
/// host; the results are in the order of `hosts`.
pub fn run_on_all(
    hosts: &[Host],
    key: &SecretKey,
    config: &SshConfig,
    command: &str,
) -> Vec<Result<Output, Error>> {
    parallel_map(hosts, config.max_sessions, |host| {
        Connection::open(host, key, config)?.run(command)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_buffer_keeps_the_last_bytes() {
        // (limit, pushes, kept tail, dropped bytes)
        type Case<'a> = (usize, &'a [&'a [u8]], &'a [u8], u64);
        let cases: &[Case] = &[
            (4, &[b"ab"], b"ab", 0),
            (4, &[b"abcdef"], b"cdef", 2),
            (4, &[b"abc", b"def", b"ghi"], b"fghi", 5),
            (0, &[b"abc"], b"", 3),
            (3, &[b"", b"xyz"], b"xyz", 0),
        ];
        for (limit, pushes, tail, dropped) in cases {
            let mut buffer = TailBuffer::new(*limit);
            for push in *pushes {
                buffer.push(push);
            }
            assert_eq!(buffer.finish(), (tail.to_vec(), *dropped), "{pushes:?}");
        }
    }

    #[test]
    fn secret_key_is_never_printed() {
        let key = SecretKey::from_openssh("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret");
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
    }

    fn host() -> Host {
        Host::new(
            "vm-1",
            "10.0.0.1",
            22,
            "cb-user",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeYmrWLqUz7zR5aGMPrN3qHS55h/oeCbLDk2FoOvQ0f x",
        )
    }

    #[test]
    fn validation_rejects_fields_that_could_inject_syntax() {
        assert!(host().validate().is_ok());
        let bad: Vec<fn(&mut Host)> = vec![
            |h| h.name = "vm 1".into(),
            |h| h.name = "-vm".into(),
            |h| h.name = "../x".into(),
            |h| h.address = "10.0.0.1\"".into(),
            |h| h.address = "-oProxyCommand=x".into(),
            |h| h.user = "root;rm".into(),
            |h| h.port = 0,
            |h| h.host_key = "not a key".into(),
            |h| h.private_address = Some("a b".into()),
            |h| h.authorized_keys_file = Some("x\ny".into()),
        ];
        for (i, mutate) in bad.iter().enumerate() {
            let mut h = host();
            mutate(&mut h);
            assert!(h.validate().is_err(), "case {i}: {h:?}");
        }
    }

    #[test]
    fn host_key_algorithms_follow_the_pinned_key() {
        let key = pinned_key(&host()).unwrap();
        assert_eq!(host_key_methods(&key), "ssh-ed25519");
    }

    #[test]
    fn output_status_text() {
        let mut output = Output {
            exit_status: 3,
            exit_signal: None,
            stdout: vec![],
            stderr: vec![],
            stdout_dropped: 0,
            stderr_dropped: 0,
        };
        assert!(!output.success());
        assert_eq!(output.status_text(), "exit 3");
        output.exit_signal = Some("TERM".into());
        assert_eq!(output.status_text(), "signal TERM");
    }
}
