//! DynamoDB's sizing rules applied to what the function wrote (the proxy's log) and to what the
//! table holds at the end: write units computed from the items, to cross-check the units dynoxide
//! reports (the function's EMF `WriteCapacityUnits`), and stored bytes with DynamoDB's overhead.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use ecs_task_history::aws::dynamodb::items::{item_size, Item, PK, SK};
use ecs_task_history::aws::dynamodb::keys::{version_of, INDEX_PROJECTED, SNAPSHOT_SK};
use ecs_task_history::aws::dynamodb::schema::INDEXES;
use serde_json::Value;

use crate::common::fault_proxy::Logged;
use crate::prices::DYNAMODB_ITEM_OVERHEAD_BYTES;

/// An attribute in DynamoDB's JSON wire format (`{"S": "…"}`), as the SDK sent it.
fn attribute(value: &Value) -> AttributeValue {
    let Some((kind, inner)) = value.as_object().and_then(|typed| typed.iter().next()) else {
        return AttributeValue::Null(true);
    };
    let text = || inner.as_str().unwrap_or_default().to_owned();
    let texts = || {
        let list = inner.as_array().map(Vec::as_slice).unwrap_or_default();
        list.iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    match kind.as_str() {
        "S" => AttributeValue::S(text()),
        "N" => AttributeValue::N(text()),
        "BOOL" => AttributeValue::Bool(inner.as_bool().unwrap_or_default()),
        "NULL" => AttributeValue::Null(true),
        "M" => AttributeValue::M(item(inner)),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .map(|l| l.iter().map(attribute).collect())
                .unwrap_or_default(),
        ),
        "SS" => AttributeValue::Ss(texts()),
        "NS" => AttributeValue::Ns(texts()),
        // Binary travels base64-encoded; only its raw length counts (the function writes none).
        "B" => AttributeValue::B(Blob::new(vec![0; text().len() * 3 / 4])),
        _ => AttributeValue::S(inner.to_string()),
    }
}

/// An item in DynamoDB's JSON wire format.
pub fn item(value: &Value) -> Item {
    let fields = value.as_object().into_iter().flatten();
    fields
        .map(|(name, value)| (name.clone(), attribute(value)))
        .collect()
}

/// Write units of an item or index entry of `bytes`: one per KB started, at least one.
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// The item's entry in each index of the schema, if it has that index's keys: the index keys, the
/// table keys and the projected attributes (projection `INCLUDE`).
pub fn index_entries(item: &Item) -> Vec<Option<Item>> {
    let entry = |pk: &str, sk: &str| -> Option<Item> {
        (item.contains_key(pk) && item.contains_key(sk)).then(|| {
            let kept =
                |name: &str| [PK, SK, pk, sk].contains(&name) || INDEX_PROJECTED.contains(&name);
            item.iter()
                .filter(|(name, _)| kept(name))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect()
        })
    };
    INDEXES.iter().map(|(_, pk, sk)| entry(pk, sk)).collect()
}

/// Index write units of one put, by DynamoDB's rules: a new entry or a removed one costs its size;
/// a changed entry under the same index key the larger of the two; one that moves to another key
/// a delete and a put; an unchanged entry nothing.
fn index_write_units(old: Option<&Item>, new: Option<&Item>) -> f64 {
    let key = |entry: &Item| {
        let mut key: Vec<(String, AttributeValue)> = entry.clone().into_iter().collect();
        key.retain(|(name, _)| !INDEX_PROJECTED.contains(&name.as_str()));
        key.sort_by(|a, b| a.0.cmp(&b.0));
        key
    };
    match (old, new) {
        (None, None) => 0.0,
        (None, Some(entry)) | (Some(entry), None) => write_units(item_size(entry)),
        (Some(old), Some(new)) if old == new => 0.0,
        (Some(old), Some(new)) if key(old) == key(new) => {
            write_units(item_size(old).max(item_size(new)))
        }
        (Some(old), Some(new)) => write_units(item_size(old)) + write_units(item_size(new)),
    }
}

/// What one key of the table holds, as far as write units go.
struct Held {
    size: usize,
    entries: Vec<Option<Item>>,
}

fn key_of(item: &Item) -> (String, String) {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    (text(PK), text(SK))
}

