//! Record type schemas, read from the `[types.*]` tables of a TOML configuration.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

/// What a field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    String,
    Text,
    Number,
    Integer,
    Boolean,
    Datetime,
    Enum {
        values: Vec<String>,
    },
    Reference {
        list: String,
    },
    /// A list; with `key` its items are objects merged one by one by that member.
    List {
        key: Option<String>,
    },
    Object,
}

impl FieldType {
    /// The name used in configuration files and messages.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::Datetime => "datetime",
            FieldType::Enum { .. } => "enum",
            FieldType::Reference { .. } => "reference",
            FieldType::List { .. } => "list",
            FieldType::Object => "object",
        }
    }
}

/// One declared field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub kind: FieldType,
    pub required: bool,
}

/// What happens when the same user edited a path on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SameUserOverlap {
    #[default]
    Conflict,
    LocalWins,
}

/// The schema of one record type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSchema {
    pub name: String,
    pub schema_version: u32,
    pub same_user_overlap: SameUserOverlap,
    pub fields: BTreeMap<String, FieldSpec>,
}

/// A configuration fault, with the place in the file when it is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", place.map(|(l, c)| format!("line {l}, column {c}: ")).unwrap_or_default())]
pub struct SchemaError {
    /// 1-based line and column.
    pub place: Option<(usize, usize)>,
    pub message: String,
}

/// All record types of a configuration, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schemas(pub BTreeMap<String, TypeSchema>);

