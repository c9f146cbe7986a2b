//! `syncdesk simulate`: days of offline field work played through the real protocol,
//! judged against the simulator's own ground truth, beside what three naive rules of
//! conflict detection would have answered on the same stream.
//!
//! - [`day`] draws the plan from the seed (pure);
//! - [`truth`] says what each submission should get, and what the naive rules do (pure);
//! - [`tally`] judges answers and counts (pure);
//! - [`drive`] plays the plan over HTTP.

pub mod day;
pub mod drive;
pub mod form;
pub mod tally;
pub mod truth;

use serde::Serialize;

use crate::server::config::Config;
use tally::{RuleCounts, Tally, percent};

/// The embedded server's configuration: the simulated people as users (token
/// `sim-<name>`) and the demo's `inspections` type; the log kept whole.
pub fn embedded_config(technicians: &[day::Technician]) -> Result<Config, String> {
    let mut toml = String::new();
    let people = technicians
        .iter()
        .map(|t| (t.name.as_str(), "technician"))
        .chain(day::SUPERVISORS.iter().map(|s| (*s, "supervisor")))
        .chain([(day::ADMIN, "admin")]);
    for (name, role) in people {
        toml.push_str(&format!(
            "[[users]]\nname = \"{name}\"\nrole = \"{role}\"\ntoken = \"{}\"\n",
            drive::token_of(name)
        ));
    }
    let mut config = Config::from_toml(&toml).map_err(|e| e.to_string())?;
    let demo = Config::from_toml(crate::server::demo::CONFIG).map_err(|e| e.to_string())?;
    config.types = demo.types;
    config.sync_log_days = 0;
    Ok(config)
}

/// What a run reports.
#[derive(Debug, Serialize)]
pub struct Report {
    pub technicians: usize,
    pub days: usize,
    pub seed: u64,
    pub dates: Vec<String>,
    /// `embedded`, or the server's URL.
    pub played_on: String,
    pub elapsed_ms: u128,
    #[serde(flatten)]
    pub tally: Tally,
}

/// The report as a table: the ground truth, then each rule's refusals beside the server's.
pub fn render(report: &Report) -> String {
    let t = &report.tally;
    let mut out = format!(
        "syncdesk simulate: {} technicians, {} day(s) ({}), seed {}, {} server — {} syncs in {:.1} s\n\n",
        report.technicians,
        report.days,
        report.dates.join(", "),
        report.seed,
        report.played_on,
        t.syncs,
        report.elapsed_ms as f64 / 1000.0
    );
    out.push_str("What the syncs were (the simulator's own ground truth):\n  ");
    let truth: Vec<String> = t.truth.iter().map(|(k, n)| format!("{k} {n}")).collect();
    out.push_str(&truth.join(" · "));
    out.push_str("\n\n");
    let genuine = t.truth.get("edit-conflict").copied().unwrap_or(0)
        + t.truth.get("deleted-on-server").copied().unwrap_or(0);
    out.push_str(&format!(
        "The same {} syncs under each rule ({} genuine conflicts among them):\n",
        t.syncs, genuine
    ));
    out.push_str(&format!(
        "  {:<44} {:>8} {:>15} {:>17}\n",
        "rule", "refused", "false refusals", "missed conflicts"
    ));
    let rows: [(&str, &RuleCounts); 4] = [
        ("naive version check (any stale base)", &t.version_check),
        (
            "version differs and modified-by differs",
            &t.version_and_modifier,
        ),
        ("timestamps, 300 s grace (device clocks)", &t.timestamps),
        ("syncdesk (this server's answers)", &t.server),
    ];
    for (name, counts) in rows {
        out.push_str(&format!(
            "  {:<44} {:>7.1}% {:>15} {:>17}\n",
            name,
            percent(counts.refused, t.syncs),
            counts.false_refusals,
            counts.missed_conflicts
        ));
    }
    out.push_str(&format!(
        "\nsyncdesk: false refusals {} · missed conflicts {} · wrong merges {} · duplicates {} · bad replays {} · other disagreements {}\n",
        t.server.false_refusals,
        t.server.missed_conflicts,
        t.wrong_merges,
        t.duplicates,
        t.bad_replays,
        t.other_disagreements
    ));
    for example in &t.examples {
        out.push_str(&format!("  {example}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_each_rules_share_and_the_servers_faults() {
        let mut tally = Tally {
            syncs: 10,
            ..Default::default()
        };
        tally.truth.insert("applied", 7);
        tally.truth.insert("edit-conflict", 3);
        tally.version_check = RuleCounts {
            refused: 6,
            false_refusals: 3,
            missed_conflicts: 0,
        };
        tally.server.refused = 3;
        tally.duplicates = 1;
        tally
            .examples
            .push("sync INS-1 by ana: expected replayed".into());
        let report = Report {
            technicians: 2,
            days: 1,
            seed: 9,
            dates: vec!["2026-03-29".into()],
            played_on: "embedded".into(),
            elapsed_ms: 1500,
            tally,
        };
        let text = render(&report);
        assert!(text.contains("applied 7 · edit-conflict 3"), "{text}");
        assert!(text.contains("(3 genuine conflicts among them)"), "{text}");
        let version_row = text.lines().find(|l| l.contains("naive version")).unwrap();
        assert!(version_row.contains("60.0%"), "{version_row}");
        let ours = text.lines().find(|l| l.contains("this server's")).unwrap();
        assert!(ours.contains("30.0%"), "{ours}");
        assert!(text.contains("duplicates 1"), "{text}");
        assert!(text.contains("  sync INS-1 by ana"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["version_check"]["false_refusals"], 3);
        assert_eq!(json["duplicates"], 1);
    }
}
