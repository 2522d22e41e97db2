//! The read side of the table: a task's timeline and time windows of a cluster or service, exactly the
//! access patterns the README documents. Never a scan: a window is one query per index shard, merged.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};

use crate::aws::dynamodb::batch::{batch_get, MAX_KEYS_PER_BATCH_GET};
use crate::aws::dynamodb::items::{item_key, key, Item};
use crate::aws::dynamodb::keys::{
    cluster_index_pk, iso_time, service_index_pk, task_pk, CLUSTER_INDEX, GSI_SHARDS, SERVICE_INDEX,
};
use crate::aws::error::service_error;
use crate::ports::ServiceError;

/// BatchGetItem requests of one [`HistoryReader::records`] call in flight at once.
const FETCH_CONCURRENCY: usize = 4;

/// Which index a window query reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Cluster {
        cluster_arn: String,
    },
    Service {
        cluster_arn: String,
        service: String,
    },
}

impl Scope {
    fn index(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Cluster { .. } => (CLUSTER_INDEX, "gsi1pk", "gsi1sk"),
            Self::Service { .. } => (SERVICE_INDEX, "gsi2pk", "gsi2sk"),
        }
    }

    fn partition(&self, shard: u64) -> String {
        match self {
            Self::Cluster { cluster_arn } => cluster_index_pk(cluster_arn, shard),
            Self::Service {
                cluster_arn,
                service,
            } => service_index_pk(cluster_arn, service, shard),
        }
    }
}

/// A server-side filter on history items in a window (README access pattern 6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowFilter {
    /// Keep items whose `lastStatus` is this.
    pub last_status: Option<String>,
    /// Keep items whose `stopCode` is one of these.
    pub stop_codes: Vec<String>,
}

pub struct HistoryReader {
    client: Client,
    table: String,
    /// Items per Query page; `None` lets DynamoDB page at 1 MB.
    page_size: Option<i32>,
}

impl HistoryReader {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            page_size: None,
        }
    }

    /// Smaller pages: only useful to exercise paging in tests.
    pub fn with_page_size(mut self, page_size: i32) -> Self {
        self.page_size = Some(page_size.max(1));
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Every history record of one task, oldest version first (README access pattern 2).
    pub async fn task_history(&self, task_arn: &str) -> Result<Vec<Item>, ServiceError> {
        let values = HashMap::from([
            (":pk".to_owned(), AttributeValue::S(task_pk(task_arn))),
            (":v".to_owned(), AttributeValue::S("V#".to_owned())),
        ]);
        self.query_all(None, "pk = :pk AND begins_with(sk, :v)", values, None, true)
            .await
    }

    /// Index entries of the changes that happened in `[from, to]`, newest first, from every index
    /// shard (README access patterns 4–6), queried concurrently. An entry holds the keys and
    /// [`INDEX_PROJECTED`](crate::aws::dynamodb::keys::INDEX_PROJECTED) only: [`Self::records`] fetches the
    /// whole records worth showing.
    pub async fn window(
        &self,
        scope: &Scope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: &WindowFilter,
    ) -> Result<Vec<Item>, ServiceError> {
        let (index, pk_name, sk_name) = scope.index();
        let key_condition = format!("{pk_name} = :p AND {sk_name} BETWEEN :t1 AND :t2");
        let mut base = HashMap::from([
            (":t1".to_owned(), AttributeValue::S(iso_time(from))),
            // `~` sorts after every character of the key's suffix: everything at `to` is included.
            (
                ":t2".to_owned(),
                AttributeValue::S(format!("{}~", iso_time(to))),
            ),
        ]);
        let mut conditions = Vec::new();
        if let Some(status) = &filter.last_status {
            base.insert(":status".to_owned(), AttributeValue::S(status.clone()));
            conditions.push("lastStatus = :status".to_owned());
        }
        if !filter.stop_codes.is_empty() {
            let names: Vec<String> = (0..filter.stop_codes.len())
                .map(|n| format!(":code{n}"))
                .collect();
            for (name, code) in names.iter().zip(&filter.stop_codes) {
                base.insert(name.clone(), AttributeValue::S(code.clone()));
            }
            conditions.push(format!("stopCode IN ({})", names.join(", ")));
        }
        let filter_expression = (!conditions.is_empty()).then(|| conditions.join(" AND "));

        let queries = (0..GSI_SHARDS).map(|shard| {
            let mut values = base.clone();
            values.insert(":p".to_owned(), AttributeValue::S(scope.partition(shard)));
            let key_condition = key_condition.as_str();
            let filter_expression = filter_expression.as_deref();
            async move {
                self.query_all(Some(index), key_condition, values, filter_expression, false)
                    .await
            }
        });
        let mut merged = Vec::new();
        for shard in futures::future::join_all(queries).await {
            merged.extend(shard?);
        }
        // Each shard is already ordered; the merge orders them all by the index sort key, newest first.
        merged.sort_by(|a, b| sort_key(b, sk_name).cmp(sort_key(a, sk_name)));
        Ok(merged)
    }

    /// Whole history records by key (`pk`, `sk`), one answer per key in the order given: `None` for
    /// a record that is gone (expired by TTL since its index entry was read).
    pub async fn records(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<Option<Item>>, ServiceError> {
        let mut unique = keys.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let requests = unique.chunks(MAX_KEYS_PER_BATCH_GET).map(|chunk| {
            let keys = chunk.iter().map(|(pk, sk)| key(pk, sk)).collect();
            batch_get(&self.client, &self.table, keys, false, |_| {})
        });
        let answers: Vec<_> = stream::iter(requests)
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect()
            .await;
        let mut found: HashMap<(String, String), Item> = HashMap::with_capacity(unique.len());
        for answer in answers {
            for item in answer? {
                if let Some((pk, sk)) = item_key(&item) {
                    found.insert((pk.to_owned(), sk.to_owned()), item);
                }
            }
        }
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    async fn query_all(
        &self,
        index: Option<&str>,
        key_condition: &str,
        values: HashMap<String, AttributeValue>,
        filter_expression: Option<&str>,
        consistent: bool,
    ) -> Result<Vec<Item>, ServiceError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression(key_condition)
                .set_filter_expression(filter_expression.map(str::to_owned))
                .set_expression_attribute_values(Some(values.clone()))
                .set_limit(self.page_size)
                // Index reads cannot be consistent; table reads can, and a CLI user expects the latest.
                .set_consistent_read(consistent.then_some(true))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| {
                    service_error("DynamoDB Query", format!("table {}", self.table), &err)
                })?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

fn sort_key<'a>(item: &'a Item, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value,
        _ => "",
    }
}
