//! Shared by the desk tests: a real server on 127.0.0.1 with a SQLite file, and a desk
//! driven through its event loop on a `TestBackend`.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyEvent, KeyModifiers};
use reqwest::StatusCode;
use serde_json::{Value, json};
use syncdesk::client::{ConflictSource, ServerClient};
use syncdesk::server::clock::Clock;
use syncdesk::server::config::Config;
use syncdesk::server::http::{AppState, serve};
use syncdesk::tui::Session;
use syncdesk::tui::app::{App, Theme};
use syncdesk::tui::drafts::DraftStore;
use syncdesk::tui::keymap::{Key, Keymap};
use tempfile::TempDir;

pub const CONFIG: &str = r#"
[[users]]
name = "ana"
role = "technician"
token = "ana-token"

[[users]]
name = "ben"
role = "technician"
token = "ben-token"

[[users]]
name = "sue"
role = "supervisor"
token = "sue-token"

[types.inspections]
[types.inspections.fields]
site_id      = { type = "string", required = true }
status       = { type = "enum", values = ["open", "passed", "failed"] }
notes        = { type = "text" }
temperature  = { type = "number" }
checklist    = { type = "list", key = "id" }
"#;

/// A server running for real, and a way to talk to it from a plain test.
pub struct Live {
    pub rt: tokio::runtime::Runtime,
    pub base: String,
    /// The server's clock: the system's time until a test (the demo) sets it.
    pub clock: Clock,
    http: reqwest::Client,
    pub dir: TempDir,
}

impl Live {
    pub fn start() -> Self {
        Self::start_with(CONFIG)
    }

    /// A server with this configuration.
    pub fn start_with(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = dir.path().join("syncdesk.db");
        let clock = Clock::set_to(syncdesk::model::UtcMillis::now());
        let base = rt.block_on(async {
            let config = Config::from_toml(config).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let mut state = AppState::open(config, &db).unwrap();
            state.clock = clock.clone();
            let state = Arc::new(state);
            tokio::spawn(serve(state, listener));
            base
        });
        Self {
            rt,
            base,
            clock,
            http: reqwest::Client::new(),
            dir,
        }
    }