impl Schemas {
    /// Reads the `[types.*]` tables of a TOML document; other keys are left to their owners.
    pub fn from_toml(text: &str) -> Result<Self, SchemaError> {
        #[derive(Deserialize)]
        struct Document {
            #[serde(default)]
            types: BTreeMap<String, Spanned<RawType>>,
        }
        let doc: Document = toml::from_str(text).map_err(|e| SchemaError {
            place: e.span().map(|s| line_column(text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        let mut types = BTreeMap::new();
        for (name, raw) in doc.types {
            let schema = raw
                .get_ref()
                .clone()
                .into_schema(&name)
                .map_err(|(span, message)| SchemaError {
                    place: Some(line_column(text, span.unwrap_or(raw.span()).start)),
                    message,
                })?;
            types.insert(name, schema);
        }
        Ok(Self(types))
    }

    pub fn get(&self, name: &str) -> Option<&TypeSchema> {
        self.0.get(name)
    }
}

impl TypeSchema {
    /// Reads the body of `GET /v1/schema/{type}` (the same fields as the TOML form).
    pub fn from_json(text: &str) -> Result<Self, SchemaError> {
        #[derive(Deserialize)]
        struct Body {
            #[serde(rename = "type")]
            name: String,
            schema_version: u32,
            #[serde(default)]
            same_user_overlap: SameUserOverlap,
            #[serde(default)]
            fields: BTreeMap<String, RawField>,
        }
        let fault = |message: String| SchemaError {
            place: None,
            message,
        };
        let body: Body = serde_json::from_str(text).map_err(|e| fault(e.to_string()))?;
        let mut fields = BTreeMap::new();
        for (name, raw) in body.fields {
            let spec = raw
                .into_spec()
                .map_err(|m| fault(format!("fields.{name}: {m}")))?;
            fields.insert(name, spec);
        }
        Ok(Self {
            name: body.name,
            schema_version: body.schema_version,
            same_user_overlap: body.same_user_overlap,
            fields,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    schema_version: Option<u32>,
    #[serde(default)]
    same_user_overlap: SameUserOverlap,
    #[serde(default)]
    fields: BTreeMap<String, Spanned<RawField>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    #[serde(rename = "type")]
    kind: String,
    values: Option<Vec<String>>,
    list: Option<String>,
    key: Option<String>,
    #[serde(default)]
    required: bool,
}

type Fault = (Option<Range<usize>>, String);

impl RawType {
    fn into_schema(self, name: &str) -> Result<TypeSchema, Fault> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err((
                None,
                format!("type name {name:?} may hold only letters, digits, '_' and '-'"),
            ));
        }
        if ["master", "conflicts", "schema"].contains(&name) {
            return Err((
                None,
                format!("type name {name:?} is taken by the API (/v1/{name})"),
            ));
        }
        if self.schema_version == Some(0) {
            return Err((None, format!("types.{name}: schema_version starts at 1")));
        }
        let mut fields = BTreeMap::new();
        for (field, raw) in self.fields {
            let span = raw.span();
            let spec = raw
                .into_inner()
                .into_spec()
                .map_err(|m| (Some(span), format!("types.{name}.fields.{field}: {m}")))?;
            fields.insert(field, spec);
        }
        Ok(TypeSchema {
            name: name.to_string(),
            schema_version: self.schema_version.unwrap_or(1),
            same_user_overlap: self.same_user_overlap,
            fields,
        })
    }
}

impl RawField {
    fn into_spec(self) -> Result<FieldSpec, String> {
        let only = |what: &str, allowed: &str| {
            format!("'{what}' belongs only to fields of type {allowed}")
        };
        if self.values.is_some() && self.kind != "enum" {
            return Err(only("values", "enum"));
        }
        if self.list.is_some() && self.kind != "reference" {
            return Err(only("list", "reference"));
        }
        if self.key.is_some() && self.kind != "list" {
            return Err(only("key", "list"));
        }
        let kind = match self.kind.as_str() {
            "string" => FieldType::String,
            "text" => FieldType::Text,
            "number" => FieldType::Number,
            "integer" => FieldType::Integer,
            "boolean" => FieldType::Boolean,
            "datetime" => FieldType::Datetime,
            "object" => FieldType::Object,
            "enum" => match self.values {
                Some(values) if !values.is_empty() => FieldType::Enum { values },
                _ => return Err("an enum needs a non-empty 'values' list".into()),
            },
            "reference" => match self.list {
                Some(list) if !list.is_empty() => FieldType::Reference { list },
                _ => return Err("a reference needs 'list', the master-data list it names".into()),
            },
            "list" => match self.key {
                Some(key) if key.is_empty() => return Err("'key' must name a member".into()),
                key => FieldType::List { key },
            },
            other => {
                return Err(format!(
                    "unknown type {other:?} (expected string, text, number, integer, boolean, \
                     datetime, enum, reference, list or object)"
                ));
            }
        };
        Ok(FieldSpec {
            kind,
            required: self.required,
        })
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSPECTIONS: &str = r#"
listen = "127.0.0.1:8080"

[types.inspections]
schema_version = 3
same_user_overlap = "local-wins"
[types.inspections.fields]
site_id      = { type = "reference", list = "sites", required = true }
status       = { type = "enum", values = ["open", "passed", "failed"] }
notes        = { type = "text" }
temperature  = { type = "number" }
inspected_at = { type = "datetime" }
checklist    = { type = "list", key = "id" }
"#;

    #[test]
    fn reads_the_types_of_a_configuration() {
        let schemas = Schemas::from_toml(INSPECTIONS).unwrap();
        let t = schemas.get("inspections").unwrap();
        assert_eq!(t.schema_version, 3);
        assert_eq!(t.same_user_overlap, SameUserOverlap::LocalWins);
        assert_eq!(
            t.fields["site_id"],
            FieldSpec {
                kind: FieldType::Reference {
                    list: "sites".into()
                },
                required: true
            }
        );
        assert_eq!(
            t.fields["checklist"].kind,
            FieldType::List {
                key: Some("id".into())
            }
        );
        assert_eq!(t.fields["inspected_at"].kind, FieldType::Datetime);
        assert!(!t.fields["notes"].required);
    }

    #[test]
    fn defaults_are_version_one_and_conflict() {
        let schemas = Schemas::from_toml("[types.t.fields]\na = { type = \"string\" }").unwrap();
        let t = schemas.get("t").unwrap();
        assert_eq!(t.schema_version, 1);
        assert_eq!(t.same_user_overlap, SameUserOverlap::Conflict);
    }

    fn fault(text: &str) -> SchemaError {
        Schemas::from_toml(text).unwrap_err()
    }

    #[test]
    fn unknown_field_type_names_the_field_and_line() {
        let err = fault("[types.t.fields]\na = { type = \"string\" }\nb = { type = \"strnig\" }\n");
        assert_eq!(err.place, Some((3, 5)));
        assert!(err.message.contains("types.t.fields.b"), "{err}");
        assert!(err.message.contains("\"strnig\""), "{err}");
    }

    #[test]
    fn enum_without_values_and_reference_without_list_are_refused() {
        assert!(
            fault("[types.t.fields]\ns = { type = \"enum\" }")
                .message
                .contains("values")
        );
        assert!(
            fault("[types.t.fields]\ns = { type = \"reference\" }")
                .message
                .contains("list")
        );
        assert!(
            fault("[types.t.fields]\ns = { type = \"text\", key = \"id\" }")
                .message
                .contains("'key'")
        );
    }

    #[test]
    fn misspelt_option_and_broken_toml_are_refused_with_a_place() {
        let err = fault("[types.t.fields]\ns = { type = \"text\", requird = true }");
        assert!(err.message.contains("requird"), "{err}");
        assert!(err.place.is_some());
        let err = fault("[types.t.fields\n");
        assert_eq!(err.place.map(|p| p.0), Some(1));
        let err = fault("[types.t]\nsame_user_overlap = \"server-wins\"\n");
        assert!(err.message.contains("server-wins"), "{err}");
        assert_eq!(err.place.map(|p| p.0), Some(2));
    }

    #[test]
    fn bad_type_names_are_refused() {
        assert!(
            fault("[types.\"a/b\".fields]\n")
                .message
                .contains("type name")
        );
        assert!(
            fault("[types.master.fields]\n")
                .message
                .contains("taken by the API")
        );
    }
}
