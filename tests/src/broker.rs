//! Runs the real `sluice` binary for end-to-end tests: a free port on 127.0.0.1, a temporary
//! data directory, and helpers that require real clients (kcat, kafka-python) to be installed.
//! A missing client fails the test with the command that installs it; nothing is skipped.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `sluice` binary cargo built beside this test binary.
pub fn sluice_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target directory");
    let binary = dir.join("sluice");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p sluice-runtime` (scripts/test does)",
        binary.display()
    );
    binary
}

/// Fails with an install hint unless `tool --version`-like `probe` runs.
pub fn require(tool: &str, probe: &[&str], install: &str) {
    let found = Command::new(tool).args(probe).stdout(Stdio::null()).stderr(Stdio::null()).status();
    assert!(
        found.is_ok_and(|status| status.success()),
        "{tool} is required by this test but is not installed: {install} (scripts/test installs it)"
    );
}

/// Requires kcat.
pub fn require_kcat() {
    require("kcat", &["-V"], "apt-get install -y kcat");
}

/// Requires python3 with kafka-python.
pub fn require_kafka_python() {
    require("python3", &["-c", "import kafka"], "pip install kafka-python");
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// Marks the open-file limit among a broker's start arguments (not a broker property).
const OPEN_FILES_LIMIT: &str = "ulimit -n ";

/// A running broker process.
pub struct Broker {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its data directory.
    pub dir: PathBuf,
    /// What it printed on stderr, once stopped.
    pub stderr: String,
    stderr_reader: Option<std::thread::JoinHandle<String>>,
    extra: Vec<String>,
}

impl Broker {
    /// Starts a broker on a free port with data in `dir`, plus `--override` pairs, and waits for
    /// its "listening" line. The broker binds port 0 and the port it got is read from that
    /// line, so no other process can take the port between choosing and binding it.
    pub fn start(dir: &Path, overrides: &[&str]) -> Self {
        Self::start_on(dir, 0, overrides.iter().map(|text| text.to_string()).collect())
    }

    /// [`Broker::start`] with the open-file limit (soft and hard) set to `limit` first, by
    /// the shell's `ulimit -n`.
    pub fn start_with_open_files_limit(dir: &Path, limit: u64, overrides: &[&str]) -> Self {
        let mut extra = vec![format!("{OPEN_FILES_LIMIT}{limit}")];
        extra.extend(overrides.iter().map(|text| text.to_string()));
        Self::start_on(dir, 0, extra)
    }

    fn start_on(dir: &Path, port: u16, extra: Vec<String>) -> Self {
        let limit = extra.iter().find_map(|pair| pair.strip_prefix(OPEN_FILES_LIMIT));
        let mut command = match limit {
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell.arg("-c").arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""));
                shell.arg(sluice_binary());
                shell
            }
            None => Command::new(sluice_binary()),
        };
        command.arg("broker");
        command.arg("--override").arg(format!("listeners=PLAINTEXT://127.0.0.1:{port}"));
        command.arg("--override").arg(format!("log.dirs={}", dir.display()));
        for pair in extra.iter().filter(|pair| !pair.starts_with(OPEN_FILES_LIMIT)) {
            command.arg("--override").arg(pair);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sluice broker");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let line = receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("the broker printed its listening line");
        assert!(line.contains("listening on"), "unexpected first line: {line}");
        let bound = line
            .split_whitespace()
            .skip_while(|word| *word != "on")
            .nth(1)
            .and_then(|address| address.rsplit_once(':'))
            .and_then(|(_, port)| port.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no bound port in the listening line: {line}"));
        assert!(port == 0 || port == bound, "asked for port {port}, bound {bound}");
        let port = bound;
        Self {
            child,
            port,
            dir: dir.to_path_buf(),
            stderr: String::new(),
            stderr_reader: Some(stderr_reader),
            extra,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB (Linux `/proc`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the broker's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }

    /// `127.0.0.1:<port>`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGTERM, then wait for a clean exit; returns the exit status's success.
    pub fn stop(&mut self) -> bool {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.wait()
    }

    /// SIGKILL: an unclean stop.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        self.wait();
    }

    fn wait(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                if let Some(reader) = self.stderr_reader.take() {
                    self.stderr = reader.join().unwrap_or_default();
                }
                return status.success();
            }
            assert!(Instant::now() < deadline, "the broker did not exit within 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a new broker process on the same port and directory.
    pub fn restart(&self) -> Self {
        Self::start_on(&self.dir, self.port, self.extra.clone())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs a command with `stdin` text, failing the test on a non-zero exit; returns stdout.
pub fn run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input).expect("write stdin");
    }
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