    /// One request as `user`; the status and the JSON body (null when there is none).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        user: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with_token(method, path, &format!("{user}-token"), body)
    }

    /// One request with this bearer token (the demo's own tokens).
    pub fn call_with_token(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.rt.block_on(async {
            static KEY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut request = self
                .http
                .request(method.parse().unwrap(), format!("{}{path}", self.base))
                .bearer_auth(token)
                .header("Idempotency-Key", format!("test-{n}"));
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let bytes = response.bytes().await.unwrap();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        })
    }

    /// INS-1 created by ana (notes "a"), ben's sync makes the notes "ben's" (version 2),
    /// then ana's offline edit of the notes and the temperature from version 1 is parked
    /// as c-000001.
    pub fn with_conflict(&self) {
        let fields = json!({"site_id": "S-4", "notes": "a", "status": "open", "temperature": 20});
        let (s, _) = self.call(
            "POST",
            "/v1/inspections",
            "ana",
            Some(json!({"id": "INS-1", "fields": fields})),
        );
        assert_eq!(s, StatusCode::CREATED);
        let ben = json!({"base_version": 1, "fields": {"site_id": "S-4", "notes": "ben's", "status": "open", "temperature": 20}});
        assert_eq!(
            self.call("PUT", "/v1/inspections/INS-1", "ben", Some(ben))
                .0,
            StatusCode::OK
        );
        let ana = json!({"base_version": 1, "device_id": "tab-17", "fields": {"site_id": "S-4", "notes": "ana's", "status": "open", "temperature": 21}});
        let (s, p) = self.call("PUT", "/v1/inspections/INS-1", "ana", Some(ana));
        assert_eq!(s, StatusCode::CONFLICT, "{p}");
    }

    /// Three records, each with ben's web edit of the notes and ana's offline edit of the
    /// notes from version 1 parked: c-000001 … c-000003 on INS-1 … INS-3.
    pub fn with_three_conflicts(&self) {
        for i in 1..=3 {
            let id = format!("INS-{i}");
            let fields =
                json!({"site_id": "S-4", "notes": "a", "status": "open", "temperature": 20});
            let create = json!({"id": id, "fields": fields});
            let (s, _) = self.call("POST", "/v1/inspections", "ana", Some(create));
            assert_eq!(s, StatusCode::CREATED);
            let path = format!("/v1/inspections/{id}");
            let ben = json!({"base_version": 1, "fields": {"site_id": "S-4", "notes": "ben's", "status": "open", "temperature": 20}});
            assert_eq!(self.call("PUT", &path, "ben", Some(ben)).0, StatusCode::OK);
            let ana = json!({"base_version": 1, "device_id": "tab-17", "fields": {"site_id": "S-4", "notes": "ana's", "status": "open", "temperature": 20}});
            let (s, p) = self.call("PUT", &path, "ana", Some(ana));
            assert_eq!(s, StatusCode::CONFLICT, "{p}");
        }
    }

    /// INS-9 created by ana (notes "a"), deleted by sue (version 2), then ana's offline
    /// edit of its notes from version 1 is parked as the next conflict, deleted-on-server.
    pub fn with_deleted_on_server(&self) {
        let (s, created) = self.call(
            "POST",
            "/v1/inspections",
            "ana",
            Some(json!({"id": "INS-9", "fields": {"site_id": "S-4", "notes": "a"}})),
        );
        assert_eq!(s, StatusCode::CREATED, "{created}");
        let etag = format!("\"1-{}\"", created["last_modified"].as_str().unwrap());
        let deleted = self.rt.block_on(async {
            self.http
                .delete(format!("{}/v1/inspections/INS-9", self.base))
                .bearer_auth("sue-token")
                .header("Idempotency-Key", "delete-ins-9")
                .header("If-Match", etag)
                .send()
                .await
                .unwrap()
                .status()
        });
        assert_eq!(deleted, StatusCode::OK);
        let ana = json!({"base_version": 1, "fields": {"site_id": "S-4", "notes": "typed"}});
        let (s, p) = self.call("PUT", "/v1/inspections/INS-9", "ana", Some(ana));
        assert_eq!(s, StatusCode::CONFLICT, "{p}");
    }

    /// The status of a record (200 live, 410 deleted) and its body.
    pub fn read(&self, id: &str) -> (StatusCode, Value) {
        self.call("GET", &format!("/v1/inspections/{id}"), "sue", None)
    }

    pub fn record(&self, id: &str) -> Value {
        let (s, r) = self.call("GET", &format!("/v1/inspections/{id}"), "sue", None);
        assert_eq!(s, StatusCode::OK);
        r
    }

    pub fn queue(&self, status: &str) -> Vec<Value> {
        let (s, r) = self.call(
            "GET",
            &format!("/v1/conflicts?status={status}"),
            "sue",
            None,
        );
        assert_eq!(s, StatusCode::OK);
        r["conflicts"].as_array().unwrap().clone()
    }
}

/// The `syncdesk` binary pointed at `live` as sue, with no user config of its own.
pub fn syncdesk(live: &Live) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("syncdesk").unwrap();
    cmd.env("SYNCDESK_SERVER", &live.base)
        .env("SYNCDESK_TOKEN", "sue-token")
        .env("SYNCDESK_CONFIG", live.dir.path().join("no-config.toml"));
    cmd
}

