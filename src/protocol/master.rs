//! Master-data lists as the desk reads them from a server and an export carries them.

/// A master-data list as the desk uses it (and an export carries it): its items, the
/// items that left it, and its `ETag`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MasterData {
    pub items: Vec<MasterItem>,
    #[serde(default)]
    pub removed: Vec<MasterItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl MasterData {
    /// Whether the list holds an item.
    pub fn lists(&self, id: &str) -> bool {
        self.items.iter().any(|i| i.id == id)
    }

    /// What a record naming `id` refers to, in words: `S-3 Old mill substation —
    /// removed from sites`, `S-9 — not in sites`, or `S-1 North plant`.
    pub fn describe(&self, list: &str, id: &str) -> String {
        if let Some(item) = self.items.iter().find(|i| i.id == id) {
            return item.name();
        }
        match self.removed.iter().find(|i| i.id == id) {
            Some(item) => format!("{} — removed from {list}", item.name()),
            None => format!("{id} — not in {list}"),
        }
    }

    /// ` (one of: S-1 North plant, S-2 Harbour pumps, ...)`: the first ten items, for a
    /// refusal to name what would do; empty for an empty list.
    pub fn one_of(&self) -> String {
        if self.items.is_empty() {
            return String::new();
        }
        let shown: Vec<String> = self.items.iter().take(10).map(MasterItem::name).collect();
        let more = if self.items.len() > 10 { ", ..." } else { "" };
        format!(" (one of: {}{more})", shown.join(", "))
    }
}

/// One item of a master-data list (`removed_at` for one that left it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MasterItem {
    pub id: String,
    #[serde(default)]
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<crate::model::UtcMillis>,
}

impl MasterItem {
    /// `S-1 North plant`, or the id alone when it has no label.
    pub fn name(&self) -> String {
        if self.label.is_empty() {
            self.id.clone()
        } else {
            format!("{} {}", self.id, self.label)
        }
    }
}
