//! The plan of the simulated days, drawn from the seed before anything is sent: who does
//! what when — morning loads, offline saves (one to three fields, sometimes twice),
//! reconnects that lose answers or follow an app restart, supervisors and the
//! technicians themselves editing on the web, a record deleted, a site removed mid-day.
//! Pure: the same seed always gives the same plan.

use jiff::civil::Date;
use jiff::tz::TimeZone;

/// How many of what; the rates are the simulator's assumptions about a day in the field.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub technicians: usize,
    pub days: usize,
    pub seed: u64,
}

/// Inspections a technician is given a day.
const RECORDS_A_TECHNICIAN: usize = 4;
/// Share of inspections a second technician works on too.
const TEAM_SHARE: f64 = 0.25;
/// Share of saves followed by a second offline save of the same form.
const SAVED_TWICE: f64 = 0.3;
/// Share of submissions whose answer the connection loses (resent with the same key).
const ANSWER_LOST: f64 = 0.08;
/// Share of submissions resent after an app restart (a new key, the same device number).
const RESENT_AFTER_RESTART: f64 = 0.04;
/// Share of reconnects whose queue sends the newest save first.
const REVERSED_QUEUE: f64 = 0.05;
/// Share of saves from an old app version that sends the temperature as text.
const INVALID: f64 = 0.02;
/// Share of tablets whose clock shows local time labelled as UTC.
const CLOCK_IN_WRONG_ZONE: f64 = 0.25;
/// Share of a technician's inspections they also edit on the web during the day.
const OWN_WEB_EDIT: f64 = 0.15;

pub const SUPERVISORS: [&str; 2] = ["sue", "tom"];
pub const ADMIN: &str = "root";
const NAMES: [&str; 16] = [
    "ana", "ben", "chloe", "dev", "emil", "fatima", "goran", "hana", "ivan", "jun", "kofi", "lea",
    "mateo", "nora", "omar", "pia",
];
/// The technicians' time zones; the first days are those of their DST changes.
const ZONES: [&str; 4] = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Europe/London",
];
pub const SITES: [&str; 8] = ["S-1", "S-2", "S-3", "S-4", "S-5", "S-6", "S-7", "S-8"];

/// A technician and their tablet.
#[derive(Debug, Clone)]
pub struct Technician {
    pub name: String,
    pub device: String,
    pub zone: TimeZone,
    /// The tablet's clock shows local wall time with a `Z` (a wrong zone setting).
    pub clock_in_wrong_zone: bool,
    /// Drift of a correctly set clock, in ms.
    pub drift_ms: i64,
}

impl Technician {
    /// What the tablet's clock says at `true_ms`: the instant it believes, and how it
    /// writes it (in its zone's offset, which moves on a DST day).
    pub fn clock(&self, true_ms: i64) -> (i64, String) {
        let ts = jiff::Timestamp::from_millisecond(true_ms + self.drift_ms)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let local = ts.to_zoned_datetime(self.zone.clone());
        if self.clock_in_wrong_zone {
            let offset_ms = i64::from(local.offset().seconds()) * 1000;
            let text = local.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            (ts.as_millisecond() + offset_ms, text)
        } else {
            (
                ts.as_millisecond(),
                local.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            )
        }
    }

