//! The desk in a real terminal: the binary runs in tmux against a real server, keys are
//! sent with `send-keys`, the screen is read with `capture-pane`. `.ci/run` installs tmux.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Live;

const SYNCDESK: &str = env!("CARGO_BIN_EXE_syncdesk");

struct Tmux {
    socket: String,
}

impl Tmux {
    /// A tmux server of its own (`name` keeps parallel tests apart) running `command` in a
    /// 120x36 window.
    fn start(name: &str, command: &str) -> Self {
        let tmux = Tmux {
            socket: format!("syncdesk-{name}-{}", std::process::id()),
        };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "desk",
            "-x",
            "120",
            "-y",
            "36",
            command,
        ]);
        tmux
    }

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
    /// Ends the tmux server; quietly, so that a failing test (or a missing tmux) reports
    /// its own one line instead of a panic during the panic, which would abort.
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// The shell line that runs `syncdesk ARGS` with `env` and, when it ends, writes
/// `exit=CODE` to `done`; the window then stays open to be read.
fn shell_line(env: &str, args: &str, done: &Path) -> String {
    format!(
        "{env} NO_COLOR=1 VISUAL= EDITOR= {SYNCDESK} {args}; echo exit=$? > {}; sleep 60",
        done.display()
    )
}

/// The desk as sue on the live server, its drafts under `data`.
fn desk_line(live: &Live, data: &Path, done: &Path) -> String {
    shell_line(
        &format!("SYNCDESK_DATA_DIR={}", data.display()),
        &format!("tui --server {} --token sue-token", live.base),
        done,
    )
}

