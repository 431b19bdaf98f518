//! The `local` cloud for real, as root: network namespaces, bridges, veths with `tc`, and sshd
//! answering with the host key the driver pinned.
//!
//! Each test has its own state directory, name prefix and address range, so tests run in
//! parallel, and a guard runs `cleanup` when the test ends, failed or not. Traffic only goes to
//! addresses inside namespaces the test created.
//!
//! These tests need root (CI runs them as root). Without root they fail, saying so, unless
//! `TUMBLEBUG_SKIP_LOCAL_TESTS=1` asks to skip them.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use clouds::local::{cleanup, LocalCloud, LocalConfig, RegionLatency};
use clouds::{
    CloudDriver, CloudErrorKind, Connection, FirewallRule, KeyPairRequest, ResourceKind,
    SecurityGroupRequest, Tags, VmRequest, VnetRequest,
};
use lifecycle::NativeStatus;

/// One test's world: state directory, prefix, address range; cleaned up on drop.
struct World {
    prefix: String,
    config: LocalConfig,
    dir: tempfile::TempDir,
}

impl World {
    /// `index` tells the tests of this file apart; the process id tells concurrent runs apart.
    fn new(index: u32) -> Option<World> {
        if std::env::var_os("TUMBLEBUG_SKIP_LOCAL_TESTS").is_some() {
            return None;
        }
        let uid = fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|u| u.split_whitespace().nth(1).unwrap().to_string())
            })
            .unwrap();
        assert_eq!(
            uid, "0",
            "the local cloud tests need root (set TUMBLEBUG_SKIP_LOCAL_TESTS=1 to skip them)"
        );
        let pid = std::process::id();
        let prefix = format!("t{}{:03}", char::from(b'a' + index as u8), pid % 1000);
        let dir = tempfile::Builder::new()
            .prefix("tumblebug-local-test-")
            .tempdir()
            .unwrap();
        let config = LocalConfig {
            state_dir: dir.path().join("state"),
            prefix: prefix.clone(),
            address_pool: format!("10.{}.{}.0/20", 200 + pid % 50, index * 16),
            subnet_prefix: 24,
            bandwidth_mbit: 100,
            ..LocalConfig::default()
        };
        Some(World {
            prefix,
            config,
            dir,
        })
    }

    fn open(&self) -> LocalCloud {
        LocalCloud::open(self.config.clone()).expect("the local cloud opens as root")
    }

    fn state_dir(&self) -> &Path {
        &self.config.state_dir
    }

    /// A client key pair for SSH: (private key file, public key line).
    fn client_key(&self) -> (PathBuf, String) {
        let path = self.dir.path().join("id_ed25519");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        let public = fs::read_to_string(path.with_extension("pub")).unwrap();
        (path, public.trim().to_string())
    }

    /// Namespaces, interfaces and routing rules carrying this test's prefix, and processes
    /// started with its state directory (the delay router).
    fn leftovers(&self) -> Vec<String> {
        let mut found: Vec<String> = text("ip", &["netns", "list"])
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&format!("{}-", self.prefix)))
            .map(|n| format!("netns {n}"))
            .collect();
        found.extend(
            text("ip", &["-o", "link", "show"])
                .lines()
                .filter_map(|l| l.split(": ").nth(1))
                .map(|n| n.split('@').next().unwrap())
                .filter(|n| n.starts_with(&self.prefix))
                .map(|n| format!("link {n}")),
        );
        found.extend(
            text("ip", &["-4", "rule", "show"])
                .lines()
                .filter(|l| l.contains(&format!(" iif {}", self.prefix)))
                .map(|l| format!("rule {}", l.trim())),
        );
        found.extend(
            self.router_pids()
                .into_iter()
                .map(|pid| format!("process {pid}")),
        );
        found
    }

    /// The processes whose command line names the state directory: the delay router.
    fn router_pids(&self) -> Vec<i32> {
        let dir = self.state_dir().to_string_lossy().into_owned();
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| c.split(|b| *b == 0).any(|arg| arg == dir.as_bytes()))
                    .unwrap_or(false)
            })
            .collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Err(e) = cleanup(&self.config.state_dir) {
            eprintln!("cleanup after the test failed: {e}");
        }
    }
}

