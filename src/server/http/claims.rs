//! Advisory claims (section 8a): a supervisor says they are on a conflict, for
//! `CLAIM_TTL`, renewed by claiming again; a resolution is still guarded only by
//! `If-Match`. Claims need no `Idempotency-Key`: claiming twice is renewing.

use super::*;
use crate::store::{Claim, Claimed, Released};

/// How long a claim lives unless renewed.
pub(super) const CLAIM_TTL_MS: i64 = 120_000;

/// `POST /v1/conflicts/{cid}/claim`.
pub(super) async fn claim_conflict(
    State(state): State<Arc<AppState>>,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        let (user, id, now) = claimant(&state, &headers, &cid)?;
        let until = UtcMillis::from_millis(now.as_millis() + CLAIM_TTL_MS)
            .ok_or_else(|| Problem::internal(&"a claim's end is out of range"))?;
        let claimed = blocking(state, move |store| store.claim(id, &user, now, until)).await?;
        match claimed {
            None => Err(Problem::not_found(format!("no conflict {cid:?}"))),
            Some(Claimed::Taken(claim)) => Ok(claim_reply(&claim)),
            Some(Claimed::HeldBy(claim)) => Err(held_by(&claim)),
            Some(Claimed::Closed) => Err(Problem::new(
                StatusCode::CONFLICT,
                "conflict-closed",
                "Already resolved",
                "a resolved conflict takes no claim",
            )),
        }
    })
    .await
}

/// `DELETE /v1/conflicts/{cid}/claim`: releases one's own claim (204 also when there
/// was none).
pub(super) async fn release_conflict(
    State(state): State<Arc<AppState>>,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        let (user, id, now) = claimant(&state, &headers, &cid)?;
        let released = blocking(state, move |store| store.release(id, &user, now)).await?;
        match released {
            None => Err(Problem::not_found(format!("no conflict {cid:?}"))),
            Some(Released::Released | Released::NotHeld) => {
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            Some(Released::HeldBy(claim)) => Err(held_by(&claim)),
        }
    })
    .await
}

/// Who claims (or releases) which conflict, and when.
fn claimant(
    state: &AppState,
    headers: &HeaderMap,
    cid: &str,
) -> Result<(String, ConflictId, UtcMillis), Problem> {
    let user = signed_in(&state.config, headers, Role::Supervisor)?
        .name
        .clone();
    Ok((user, conflict_id(cid)?, state.clock.now()))
}

fn claim_reply(claim: &Claim) -> Response {
    let body = json!({
        "claimed_by": claim.by,
        "claimed_until": claim.until.to_string(),
    });
    (StatusCode::OK, JsonBody(body)).into_response()
}

/// 409 `claimed`: another supervisor is on it, named, until when.
fn held_by(claim: &Claim) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "claimed",
        "Claimed by another supervisor",
        format!("{} is on this conflict until {}", claim.by, claim.until),
    )
    .with("claimed_by", claim.by.clone())
    .with("claimed_until", claim.until.to_string())
}
