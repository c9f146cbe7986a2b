//! Records, versions, entity tags, UTC time, schemas and validation. No IO.

pub mod etag;
pub mod json;
pub mod pointer;
pub mod read;
pub mod schema;
pub mod text;
pub mod time;
pub mod validate;
pub mod version;

pub use etag::{Etag, EtagError};
pub use json::{Json, Num, Object, Str};
pub use schema::{FieldSpec, FieldType, SameUserOverlap, SchemaError, Schemas, TypeSchema};
pub use time::{TimeError, UtcMillis};
pub use validate::{FieldError, normalize_datetimes, validate};
pub use version::Version;
