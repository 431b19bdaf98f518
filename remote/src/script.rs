//! The shell text the transfer engine sends to hosts, and the parsers of what comes back. Pure
//! string building, so quoting and every script can be checked without a host.
//!
//! Hosts need only standard tools: a POSIX `sh`, GNU coreutils (`tee -p`, `truncate`, `stat`,
//! `sha256sum`, `head -c`), `mkfifo` and the OpenSSH client for relaying.

use crate::plan::Progress;

/// Quotes `s` as one POSIX shell word.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Ends every here-document; no content we send has a line like it.
const HEREDOC_END: &str = "TUMBLEBUG_END_OF_FILE";

/// Where one host keeps the files of one transfer, and where the data goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostPaths {
    /// Parent of all transfer directories (relative to the home directory, or absolute).
    pub base: String,
    /// This transfer's directory on this host.
    pub dir: String,
    /// Final destination.
    pub dest: String,
    /// `<dest>.part`, written until verified.
    pub part: String,
}

impl HostPaths {
    /// The directory name carries the host name because in tests several "hosts" share one
    /// filesystem.
    pub(crate) fn new(base: &str, transfer_id: &str, host: &str, dest: &str) -> HostPaths {
        HostPaths {
            base: base.to_string(),
            dir: format!("{base}/{transfer_id}.{host}"),
            dest: dest.to_string(),
            part: part_path(dest),
        }
    }
}

/// Where the copy of `dest` is written until it is verified.
pub(crate) fn part_path(dest: &str) -> String {
    format!("{dest}.part")
}

/// The request a relay parent sends, and the receive script's guard: only the current wave of
/// this transfer may write, so a late connection from an abandoned wave is refused.
pub(crate) fn wave_token(transfer_id: &str, wave: u32) -> String {
    format!("tumblebug-recv {transfer_id} {wave}")
}

/// First command on a host: create the transfer directory, authorize the relay key (when
/// relaying), and print the sizes of `<dest>` and `<dest>.part` (`-` when absent).
pub(crate) fn setup_script(paths: &HostPaths, authorize: Option<(&str, &str)>) -> String {
    let mut s = String::from("set -e\n");
    s += &format!(
        "mkdir -p \"$(dirname {dest})\"\n",
        dest = quote(&paths.dest)
    );
    s += "umask 077\n";
    s += &format!("mkdir -p {} {}\n", quote(&paths.base), quote(&paths.dir));
    if let Some((file, line)) = authorize {
        s += &format!("f={}\n", quote(file));
        s += "mkdir -p \"$(dirname \"$f\")\"\n";
        // A file without a final newline would glue our line to its last key.
        s += "if [ -s \"$f\" ] && [ -n \"$(tail -c 1 \"$f\")\" ]; then echo >> \"$f\"; fi\n";
        s += &format!("printf '%s\\n' {} >> \"$f\"\n", quote(line));
    }
    s += &format!(
        "echo \"$(stat -c %s {dest} 2>/dev/null || echo -) $(stat -c %s {part} 2>/dev/null || echo -)\"\n",
        dest = quote(&paths.dest),
        part = quote(&paths.part)
    );
    s
}

/// Parses `setup_script`'s output: sizes of `<dest>` and `<dest>.part`.
pub(crate) fn parse_sizes(out: &str) -> Result<(Option<u64>, Option<u64>), String> {
    let fields: Vec<&str> = out.split_whitespace().collect();
    let size = |s: &str| -> Result<Option<u64>, String> {
        if s == "-" {
            Ok(None)
        } else {
            s.parse()
                .map(Some)
                .map_err(|_| format!("unexpected size {s:?}"))
        }
    };
    match fields.as_slice() {
        [dest, part] => Ok((size(dest)?, size(part)?)),
        _ => Err(format!("unexpected answer {out:?}")),
    }
}

