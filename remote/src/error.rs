//! The crate's one error type. Every variant that concerns a host names it, because a transfer to
//! forty VMs is only debuggable when each message says which VM it is about.

use std::fmt;
use std::io;
use std::time::Duration;

/// What went wrong, with the host it concerns.
#[derive(Debug)]
pub enum Error {
    /// The request itself is unusable (a bad host entry, an unreadable source file, ...).
    Invalid(String),
    /// Reading the local source file failed.
    Source {
        /// The source path.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// No TCP connection could be opened (refused, unreachable, name not resolved, timed out).
    Connect {
        /// Host name.
        host: String,
        /// `address:port` that was tried.
        address: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The server presented a host key other than the pinned one: possibly a man in the middle,
    /// possibly a re-created VM. Either way nothing is sent.
    HostKeyMismatch {
        /// Host name.
        host: String,
        /// SHA-256 fingerprint of the pinned key.
        expected: String,
        /// SHA-256 fingerprint of the key the server presented.
        presented: String,
    },
    /// The server refused the private key for this user.
    Auth {
        /// Host name.
        host: String,
        /// The remote user.
        user: String,
        /// What libssh2 said.
        source: ssh2::Error,
    },
    /// An SSH protocol step failed (the connection broke, the channel was refused, ...).
    Ssh {
        /// Host name.
        host: String,
        /// What was being done.
        action: String,
        /// What libssh2 said.
        source: ssh2::Error,
    },
    /// The socket failed under an established session (reset by peer, keepalive timeout).
    Io {
        /// Host name.
        host: String,
        /// What was being done.
        action: String,
        /// The underlying error.
        source: io::Error,
    },
    /// An operation outlived its deadline.
    Timeout {
        /// Host name.
        host: String,
        /// What was being done.
        action: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// A remote command ran but exited unsuccessfully.
    CommandFailed {
        /// Host name.
        host: String,
        /// What the command was for.
        action: String,
        /// Exit status, or the signal's name.
        status: String,
        /// The tail of its standard error.
        stderr: String,
    },
    /// The connection is unusable since an earlier error; reconnect.
    Broken {
        /// Host name.
        host: String,
    },
}

impl Error {
    /// The host the error concerns, if any.
    pub fn host(&self) -> Option<&str> {
        match self {
            Error::Invalid(_) | Error::Source { .. } => None,
            Error::Connect { host, .. }
            | Error::HostKeyMismatch { host, .. }
            | Error::Auth { host, .. }
            | Error::Ssh { host, .. }
            | Error::Io { host, .. }
            | Error::Timeout { host, .. }
            | Error::CommandFailed { host, .. }
            | Error::Broken { host } => Some(host),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(message) => write!(f, "{message}"),
            Error::Source { path, source } => write!(f, "cannot read source file {path}: {source}"),
            Error::Connect {
                host,
                address,
                source,
            } => write!(f, "host {host}: cannot connect to {address}: {source}"),
            Error::HostKeyMismatch {
                host,
                expected,
                presented,
            } => write!(
                f,
                "host {host}: host key mismatch, refusing to connect: the pinned key is {expected} \
                 but the server presented {presented} (a re-created VM, or someone in between)"
            ),
            Error::Auth { host, user, source } => {
                write!(f, "host {host}: authentication as {user} refused: {source}")
            }
            Error::Ssh {
                host,
                action,
                source,
            } => write!(f, "host {host}: {action}: {source}"),
            Error::Io {
                host,
                action,
                source,
            } => write!(f, "host {host}: {action}: {source}"),
            Error::Timeout {
                host,
                action,
                after,
            } => write!(f, "host {host}: {action}: no result after {after:?}"),
            Error::CommandFailed {
                host,
                action,
                status,
                stderr,
            } => {
                write!(f, "host {host}: {action} failed ({status})")?;
                if !stderr.trim().is_empty() {
                    write!(f, ": {}", stderr.trim())?;
                }
                Ok(())
            }
            Error::Broken { host } => write!(
                f,
                "host {host}: the SSH session is unusable after an earlier error"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Source { source, .. }
            | Error::Connect { source, .. }
            | Error::Io { source, .. } => Some(source),
            Error::Auth { source, .. } | Error::Ssh { source, .. } => Some(source),
            _ => None,
        }
    }
}
