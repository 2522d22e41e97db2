//! Headless Chromium driven over the DevTools protocol (CDP), for the HTML report's browser tests:
//! found at `CHROMIUM`, else `/usr/bin/chromium` (`make chromium` installs Debian's), else on
//! PATH; started with a throw-away profile; talked to through a minimal WebSocket client (std
//! only: text frames, masking, fragmentation, ping); and killed with its whole process group when
//! the [`Browser`] is dropped, so a failing assertion never leaves it running.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long one CDP answer or event may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The browser binary, or why there is none (the test fails with this, it does not skip).
pub fn chromium_path() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("CHROMIUM={} is not a file", path.display()))
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let names = ["chromium", "chromium-browser", "google-chrome", "chrome"];
    std::iter::once(PathBuf::from("/usr/bin/chromium"))
        .chain(
            on_path
                .iter()
                .flat_map(|dir| names.iter().map(move |name| dir.join(name))),
        )
        .find(|path| path.is_file())
        .ok_or_else(|| {
            "no Chromium found (looked at CHROMIUM, /usr/bin/chromium, and chromium, \
             chromium-browser, google-chrome on PATH): run `make chromium` (installs Debian's \
             chromium package) or set CHROMIUM=/path/to/chromium"
                .to_owned()
        })
}

/// A running headless Chromium with one page attached.
pub struct Browser {
    child: Child,
    profile: PathBuf,
    socket: WebSocket,
    next_id: u64,
    session: String,
    /// Events that arrived while waiting for an answer.
    events: VecDeque<Value>,
    /// Chromium's stderr so far, for failure messages.
    stderr: mpsc::Receiver<String>,
}

impl Browser {
    /// Starts Chromium (panics, with the reason, when it cannot) and opens a blank page of
    /// `width` × `height` CSS pixels.
    pub fn launch(width: u32, height: u32) -> Self {
        let path = chromium_path().unwrap_or_else(|reason| panic!("{reason}"));
        let profile = std::env::temp_dir().join(super::unique("chromium-profile"));
        std::fs::create_dir_all(&profile).expect("create the browser profile directory");
        let (child, stderr, url) = start(&path, &profile, width, height);
        let socket = WebSocket::connect(&url)
            .unwrap_or_else(|err| panic!("cannot connect to Chromium's DevTools at {url}: {err}"));
        let mut browser = Self {
            child,
            profile,
            socket,
            next_id: 0,
            session: String::new(),
            events: VecDeque::new(),
            stderr,
        };
        let target = browser.call_on(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap_or_default().to_owned();
        let attached = browser.call_on(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for method in ["Page.enable", "Runtime.enable", "Network.enable"] {
            browser.call(method, json!({}));
        }
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        browser
    }

    /// Chromium's process id, which is also its process group's.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A CDP command on the page; panics with Chromium's error and stderr if it fails.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call_on(Some(&session), method, params)
    }

    fn call_on(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session.filter(|s| !s.is_empty()) {
            message["sessionId"] = json!(session);
        }
        if let Err(err) = self.socket.send_text(&message.to_string()) {
            self.fail(&format!("sending {method}: {err}"));
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let reply = self.next_message(deadline, method);
            if reply["id"].as_u64() == Some(id) {
                if let Some(error) = reply.get("error") {
                    self.fail(&format!("{method} failed: {error}"));
                }
                return reply["result"].clone();
            }
            if reply.get("method").is_some() {
                self.events.push_back(reply);
            }
        }
    }

    /// Waits for the page event `method` (one that arrived earlier counts).
    pub fn wait_event(&mut self, method: &str) -> Value {
        if let Some(at) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(at).unwrap_or_default();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let message = self.next_message(deadline, method);
            if message["method"] == method {
                return message;
            }
            if message.get("method").is_some() {
                self.events.push_back(message);
            }
        }
    }

    /// Every event `method` received so far (taken from the queue).
    pub fn take_events(&mut self, method: &str) -> Vec<Value> {
        let (taken, kept): (VecDeque<Value>, VecDeque<Value>) =
            self.events.drain(..).partition(|e| e["method"] == method);
        self.events = kept;
        taken.into_iter().collect()
    }