/// The `authorized_keys` line of a relay key: usable only from the relaying hosts, only to run
/// this host's receive script (whatever the client asks), with no forwarding or terminal, and
/// not after `expiry` even if the clean-up never runs.
pub(crate) fn authorized_keys_line(
    public_key: &str,
    from: &str,
    paths: &HostPaths,
    expiry: &str,
    marker: &str,
) -> String {
    let mut parts = public_key.split_whitespace();
    let kind = parts.next().unwrap_or_default();
    let blob = parts.next().unwrap_or_default();
    format!(
        "from=\"{from}\",command=\"sh {dir}/recv.sh\",restrict,expiry-time=\"{expiry}\" {kind} {blob} {marker}",
        dir = paths.dir
    )
}

/// Removes every line carrying `marker` from the authorized-keys file, atomically (a rename), so
/// that an interruption never leaves the user locked out with a truncated file.
pub(crate) fn unauthorize_script(file: &str, marker: &str) -> String {
    format!(
        "f={file}\n\
         if [ -f \"$f\" ] && grep -qF -- {marker} \"$f\"; then\n\
         t=$(mktemp \"$f.XXXXXX\") || exit 1\n\
         {{ grep -vF -- {marker} \"$f\"; [ $? -le 1 ]; }} > \"$t\" && chmod --reference=\"$f\" \"$t\" && mv -f \"$t\" \"$f\" || {{ rm -f \"$t\"; exit 1; }}\n\
         fi\n",
        file = quote(file),
        marker = quote(marker)
    )
}

/// Removes the transfer directory (keys, scripts, status files), and its parent once empty.
pub(crate) fn cleanup_script(paths: &HostPaths) -> String {
    format!(
        "rm -rf {dir}\nrmdir {base} 2>/dev/null\ntrue\n",
        dir = quote(&paths.dir),
        base = quote(&paths.base)
    )
}

/// A host the receive script forwards to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Child {
    /// Host name: names its key file.
    pub name: String,
    /// Address the parent connects to.
    pub address: String,
    /// SSH port.
    pub port: u16,
    /// Remote user.
    pub user: String,
    /// `type base64` of its pinned host key.
    pub host_key: String,
}

impl Child {
    /// Its line in the parent's temporary `known_hosts` (OpenSSH's format: bare address on port
    /// 22, `[address]:port` otherwise).
    pub(crate) fn known_hosts_line(&self) -> String {
        if self.port == 22 {
            format!("{} {}", self.address, self.host_key)
        } else {
            format!("[{}]:{} {}", self.address, self.port, self.host_key)
        }
    }
}

/// The OpenSSH client options of a relay hop: only our key, only the pinned host key, no user
/// configuration, no agent, no forwarding, and a dead next hop detected within 15 s.
fn relay_ssh(child: &Child, token: &str) -> String {
    format!(
        "ssh -F /dev/null -T -x -a -i \"$d/key.{name}\" -o IdentitiesOnly=yes -o IdentityAgent=none \
         -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=\"$d/known_hosts\" \
         -o GlobalKnownHostsFile=/dev/null -o UpdateHostKeys=no -o CheckHostIP=no \
         -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o LogLevel=ERROR \
         -o Ciphers=aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com \
         -p {port} -l {user} {address} {token}",
        name = child.name,
        port = child.port,
        user = child.user,
        address = child.address,
        token = quote(token),
    )
}

/// Everything a host needs for one wave: the receive script and, for a relaying host, its
/// children's keys and host keys.
pub(crate) struct Wave<'a> {
    pub transfer_id: &'a str,
    pub wave: u32,
    pub paths: &'a HostPaths,
    /// Where the stream starts: the part file is cut to this size first.
    pub offset: u64,
    pub children: &'a [Child],
}

