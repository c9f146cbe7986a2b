//! The desk's live queue through `update`: changes heard from the server move the list,
//! claims show who is on what, and opening another's conflict asks first.

mod fixture;

use fixture::{app, app_with_desk, desk_of, detail_json, summary};
use syncdesk::client::{ClaimAnswer, QueueEvent};
use syncdesk::model::UtcMillis;
use syncdesk::protocol::{ClaimInfo, ConflictSummary, QueueEventKind};
use syncdesk::tui::app::{App, Overlay, Screen};
use syncdesk::tui::effect::Effect;
use syncdesk::tui::update::update;
use syncdesk::tui::{Action, Command};

fn event(id: u64, kind: QueueEventKind, summary: ConflictSummary) -> Action {
    Action::QueueEvent(Box::new(QueueEvent { id, kind, summary }))
}

fn new_conflict(id: &str, record: &str) -> ConflictSummary {
    summary(&detail_json(id, record, "2026-11-20T17:30:00.000Z"))
}

fn claimed(mut summary: ConflictSummary, by: &str, until: &str) -> ConflictSummary {
    summary.claimed_by = Some(by.into());
    summary.claimed_until = Some(until.parse().unwrap());
    summary
}

fn shown(app: &App) -> Vec<String> {
    app.queue
        .visible
        .iter()
        .map(|&i| app.queue.items[i].id.clone())
        .collect()
}

