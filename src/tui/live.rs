//! The queue as it moves: changes heard from the server applied to the list (with a
//! short notice), and this desk's advisory claim. Pure: no IO here.

use super::app::{App, Overlay, Queue};
use super::effect::Effect;
use crate::client::{ClaimAnswer, QueueEvent, SourceError};
use crate::model::UtcMillis;
use crate::protocol::{ConflictSummary, QueueEventKind, Status};
use crate::sanitize::visible;

/// What the desk knows of the live queue.
#[derive(Debug, Default)]
pub struct Live {
    /// Changes heard since the queue was last asked for, in order: a read answered after
    /// them may predate them, so they are applied again on top of it.
    pub since_read: Vec<QueueEvent>,
    /// The name the server knows this desk by, once a claim told it.
    pub me: Option<String>,
}

/// A change heard from the server.
pub(super) fn heard(app: &mut App, event: QueueEvent) -> Vec<Effect> {
    let known = app.queue.items.iter().any(|c| c.id == event.summary.id);
    apply(&mut app.queue, &event);
    let summary = &event.summary;
    let id = visible(&summary.id).into_owned();
    let on_screen = app
        .desk
        .as_ref()
        .is_some_and(|desk| desk.detail.id == summary.id);
    match event.kind {
        QueueEventKind::ConflictOpened if !known && summary.status == Status::Open => {
            app.say(format!(
                "New: {id}, {}/{} ({}), from {}.",
                visible(&summary.record_type),
                visible(&summary.record_id),
                summary.kind.name(),
                visible(&summary.submitted_by)
            ))
        }
        QueueEventKind::ConflictResolved => {
            let by = summary.resolution.as_ref().map(|r| r.by.clone());
            let by_me = by.as_deref().is_some_and(|by| is_me(app, by))
                || app
                    .resolved
                    .iter()
                    .any(|line| line.starts_with(&summary.id));
            let by = visible(by.as_deref().unwrap_or("someone")).into_owned();
            if on_screen && !by_me {
                app.warn(format!(
                    "{by} resolved {id} meanwhile: nothing left to decide here."
                ));
            } else if !by_me {
                app.say(format!("{id} resolved by {by}."));
            }
        }
        QueueEventKind::ConflictClaimed if on_screen => {
            if let Some((by, until)) = claimed_by_other(app, summary) {
                app.warn(format!(
                    "{by} is on {id} too (claimed until {until}): your choices may cross."
                ));
            }
        }
        _ => {}
    }
    app.live.since_read.push(event);
    Vec::new()
}

/// The server's events went unheard for a while: read the queue again, quietly.
pub(super) fn stale(app: &mut App) -> Vec<Effect> {
    if app.busy.is_some() {
        return Vec::new();
    }
    app.live.since_read.clear();
    vec![Effect::LoadQueue {
        all: app.queue.wants_resolved(),
    }]
}

/// A fresh read of the queue, with what was heard since on top.
pub(super) fn read_again(app: &mut App, items: Vec<ConflictSummary>) {
    app.queue.replace(items);
    for event in &app.live.since_read {
        apply(&mut app.queue, event);
    }
}

/// What the server said to this desk's claim.
pub(super) fn claim_answered(
    app: &mut App,
    conflict_id: &str,
    answer: Result<ClaimAnswer, SourceError>,
) -> Vec<Effect> {
    match answer {
        Ok(ClaimAnswer::Taken(claim)) => {
            app.live.me = Some(claim.claimed_by.clone());
            if let Some(item) = app.queue.items.iter_mut().find(|c| c.id == conflict_id) {
                item.claimed_by = Some(claim.claimed_by);
                item.claimed_until = Some(claim.claimed_until);
            }
        }
        Ok(ClaimAnswer::HeldBy(claim)) => {
            let on_screen = app
                .desk
                .as_ref()
                .is_some_and(|desk| desk.detail.id == conflict_id);
            if on_screen {
                app.warn(format!(
                    "{} is on {} too (claimed until {}): your choices may cross.",
                    visible(&claim.claimed_by),
                    visible(conflict_id),
                    clock_time(app, claim.claimed_until)
                ));
            }
        }
        // Resolved meanwhile (its event says so), or a server without claims: claims are
        // advisory, so nothing to nag about.
        Ok(ClaimAnswer::Closed) | Err(_) => {}
    }
    Vec::new()
}

/// Opening `id`: another supervisor's live claim asks first.
pub(super) fn open_guarded(app: &mut App, id: String) -> Option<Overlay> {
    let summary = app.queue.items.iter().find(|c| c.id == id)?;
    let (by, until) = claimed_by_other(app, summary)?;
    Some(Overlay::ClaimedOpen { id, by, until })
}

/// Who else is on a conflict and until when (local time). The server says whether a
/// claim lives (it sends none that has run out), not this desk's clock: the two clocks
/// may disagree by minutes, and a claim lasts two.
pub(super) fn claimed_by_other(app: &App, summary: &ConflictSummary) -> Option<(String, String)> {
    let by = summary.claimed_by.as_deref()?;
    let until = summary.claimed_until?;
    (!is_me(app, by)).then(|| (visible(by).into_owned(), clock_time(app, until)))
}

/// Who is on a conflict, as the server last said: a name, or "you".
pub fn on_it(app: &App, summary: &ConflictSummary) -> Option<String> {
    let by = summary.claimed_by.as_deref()?;
    Some(if is_me(app, by) {
        "you".to_string()
    } else {
        visible(by).into_owned()
    })
}

fn is_me(app: &App, name: &str) -> bool {
    app.live.me.as_deref().unwrap_or(&app.user) == name
}

fn clock_time(app: &App, t: UtcMillis) -> String {
    t.timestamp()
        .to_zoned_datetime(app.tz.clone())
        .strftime("%H:%M")
        .to_string()
}

/// A change applied to the list; the selection stays on the conflict it was on.
pub(super) fn apply(queue: &mut Queue, event: &QueueEvent) {
    let keep = queue.selected_item().map(|c| c.id.clone());
    let summary = &event.summary;
    let at = queue.items.iter().position(|c| c.id == summary.id);
    // The summary is the conflict as it is when the event is read, which may be later
    // than the change itself: its status decides, not the event's name.
    let belongs = queue.has_resolved || summary.status == Status::Open;
    match (at, belongs) {
        (Some(i), true) => queue.items[i] = summary.clone(),
        (Some(i), false) => {
            queue.items.remove(i);
        }
        (None, true) => queue.items.push(summary.clone()),
        (None, false) => {}
    }
    queue.refilter();
    if let Some(id) = keep {
        queue.select(&id);
    }
    queue.selected = queue.selected.min(queue.visible.len().saturating_sub(1));
    debug_assert!(
        queue
            .items
            .iter()
            .all(|c| c.status == Status::Open || queue.has_resolved)
    );
}