/// The receive script: guard, cut the part file to the offset, then one pass that appends stdin
/// to the part file, forwards it to every child and hashes prefix plus stream, so the host
/// verifies its whole copy without reading it again. `tee -p` keeps writing the part file and the
/// other children when one child's connection dies. The status line is renamed into place last,
/// so its presence means the receiver is done.
pub(crate) fn recv_script(w: &Wave) -> String {
    let token = wave_token(w.transfer_id, w.wave);
    let n = w.wave;
    let mut s = format!(
        "# tumblebug transfer {id}, wave {n}: receive on stdin, write, hash, relay.\n\
         [ \"$SSH_ORIGINAL_COMMAND\" = {tok} ] || {{ echo 'tumblebug: refused: not the current relay wave' >&2; exit 3; }}\n\
         d={dir}\n\
         p={part}\n\
         ( set -C; echo $$ > \"$d/pid.{n}\" ) 2>/dev/null || {{ echo 'tumblebug: wave {n} already runs here' >&2; exit 4; }}\n\
         truncate -s {offset} \"$p\" || exit 5\n",
        id = w.transfer_id,
        tok = quote(&token),
        dir = quote(&w.paths.dir),
        part = quote(&w.paths.part),
        offset = w.offset,
    );
    let mut fifos = String::new();
    for (i, child) in w.children.iter().enumerate() {
        let fifo = format!("\"$d/fifo.{n}.{i}\"");
        s += &format!("mkfifo {fifo} || exit 6\n");
        s += &format!(
            "{} < {fifo} > /dev/null 2>> \"$d/relay.log\" &\n",
            relay_ssh(child, &token)
        );
        fifos += &format!(" {fifo}");
    }
    s += &format!(
        "{{ head -c {offset} \"$p\"; tee -p -a \"$p\"{fifos}; echo $? > \"$d/tee.{n}\"; }} | sha256sum > \"$d/sum.{n}\"\n\
         wait\n\
         rm -f \"$d\"/fifo.{n}.*\n\
         echo \"$(cat \"$d/tee.{n}\") $(stat -c %s \"$p\") $(cut -d ' ' -f 1 \"$d/sum.{n}\")\" > \"$d/status.{n}.tmp\"\n\
         mv -f \"$d/status.{n}.tmp\" \"$d/status.{n}\"\n",
        offset = w.offset
    );
    s
}

/// Writes the wave's files on a host. Sent on stdin to `sh -s`, so private keys never appear on a
/// command line (`ps` would show them).
pub(crate) fn install_script(w: &Wave, child_keys: &[(&str, &str)]) -> String {
    let mut s = format!(
        "set -e\numask 077\nd={}\nmkdir -p \"$d\"\n",
        quote(&w.paths.dir)
    );
    let mut file = |name: &str, content: &str| {
        debug_assert!(!content.lines().any(|l| l == HEREDOC_END));
        s += &format!(
            "cat > \"$d/{name}.tmp\" <<'{HEREDOC_END}'\n{content}{nl}{HEREDOC_END}\nmv -f \"$d/{name}.tmp\" \"$d/{name}\"\n",
            nl = if content.ends_with('\n') { "" } else { "\n" }
        );
    };
    file("recv.sh", &recv_script(w));
    if !w.children.is_empty() {
        let known: Vec<String> = w.children.iter().map(Child::known_hosts_line).collect();
        file("known_hosts", &(known.join("\n") + "\n"));
        for (name, key) in child_keys {
            file(&format!("key.{name}"), key);
        }
    }
    s
}

/// How the front-end starts a root's receiver: the same script, with the token a relay parent
/// would send.
pub(crate) fn feed_command(transfer_id: &str, wave: u32, paths: &HostPaths) -> String {
    format!(
        "env SSH_ORIGINAL_COMMAND={} sh {}/recv.sh",
        quote(&wave_token(transfer_id, wave)),
        quote(&paths.dir)
    )
}

