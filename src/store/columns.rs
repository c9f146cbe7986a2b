//! The domain's numbers and times as database columns, for both engines: versions and
//! conflict ids as BIGINT/INTEGER (a stored one below 1 is refused as out of range, never
//! wrapped), instants as their RFC 3339 text (ordered as text, read back exactly).

use postgres::types::{FromSql as PgFromSql, IsNull, ToSql as PgToSql, Type, to_sql_checked};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use super::ConflictId;
use crate::model::{UtcMillis, Version};

type PgError = Box<dyn std::error::Error + Sync + Send>;

/// A count or number as a signed column (the store's never reach `i64::MAX`).
pub(crate) fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Numbers stored as a signed integer column, each read back through `from_stored`.
macro_rules! integer_column {
    ($type:ty, $get:expr, $from_stored:expr) => {
        impl ToSql for $type {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(signed($get(self))))
            }
        }

        impl FromSql for $type {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let n = i64::column_result(value)?;
                u64::try_from(n)
                    .ok()
                    .and_then($from_stored)
                    .ok_or(FromSqlError::OutOfRange(n))
            }
        }

        impl PgToSql for $type {
            fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, PgError> {
                PgToSql::to_sql(&signed($get(self)), ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                <i64 as PgToSql>::accepts(ty)
            }

            to_sql_checked!();
        }

        impl<'a> PgFromSql<'a> for $type {
            fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, PgError> {
                let n = i64::from_sql(ty, raw)?;
                u64::try_from(n).ok().and_then($from_stored).ok_or_else(|| {
                    format!("stored {} {n} is out of range", stringify!($type)).into()
                })
            }

            fn accepts(ty: &Type) -> bool {
                <i64 as PgFromSql>::accepts(ty)
            }
        }
    };
}

integer_column!(Version, |v: &Version| v.get(), Version::new);
integer_column!(ConflictId, |c: &ConflictId| c.0, |n| (n > 0)
    .then_some(ConflictId(n)));

impl ToSql for UtcMillis {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for UtcMillis {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e: crate::model::TimeError| FromSqlError::Other(e.to_string().into()))
    }
}

impl PgToSql for UtcMillis {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, PgError> {
        PgToSql::to_sql(&self.to_string(), ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <String as PgToSql>::accepts(ty)
    }

    to_sql_checked!();
}

impl<'a> PgFromSql<'a> for UtcMillis {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, PgError> {
        let text = <&str as PgFromSql>::from_sql(ty, raw)?;
        text.parse()
            .map_err(|e: crate::model::TimeError| e.to_string().into())
    }

    fn accepts(ty: &Type) -> bool {
        <&str as PgFromSql>::accepts(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_times_go_through_sqlite_and_back_and_a_bad_one_is_refused() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        let version = Version::new(7).unwrap();
        let at: UtcMillis = "2026-11-28T05:00:00.123Z".parse().unwrap();
        let (v, t): (Version, UtcMillis) = db
            .query_row("SELECT ?1, ?2", rusqlite::params![version, at], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((v, t), (version, at));
        let zero = db.query_row("SELECT 0", [], |r| r.get::<_, Version>(0));
        assert!(zero.is_err(), "version 0 is not a version");
        let negative = db.query_row("SELECT -3", [], |r| r.get::<_, ConflictId>(0));
        assert!(negative.is_err());
        let garbage = db.query_row("SELECT 'yesterday'", [], |r| r.get::<_, UtcMillis>(0));
        assert!(garbage.is_err());
    }
}