    /// A datetime the tablet shows again: the same instant in its zone's offset.
    pub fn render(&self, at_ms: i64) -> String {
        let ts = jiff::Timestamp::from_millisecond(at_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        ts.to_zoned_datetime(self.zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string()
    }
}

/// One edit of a form.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    Status(&'static str),
    Notes(&'static str),
    Temperature(f64),
    /// The inspection time set to now, by the device's clock.
    InspectedNow,
    Tick(&'static str),
}

/// What becomes of a submission on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Answered,
    /// The answer is lost; the device resends with the same key.
    AnswerLost,
    /// The answer is lost and the app restarts; it resends with a new key after the rest
    /// of its queue.
    Restarted,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// The office creates the day's inspection (setup, not one of the field's syncs).
    Office {
        record: String,
        site: &'static str,
    },
    Load {
        tech: usize,
        record: String,
    },
    Save {
        tech: usize,
        record: String,
        edits: Vec<Edit>,
        invalid: bool,
        fate: Fate,
    },
    /// A new inspection made on the tablet, with a site from its morning's list.
    Create {
        tech: usize,
        record: String,
        site: &'static str,
        edits: Vec<Edit>,
        fate: Fate,
    },
    /// The tablet sends what waits; `reversed`: its queue sends newest first (a retry
    /// queue after a crash), so an older save arrives after a newer one.
    Reconnect {
        tech: usize,
        reversed: bool,
    },
    WebEdit {
        user: String,
        record: String,
        edits: Vec<Edit>,
    },
    Delete {
        user: String,
        record: String,
    },
    RemoveSite {
        site: &'static str,
    },
}

/// An act and when it happens (ms since the epoch, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub at: i64,
    pub act: Act,
}

pub struct Plan {
    pub technicians: Vec<Technician>,
    pub dates: Vec<Date>,
    /// Every act of every day, in time order.
    pub acts: Vec<Timed>,
}

/// The simulated dates: Europe's and then the US's DST change, then ordinary days.
pub fn dates(days: usize) -> Vec<Date> {
    let firsts = [
        jiff::civil::date(2026, 3, 29),
        jiff::civil::date(2026, 11, 1),
    ];
    (0..days)
        .map(|i| match firsts.get(i) {
            Some(d) => *d,
            None => jiff::civil::date(2026, 11, 2)
                .checked_add(jiff::Span::new().days((i - firsts.len()) as i64))
                .unwrap_or(jiff::civil::date(2026, 11, 2)),
        })
        .collect()
}

/// The plan of `settings`; faults only if a time zone is missing from the system.
pub fn plan(settings: Settings) -> Result<Plan, String> {
    let mut rng = fastrand::Rng::with_seed(settings.seed);
    let technicians = cast(settings.technicians, &mut rng)?;
    let dates = dates(settings.days);
    let mut acts = Vec::new();
    let mut sites: Vec<&'static str> = SITES.to_vec();
    for (day, date) in dates.iter().enumerate() {
        plan_day(day, *date, &technicians, &mut sites, &mut rng, &mut acts)?;
    }
    // Stable: acts at one instant keep the order they were planned in.
    acts.sort_by_key(|t| t.at);
    Ok(Plan {
        technicians,
        dates,
        acts,
    })
}

fn cast(count: usize, rng: &mut fastrand::Rng) -> Result<Vec<Technician>, String> {
    (0..count)
        .map(|i| {
            let name = match (NAMES.get(i % NAMES.len()), i / NAMES.len()) {
                (Some(n), 0) => n.to_string(),
                (Some(n), round) => format!("{n}{}", round + 1),
                (None, _) => format!("tech{i}"),
            };
            let zone_name = ZONES[i % ZONES.len()];
            let zone =
                TimeZone::get(zone_name).map_err(|e| format!("time zone {zone_name}: {e}"))?;
            Ok(Technician {
                device: format!("tab-{name}"),
                name,
                zone,
                clock_in_wrong_zone: rng.f64() < CLOCK_IN_WRONG_ZONE,
                drift_ms: rng.i64(-90_000..=90_000),
            })
        })
        .collect()
}

/// `hh:mm` local time of `date` in `zone`, as ms since the epoch.
fn local(date: Date, zone: &TimeZone, hour: i8, minute: i8) -> Result<i64, String> {
    let zoned = date
        .at(hour, minute, 0, 0)
        .to_zoned_datetime(zone.clone())
        .map_err(|e| format!("{date} {hour}:{minute}: {e}"))?;
    Ok(zoned.timestamp().as_millisecond())
}

const MINUTE: i64 = 60_000;

fn edits(rng: &mut fastrand::Rng, count: usize) -> Vec<Edit> {
    const NOTES: [&str; 6] = [
        "valve replaced",
        "gasket worn, ordered",
        "access blocked by pallets",
        "all clear",
        "leak at flange 3",
        "meter unreadable",
    ];
    const STATUS: [&str; 3] = ["open", "passed", "failed"];
    let mut out: Vec<Edit> = Vec::new();
    while out.len() < count {
        let edit = match rng.u8(0..20) {
            0..=5 => Edit::Status(STATUS[rng.usize(..STATUS.len())]),
            6..=10 => Edit::Notes(NOTES[rng.usize(..NOTES.len())]),
            11..=14 => Edit::Temperature(f64::from(rng.u8(30..60)) / 2.0),
            15..=16 => Edit::InspectedNow,
            _ => Edit::Tick(super::form::CHECKLIST[rng.usize(..4)]),
        };
        let same_kind = |e: &Edit| std::mem::discriminant(e) == std::mem::discriminant(&edit);
        if !out.iter().any(same_kind) {
            out.push(edit);
        }
    }
    out
}

fn fate(rng: &mut fastrand::Rng) -> Fate {
    let draw = rng.f64();
    if draw < ANSWER_LOST {
        Fate::AnswerLost
    } else if draw < ANSWER_LOST + RESENT_AFTER_RESTART {
        Fate::Restarted
    } else {
        Fate::Answered
    }
}

fn plan_day(
    day: usize,
    date: Date,
    technicians: &[Technician],
    sites: &mut Vec<&'static str>,
    rng: &mut fastrand::Rng,
    acts: &mut Vec<Timed>,
) -> Result<(), String> {
    let utc = TimeZone::UTC;
    let morning_sites = sites.clone();
    let mut push = |at: i64, act: Act| acts.push(Timed { at, act });
    // The office's inspections, each for one technician, some for a second one too.
    let office = local(date, &utc, 1, 0)?;
    let mut crews: Vec<(String, Vec<usize>)> = Vec::new();
    for (t, _) in technicians.iter().enumerate() {
        for k in 0..RECORDS_A_TECHNICIAN {
            let record = format!("INS-{}{t:03}{k}", day + 1);
            let site = morning_sites[rng.usize(..morning_sites.len())];
            push(
                office + crews.len() as i64 * 1000,
                Act::Office {
                    record: record.clone(),
                    site,
                },
            );
            let mut crew = vec![t];
            if technicians.len() > 1 && rng.f64() < TEAM_SHARE {
                let other = (t + 1 + rng.usize(..technicians.len() - 1)) % technicians.len();
                crew.push(other);
            }
            crews.push((record, crew));
        }
    }
    for (t, tech) in technicians.iter().enumerate() {
        let start = local(date, &tech.zone, 7, 30)? + rng.i64(0..30) * MINUTE;
        let lunch = local(date, &tech.zone, 12, 0)?;
        let end = local(date, &tech.zone, 16, 30)?;
        let mine: Vec<&String> = crews
            .iter()
            .filter(|(_, crew)| crew.contains(&t))
            .map(|(record, _)| record)
            .collect();
        for (i, record) in mine.iter().enumerate() {
            push(
                start + i as i64 * 1000,
                Act::Load {
                    tech: t,
                    record: (*record).clone(),
                },
            );
            let at = rng.i64(start + MINUTE..end - 60 * MINUTE);
            let count = rng.usize(1..=3);
            push(
                at,
                Act::Save {
                    tech: t,
                    record: (*record).clone(),
                    edits: edits(rng, count),
                    invalid: rng.f64() < INVALID,
                    fate: fate(rng),
                },
            );
            if rng.f64() < SAVED_TWICE {
                let count = rng.usize(1..=2);
                push(
                    at + rng.i64(10..50) * MINUTE,
                    Act::Save {
                        tech: t,
                        record: (*record).clone(),
                        edits: edits(rng, count),
                        invalid: false,
                        fate: fate(rng),
                    },
                );
            }
            if rng.f64() < OWN_WEB_EDIT {
                push(
                    rng.i64(start..end),
                    Act::WebEdit {
                        user: tech.name.clone(),
                        record: (*record).clone(),
                        edits: edits(rng, 1),
                    },
                );
            }
        }
        if rng.bool() {
            let count = rng.usize(1..=3);
            push(
                rng.i64(start..lunch),
                Act::Create {
                    tech: t,
                    record: format!("INS-{}{t:03}N", day + 1),
                    site: morning_sites[rng.usize(..morning_sites.len())],
                    edits: edits(rng, count),
                    fate: match fate(rng) {
                        Fate::Restarted => Fate::AnswerLost,
                        other => other,
                    },
                },
            );
        }
        for at in [lunch, end] {
            let reversed = rng.f64() < REVERSED_QUEUE;
            push(at, Act::Reconnect { tech: t, reversed });
        }
    }
    let office_hours = local(date, &utc, 8, 0)?..local(date, &utc, 17, 0)?;
    for _ in 0..technicians.len() {
        let (record, _) = &crews[rng.usize(..crews.len())];
        let count = rng.usize(1..=2);
        push(
            rng.i64(office_hours.clone()),
            Act::WebEdit {
                user: SUPERVISORS[rng.usize(..SUPERVISORS.len())].to_string(),
                record: record.clone(),
                edits: edits(rng, count),
            },
        );
    }
    let (record, _) = &crews[rng.usize(..crews.len())];
    push(
        local(date, &utc, 9, 0)? + rng.i64(0..360) * MINUTE,
        Act::Delete {
            user: SUPERVISORS[0].to_string(),
            record: record.clone(),
        },
    );
    if sites.len() > 1 {
        let site = sites.remove(rng.usize(..sites.len()));
        push(local(date, &utc, 12, 0)?, Act::RemoveSite { site });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(seed: u64) -> Settings {
        Settings {
            technicians: 8,
            days: 2,
            seed,
        }
    }

    #[test]
    fn one_seed_gives_one_plan_and_another_seed_another() {
        let a = plan(settings(7)).unwrap();
        assert_eq!(a.acts, plan(settings(7)).unwrap().acts);
        assert_ne!(a.acts, plan(settings(8)).unwrap().acts);
        assert!(a.acts.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn the_plan_has_every_kind_of_day_event() {
        let p = plan(Settings {
            technicians: 12,
            days: 2,
            seed: 1,
        })
        .unwrap();
        let count = |f: &dyn Fn(&Act) -> bool| p.acts.iter().filter(|t| f(&t.act)).count();
        assert_eq!(count(&|a| matches!(a, Act::Office { .. })), 2 * 12 * 4);
        assert_eq!(count(&|a| matches!(a, Act::Reconnect { .. })), 2 * 12 * 2);
        assert_eq!(count(&|a| matches!(a, Act::RemoveSite { .. })), 2);
        assert!(
            count(&|a| matches!(
                a,
                Act::Save {
                    fate: Fate::AnswerLost,
                    ..
                }
            )) > 0
        );
        assert!(
            count(&|a| matches!(
                a,
                Act::Save {
                    fate: Fate::Restarted,
                    ..
                }
            )) > 0
        );
        assert!(count(&|a| matches!(a, Act::Create { .. })) > 0);
        assert!(count(&|a| matches!(a, Act::WebEdit { user, .. } if user == "ana")) > 0);
        // Every save comes after its technician loaded the form.
        for (i, t) in p.acts.iter().enumerate() {
            if let Act::Save { tech, record, .. } = &t.act {
                let loaded = p.acts[..i].iter().any(
                    |l| matches!(&l.act, Act::Load { tech: lt, record: lr } if lt == tech && lr == record),
                );
                assert!(loaded, "save of {record} before its load");
            }
        }
    }

    #[test]
    fn the_first_days_are_the_dst_changes_and_a_tablet_clock_follows_its_zone() {
        let d = dates(3);
        assert_eq!(d[0].to_string(), "2026-03-29");
        assert_eq!(d[1].to_string(), "2026-11-01");
        assert_eq!(d[2].to_string(), "2026-11-02");
        let berlin = Technician {
            name: "ana".into(),
            device: "tab-ana".into(),
            zone: TimeZone::get("Europe/Berlin").unwrap(),
            clock_in_wrong_zone: false,
            drift_ms: 0,
        };
        // Before and after 01:00 UTC on 2026-03-29 Berlin moves from +01:00 to +02:00.
        let before: jiff::Timestamp = "2026-03-29T00:30:00Z".parse().unwrap();
        let after: jiff::Timestamp = "2026-03-29T01:30:00Z".parse().unwrap();
        assert_eq!(
            berlin.clock(before.as_millisecond()).1,
            "2026-03-29T01:30:00+01:00"
        );
        assert_eq!(
            berlin.clock(after.as_millisecond()).1,
            "2026-03-29T03:30:00+02:00"
        );
        let wrong = Technician {
            clock_in_wrong_zone: true,
            ..berlin
        };
        let (believed, text) = wrong.clock(after.as_millisecond());
        assert_eq!(text, "2026-03-29T03:30:00Z");
        assert_eq!(believed - after.as_millisecond(), 2 * 3_600_000);
    }
}