/// Asks how a host's receiver is doing; see [`parse_progress`]. Liveness is read before the
/// status file: the receiver writes its status before it exits, so a receiver seen dead and
/// then without a status really was killed.
pub(crate) fn poll_command(wave: u32, paths: &HostPaths) -> String {
    format!(
        "d={dir}; p={part}\n\
         alive=no; pid=$(cat \"$d/pid.{wave}\" 2>/dev/null) && kill -0 \"$pid\" 2>/dev/null && alive=yes\n\
         s=$(stat -c %s \"$p\" 2>/dev/null || echo 0)\n\
         if [ -f \"$d/status.{wave}\" ]; then echo finished $(cat \"$d/status.{wave}\");\n\
         elif [ $alive = yes ]; then echo running $s;\n\
         elif [ -n \"$pid\" ]; then echo gone $s;\n\
         else echo waiting; fi\n",
        dir = quote(&paths.dir),
        part = quote(&paths.part),
    )
}

/// Parses `poll_command`'s answer.
pub(crate) fn parse_progress(out: &str) -> Result<Progress, String> {
    let fields: Vec<&str> = out.split_whitespace().collect();
    let number = |s: &str| s.parse::<u64>().map_err(|_| format!("bad number {s:?}"));
    match fields.as_slice() {
        ["waiting"] => Ok(Progress::Waiting),
        ["running", size] => Ok(Progress::Running(number(size)?)),
        ["gone", size] => Ok(Progress::Gone(number(size)?)),
        ["finished", code, size, sha] if sha.len() == 64 => Ok(Progress::Finished {
            code: code.parse().map_err(|_| format!("bad code {code:?}"))?,
            size: number(size)?,
            sha256: sha.to_string(),
        }),
        _ => Err(format!("unexpected progress answer {out:?}")),
    }
}

/// Kills a wave's receiver and everything it started (its relays), by the process group of the
/// PID it recorded; sshd makes every session its own group.
pub(crate) fn kill_command(wave: u32, paths: &HostPaths) -> String {
    format!(
        "pid=$(cat {dir}/pid.{wave} 2>/dev/null) && g=$(cut -d ' ' -f 5 /proc/$pid/stat 2>/dev/null) \
         && [ \"$g\" -gt 1 ] && kill -TERM -- -$g 2>/dev/null\ntrue\n",
        dir = quote(&paths.dir)
    )
}

/// Hashes a file on the host.
pub(crate) fn hash_command(path: &str) -> String {
    format!("sha256sum {} | cut -d ' ' -f 1", quote(path))
}

/// Moves the verified part file to its final name.
pub(crate) fn finalize_command(paths: &HostPaths) -> String {
    format!("mv -f {} {}", quote(&paths.part), quote(&paths.dest))
}

/// Deletes a part file that failed verification.
pub(crate) fn discard_command(paths: &HostPaths) -> String {
    format!("rm -f {}", quote(&paths.part))
}

