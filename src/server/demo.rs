//! The demo data (`assets/demo/`): users, the inspections type, master data and records,
//! loaded by `syncdesk serve --demo`; `syncdesk demo` uses its configuration and creates
//! its records through the protocol (`crate::demo`).

use serde::Deserialize;

use super::config::Config;
use crate::model::json::{Json, Object};
use crate::model::{SchemaError, UtcMillis};
use crate::store::{Author, Effect, RecordKey, Store, StoreError};

/// The demo configuration: users (demo tokens) and types.
pub const CONFIG: &str = include_str!("../../assets/demo/syncdesk.toml");
const DATA: &str = include_str!("../../assets/demo/data.json");

/// Adds the demo users and types a configuration lacks (a name it has is kept as it is).
pub fn add_to(config: &mut Config) -> Result<(), SchemaError> {
    let demo = Config::from_toml(CONFIG)?;
    for user in demo.users {
        if !config.users.iter().any(|u| u.name == user.name) {
            config.users.push(user);
        }
    }
    for (name, schema) in demo.types.0 {
        config.types.0.entry(name).or_insert(schema);
    }
    Ok(())
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    master: std::collections::BTreeMap<String, Vec<Object<'a>>>,
    #[serde(borrow)]
    records: std::collections::BTreeMap<String, Vec<Record<'a>>>,
}

#[derive(Deserialize)]
struct Record<'a> {
    id: String,
    #[serde(borrow)]
    fields: Object<'a>,
}

/// Stores the demo master data and records that are not stored yet; returns how many
/// records it created.
pub fn seed(store: &mut impl Store) -> Result<usize, StoreError> {
    let data: Data = serde_json::from_str(DATA)?;
    let now = UtcMillis::now();
    for (list, items) in &data.master {
        if store.master(list)?.is_none() {
            let ids: Vec<&str> = items
                .iter()
                .filter_map(|i| i.get("id").and_then(Json::as_str))
                .collect();
            let text = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
            store.put_master(list, &text, &ids, now, None, |_| None)?;
        }
    }
    let author = Author {
        user: "demo",
        device_id: None,
        device_seq: None,
        captured_at: None,
    };
    let mut created = 0;
    for (record_type, records) in data.records {
        for record in records {
            let key = RecordKey {
                record_type: &record_type,
                id: &record.id,
            };
            if store.exists(key)? {
                continue;
            }
            let fields = record.fields.into_owned();
            store.write(
                key,
                None,
                &author,
                now,
                None,
                |_| {
                    (
                        (),
                        Effect::Append {
                            fields,
                            deleted: false,
                        },
                    )
                },
                |_, _| None,
            )?;
            created += 1;
        }
    }
    Ok(created)
}