fn text(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn home() -> Connection {
    region("home")
}

fn region(name: &str) -> Connection {
    Connection {
        provider: "local".to_string(),
        region: name.to_string(),
    }
}

fn tags(test: &str, name: &str) -> Tags {
    [
        ("test".to_string(), test.to_string()),
        ("name".to_string(), name.to_string()),
    ]
    .into()
}

/// Runs `command` on `address` as root with `key`, trusting only `host_key` for it.
fn ssh(dir: &Path, key: &Path, address: &str, host_key: &str, command: &str) -> Output {
    let known_hosts = dir.join(format!("known_hosts-{address}"));
    fs::write(&known_hosts, format!("{address} {host_key}\n")).unwrap();
    Command::new("ssh")
        .args(["-F", "/dev/null", "-i"])
        .arg(key)
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args([
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=5",
            &format!("root@{address}"),
            command,
        ])
        .output()
        .unwrap()
}

fn ssh_ok(dir: &Path, key: &Path, address: &str, host_key: &str, command: &str) -> String {
    let out = ssh(dir, key, address, host_key, command);
    assert!(
        out.status.success(),
        "ssh {address} {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The pids of the processes in a namespace.
fn pids_in(netns: &str) -> Vec<i32> {
    let out = Command::new("ip")
        .args(["netns", "pids", netns])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// A process's state letter; `None` when it is gone. A zombie (`Z`) is dead too.
fn state_of(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn alive(pid: i32) -> bool {
    !matches!(state_of(pid), None | Some('Z'))
}

fn word(native: &NativeStatus) -> String {
    match native {
        NativeStatus::Word(w) => w.clone(),
        other => format!("{other:?}"),
    }
}

/// The sshd pid a VM wrote in its own `/run`.
fn sshd_pid(world: &World, vm: &str) -> i32 {
    let path = world.state_dir().join(format!("vms/{vm}/fs/run/sshd.pid"));
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

struct Made {
    vnet: String,
    group: String,
    key: String,
    vms: Vec<String>,
}

fn ssh_from_anywhere() -> FirewallRule {
    FirewallRule {
        protocol: "tcp".into(),
        from_port: 22,
        to_port: 22,
        cidr: "0.0.0.0/0".into(),
    }
}

/// A vNet in `c` with a security group that lets SSH in, a key pair and `count` VMs.
async fn make(
    cloud: &LocalCloud,
    c: &Connection,
    test: &str,
    public_key: &str,
    count: usize,
) -> Made {
    let vnet = cloud
        .create_vnet(&VnetRequest {
            connection: c.clone(),
            name: "net".into(),
            cidr: "10.0.0.0/16".into(),
            subnet_cidr: "10.0.1.0/24".into(),
            tags: tags(test, "net"),
        })
        .await
        .unwrap();
    let group = cloud
        .create_security_group(&SecurityGroupRequest {
            connection: c.clone(),
            name: "sg".into(),
            vnet_id: vnet.clone(),
            ingress: vec![ssh_from_anywhere()],
            egress: vec![],
            tags: tags(test, "sg"),
        })
        .await
        .unwrap();
    let key = cloud
        .create_key_pair(&KeyPairRequest {
            connection: c.clone(),
            name: "key".into(),
            public_key: public_key.to_string(),
            tags: tags(test, "key"),
        })
        .await
        .unwrap();
    // Spawned, so the creates run at the same time (each on a blocking thread of the driver).
    let creates: Vec<_> = (0..count)
        .map(|i| {
            let request = VmRequest {
                connection: c.clone(),
                zone: None,
                name: format!("vm-{i}"),
                spec: "any".into(),
                image: "host".into(),
                spot: false,
                vnet_id: vnet.clone(),
                security_group_id: group.clone(),
                key_pair_id: key.clone(),
                tags: tags(test, &format!("vm-{i}")),
            };
            let cloud = cloud.clone();
            tokio::spawn(async move { cloud.create_vm(&request).await })
        })
        .collect();
    let mut vms = Vec::new();
    for create in creates {
        vms.push(create.await.unwrap().expect("create_vm"));
    }
    Made {
        vnet,
        group,
        key,
        vms,
    }
}

#[tokio::test]
async fn vms_are_real_hosts_through_their_whole_lifecycle() {
    let Some(world) = World::new(0) else { return };
    let cloud = world.open();
    let c = home();
    let dir = world.dir.path();
    let (key_file, public_key) = world.client_key();
    let made = make(&cloud, &c, "lifecycle", &public_key, 3).await;

    // Every VM runs sshd on its own address, with the host key the driver pinned.
    let mut seen = Vec::new();
    for vm in &made.vms {
        let status = cloud.vm_status(&c, vm).await.unwrap();
        assert_eq!(word(&status.native), "running", "{vm}: {status:?}");
        let address = status.public_ip.clone().unwrap();
        assert_eq!(status.private_ip.as_deref(), Some(address.as_str()));
        let host_key = status.host_key.clone().unwrap();
        assert!(host_key.starts_with("ssh-ed25519 "), "{host_key}");
        let eth0 = ssh_ok(
            dir,
            &key_file,
            &address,
            &host_key,
            "ip -4 -o addr show eth0",
        );
        assert!(eth0.contains(&format!("inet {address}/24")), "{eth0}");
        seen.push((vm.clone(), address, host_key));
    }
    let addresses: BTreeSet<&String> = seen.iter().map(|(_, a, _)| a).collect();
    let keys: BTreeSet<&String> = seen.iter().map(|(_, _, k)| k).collect();
    assert_eq!(addresses.len(), 3, "distinct addresses");
    assert_eq!(keys.len(), 3, "distinct host keys");

    // Pinning is real: another VM's key is refused.
    let (_, a0, _) = &seen[0];
    let (_, _, k1) = &seen[1];
    let wrong = ssh(dir, &key_file, a0, k1, "true");
    assert!(!wrong.status.success(), "a wrong host key must be refused");
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("Host key verification failed"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    // Private paths: the same path on each VM is a different file, stored in the VM's
    // directory, and the host's own path is untouched.
    for (vm, address, host_key) in &seen {
        for path in ["/srv/who", "/root/who", "/tmp/who"] {
            ssh_ok(
                dir,
                &key_file,
                address,
                host_key,
                &format!("echo {vm} > {path}"),
            );
        }
    }
    for (vm, address, host_key) in &seen {
        let read = ssh_ok(
            dir,
            &key_file,
            address,
            host_key,
            "cat /srv/who /root/who /tmp/who",
        );
        assert_eq!(read, format!("{vm}\n{vm}\n{vm}\n"));
        let on_host = world.state_dir().join(format!("vms/{vm}/fs/srv/who"));
        assert_eq!(fs::read_to_string(on_host).unwrap(), format!("{vm}\n"));
    }
    assert!(!Path::new("/srv/who").exists() && !Path::new("/root/who").exists());

    // The link is limited in both directions.
    for (vm, _, _) in &seen {
        let inside = text("tc", &["-n", vm, "qdisc", "show", "dev", "eth0"]);
        assert!(
            inside.contains("tbf") && inside.contains("rate 100Mbit"),
            "{inside}"
        );
        let n = vm.rsplit('-').next().unwrap();
        let veth = format!("{}v{n}", world.prefix);
        let outside = text("tc", &["qdisc", "show", "dev", &veth]);
        assert!(
            outside.contains("tbf") && outside.contains("rate 100Mbit"),
            "{outside}"
        );
    }

    // Suspend: sshd stops, the VM's other processes are frozen.
    let (vm0, address0, key0) = &seen[0];
    ssh_ok(
        dir,
        &key_file,
        address0,
        key0,
        "nohup sleep 1000 >/dev/null 2>&1 &",
    );
    let sshd0 = sshd_pid(&world, vm0);
    cloud.suspend_vm(&c, vm0).await.unwrap();
    assert_eq!(
        word(&cloud.vm_status(&c, vm0).await.unwrap().native),
        "stopped"
    );
    assert!(!alive(sshd0), "sshd stopped");
    let frozen = pids_in(vm0);
    assert!(!frozen.is_empty(), "the sleep is still there");
    for pid in &frozen {
        assert_eq!(state_of(*pid), Some('T'), "pid {pid} frozen");
    }
    assert!(!ssh(dir, &key_file, address0, key0, "true").status.success());
    // Suspending again is a no-op; a stopped VM cannot reboot.
    cloud.suspend_vm(&c, vm0).await.unwrap();
    let refused = cloud.reboot_vm(&c, vm0).await.unwrap_err();
    assert_eq!(refused.kind, CloudErrorKind::InvalidRequest);
    assert!(refused.message.contains("while it is stopped"), "{refused}");

    // Resume: processes continue, sshd answers with the same host key.
    cloud.resume_vm(&c, vm0).await.unwrap();
    assert_eq!(
        word(&cloud.vm_status(&c, vm0).await.unwrap().native),
        "running"
    );
    for pid in &frozen {
        assert!(
            alive(*pid) && state_of(*pid) != Some('T'),
            "pid {pid} thawed"
        );
    }
    ssh_ok(dir, &key_file, address0, key0, "true");

    // Reboot: every process is restarted, files stay.
    let before = sshd_pid(&world, vm0);
    cloud.reboot_vm(&c, vm0).await.unwrap();
    assert_eq!(
        word(&cloud.vm_status(&c, vm0).await.unwrap().native),
        "running"
    );
    for pid in frozen.iter().chain([&before]) {
        assert!(!alive(*pid), "pid {pid} ended by the reboot");
    }
    assert_eq!(
        ssh_ok(dir, &key_file, address0, key0, "cat /srv/who"),
        format!("{vm0}\n")
    );

    // Everything is found by its tags.
    let tagged = cloud.list_tagged(&c, "test", "lifecycle").await.unwrap();
    let kinds: Vec<ResourceKind> = tagged.iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        [
            ResourceKind::Vnet,
            ResourceKind::SecurityGroup,
            ResourceKind::KeyPair,
            ResourceKind::Vm,
            ResourceKind::Vm,
            ResourceKind::Vm
        ]
    );
    let other_region = Connection {
        region: "elsewhere".into(),
        ..c.clone()
    };
    assert!(cloud
        .list_tagged(&other_region, "test", "lifecycle")
        .await
        .unwrap()
        .is_empty());

    // A vNet in use cannot go.
    let in_use = cloud.delete_vnet(&c, &made.vnet).await.unwrap_err();
    assert!(in_use.message.contains("in use"), "{in_use}");

    // Terminate: nothing of the VM remains.
    let mut sshds = Vec::new();
    for (vm, _, _) in &seen {
        sshds.push(sshd_pid(&world, vm));
        cloud.terminate_vm(&c, vm).await.unwrap();
        let status = cloud.vm_status(&c, vm).await.unwrap();
        assert_eq!(status.native, NativeStatus::Absent);
        assert!(!world.state_dir().join(format!("vms/{vm}")).exists());
        // Terminating again is fine.
        cloud.terminate_vm(&c, vm).await.unwrap();
    }
    for pid in sshds {
        assert!(!alive(pid), "sshd {pid} ended");
    }
    cloud.delete_security_group(&c, &made.group).await.unwrap();
    cloud.delete_key_pair(&c, &made.key).await.unwrap();
    cloud.delete_vnet(&c, &made.vnet).await.unwrap();
    cloud.delete_vnet(&c, &made.vnet).await.unwrap();
    assert_eq!(world.leftovers(), Vec::<String>::new());
    assert!(cloud
        .list_tagged(&c, "test", "lifecycle")
        .await
        .unwrap()
        .is_empty());
    let vm_dirs = fs::read_dir(world.state_dir().join("vms")).unwrap().count();
    assert_eq!(vm_dirs, 0);
}

#[tokio::test]
async fn sshd_outlives_the_provider_and_cleanup_removes_everything() {
    let Some(world) = World::new(1) else { return };
    let c = home();
    let (key_file, public_key) = world.client_key();
    let made = {
        let cloud = world.open();
        make(&cloud, &c, "crash", &public_key, 2).await
    };
    // The driver is gone (as after a provider crash); its VMs are not, and a new driver on the
    // same state directory knows them.
    let cloud = world.open();
    let mut sshds = Vec::new();
    for vm in &made.vms {
        let status = cloud.vm_status(&c, vm).await.unwrap();
        assert_eq!(word(&status.native), "running");
        let (address, host_key) = (status.public_ip.unwrap(), status.host_key.unwrap());
        ssh_ok(
            world.dir.path(),
            &key_file,
            &address,
            &host_key,
            "sleep 1000 >/dev/null 2>&1 &",
        );
        sshds.push(sshd_pid(&world, vm));
    }
    let processes: Vec<i32> = made.vms.iter().flat_map(|vm| pids_in(vm)).collect();
    assert!(
        processes.len() >= 4,
        "sshd and a sleep per VM: {processes:?}"
    );
    drop(cloud);

    let report = cleanup(world.state_dir()).unwrap();
    let mut namespaces = made.vms.clone();
    namespaces.sort();
    assert_eq!(report.namespaces, namespaces);
    assert!(
        report.interfaces.contains(&format!("{}b1", world.prefix)),
        "{report:?}"
    );
    assert!(report.processes >= processes.len(), "{report:?}");
    assert!(report.removed_state_dir);
    for pid in processes {
        assert!(!alive(pid), "pid {pid} ended");
    }
    assert_eq!(world.leftovers(), Vec::<String>::new());
    assert!(!world.state_dir().exists());
    // Nothing left to clean.
    assert!(cleanup(world.state_dir()).unwrap().is_empty());
}

#[tokio::test]
async fn requests_that_cannot_work_are_refused() {
    let Some(world) = World::new(2) else { return };
    let cloud = world.open();
    let c = home();
    let missing = cloud
        .create_vm(&VmRequest {
            connection: c.clone(),
            zone: None,
            name: "vm".into(),
            spec: "any".into(),
            image: "host".into(),
            spot: false,
            vnet_id: format!("{}-vnet-99", world.prefix),
            security_group_id: "sg".into(),
            key_pair_id: "key".into(),
            tags: Tags::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.kind, CloudErrorKind::InvalidRequest);
    assert!(missing.message.starts_with("local: no vNet"), "{missing}");
    let bad_key = cloud
        .create_key_pair(&KeyPairRequest {
            connection: c.clone(),
            name: "k".into(),
            public_key: "not a key\nsecond line".into(),
            tags: Tags::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_key.kind, CloudErrorKind::InvalidRequest);
    // Ids that are not ours are simply unknown, never paths.
    for id in ["../../etc", "tb-vm-1", &format!("{}-vm-7", world.prefix)] {
        let status = cloud.vm_status(&c, id).await.unwrap();
        assert_eq!(status.native, NativeStatus::Absent, "{id}");
        let err = cloud.suspend_vm(&c, id).await.unwrap_err();
        assert_eq!(err.kind, CloudErrorKind::NotFound, "{id}");
        cloud.terminate_vm(&c, id).await.unwrap();
    }
    // A state directory belongs to one prefix.
    let other = LocalCloud::open(LocalConfig {
        prefix: "zz".into(),
        ..world.config.clone()
    })
    .unwrap_err();
    assert!(other.message.contains("belongs to prefix"), "{other}");
}

/// Runs `work` on a thread of its own inside the network namespace `netns` (a network namespace
/// belongs to a thread), and returns what it returns.
fn inside<T: Send + 'static>(netns: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let namespace = File::open(format!("/run/netns/{netns}")).unwrap();
    std::thread::spawn(move || {
        // SAFETY: setns moves this thread alone into the namespace; the descriptor is valid.
        let entered = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
        work()
    })
    .join()
    .unwrap()
}

fn socket(address: &str, port: u16) -> SocketAddr {
    SocketAddr::new(address.parse().unwrap(), port)
}

/// True if and only if a TCP connect to `to` succeeds within a second.
fn connects(to: SocketAddr) -> bool {
    TcpStream::connect_timeout(&to, Duration::from_secs(1)).is_ok()
}

/// How long `count` TCP connects from inside the namespace `netns` to port 22 of `address`
/// take: one round trip each (SYN out, SYN-ACK back).
fn connect_times(netns: &str, address: &str, count: usize) -> Vec<Duration> {
    let to = socket(address, 22);
    inside(netns, move || {
        (0..count)
            .map(|_| {
                let start = Instant::now();
                let stream = TcpStream::connect_timeout(&to, Duration::from_secs(5));
                let took = start.elapsed();
                stream.unwrap_or_else(|e| panic!("connect to {to}: {e}"));
                std::thread::sleep(Duration::from_millis(50));
                took
            })
            .collect()
    })
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The address of a running VM.
async fn address_of(cloud: &LocalCloud, c: &Connection, vm: &str) -> String {
    let status = cloud.vm_status(c, vm).await.unwrap();
    assert_eq!(word(&status.native), "running", "{vm}: {status:?}");
    status.public_ip.unwrap()
}

#[tokio::test]
async fn regions_far_apart_see_the_round_trip_time_between_them() {
    let Some(mut world) = World::new(3) else {
        return;
    };
    // Outside the other tests' 10.200-249 ranges; the process id tells concurrent runs apart.
    world.config.address_pool = format!("10.253.{}.0/20", std::process::id() % 16 * 16);
    world.config.latency = vec![RegionLatency {
        regions: ["near".to_string(), "far".to_string()],
        rtt_ms: 100,
    }];
    world.config.router_command = vec![env!("CARGO_BIN_EXE_tumblebug-delay-router").to_string()];
    let cloud = world.open();
    let (near, far) = (region("near"), region("far"));
    let device = format!("{}delay", world.prefix);
    let (_, public_key) = world.client_key();

    // The router runs while two vNets lie in regions with a delay between them, not before.
    let a = make(&cloud, &near, "latency", &public_key, 2).await;
    assert!(!link_exists(&device) && world.router_pids().is_empty());
    let b = make(&cloud, &far, "latency", &public_key, 1).await;
    assert!(link_exists(&device), "the router's TUN device");
    assert_eq!(world.router_pids().len(), 1, "one router");

    let (a1, a2, b1) = (&a.vms[0], &a.vms[1], &b.vms[0]);
    let address_a2 = address_of(&cloud, &near, a2).await;
    let address_b1 = address_of(&cloud, &far, b1).await;
    let address_a1 = address_of(&cloud, &near, a1).await;

    // Between the regions: at least the RTT (the router never releases early), and not much
    // more (the machine is shared, so the margin is generous).
    let across = connect_times(a1, &address_b1, 5);
    let back = connect_times(b1, &address_a1, 5);
    eprintln!("near -> far {across:?}; far -> near {back:?}");
    for took in across.iter().chain(&back) {
        assert!(*took >= Duration::from_millis(100), "{took:?}");
    }
    assert!(median(&across) < Duration::from_millis(250));
    assert!(median(&back) < Duration::from_millis(250));
    // Within a region, and from the host: nothing added.
    let within = connect_times(a1, &address_a2, 5);
    eprintln!("near -> near {within:?}");
    assert!(median(&within) < Duration::from_millis(20), "{within:?}");
    let start = Instant::now();
    TcpStream::connect((address_b1.as_str(), 22)).unwrap();
    assert!(start.elapsed() < Duration::from_millis(20), "host -> far");

    // A vNet created while the router runs is known to it at once: another far vNet is far
    // from near and near to far.
    let c = make(&cloud, &far, "latency", &public_key, 1).await;
    let c1 = &c.vms[0];
    let address_c1 = address_of(&cloud, &far, c1).await;
    let to_c = connect_times(a1, &address_c1, 3);
    let far_to_far = connect_times(b1, &address_c1, 3);
    eprintln!("near -> far (new vNet) {to_c:?}; far -> far {far_to_far:?}");
    assert!(
        to_c.iter().all(|t| *t >= Duration::from_millis(100)),
        "{to_c:?}"
    );
    assert!(
        median(&far_to_far) < Duration::from_millis(20),
        "{far_to_far:?}"
    );

    // VMs reach nothing outside the pool.
    let outside = socket("192.0.2.200", 22);
    assert!(
        !inside(a1, move || connects(outside)),
        "no route out of the pool"
    );

    // Without two regions far apart, the router goes.
    for (connection, made) in [(&far, &c), (&far, &b)] {
        for vm in &made.vms {
            cloud.terminate_vm(connection, vm).await.unwrap();
        }
        cloud
            .delete_security_group(connection, &made.group)
            .await
            .unwrap();
        cloud.delete_key_pair(connection, &made.key).await.unwrap();
        cloud.delete_vnet(connection, &made.vnet).await.unwrap();
    }
    assert!(!link_exists(&device), "TUN device removed");
    assert!(world.router_pids().is_empty(), "router stopped");
    // And comes back with a far vNet; cleanup then removes it with everything else.
    make(&cloud, &far, "latency", &public_key, 0).await;
    assert_eq!(world.router_pids().len(), 1, "router started again");
    drop(cloud);
    let report = cleanup(world.state_dir()).unwrap();
    assert!(report.router, "{report:?}");
    assert_eq!(report.rules, 6, "three rules per bridge: {report:?}");
    assert!(report.interfaces.contains(&device), "{report:?}");
    assert_eq!(world.leftovers(), Vec::<String>::new());
}

#[tokio::test]
async fn security_groups_let_in_only_what_they_allow() {
    let Some(world) = World::new(4) else { return };
    let cloud = world.open();
    let c = home();
    let (_, public_key) = world.client_key();
    // The first VM's group lets SSH in from anywhere, nothing else.
    let made = make(&cloud, &c, "firewall", &public_key, 1).await;
    let first = made.vms[0].clone();
    let first_address = address_of(&cloud, &c, &first).await;
    let gateway = format!("{}.1", first_address.rsplit_once('.').unwrap().0);
    // Two ports on the host: the second VM's group lets it reach only the first (egress).
    let host = std::net::TcpListener::bind((gateway.as_str(), 0)).unwrap();
    let host_port = host.local_addr().unwrap();
    let other = std::net::TcpListener::bind((gateway.as_str(), 0)).unwrap();
    let other_port = other.local_addr().unwrap();
    let egress = vec![
        FirewallRule {
            protocol: "tcp".into(),
            from_port: 22,
            to_port: 22,
            cidr: "0.0.0.0/0".into(),
        },
        FirewallRule {
            protocol: "tcp".into(),
            from_port: host_port.port(),
            to_port: host_port.port(),
            cidr: format!("{gateway}/32"),
        },
    ];
    // The second VM's group also lets port 8000 in, from the host only.
    let port_8000 = FirewallRule {
        protocol: "tcp".into(),
        from_port: 8000,
        to_port: 8000,
        cidr: format!("{gateway}/32"),
    };
    let group = cloud
        .create_security_group(&SecurityGroupRequest {
            connection: c.clone(),
            name: "web".into(),
            vnet_id: made.vnet.clone(),
            ingress: vec![ssh_from_anywhere(), port_8000],
            egress,
            tags: tags("firewall", "web"),
        })
        .await
        .unwrap();
    let second = cloud
        .create_vm(&VmRequest {
            connection: c.clone(),
            zone: None,
            name: "web".into(),
            spec: "any".into(),
            image: "host".into(),
            spot: false,
            vnet_id: made.vnet.clone(),
            security_group_id: group,
            key_pair_id: made.key.clone(),
            tags: tags("firewall", "web"),
        })
        .await
        .unwrap();
    let second_address = address_of(&cloud, &c, &second).await;
    let _listeners = inside(&second, || {
        [8000, 9000].map(|port| std::net::TcpListener::bind(("0.0.0.0", port)).unwrap())
    });

    // From the host: port 8000 and SSH, not 9000 (dropped, so the connect times out).
    assert!(connects(socket(&second_address, 8000)));
    assert!(connects(socket(&second_address, 22)));
    assert!(!connects(socket(&second_address, 9000)));
    // From the first VM: SSH only.
    let from_first = inside(&first, {
        let to = second_address.clone();
        move || [22, 8000, 9000].map(|port| connects(socket(&to, port)))
    });
    assert_eq!(from_first, [true, false, false]);
    // The second VM itself reaches all of its ports.
    let from_itself = inside(&second, {
        let to = second_address.clone();
        move || [8000, 9000].map(|port| connects(socket(&to, port)))
    });
    assert_eq!(from_itself, [true, true]);
    // Replies to what a VM starts come back in: the second VM reaches the host port its egress
    // rules name (no ingress rule names it); the other host port is not let out.
    assert!(inside(&second, move || connects(host_port)));
    assert!(!inside(&second, move || connects(other_port)));
    // Egress to SSH anywhere: the second VM reaches the first.
    let to_first = socket(&first_address, 22);
    assert!(inside(&second, move || connects(to_first)));
    // A group without egress rules lets everything out: the first VM reaches the other port.
    assert!(inside(&first, move || connects(other_port)));

    // A rule the firewall could not hold is refused.
    let refused = cloud
        .create_security_group(&SecurityGroupRequest {
            connection: c.clone(),
            name: "bad".into(),
            vnet_id: made.vnet.clone(),
            ingress: vec![FirewallRule {
                protocol: "gre".into(),
                ..ssh_from_anywhere()
            }],
            egress: vec![],
            tags: Tags::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.kind, CloudErrorKind::InvalidRequest);
    assert!(refused.message.contains("ingress[0]"), "{refused}");
}