/// `expiry-time` value (UTC, minute precision) for a key valid until `unix_seconds`.
pub(crate) fn expiry_stamp(unix_seconds: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn paths() -> HostPaths {
        HostPaths::new("/tmp/x/work", "abc123", "vm-1", "/data/it's here.img")
    }

    /// Runs `script` with `sh -n` (syntax check only).
    fn syntax_ok(script: &str) {
        let out = Command::new("sh")
            .args(["-n", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn quoting_round_trips_through_sh() {
        for s in [
            "plain", "it's", "a b", "$HOME", "`x`", "\"q\"", "", "a\nb", "'''",
        ] {
            let out = Command::new("sh")
                .args(["-c", &format!("printf %s {}", quote(s))])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }

    #[test]
    fn paths_of_a_host() {
        let p = paths();
        assert_eq!(p.dir, "/tmp/x/work/abc123.vm-1");
        assert_eq!(p.part, "/data/it's here.img.part");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_sizes("- -\n"), Ok((None, None)));
        assert_eq!(parse_sizes("10 -"), Ok((Some(10), None)));
        assert_eq!(parse_sizes("- 7"), Ok((None, Some(7))));
        assert!(parse_sizes("x 7").is_err());
        assert!(parse_sizes("7").is_err());
    }

    #[test]
    fn progress_answers() {
        let sha = "a".repeat(64);
        assert_eq!(parse_progress("waiting\n"), Ok(Progress::Waiting));
        assert_eq!(parse_progress("running 12"), Ok(Progress::Running(12)));
        assert_eq!(parse_progress("gone 3"), Ok(Progress::Gone(3)));
        assert_eq!(
            parse_progress(&format!("finished 0 99 {sha}")),
            Ok(Progress::Finished {
                code: 0,
                size: 99,
                sha256: sha.clone()
            })
        );
        assert!(parse_progress("finished 0 99 short").is_err());
        assert!(parse_progress("").is_err());
        assert!(parse_progress("running x").is_err());
    }

    #[test]
    fn authorized_keys_line_restricts_the_key() {
        let line = authorized_keys_line(
            "ssh-ed25519 AAAAblob comment",
            "10.0.0.1,10.0.0.2",
            &paths(),
            "202601010000Z",
            "tumblebug-transfer-abc123",
        );
        assert_eq!(
            line,
            "from=\"10.0.0.1,10.0.0.2\",command=\"sh /tmp/x/work/abc123.vm-1/recv.sh\",restrict,\
             expiry-time=\"202601010000Z\" ssh-ed25519 AAAAblob tumblebug-transfer-abc123"
        );
    }

    #[test]
    fn expiry_stamps() {
        assert_eq!(expiry_stamp(0), "197001010000Z");
        assert_eq!(expiry_stamp(1_767_225_600 + 3_600 + 59), "202601010100Z");
    }

    #[test]
    fn known_hosts_lines() {
        let mut child = Child {
            name: "vm-2".into(),
            address: "10.0.0.2".into(),
            port: 22,
            user: "u".into(),
            host_key: "ssh-ed25519 AAAA".into(),
        };
        assert_eq!(child.known_hosts_line(), "10.0.0.2 ssh-ed25519 AAAA");
        child.port = 2222;
        assert_eq!(child.known_hosts_line(), "[10.0.0.2]:2222 ssh-ed25519 AAAA");
    }

    fn child(name: &str) -> Child {
        Child {
            name: name.into(),
            address: "127.0.0.1".into(),
            port: 2201,
            user: "root".into(),
            host_key: "ssh-ed25519 AAAA".into(),
        }
    }

    #[test]
    fn every_script_is_valid_sh() {
        let p = paths();
        let children = [child("vm-2"), child("vm-3")];
        for kids in [&children[..0], &children[..1], &children[..]] {
            let wave = Wave {
                transfer_id: "abc123",
                wave: 2,
                paths: &p,
                offset: 4096,
                children: kids,
            };
            syntax_ok(&recv_script(&wave));
            syntax_ok(&install_script(
                &wave,
                &[("vm-2", "KEY\n"), ("vm-3", "KEY")],
            ));
        }
        syntax_ok(&setup_script(&p, None));
        syntax_ok(&setup_script(
            &p,
            Some((".ssh/authorized_keys", "from=\"x\" k")),
        ));
        syntax_ok(&unauthorize_script(".ssh/authorized_keys", "marker"));
        syntax_ok(&cleanup_script(&p));
        syntax_ok(&poll_command(1, &p));
        syntax_ok(&kill_command(1, &p));
        syntax_ok(&feed_command("abc123", 1, &p));
        syntax_ok(&hash_command(&p.part));
        syntax_ok(&finalize_command(&p));
    }

    #[test]
    fn relay_fan_out_uses_one_fifo_per_child() {
        let p = paths();
        let children = [child("vm-2"), child("vm-3")];
        let script = recv_script(&Wave {
            transfer_id: "abc123",
            wave: 1,
            paths: &p,
            offset: 0,
            children: &children,
        });
        assert!(script.contains("tee -p -a \"$p\" \"$d/fifo.1.0\" \"$d/fifo.1.1\""));
        assert!(script.contains("-i \"$d/key.vm-2\""));
        assert!(script.contains("StrictHostKeyChecking=yes"));
        assert!(script.contains("'tumblebug-recv abc123 1'"));
    }

    /// Runs the real scripts against a scratch directory with `sh`, standing in for sshd: the
    /// guard, resume by offset, the status line, the authorized-keys edit.
    #[test]
    fn scripts_work_locally() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_str().unwrap();
        let p = HostPaths::new(
            &format!("{root}/work"),
            "t1",
            "vm-1",
            &format!("{root}/out/image"),
        );
        let sh = |script: &str, stdin: &[u8], env: Option<&str>| {
            use std::io::Write;
            let mut cmd = Command::new("sh");
            cmd.args(["-c", script]).env_remove("SSH_ORIGINAL_COMMAND");
            if let Some(token) = env {
                cmd.env("SSH_ORIGINAL_COMMAND", token);
            }
            let mut child = cmd
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(stdin).unwrap();
            let out = child.wait_with_output().unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        };
        let keys = format!("{root}/ak");
        std::fs::write(&keys, "ssh-ed25519 KEEP user@x").unwrap();
        let (code, out) = sh(&setup_script(&p, Some((&keys, "LINE marker-1"))), b"", None);
        assert_eq!((code, out.trim()), (Some(0), "- -"));
        assert_eq!(
            std::fs::read_to_string(&keys).unwrap(),
            "ssh-ed25519 KEEP user@x\nLINE marker-1\n"
        );
        let file = b"0123456789abcdefghij";
        std::fs::write(&p.part, &file[..7]).unwrap();
        let wave = Wave {
            transfer_id: "t1",
            wave: 1,
            paths: &p,
            offset: 5,
            children: &[],
        };
        assert_eq!(sh(&install_script(&wave, &[]), b"", None).0, Some(0));
        let recv = format!("sh {}/recv.sh", quote(&p.dir));
        // Without the wave's token the script refuses to touch anything.
        assert_eq!(
            sh(&recv, &file[5..], Some("tumblebug-recv t1 0")).0,
            Some(3)
        );
        assert_eq!(std::fs::read(&p.part).unwrap(), &file[..7]);
        assert_eq!(sh(&poll_command(1, &p), b"", None).1.trim(), "waiting");
        assert_eq!(sh(&recv, &file[5..], Some(&wave_token("t1", 1))).0, Some(0));
        assert_eq!(std::fs::read(&p.part).unwrap(), file);
        let expected = {
            use sha2::Digest;
            crate::transfer::hex(&sha2::Sha256::digest(file))
        };
        assert_eq!(
            parse_progress(&sh(&poll_command(1, &p), b"", None).1),
            Ok(Progress::Finished {
                code: 0,
                size: 20,
                sha256: expected.clone()
            })
        );
        // The same wave cannot run twice.
        assert_eq!(sh(&recv, b"", Some(&wave_token("t1", 1))).0, Some(4));
        assert_eq!(sh(&hash_command(&p.part), b"", None).1.trim(), expected);
        assert_eq!(sh(&finalize_command(&p), b"", None).0, Some(0));
        let (_, sizes) = sh(&setup_script(&p, None), b"", None);
        assert_eq!(parse_sizes(&sizes), Ok((Some(20), None)));
        assert_eq!(
            sh(&unauthorize_script(&keys, "marker-1"), b"", None).0,
            Some(0)
        );
        assert_eq!(
            std::fs::read_to_string(&keys).unwrap(),
            "ssh-ed25519 KEEP user@x\n"
        );
        assert_eq!(sh(&cleanup_script(&p), b"", None).0, Some(0));
        assert!(!std::path::Path::new(&p.base).exists());
    }
}