    fn next_message(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        if Instant::now() > deadline {
            self.fail(&format!("no answer to {waiting_for} in {TIMEOUT:?}"));
        }
        match self.socket.read_text() {
            Ok(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
            Err(err) => self.fail(&format!("waiting for {waiting_for}: {err}")),
        }
    }

    /// Opens `path` and waits for its load event.
    pub fn open(&mut self, path: &Path) {
        let url = format!("file://{}", path.display());
        let _ = self.take_events("Page.loadEventFired");
        let answer = self.call("Page.navigate", json!({"url": url}));
        if let Some(error) = answer.get("errorText") {
            self.fail(&format!("navigating to {url}: {error}"));
        }
        self.wait_event("Page.loadEventFired");
    }

    /// The value of a JavaScript expression (promises awaited), as JSON.
    pub fn eval(&mut self, expression: &str) -> Value {
        let answer = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = answer.get("exceptionDetails") {
            self.fail(&format!("{expression} threw {exception}"));
        }
        answer["result"]["value"].clone()
    }

    /// A real mouse move to (x, y), in CSS pixels of the viewport.
    pub fn hover(&mut self, x: f64, y: f64) {
        self.mouse("mouseMoved", x, y);
    }

    /// A real click at (x, y): move, press, release.
    pub fn click(&mut self, x: f64, y: f64) {
        self.mouse("mouseMoved", x, y);
        self.mouse("mousePressed", x, y);
        self.mouse("mouseReleased", x, y);
    }

    fn mouse(&mut self, kind: &str, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
        );
    }

    /// A real key press (e.g. `Escape`, `Enter`) on the focused element.
    pub fn key(&mut self, key: &str) {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": key_code(key)}),
            );
        }
    }

    /// A PNG of the viewport.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let answer = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let data = answer["data"].as_str().unwrap_or_default();
        base64_decode(data).unwrap_or_else(|err| self.fail(&format!("screenshot: {err}")))
    }

    fn fail(&mut self, what: &str) -> ! {
        let mut stderr = String::new();
        while let Ok(line) = self.stderr.try_recv() {
            stderr.push_str(&line);
            stderr.push('\n');
        }
        panic!("Chromium: {what}\nits stderr:\n{stderr}");
    }
}

impl Drop for Browser {
    /// Kills Chromium and every process it started (one process group), then removes its profile.
    fn drop(&mut self) {
        let group = self.child.id() as i32;
        // SAFETY: signals only the process group this Browser created (setpgid at spawn).
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn key_code(key: &str) -> u32 {
    match key {
        "Enter" => 13,
        "Escape" => 27,
        "Tab" => 9,
        " " => 32,
        _ => 0,
    }
}

/// Starts Chromium in a process group of its own (so all its processes can be killed at once),
/// killed too if the thread that started it ends; returns it, its stderr lines, and the DevTools
/// WebSocket URL it printed.
fn start(
    path: &Path,
    profile: &Path,
    width: u32,
    height: u32,
) -> (Child, mpsc::Receiver<String>, String) {
    let mut command = Command::new(path);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--mute-audio",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    super::emulator::die_with_parent(&mut command);
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", path.display()));
    let (lines_tx, lines_rx) = mpsc::channel();
    let (url_tx, url_rx) = mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    let _ = url_tx.send(line[at..].trim().to_owned());
                }
                let _ = lines_tx.send(line);
            }
        });
    }
    let url = url_rx
        .recv_timeout(Duration::from_secs(30))
        .ok()
        .or_else(|| active_port(profile));
    match url {
        Some(url) => (child, lines_rx, url),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let said: Vec<String> = lines_rx.try_iter().collect();
            panic!(
                "{} printed no DevTools URL in 30 s; its stderr:\n{}",
                path.display(),
                said.join("\n")
            );
        }
    }
}

