//! Runs effects off the UI loop: network on a small tokio runtime, drafts on a thread of
//! their own (in order), each result sent back as an action.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use super::action::Action;
use super::desk::Desk;
use super::drafts::DraftStore;
use super::effect::Effect;
use crate::client::ConflictSource;
use crate::merge::Choices;

enum DraftJob {
    Save(String, Choices),
    Drop(String),
}

/// The effect runner of one desk.
pub struct Runner {
    runtime: tokio::runtime::Runtime,
    source: Arc<ConflictSource>,
    drafts: Option<Arc<DraftStore>>,
    actions: Sender<Action>,
    /// Effects started and not yet answered (tests wait for it to reach zero).
    pending: Arc<AtomicUsize>,
    draft_jobs: Option<Sender<DraftJob>>,
    draft_thread: Option<JoinHandle<()>>,
    /// The conflict this desk claims, and the task renewing the claim.
    claim: Option<(String, tokio::task::JoinHandle<()>)>,
}

/// Entries of the sync log the desk reads at once (newest first).
const SYNCS_SHOWN: usize = 500;

/// A claim lives 120 s on the server: renewed well before.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Without the server's events, the queue is read again this often.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl Runner {
    pub fn new(
        source: ConflictSource,
        drafts: Option<DraftStore>,
        actions: Sender<Action>,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let drafts = drafts.map(Arc::new);
        let (draft_jobs, draft_thread) = match &drafts {
            Some(store) => {
                let (tx, rx) = std::sync::mpsc::channel::<DraftJob>();
                let store = store.clone();
                let errors = actions.clone();
                let thread = std::thread::spawn(move || {
                    for job in rx {
                        let result = match &job {
                            DraftJob::Save(id, choices) => store.save(id, choices),
                            DraftJob::Drop(id) => store.drop_draft(id),
                        };
                        if let Err(e) = result {
                            let _ = errors.send(Action::DraftFailed(e.to_string()));
                        }
                    }
                });
                (Some(tx), Some(thread))
            }
            None => (None, None),
        };
        Ok(Self {
            runtime,
            source: Arc::new(source),
            drafts,
            actions,
            pending: Arc::new(AtomicUsize::new(0)),
            draft_jobs,
            draft_thread,
            claim: None,
        })
    }

    /// Follows the server's queue as it moves: its events become actions; when they
    /// cannot be heard (a server without them, a dropped stream) the desk is told the
    /// queue may be stale every `POLL_EVERY`, and the stream is tried again, resuming
    /// after the last event heard. Not counted as pending: it never ends on its own.
    pub fn watch_queue(&self) {
        let ConflictSource::Server(server) = &*self.source else {
            return;
        };
        let (server, actions) = (server.clone(), self.actions.clone());
        self.runtime.spawn(async move {
            let mut last = None;
            loop {
                match server.events(last).await {
                    Ok(mut stream) => {
                        while let Ok(Some(event)) = stream.next().await {
                            last = Some(event.id);
                            if actions.send(Action::QueueEvent(Box::new(event))).is_err() {
                                return;
                            }
                        }
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    Err(_) => {
                        tokio::time::sleep(POLL_EVERY).await;
                        if actions.send(Action::QueueStale).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }

    /// Claims `id` for this desk and renews the claim until another one or a release;
    /// the claim held before is released.
    fn claim(&mut self, id: String) {
        if self.claim.as_ref().is_some_and(|(held, _)| *held == id) {
            return;
        }
        self.release_claim();
        let ConflictSource::Server(server) = &*self.source else {
            return;
        };
        let (server, actions, claimed) = (server.clone(), self.actions.clone(), id.clone());
        let renewing = self.runtime.spawn(async move {
            loop {
                let answer = server.claim(&claimed).await;
                let keep = matches!(answer, Ok(crate::client::ClaimAnswer::Taken(_)));
                let told = actions.send(Action::ClaimAnswered {
                    conflict_id: claimed.clone(),
                    answer,
                });
                if !keep || told.is_err() {
                    return;
                }
                tokio::time::sleep(RENEW_EVERY).await;
            }
        });
        self.claim = Some((id, renewing));
    }

    /// Stops renewing this desk's claim and releases it.
    fn release_claim(&mut self) {
        let Some((id, renewing)) = self.claim.take() else {
            return;
        };
        renewing.abort();
        if let ConflictSource::Server(server) = &*self.source {
            let server = server.clone();
            self.runtime.spawn(async move {
                let _ = server.release(&id).await;
            });
        }
    }

    /// Whether every started effect has answered.
    pub fn idle(&self) -> bool {
        self.pending.load(Ordering::SeqCst) == 0
    }

    /// Starts an effect; `EditExternally` needs the terminal and is the caller's.
    pub fn start(&mut self, effect: Effect) {
        match effect {
            Effect::LoadQueue { all } => {
                self.spawn(async move |source| Action::QueueLoaded(source.list(all).await))
            }
            Effect::LoadConflict { id } => {
                let drafts = self.drafts.clone();
                self.spawn(async move |source| {
                    let loaded = match source.load(&id).await {
                        Ok(l) => l,
                        Err(e) => return Action::ConflictLoaded(Err((id, e))),
                    };
                    // Merging and diffing a large record is CPU work: off the async worker.
                    let asked = id.clone();
                    let prepared = tokio::task::spawn_blocking(move || {
                        let draft = drafts.and_then(|d| d.load(&id));
                        Box::new(Desk::new(loaded, draft))
                    })
                    .await;
                    match prepared {
                        Ok(desk) => Action::ConflictLoaded(Ok(desk)),
                        Err(e) => Action::ConflictLoaded(Err((
                            asked,
                            crate::client::SourceError::Garbage(e.to_string()),
                        ))),
                    }
                })
            }
            Effect::LoadBulk { ids } => self.spawn(async move |source| {
                let mut read = Vec::with_capacity(ids.len());
                for id in ids {
                    let desk = match source.load(&id).await {
                        Ok(loaded) => Ok(Box::new(Desk::new(loaded, None))),
                        Err(e) => Err(e.to_string()),
                    };
                    read.push((id, desk));
                }
                Action::BulkLoaded(read)
            }),
            Effect::SubmitBulk {
                ids,
                decision,
                user,
            } => self.spawn(async move |source| {
                let mut results = Vec::with_capacity(ids.len());
                for id in ids {
                    let settled = super::bulk::settle(&source, &id, &decision, &user, false)
                        .await
                        .unwrap_or_else(|e| super::bulk::Settled::Invalid(e.to_string()));
                    results.push((id, settled));
                }
                Action::BulkSent(results)
            }),
            Effect::Submit(submission) => self.spawn(async move |source| Action::Submitted {
                conflict_id: submission.conflict_id.clone(),
                outcome: source.submit(&submission).await,
            }),
            Effect::SaveDraft { id, choices } => self.draft(DraftJob::Save(id, choices)),
            Effect::DropDraft { id } => self.draft(DraftJob::Drop(id)),
            Effect::LoadAudit => {
                self.spawn(async move |source| Action::AuditLoaded(source.audit(SYNCS_SHOWN).await))
            }
            Effect::LoadStats => {
                self.spawn(async move |source| Action::StatsLoaded(source.stats().await))
            }
            Effect::LoadHistory { record_type, id } => self.spawn(async move |source| {
                let result = source.versions(&record_type, &id).await;
                Action::HistoryLoaded {
                    record_type,
                    id,
                    result,
                }
            }),
            Effect::LoadSyncs { filters } => self.spawn(async move |source| {
                Action::SyncsLoaded(source.syncs(SYNCS_SHOWN, &filters).await)
            }),
            Effect::Claim { id } => self.claim(id),
            Effect::ReleaseClaim => self.release_claim(),
            Effect::EditExternally { .. } => {}
        }
    }

    fn draft(&self, job: DraftJob) {
        if let Some(jobs) = &self.draft_jobs {
            let _ = jobs.send(job);
        }
    }

    fn spawn<F>(&self, work: impl FnOnce(Arc<ConflictSource>) -> F + Send + 'static)
    where
        F: Future<Output = Action> + Send + 'static,
    {
        let source = self.source.clone();
        let actions = self.actions.clone();
        let pending = self.pending.clone();
        pending.fetch_add(1, Ordering::SeqCst);
        self.runtime.spawn(async move {
            let action = work(source).await;
            let _ = actions.send(action);
            pending.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Waits until every draft asked for is on disk.
    pub fn flush_drafts(&mut self) {
        self.draft_jobs = None;
        if let Some(thread) = self.draft_thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.flush_drafts();
        // The desk goes: its claim goes too, rather than lingering for two minutes.
        if let Some((id, renewing)) = self.claim.take() {
            renewing.abort();
            if let ConflictSource::Server(server) = &*self.source {
                let release = server.release(&id);
                let _ = self.runtime.block_on(async {
                    tokio::time::timeout(std::time::Duration::from_secs(2), release).await
                });
            }
        }
    }
}
