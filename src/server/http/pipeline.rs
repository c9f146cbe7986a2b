//! The idempotent-write pipeline: a request's fingerprint, the answer remembered under
//! its key (or a new one), the write decided and stored in one transaction.

use super::*;

/// A submission to park whole, and the answer it gets.
pub(super) fn park(
    kind: ParkKind,
    paths: Vec<String>,
    base_version: Option<Version>,
    local: &Object,
    current: Option<StoredVersion<'static>>,
) -> (Outcome, Effect) {
    let effect = Effect::Park {
        kind,
        base_version: base_version.map(Version::get),
        local: local.clone().into_owned(),
        paths: paths.clone(),
    };
    (Outcome::Park(kind, paths, current), effect)
}

/// For `?dry_run=true`: the same decision, nothing stored (section 5's pre-sync check).
pub(super) fn dry_run_of(
    dry_run: bool,
    decide: impl FnOnce(&Known) -> (Outcome, Effect),
) -> impl FnOnce(&Known) -> (Outcome, Effect) {
    move |known| {
        let (outcome, effect) = decide(known);
        if !dry_run {
            return (outcome, effect);
        }
        let outcome = match (outcome, effect) {
            (Outcome::Merged(report), Effect::Append { fields, .. }) => {
                Outcome::WouldApply(report, fields)
            }
            (Outcome::Created, Effect::Append { fields, .. }) => {
                Outcome::WouldApply(Report::default(), fields)
            }
            (Outcome::Park(kind, paths, current), _) => Outcome::WouldPark(kind, paths, current),
            (outcome, _) => outcome,
        };
        (outcome, Effect::Nothing)
    }
}

/// Stores a decided write and its answer, under its idempotency key, in one transaction.
pub(super) fn written(
    store: &mut impl Store,
    key: RecordKey,
    from: Option<Version>,
    author: &Author,
    now: UtcMillis,
    remember: Option<Remember>,
    decide: impl FnOnce(&Known) -> (Outcome, Effect),
) -> Answer {
    let mut reply = None;
    let respond = |outcome: &Outcome, stored: &Stored| {
        let made = outcome.reply(key.record_type, key.id, stored);
        let text = made.remembered_text();
        reply = Some(made);
        text
    };
    let (mut outcome, stored) = store
        .write(key, from, author, now, remember, decide, respond)
        .map_err(|e| Problem::internal(&e))?;
    // Without a key to remember under, the store asks for no answer: make it here.
    let mut reply = reply.unwrap_or_else(|| outcome.reply(key.record_type, key.id, &stored));
    reply.outcome = Some(outcome.name());
    if let Outcome::Merged(report) = &outcome {
        reply.merged = Some((report.auto_merged.clone(), report.kept_server.clone()));
    }
    // The version a record answer shows goes with it; its body is made where it is sent.
    let shown = match (stored, &mut outcome) {
        (Stored::Version(v), _) => Some(v),
        (_, Outcome::Current(v, _)) => v.take().map(Arc::new),
        _ => None,
    };
    if let Some(version) = shown {
        reply.show(version);
    }
    Ok(reply)
}

/// A write as idempotency knows it (section 4): who sent it, under which key, and the
/// fingerprint of what it asks. Made beside the other requests; looked up on the writer.
pub(super) struct Idempotent {
    pub(super) user: User,
    /// `None` for a dry run: neither looked up nor remembered.
    key: Option<String>,
    fingerprint: [u8; 32],
}

/// What the key says: answer as before, or go on and remember the answer (if any key).
pub(super) enum Remembering<'a> {
    Replay(Reply),
    New(Option<Remember<'a>>),
}

impl Idempotent {
    /// The write's key (400 without one, unless `dry_run`) and fingerprint.
    pub(super) fn of(
        user: User,
        headers: &HeaderMap,
        dry_run: bool,
        request: (&str, &str),
        body: &[u8],
        if_match: Option<IfMatch>,
    ) -> Result<Self, Problem> {
        let key = if dry_run {
            None
        } else {
            Some(idempotency_key(headers)?)
        };
        let (method, path) = request;
        Ok(Self {
            user,
            key,
            fingerprint: fingerprint(method, path, body, if_match),
        })
    }

    /// The record write this request makes after its key's look-up, announced to the
    /// writer (see `Job`): none without a key (a dry run looks nothing up).
    pub(super) fn announce(
        &self,
        config: &Config,
        now: UtcMillis,
        write: &WriteAhead,
    ) -> Option<Announced> {
        let key = self.key.as_ref()?;
        Some(Announced {
            user: self.user.name.clone(),
            key: key.clone(),
            oldest_kept: crate::store::oldest_kept(now, config.idempotency_ttl_hours),
            write: OwnedWriteAhead::of(write),
        })
    }