fn message(app: &App) -> String {
    app.message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

#[test]
fn a_conflict_opened_elsewhere_joins_the_list_with_a_notice_and_the_selection_stays() {
    let mut app = app();
    update(&mut app, Action::Command(Command::Down));
    let before = app.queue.selected_item().unwrap().id.clone();
    update(
        &mut app,
        event(
            9,
            QueueEventKind::ConflictOpened,
            new_conflict("c-000009", "INS-1009"),
        ),
    );
    assert_eq!(shown(&app).len(), 4);
    assert!(shown(&app).contains(&"c-000009".to_string()));
    assert_eq!(app.queue.selected_item().unwrap().id, before);
    assert!(
        message(&app).contains("New: c-000009") && message(&app).contains("INS-1009"),
        "{}",
        message(&app)
    );
}

#[test]
fn a_conflict_resolved_elsewhere_leaves_the_open_list_saying_by_whom() {
    let mut app = app();
    let mut resolved = app
        .queue
        .items
        .iter()
        .find(|c| c.id == "c-000002")
        .unwrap()
        .clone();
    resolved.status = syncdesk::protocol::Status::Resolved;
    resolved.resolution = Some(syncdesk::protocol::ResolutionInfo {
        by: "tom".into(),
        at: "2026-11-20T17:59:00.000Z".parse().unwrap(),
        resulting_version: Some(4),
        kept_deleted: false,
        choices: Default::default(),
        fields: Vec::new(),
    });
    update(
        &mut app,
        event(10, QueueEventKind::ConflictResolved, resolved),
    );
    assert_eq!(shown(&app), ["c-000001", "c-000003"]);
    assert_eq!(message(&app), "c-000002 resolved by tom.");
}

#[test]
fn a_claim_the_desks_clock_thinks_ran_out_still_asks_the_server_decides() {
    let mut app = app();
    // The desk's clock is 18:00; the server's own clock said the claim lives.
    let held = claimed(
        app.queue.items[1].clone(),
        "tom",
        "2026-11-20T17:59:00.000Z",
    );
    update(&mut app, event(11, QueueEventKind::ConflictClaimed, held));
    assert!(update(&mut app, Action::Command(Command::Open)).is_empty());
    assert!(matches!(app.overlay, Some(Overlay::ClaimedOpen { .. })));
}

#[test]
fn a_claim_shows_who_is_on_it_and_opening_it_asks_first() {
    let mut app = app();
    let held = claimed(
        app.queue.items[1].clone(),
        "tom",
        "2026-11-20T18:02:00.000Z",
    );
    assert_eq!(held.id, "c-000001");
    update(&mut app, event(11, QueueEventKind::ConflictClaimed, held));
    let effects = update(&mut app, Action::Command(Command::Open));
    assert!(
        effects.is_empty(),
        "nothing fetched before the supervisor says so"
    );
    match &app.overlay {
        Some(Overlay::ClaimedOpen { id, by, until }) => {
            assert_eq!(
                (id.as_str(), by.as_str(), until.as_str()),
                ("c-000001", "tom", "18:02")
            );
        }
        other => panic!("no question: {other:?}"),
    }
    let effects = update(&mut app, Action::Command(Command::Confirm));
    assert_eq!(
        effects,
        [Effect::LoadConflict {
            id: "c-000001".into()
        }]
    );
    // Any other key leaves it to them.
    let mut app2 = self::app();
    let held = claimed(
        app2.queue.items[1].clone(),
        "tom",
        "2026-11-20T18:02:00.000Z",
    );
    update(&mut app2, event(11, QueueEventKind::ConflictClaimed, held));
    update(&mut app2, Action::Command(Command::Open));
    assert!(update(&mut app2, Action::Command(Command::Close)).is_empty());
    assert!(app2.overlay.is_none());
}

#[test]
fn a_released_claim_or_ones_own_opens_without_asking() {
    let mut app = app();
    let held = claimed(
        app.queue.items[1].clone(),
        "tom",
        "2026-11-20T18:02:00.000Z",
    );
    update(&mut app, event(11, QueueEventKind::ConflictClaimed, held));
    let mut released = app.queue.items[1].clone();
    (released.claimed_by, released.claimed_until) = (None, None);
    update(
        &mut app,
        event(12, QueueEventKind::ConflictReleased, released),
    );
    assert_eq!(
        update(&mut app, Action::Command(Command::Open)),
        [Effect::LoadConflict {
            id: "c-000001".into()
        }]
    );
    let mut app = self::app();
    let mine = claimed(
        app.queue.items[1].clone(),
        "sue",
        "2026-11-20T18:02:00.000Z",
    );
    update(&mut app, event(13, QueueEventKind::ConflictClaimed, mine));
    assert_eq!(
        update(&mut app, Action::Command(Command::Open)),
        [Effect::LoadConflict {
            id: "c-000001".into()
        }]
    );
}

#[test]
fn an_opened_conflict_is_claimed_and_leaving_it_releases_the_claim() {
    let mut app = app();
    update(&mut app, Action::Command(Command::Open));
    let desk = desk_of(detail_json(
        "c-000001",
        "INS-1001",
        "2026-11-20T10:00:00.000Z",
    ));
    let effects = update(&mut app, Action::ConflictLoaded(Ok(Box::new(desk))));
    assert_eq!(
        effects,
        [Effect::Claim {
            id: "c-000001".into()
        }]
    );
    assert_eq!(app.screen, Screen::Detail);
    // The server knows this desk as "sue-at-hq": that name counts as "you" from now on.
    let until: UtcMillis = "2026-11-20T18:02:00.000Z".parse().unwrap();
    update(
        &mut app,
        Action::ClaimAnswered {
            conflict_id: "c-000001".into(),
            answer: Ok(ClaimAnswer::Taken(ClaimInfo {
                claimed_by: "sue-at-hq".into(),
                claimed_until: until,
            })),
        },
    );
    assert_eq!(app.live.me.as_deref(), Some("sue-at-hq"));
    let effects = update(&mut app, Action::Command(Command::Back));
    assert_eq!(effects, [Effect::ReleaseClaim]);
}

#[test]
fn another_claiming_the_conflict_on_screen_is_a_warning_naming_them() {
    let mut app = app();
    update(&mut app, Action::Command(Command::Open));
    let desk = desk_of(detail_json(
        "c-000001",
        "INS-1001",
        "2026-11-20T10:00:00.000Z",
    ));
    update(&mut app, Action::ConflictLoaded(Ok(Box::new(desk))));
    update(
        &mut app,
        Action::ClaimAnswered {
            conflict_id: "c-000001".into(),
            answer: Ok(ClaimAnswer::HeldBy(ClaimInfo {
                claimed_by: "tom".into(),
                claimed_until: "2026-11-20T18:01:00.000Z".parse().unwrap(),
            })),
        },
    );
    let warning = app.message.as_ref().unwrap();
    assert!(warning.error);
    assert!(
        warning.text.contains("tom is on c-000001 too") && warning.text.contains("18:01"),
        "{}",
        warning.text
    );
}

#[test]
fn a_read_answered_after_a_change_does_not_undo_it() {
    let mut app = app();
    let effects = update(&mut app, Action::Command(Command::Refresh));
    assert!(matches!(effects[..], [Effect::LoadQueue { .. }]));
    // Heard while the read was on its way; the read itself predates it.
    update(
        &mut app,
        event(
            14,
            QueueEventKind::ConflictOpened,
            new_conflict("c-000014", "INS-1014"),
        ),
    );
    let old_read = app
        .queue
        .items
        .iter()
        .filter(|c| c.id != "c-000014")
        .cloned()
        .collect();
    update(&mut app, Action::QueueLoaded(Ok(old_read)));
    assert!(
        shown(&app).contains(&"c-000014".to_string()),
        "{:?}",
        shown(&app)
    );
}

#[test]
fn unheard_events_read_the_queue_again_quietly() {
    let mut app = app();
    let effects = update(&mut app, Action::QueueStale);
    assert!(matches!(effects[..], [Effect::LoadQueue { all: false }]));
    assert!(app.busy.is_none(), "no spinner for a background read");
}

#[test]
fn an_event_read_after_the_conflict_was_resolved_takes_it_off_the_open_list() {
    let mut app = app();
    // A claim heard late: by the time the event was read, the conflict was resolved.
    let mut late = claimed(
        app.queue.items[1].clone(),
        "tom",
        "2026-11-20T18:02:00.000Z",
    );
    late.status = syncdesk::protocol::Status::Resolved;
    update(&mut app, event(15, QueueEventKind::ConflictClaimed, late));
    assert_eq!(shown(&app), ["c-000002", "c-000003"]);
    // A claim of an open conflict the list missed brings it in.
    let missed = claimed(
        new_conflict("c-000016", "INS-1016"),
        "tom",
        "2026-11-20T18:02:00.000Z",
    );
    update(&mut app, event(16, QueueEventKind::ConflictClaimed, missed));
    assert!(shown(&app).contains(&"c-000016".to_string()));
}

#[test]
fn the_next_conflict_is_the_one_after_as_the_list_stood_when_sent_even_if_its_resolution_was_heard_first()
 {
    let mut app = app_with_desk();
    let effects: Vec<Effect> = [Command::AllLocal, Command::Submit, Command::Confirm]
        .into_iter()
        .flat_map(|c| update(&mut app, Action::Command(c)))
        .collect();
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Submit(_))),
        "{effects:?}"
    );
    // The server's event about this very resolution comes before its answer.
    let mut resolved = app
        .queue
        .items
        .iter()
        .find(|c| c.id == "c-000001")
        .unwrap()
        .clone();
    resolved.status = syncdesk::protocol::Status::Resolved;
    update(
        &mut app,
        event(20, QueueEventKind::ConflictResolved, resolved),
    );
    let effects = update(
        &mut app,
        Action::Submitted {
            conflict_id: "c-000001".into(),
            outcome: Ok(syncdesk::client::SubmitOutcome::Resolved {
                version: Some(8),
                etag: None,
            }),
        },
    );
    assert!(
        effects.contains(&Effect::LoadConflict {
            id: "c-000002".into()
        }),
        "{effects:?}"
    );
}
