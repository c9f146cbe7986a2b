//! The desk in a real terminal: the binary runs in tmux against a real server, keys are
//! sent with `send-keys`, the screen is read with `capture-pane`. `.ci/run` installs tmux.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::Live;

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux is needed for this test (.ci/run installs it: apt-get install tmux)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "desk"])
    }

    /// Waits until the screen shows `text`; the screen at the end either way.
    fn wait_for(&self, text: &str) -> String {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if screen.contains(text) || Instant::now() > until {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", "-t", "desk", key]);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

#[test]
fn the_binary_resolves_a_conflict_in_tmux_and_restores_the_terminal() {
    let live = Live::start();
    live.with_conflict();
    let data = live.dir.path().join("data");
    let done = live.dir.path().join("done");
    let tmux = Tmux {
        socket: format!("syncdesk-test-{}", std::process::id()),
    };
    let command = format!(
        "SYNCDESK_DATA_DIR={} NO_COLOR=1 {} tui --server {} --token sue-token; echo exit=$? > {}; sleep 60",
        data.display(),
        env!("CARGO_BIN_EXE_syncdesk"),
        live.base,
        done.display()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "desk",
        "-x",
        "120",
        "-y",
        "36",
        &command,
    ]);
    let list = tmux.wait_for("c-000001");
    assert!(
        list.contains("1 of 1 open") && list.contains("edit-conflict"),
        "{list}"
    );

    tmux.keys(&["Enter"]);
    let detail = tmux.wait_for("0 of 1 conflicting fields decided");
    assert!(detail.contains("! /notes"), "{detail}");
    tmux.keys(&["l", "w"]);
    let preview = tmux.wait_for("Submit? y send");
    assert!(
        preview.contains("/notes: \"ben's\" → \"ana's\""),
        "{preview}"
    );
    tmux.keys(&["y"]);
    let after = tmux.wait_for("Resolved c-000001");
    assert!(after.contains("No open conflicts left"), "{after}");
    tmux.keys(&["q"]);

    let until = Instant::now() + Duration::from_secs(10);
    while !done.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&done).unwrap().trim(), "exit=0");
    let end = tmux.screen();
    assert!(end.contains("resolved c-000001 INS-1: version 3"), "{end}");
    assert!(
        !end.contains("Field"),
        "the alternate screen is gone: {end}"
    );

    let record = live.record("INS-1");
    assert_eq!(record["fields"]["notes"], "ana's");
    assert_eq!(record["fields"]["temperature"], 21);
    assert!(live.queue("open").is_empty());
}

#[test]
fn the_demo_opens_the_desk_on_its_queue_and_reports_on_quit() {
    let dir = tempfile::tempdir().unwrap();
    let done = dir.path().join("done");
    let tmux = Tmux {
        socket: format!("syncdesk-demo-{}", std::process::id()),
    };
    let command = format!(
        "SYNCDESK_CONFIG={} NO_COLOR=1 {} demo; echo exit=$? > {}; sleep 60",
        dir.path().join("none.toml").display(),
        env!("CARGO_BIN_EXE_syncdesk"),
        done.display()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "desk",
        "-x",
        "120",
        "-y",
        "36",
        &command,
    ]);
    let list = tmux.wait_for("1 of 3 open");
    for kind in ["edit-conflict", "invalid-reference", "deleted-on-server"] {
        assert!(list.contains(kind), "{kind}: {list}");
    }
    tmux.keys(&["Enter"]);
    tmux.wait_for("! /notes");
    tmux.keys(&["L", "w"]);
    tmux.wait_for("Submit? y send");
    tmux.keys(&["y"]);
    let next = tmux.wait_for("INS-1003 (inspections)");
    assert!(
        next.contains("Resolved c-000001 INS-1001: version 3, ETag \"3-")
            && next.contains("Next: c-000002."),
        "{next}"
    );
    tmux.keys(&["q", "q"]);
    let until = Instant::now() + Duration::from_secs(10);
    while !done.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&done).unwrap().trim(), "exit=0");
    let end = tmux.screen();
    assert!(
        end.contains("resolved c-000001 INS-1001: version 3"),
        "{end}"
    );
    assert!(end.contains("has stopped; its database is gone"), "{end}");
}

#[test]
fn a_sigterm_quits_like_q_restoring_the_terminal_and_keeping_the_draft() {
    let live = Live::start();
    live.with_conflict();
    let data = live.dir.path().join("data");
    let done = live.dir.path().join("done");
    let tmux = Tmux {
        socket: format!("syncdesk-term-{}", std::process::id()),
    };
    let command = format!(
        "SYNCDESK_DATA_DIR={} {} tui --server {} --token sue-token; echo exit=$? > {}; sleep 60",
        data.display(),
        env!("CARGO_BIN_EXE_syncdesk"),
        live.base,
        done.display()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "desk",
        "-x",
        "120",
        "-y",
        "36",
        &command,
    ]);
    tmux.wait_for("c-000001");
    tmux.keys(&["Enter"]);
    tmux.wait_for("! /notes");
    tmux.keys(&["l"]);
    tmux.wait_for("1 of 1 conflicting fields decided");
    let pid = Command::new("pgrep")
        .args([
            "-f",
            &format!(
                "^{} tui --server {} ",
                env!("CARGO_BIN_EXE_syncdesk"),
                live.base
            ),
        ])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&pid.stdout).trim().to_string();
    assert!(!pid.is_empty(), "the desk is running");
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while !done.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&done).unwrap().trim(), "exit=0");
    let end = tmux.screen();
    assert!(
        end.contains("0 conflict(s) resolved") && !end.contains("! /notes"),
        "{end}"
    );
    let drafts: Vec<_> = walk(&data);
    assert!(
        drafts.iter().any(|p| p.ends_with("c-000001.json")),
        "the draft is on disk: {drafts:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[test]
fn a_terminal_that_goes_away_ends_the_desk_and_keeps_the_draft() {
    let live = Live::start();
    live.with_conflict();
    let data = live.dir.path().join("data");
    let tmux = Tmux {
        socket: format!("syncdesk-hup-{}", std::process::id()),
    };
    let command = format!(
        "SYNCDESK_DATA_DIR={} {} tui --server {} --token sue-token; sleep 60",
        data.display(),
        env!("CARGO_BIN_EXE_syncdesk"),
        live.base,
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "desk",
        "-x",
        "120",
        "-y",
        "36",
        &command,
    ]);
    tmux.wait_for("c-000001");
    tmux.keys(&["Enter"]);
    tmux.wait_for("! /notes");
    tmux.keys(&["l"]);
    tmux.wait_for("1 of 1 conflicting fields decided");
    let pattern = format!(
        "^{} tui --server {} ",
        env!("CARGO_BIN_EXE_syncdesk"),
        live.base
    );
    let running = || {
        let out = Command::new("pgrep")
            .args(["-f", &pattern])
            .output()
            .unwrap();
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    };
    assert!(running());
    // The window closes: its terminal hangs up.
    tmux.run(&["kill-server"]);
    let until = Instant::now() + Duration::from_secs(10);
    while running() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!running(), "the desk ended with its terminal");
    assert!(walk(&data).iter().any(|p| p.ends_with("c-000001.json")));
}