    /// On the writer: the same request again gets the stored answer; another request
    /// under the same key 422; a new one goes on, its answer to be remembered.
    /// `ahead`: the record write that follows if the key is new (a store may read for it
    /// in the same trip).
    pub(super) fn look_up(
        &self,
        config: &Config,
        store: &impl Store,
        now: UtcMillis,
        ahead: Option<WriteAhead>,
    ) -> Result<Remembering<'_>, Problem> {
        let Some(key) = &self.key else {
            return Ok(Remembering::New(None));
        };
        let ttl_hours = config.idempotency_ttl_hours;
        let user = &self.user.name;
        let found = match ahead {
            Some(write) => store.remembered_before_write(user, key, ttl_hours, now, &write)?,
            None => store.remembered(user, key, ttl_hours, now)?,
        };
        match found {
            None => Ok(Remembering::New(Some(Remember {
                user: &self.user.name,
                key,
                fingerprint: self.fingerprint,
                ttl_hours,
            }))),
            Some(found) if found.fingerprint == self.fingerprint => {
                let reply: Reply =
                    serde_json::from_str(&found.answer).map_err(|e| Problem::internal(&e))?;
                Ok(Remembering::Replay(Reply {
                    replayed: true,
                    ..reply.restored(store)?
                }))
            }
            Some(_) => Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reuse",
                "Idempotency-Key reused",
                "this key was used for another request",
            )),
        }
    }
}

/// SHA-256 of the method, the path, `If-Match` and the body's canonical JSON (parsed, keys
/// sorted): whitespace and key order are no difference.
pub(super) fn fingerprint(
    method: &str,
    path: &str,
    body: &[u8],
    if_match: Option<IfMatch>,
) -> [u8; 32] {
    // The precondition in words of our own: a Debug string may change with a dependency,
    // and a retry spanning an upgrade would then be refused as key reuse.
    let precondition = match if_match {
        None => String::new(),
        Some(IfMatch::Any) => "*".into(),
        Some(IfMatch::Tag(tag)) => tag.to_string(),
        Some(IfMatch::Unusable) => "unusable".into(),
    };
    let mut hasher = Sha256::new();
    for part in [method, path, &precondition] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    // The canonical text goes straight into the hash, never into a string of its own.
    if let Ok(value) = crate::model::Json::parse_slice(body) {
        use std::fmt::Write;
        let _ = write!(Hashing(&mut hasher), "{value}");
    }
    hasher.update([0]);
    hasher.finalize().into()
}

/// Text written into a hash.
struct Hashing<'h>(&'h mut Sha256);

impl std::fmt::Write for Hashing<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.update(text.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod fingerprint_tests {
    use super::*;

    #[test]
    fn the_fingerprint_names_the_precondition_in_our_own_words() {
        let tag: Etag = "\"3-2026-11-20T10:00:00.000Z\"".parse().unwrap();
        let mut expected = Sha256::new();
        for part in ["DELETE", "/v1/t/1", "\"3-2026-11-20T10:00:00.000Z\"", ""] {
            expected.update(part.as_bytes());
            expected.update([0]);
        }
        let expected: [u8; 32] = expected.finalize().into();
        assert_eq!(
            fingerprint("DELETE", "/v1/t/1", b"", Some(IfMatch::Tag(tag))),
            expected
        );
    }

    #[test]
    fn the_fingerprint_hashes_the_body_as_canonical_json() {
        let body = br#"{ "fields": {"b": 1, "a": "x"}, "base_version": 2 }"#;
        let canonical = crate::model::Json::parse_slice(body).unwrap().to_string();
        assert_eq!(canonical, r#"{"base_version":2,"fields":{"a":"x","b":1}}"#);
        let mut expected = Sha256::new();
        for part in ["PUT", "/v1/t/1", "", &canonical] {
            expected.update(part.as_bytes());
            expected.update([0]);
        }
        let expected: [u8; 32] = expected.finalize().into();
        assert_eq!(fingerprint("PUT", "/v1/t/1", body, None), expected);
        let reordered = br#"{"base_version":2,"fields":{"a":"x","b":1}}"#;
        assert_eq!(fingerprint("PUT", "/v1/t/1", reordered, None), expected);
    }
}