/// Runs a command: its exit code, stdout and stderr.
pub fn run(cmd: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A desk signed in as sue, on a 120x40 `TestBackend`, with drafts under `drafts`.
pub fn desk_on(base: &str, drafts: &std::path::Path) -> Session<TestBackend> {
    let client = ServerClient::new(base, "sue-token").unwrap();
    desk_with(ConflictSource::Server(client), Some(drafts))
}

/// A desk as sue on any source, on a 120x40 `TestBackend`, once its queue has come.
pub fn desk_with(source: ConflictSource, drafts: Option<&std::path::Path>) -> Session<TestBackend> {
    let label = source.label();
    let app = App::new(
        label.clone(),
        "sue".into(),
        Keymap::default(),
        Theme { color: false },
        jiff::tz::TimeZone::UTC,
    );
    let terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let drafts = drafts.map(|root| DraftStore::new(root, &label));
    let mut session = Session::new(app, terminal, source, drafts).unwrap();
    assert!(
        session.settle(Duration::from_secs(10)),
        "the queue never came"
    );
    session
}

/// Presses keys named as the keymap names them (`l`, `Enter`, `Ctrl-r`), each followed by
/// waiting for whatever it started to answer.
pub fn press(session: &mut Session<TestBackend>, keys: &[&str]) {
    for name in keys {
        let key = Key::parse(name).unwrap_or_else(|| panic!("{name} is not a key"));
        let modifiers = if key.ctrl {
            KeyModifiers::CONTROL
        } else {
            KeyModifiers::NONE
        };
        session.event(&Event::Key(KeyEvent::new(key.code, modifiers)));
        assert!(session.settle(Duration::from_secs(10)), "{name}: no answer");
    }
}

/// The screen as text, one string a row.
pub fn screen(session: &mut Session<TestBackend>) -> String {
    session.draw().unwrap();
    buffer_text(session.terminal.backend().buffer())
}

/// A drawn buffer as text, one string a row, trailing blanks cut.
pub fn buffer_text(buffer: &ratatui::buffer::Buffer) -> String {
    buffer
        .content
        .chunks(buffer.area.width as usize)
        .map(|row| {
            row.iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A TCP proxy in front of a server that can lose the answer to the next POST: the
/// request reaches the server, the client sees its connection drop.
/// Something to run once, from the proxy's thread.
pub type Hook = Arc<std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>>;

pub struct Proxy {
    pub base: String,
    pub drop_next_post_answer: Arc<std::sync::atomic::AtomicBool>,
    /// Run once, just before the next POST goes upstream (another writer slipping in).
    pub before_next_post: Hook,
}

impl Proxy {
    pub fn start(upstream: &str) -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::sync::atomic::Ordering;
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let drop_next = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = drop_next.clone();
        let before: Hook = Arc::default();
        let hook = before.clone();
        // One HTTP/1.1 message: its head and, by Content-Length, its body.
        fn message(reader: &mut BufReader<std::net::TcpStream>) -> Option<Vec<u8>> {
            let mut head = Vec::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).ok()? == 0 {
                    return None;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().ok()?;
                }
                head.extend_from_slice(line.as_bytes());
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).ok()?;
            head.extend(body);
            Some(head)
        }
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let flag = flag.clone();
                let hook = hook.clone();
                std::thread::spawn(move || {
                    let mut to_client = client.try_clone().unwrap();
                    let mut from_client = BufReader::new(client);
                    let server = std::net::TcpStream::connect(&upstream).unwrap();
                    let mut to_server = server.try_clone().unwrap();
                    let mut from_server = BufReader::new(server);
                    while let Some(request) = message(&mut from_client) {
                        if request.starts_with(b"POST")
                            && let Some(run) = hook.lock().unwrap().take()
                        {
                            run();
                        }
                        to_server.write_all(&request).unwrap();
                        let Some(answer) = message(&mut from_server) else {
                            return;
                        };
                        if request.starts_with(b"POST") && flag.swap(false, Ordering::SeqCst) {
                            let _ = to_client.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        if to_client.write_all(&answer).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            base,
            drop_next_post_answer: drop_next,
            before_next_post: before,
        }
    }
}