/// What the process wrote to `done` once it ended (waits up to 10 s).
fn exit_of(done: &Path) -> String {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        // The shell creates the file before `echo` writes its line: wait for the line.
        let written = std::fs::read_to_string(done).unwrap_or_default();
        if written.ends_with('\n') || Instant::now() >= until {
            return written.trim().to_string();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pids of the desk running against this server (not the shell or tmux around it).
fn desk_pids(live: &Live) -> String {
    let pattern = format!("^{SYNCDESK} tui --server {} ", live.base);
    let out = Command::new("pgrep")
        .args(["-f", &pattern])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Opens c-000001 and keeps local on /notes: a decision, so a draft, exists.
fn decide_one(tmux: &Tmux) {
    tmux.wait_for("c-000001");
    tmux.keys(&["Enter"]);
    tmux.wait_for("! /notes");
    tmux.keys(&["l"]);
    tmux.wait_for("1 of 1 conflicting fields decided");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
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
fn the_binary_resolves_a_conflict_in_tmux_and_restores_the_terminal() {
    let live = Live::start();
    live.with_conflict();
    let data = live.dir.path().join("data");
    let done = live.dir.path().join("done");
    let tmux = Tmux::start("test", &desk_line(&live, &data, &done));
    let list = tmux.wait_for("c-000001");
    assert!(
        list.contains("1 open · row 1 of 1 shown") && list.contains("edit-conflict"),
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

    assert_eq!(exit_of(&done), "exit=0");
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
    let config = format!("SYNCDESK_CONFIG={}", dir.path().join("none.toml").display());
    let tmux = Tmux::start("demo", &shell_line(&config, "demo", &done));
    let list = tmux.wait_for("3 open · row 1 of 3 shown");
    for kind in ["edit-conflict", "invalid-reference", "deleted-on-server"] {
        assert!(list.contains(kind), "{kind}: {list}");
    }
    // The morning's story is a key away, and goes with Esc.
    tmux.keys(&["i"]);
    let story = tmux.wait_for("What happened");
    assert!(
        story.contains("ben edits INS-1001's notes on the web"),
        "{story}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for("3 open · row 1 of 3 shown");
    tmux.keys(&["Enter"]);
    tmux.wait_for("! /notes");
    // No $EDITOR: the desk's own editor opens on the three-way merge of the notes, ana's
    // and ben's edits of different sentences merged already, no marker left.
    tmux.keys(&["m"]);
    let editor = tmux.wait_for("Ctrl-s take");
    assert!(
        editor.contains("heavy leak at the flange") && editor.contains("gate C; gate B is locked"),
        "{editor}"
    );
    assert!(!editor.contains("<<<<<<<"), "{editor}");
    tmux.keys(&["C-s", "w"]);
    let preview = tmux.wait_for("Submit? y send");
    assert!(
        preview.contains("→ \"Pump P2 on the north side: heavy leak at the flange, the gasket must be replaced. Pressure normal.")
            && preview.contains("Access through gate C; gate B is locked.\""),
        "both edits in the notes sent: {preview}"
    );
    tmux.keys(&["y"]);
    let next = tmux.wait_for("INS-1003 (inspections)");
    assert!(
        next.contains("Resolved c-000001 INS-1001: version 3, ETag \"3-")
            && next.contains("Next: c-000002."),
        "{next}"
    );
    // `]` goes to the next conflict of the queue: INS-1005, deleted on the server.
    tmux.keys(&["]"]);
    let deleted = tmux.wait_for("Deleted on the server: R restores it");
    assert!(deleted.contains("✎ /notes"), "{deleted}");
    tmux.keys(&["R"]);
    tmux.wait_for("Restores INS-1005, deleted by sue, as version 3");
    tmux.keys(&["y"]);
    tmux.wait_for("Resolved c-000003 INS-1005: version 3");
    // Back to the list; Esc there closes nothing and never quits.
    tmux.keys(&["q", "Escape"]);
    tmux.wait_for("Nothing to close: q quits.");
    // Quitting the demo asks first; any other key stays.
    tmux.keys(&["q"]);
    tmux.wait_for("Quitting ends the demo");
    tmux.keys(&["n"]);
    tmux.wait_for("1 open · row");
    tmux.keys(&["q", "y"]);
    assert_eq!(exit_of(&done), "exit=0");
    let end = tmux.screen();
    assert!(
        end.contains("resolved c-000001 INS-1001: version 3"),
        "{end}"
    );
    assert!(
        end.contains("resolved c-000003 INS-1005: version 3"),
        "{end}"
    );
    assert!(
        end.contains("2 conflict(s) resolved, 1 still open"),
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
    let tmux = Tmux::start("term", &desk_line(&live, &data, &done));
    decide_one(&tmux);
    let pid = desk_pids(&live);
    assert!(!pid.is_empty(), "the desk is running");
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let exit = exit_of(&done);
    let end = tmux.screen();
    assert_eq!(exit, "exit=0", "{end}");
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

#[test]
fn a_terminal_that_goes_away_ends_the_desk_and_keeps_the_draft() {
    let live = Live::start();
    live.with_conflict();
    let data = live.dir.path().join("data");
    let done = live.dir.path().join("done");
    let tmux = Tmux::start("hup", &desk_line(&live, &data, &done));
    decide_one(&tmux);
    let running = || !desk_pids(&live).is_empty();
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

#[test]
fn every_kind_is_resolved_from_the_desk_and_the_server_agrees() {
    let live = Live::start_with(syncdesk::server::demo::CONFIG);
    live.rt
        .block_on(syncdesk::demo::replay(&live.base, &live.clock))
        .unwrap();
    let data = live.dir.path().join("data");
    let done = live.dir.path().join("done");
    let line = shell_line(
        &format!("SYNCDESK_DATA_DIR={}", data.display()),
        &format!(
            "tui --server {} --token {}",
            live.base,
            syncdesk::demo::SUPERVISOR_TOKEN
        ),
        &done,
    );
    let tmux = Tmux::start("kinds", &line);
    tmux.wait_for("3 open · row 1 of 3 shown");
    // Esc on a filtered list clears the filter, and the desk stays.
    tmux.keys(&["/", "d", "e", "l", "Enter"]);
    tmux.wait_for("row 1 of 1 shown");
    tmux.keys(&["Escape"]);
    tmux.wait_for("Filter cleared.");
    // The selection stays on the conflict the filter found (the third).
    tmux.wait_for("row 3 of 3 shown");

    // The invalid reference: the picker fixes it.
    tmux.keys(&["g", "j", "Enter"]);
    let detail = tmux.wait_for("removed from sites");
    assert!(detail.contains("S-3 Old mill substation"), "{detail}");
    tmux.keys(&["m"]);
    tmux.wait_for("type to filter");
    tmux.keys(&["e", "a", "s", "t", "Enter", "w"]);
    tmux.wait_for("Submit? y send");
    tmux.keys(&["y"]);
    tmux.wait_for("Resolved c-000002 INS-1003");
    let token = syncdesk::demo::SUPERVISOR_TOKEN;
    let (_, record) = live.call_with_token("GET", "/v1/inspections/INS-1003", token, None);
    assert_eq!(record["fields"]["site_id"], "S-2");

    // Next comes the deleted record: `=` hides what nobody changed, K keeps it deleted.
    tmux.wait_for("INS-1005 (inspections)");
    tmux.keys(&["="]);
    let hidden = tmux.wait_for("unchanged hidden");
    assert!(!hidden.contains("= /site_id"), "{hidden}");
    tmux.keys(&["K"]);
    tmux.wait_for("Keeps INS-1005 deleted");
    tmux.keys(&["y"]);
    tmux.wait_for("Resolved c-000003 INS-1005");
    let (status, _) = live.call_with_token("GET", "/v1/inspections/INS-1005", token, None);
    assert_eq!(status.as_u16(), 410, "still deleted");
    let (_, conflict) = live.call_with_token("GET", "/v1/conflicts/c-000003", token, None);
    assert_eq!(conflict["resolution"]["kept_deleted"], true);
    tmux.keys(&["q", "q"]);
    assert_eq!(exit_of(&done), "exit=0");
    let end = tmux.screen();
    assert!(
        end.contains("2 conflict(s) resolved, 1 still open"),
        "{end}"
    );
}

#[test]
fn the_desk_in_tmux_shows_a_parked_conflict_and_a_claim_without_a_key() {
    let tom = "\n[[users]]\nname = \"tom\"\nrole = \"supervisor\"\ntoken = \"tom-token\"\n";
    let live = Live::start_with(&format!("{}{tom}", common::CONFIG));
    let data = live.dir.path().join("data");
    let done = live.dir.path().join("done");
    let tmux = Tmux::start("live", &desk_line(&live, &data, &done));
    let empty = tmux.wait_for("No open conflicts");
    assert!(empty.contains("No open conflicts"), "{empty}");
    live.with_conflict();
    let listed = tmux.wait_for("New: c-000001");
    assert!(
        listed.contains("1 open · row 1 of 1 shown") && listed.contains("New: c-000001"),
        "{listed}"
    );
    let (status, _) = live.call("POST", "/v1/conflicts/c-000001/claim", "tom", None);
    assert_eq!(status, reqwest::StatusCode::OK);
    let claimed = tmux.wait_for("On it");
    assert!(
        claimed.contains("On it") && claimed.contains("tom"),
        "{claimed}"
    );
    tmux.keys(&["Enter"]);
    let asked = tmux.wait_for("tom is on c-000001");
    assert!(asked.contains("Open it anyway?"), "{asked}");
    // Tab: the sync log, the parked write among the others.
    tmux.keys(&["n", "Tab"]);
    let log = tmux.wait_for("Sync log");
    assert!(
        log.contains("edit-conflict") && log.contains("c-000001"),
        "{log}"
    );
    // Its numbers next, then back to the queue, and out.
    tmux.keys(&["Tab"]);
    let numbers = tmux.wait_for("Refused: ");
    assert!(numbers.contains("of 3 writes"), "{numbers}");
    tmux.keys(&["Tab"]);
    tmux.wait_for("Audit trail");
    tmux.keys(&["Tab", "q"]);
    assert_eq!(exit_of(&done), "exit=0", "{}", tmux.screen());
}

#[test]
fn one_decision_for_two_marked_conflicts_and_the_log_that_explains_them_in_tmux() {
    let live = Live::start();
    live.with_three_conflicts();
    let data = live.dir.path().join("data");
    let done = live.dir.path().join("done");
    let tmux = Tmux::start("bulk", &desk_line(&live, &data, &done));
    tmux.wait_for("3 open · row 1 of 3 shown");
    tmux.keys(&["Space", "j", "Space"]);
    let list = tmux.wait_for("2 marked (b decides for all)");
    assert_eq!(list.matches('◆').count(), 2, "{list}");
    tmux.keys(&["b"]);
    tmux.wait_for("2 marked conflict(s). Decide for:");
    tmux.keys(&["l"]);
    let preview = tmux.wait_for("y sends 2, one request each");
    assert_eq!(
        preview.matches("would apply: /notes → local").count(),
        2,
        "{preview}"
    );
    tmux.keys(&["y"]);
    let results = tmux.wait_for("What each came to");
    assert_eq!(
        results.matches("applied: version 3").count(),
        2,
        "{results}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for("1 open · row 1 of 1 shown");
    assert_eq!(live.record("INS-1")["fields"]["notes"], "ana's");
    assert_eq!(
        live.record("INS-3")["fields"]["notes"],
        "ben's",
        "not marked: untouched"
    );
    // The sync log, straight with 2: the resolutions, and a parked sync explained.
    tmux.keys(&["2"]);
    tmux.wait_for("Sync log · newest first");
    tmux.keys(&["j", "j"]);
    // The explanation first shows "its history is being read": wait for the history.
    let log = tmux.wait_for("Since then version 2 by ben");
    assert!(
        log.contains("Why: Based on version 1. Since then version 2 by ben"),
        "{log}"
    );
    assert!(log.contains("a genuine conflict"), "{log}");
    tmux.keys(&["q", "q"]);
    assert_eq!(exit_of(&done), "exit=0");
}