/// The function's writes as DynamoDB bills them, from the requests the proxy logged.
#[derive(Debug, Default)]
pub struct Writes {
    /// Items written (PutItem and BatchWriteItem puts that succeeded).
    pub puts: usize,
    pub table_units: f64,
    pub index_units: f64,
    /// Conditional puts refused (HTTP 400, a failed condition): DynamoDB bills them too, one unit
    /// per KB of the existing item they were checked against, at least one (developer guide,
    /// condition expressions: "DynamoDB still consumes write capacity from the table"), but answers
    /// without `ConsumedCapacity`, so the function's own count leaves them out.
    pub refused: usize,
    pub refused_units: f64,
    /// Of those, snapshot writes (the others are conditional history inserts).
    pub refused_snapshots: usize,
    /// Sizes of the history items written (DynamoDB's rule, without the storage overhead).
    pub history_sizes: Vec<usize>,
}

impl Writes {
    /// Replays the logged writes in the order the emulator answered them, keeping each key's
    /// current size and index entries, since an overwrite costs the larger of old and new.
    pub fn of(log: &[Logged]) -> Self {
        let mut writes: Vec<&Logged> = log
            .iter()
            .filter(|entry| matches!(entry.operation.as_str(), "PutItem" | "BatchWriteItem"))
            .collect();
        writes.sort_by_key(|entry| entry.answered);
        let mut table = HashMap::new();
        let mut sized = Self::default();
        for entry in writes {
            let body = entry.json();
            match (entry.operation.as_str(), entry.upstream_status) {
                ("PutItem", Some(200)) => sized.put(&mut table, item(&body["Item"])),
                ("PutItem", Some(400)) => sized.refuse(&table, &item(&body["Item"])),
                ("BatchWriteItem", Some(200)) => {
                    let tables = body["RequestItems"].as_object().into_iter().flatten();
                    for request in
                        tables.flat_map(|(_, requests)| requests.as_array().into_iter().flatten())
                    {
                        // The function only puts; dynoxide never leaves items unprocessed.
                        sized.put(&mut table, item(&request["PutRequest"]["Item"]));
                    }
                }
                _ => {}
            }
        }
        sized
    }

    fn put(&mut self, table: &mut HashMap<(String, String), Held>, new: Item) {
        let key = key_of(&new);
        let size = item_size(&new);
        if version_of(&key.1).is_some() {
            self.history_sizes.push(size);
        }
        let entries = index_entries(&new);
        let old = table.insert(
            key,
            Held {
                size,
                entries: entries.clone(),
            },
        );
        self.table_units += write_units(size.max(old.as_ref().map_or(0, |held| held.size)));
        for (index, entry) in entries.iter().enumerate() {
            let before = old.as_ref().and_then(|held| held.entries[index].as_ref());
            self.index_units += index_write_units(before, entry.as_ref());
        }
        self.puts += 1;
    }

    fn refuse(&mut self, table: &HashMap<(String, String), Held>, attempted: &Item) {
        let key = key_of(attempted);
        let existing = table.get(&key).map_or(0, |held| held.size);
        self.refused += 1;
        self.refused_snapshots += usize::from(key.1 == SNAPSHOT_SK);
        self.refused_units += write_units(existing);
    }

    /// Units the function's own count (dynoxide's `ConsumedCapacity`) should match.
    pub fn units(&self) -> f64 {
        self.table_units + self.index_units
    }
}

/// What the table holds at the end of a replay, as DynamoDB bills storage.
#[derive(Debug, Default)]
pub struct Storage {
    pub items: usize,
    pub snapshots: usize,
    /// Item sizes plus [`DYNAMODB_ITEM_OVERHEAD_BYTES`] each.
    pub item_bytes: usize,
    pub index_entries: usize,
    /// Index entry sizes plus the same overhead each.
    pub index_bytes: usize,
    pub history_sizes: Vec<usize>,
}

impl Storage {
    pub fn of(items: &[Item]) -> Self {
        let mut storage = Self::default();
        for item in items {
            let (_, sk) = key_of(item);
            let size = item_size(item);
            storage.items += 1;
            storage.item_bytes += size + DYNAMODB_ITEM_OVERHEAD_BYTES;
            if sk == SNAPSHOT_SK {
                storage.snapshots += 1;
            } else if version_of(&sk).is_some() {
                storage.history_sizes.push(size);
            }
            for entry in index_entries(item).into_iter().flatten() {
                storage.index_entries += 1;
                storage.index_bytes += item_size(&entry) + DYNAMODB_ITEM_OVERHEAD_BYTES;
            }
        }
        storage
    }

    pub fn bytes(&self) -> usize {
        self.item_bytes + self.index_bytes
    }
}