/// The DevTools URL from the profile's `DevToolsActivePort` file (port, then path).
fn active_port(profile: &Path) -> Option<String> {
    let text = std::fs::read_to_string(profile.join("DevToolsActivePort")).ok()?;
    let mut lines = text.lines();
    let port = lines.next()?.trim().to_owned();
    let path = lines.next()?.trim().to_owned();
    Some(format!("ws://127.0.0.1:{port}{path}"))
}

/// The client side of a WebSocket (RFC 6455), text messages only: enough for CDP.
struct WebSocket {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl WebSocket {
    fn connect(url: &str) -> std::io::Result<Self> {
        let invalid =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| invalid("not a ws:// URL"))?;
        let (host, path) = rest.split_once('/').ok_or_else(|| invalid("no path"))?;
        let writer = TcpStream::connect(host)?;
        writer.set_read_timeout(Some(TIMEOUT))?;
        writer.set_nodelay(true)?;
        let mut reader = BufReader::new(writer.try_clone()?);
        let mut socket_writer = writer;
        // Any 16 bytes, base64: the key only proves the server speaks WebSocket.
        write!(
            socket_writer,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )?;
        let mut status = String::new();
        reader.read_line(&mut status)?;
        if !status.contains(" 101 ") {
            return Err(invalid(&format!("handshake refused: {}", status.trim())));
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
                break;
            }
        }
        Ok(Self {
            reader,
            writer: socket_writer,
        })
    }

    fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.send_frame(0x1, text.as_bytes())
    }

    /// One final frame, masked as a client must.
    fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let mask = [0x5a, 0x13, 0xc7, 0x2e];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.writer.write_all(&frame)
    }

    /// The next whole text message (fragments joined; pings answered).
    fn read_text(&mut self) -> std::io::Result<String> {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head)?;
            let (fin, opcode) = (head[0] & 0x80 != 0, head[0] & 0x0f);
            let length = match head[1] & 0x7f {
                126 => {
                    let mut bytes = [0u8; 2];
                    self.reader.read_exact(&mut bytes)?;
                    u64::from(u16::from_be_bytes(bytes))
                }
                127 => {
                    let mut bytes = [0u8; 8];
                    self.reader.read_exact(&mut bytes)?;
                    u64::from_be_bytes(bytes)
                }
                n => u64::from(n),
            };
            let mut mask = [0u8; 4];
            if head[1] & 0x80 != 0 {
                self.reader.read_exact(&mut mask)?;
            }
            let mut payload = vec![0u8; length as usize];
            self.reader.read_exact(&mut payload)?;
            if head[1] & 0x80 != 0 {
                for (i, byte) in payload.iter_mut().enumerate() {
                    *byte ^= mask[i % 4];
                }
            }
            match opcode {
                0x0..=0x2 => message.extend_from_slice(&payload),
                0x8 => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "the browser closed the DevTools connection",
                    ))
                }
                0x9 => self.send_frame(0xA, &payload)?,
                _ => {}
            }
            if fin && matches!(opcode, 0x0..=0x2) {
                return String::from_utf8(message).map_err(|err| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, err.to_string())
                });
            }
        }
    }
}

/// Processes of process group `group` still alive (zombies waiting for their reaper excluded).
pub fn live_in_group(group: u32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| {
            // `pid (comm) state ppid pgrp …`; comm may hold spaces, so read after its `)`.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            fields.first() != Some(&"Z") && fields.get(2) == Some(&group.to_string().as_str())
        })
        .count()
}

/// Standard base64 (with padding), as CDP sends screenshots.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for chunk in clean.chunks(4) {
        let digits: Vec<u32> = chunk
            .iter()
            .take_while(|c| **c != b'=')
            .map(|c| value(*c).ok_or_else(|| format!("not base64: {:?}", *c as char)))
            .collect::<Result<_, _>>()?;
        let bits = digits.iter().fold(0u32, |acc, d| (acc << 6) | d) << (6 * (4 - digits.len()));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..digits.len().max(1)]);
    }
    Ok(out)
}
