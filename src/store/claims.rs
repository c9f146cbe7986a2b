//! The rules of advisory claims (section 8a), shared by both engines: a live claim of
//! another supervisor holds a conflict; one's own is renewed; a closed conflict takes none.

use super::{Claim, ConflictRow};
use crate::model::UtcMillis;

/// What a claim came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Claimed {
    /// Taken or renewed.
    Taken(Claim),
    /// Another supervisor holds a live claim.
    HeldBy(Claim),
    /// The conflict is resolved: nothing to claim.
    Closed,
}

/// What a release came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Released {
    /// One's own claim is gone.
    Released,
    /// No live claim of anyone's: nothing to do.
    NotHeld,
    /// Another supervisor's live claim, which is not one's to release.
    HeldBy(Claim),
}

/// Whether `user` may claim the conflict now (`Ok`), or why not.
pub(crate) fn may_claim(row: &ConflictRow, user: &str, now: UtcMillis) -> Result<(), Claimed> {
    if !row.open {
        return Err(Claimed::Closed);
    }
    match &row.claim {
        Some(claim) if claim.live_at(now) && claim.by != user => {
            Err(Claimed::HeldBy(claim.clone()))
        }
        _ => Ok(()),
    }
}

/// Whether `user` releases a claim now (`Ok(true)`), has none to release (`Ok(false)`),
/// or may not (another's live claim).
pub(crate) fn may_release(row: &ConflictRow, user: &str, now: UtcMillis) -> Result<bool, Released> {
    match &row.claim {
        Some(claim) if claim.live_at(now) && claim.by != user => {
            Err(Released::HeldBy(claim.clone()))
        }
        Some(claim) if claim.live_at(now) => Ok(true),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ConflictId;

    fn row(open: bool, claim: Option<(&str, i64)>) -> ConflictRow {
        ConflictRow {
            id: ConflictId(1),
            open,
            kind: crate::protocol::ParkKind::EditConflict,
            record_type: "t".into(),
            record_id: "1".into(),
            submitted_by: "ana".into(),
            device_id: None,
            captured_at: None,
            received_at: at(0),
            base_version: None,
            local: Default::default(),
            paths: vec![],
            resolution: None,
            claim: claim.map(|(by, until)| Claim {
                by: by.into(),
                until: at(until),
            }),
        }
    }

    fn at(seconds: i64) -> UtcMillis {
        UtcMillis::from_millis(1_800_000_000_000 + seconds * 1000).unwrap()
    }

    #[test]
    fn a_live_claim_of_another_holds_and_an_expired_one_does_not() {
        let held = row(true, Some(("ben", 120)));
        assert_eq!(
            may_claim(&held, "sue", at(60)),
            Err(Claimed::HeldBy(Claim {
                by: "ben".into(),
                until: at(120)
            }))
        );
        assert_eq!(
            may_claim(&held, "sue", at(120)),
            Ok(()),
            "expired at its time"
        );
        assert_eq!(
            may_claim(&held, "ben", at(60)),
            Ok(()),
            "one's own: renewed"
        );
        assert_eq!(may_claim(&row(true, None), "sue", at(0)), Ok(()));
    }

    #[test]
    fn a_closed_conflict_takes_no_claim() {
        assert_eq!(
            may_claim(&row(false, None), "sue", at(0)),
            Err(Claimed::Closed)
        );
    }

    #[test]
    fn only_ones_own_live_claim_is_released() {
        let held = row(true, Some(("ben", 120)));
        assert_eq!(may_release(&held, "ben", at(60)), Ok(true));
        assert!(matches!(
            may_release(&held, "sue", at(60)),
            Err(Released::HeldBy(_))
        ));
        assert_eq!(
            may_release(&held, "sue", at(121)),
            Ok(false),
            "expired: nothing held"
        );
        assert_eq!(may_release(&row(true, None), "sue", at(0)), Ok(false));
    }
}
