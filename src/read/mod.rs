//! The read side of the table: a task's timeline, and which tasks of a cluster or service changed in
//! a time window, exactly the access patterns the README documents. Never a scan: a window is one
//! index query per shard over the hours it touches, then the timelines of the tasks found.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, DurationRound, Utc};
use futures::stream::{self, StreamExt};
use tracing::warn;

use crate::aws::dynamodb::items::{catalog_entry, history_from_item, item_key, CatalogEntry, Item};
use crate::aws::dynamodb::keys::{
    cluster_index_pk, iso_time, task_arn_of, task_pk, CATALOG_PK, CLUSTER_INDEX, GSI_SHARDS,
};
use crate::aws::error::service_error;
use crate::core::history::{carry_tags, HistoryRecord};
use crate::ports::ServiceError;

/// Timeline queries of one window read in flight at once.
const TIMELINE_CONCURRENCY: usize = 16;

/// Whose changes a window query looks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Cluster {
        cluster_arn: String,
    },
    /// The tasks of one service (`group` = `service:NAME`), read from its cluster's entries.
    Service {
        cluster_arn: String,
        service: String,
    },
}

impl Scope {
    fn cluster_arn(&self) -> &str {
        match self {
            Self::Cluster { cluster_arn } | Self::Service { cluster_arn, .. } => cluster_arn,
        }
    }
}

/// One task's versions, oldest first, each with its tags (carried from the versions that stored
/// them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    pub task_arn: String,
    pub records: Vec<HistoryRecord>,
}

impl Timeline {
    /// The versions whose change happened within `[from, to]`.
    pub fn in_window(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&HistoryRecord> {
        self.records
            .iter()
            .filter(|record| record.event_time >= from && record.event_time <= to)
            .collect()
    }
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

    /// Every history item of one task, oldest version first (README access pattern 2).
    pub async fn task_history(&self, task_arn: &str) -> Result<Vec<Item>, ServiceError> {
        let values = HashMap::from([
            (":pk".to_owned(), AttributeValue::S(task_pk(task_arn))),
            (":v".to_owned(), AttributeValue::S("V#".to_owned())),
        ]);
        self.query_all(None, "pk = :pk AND begins_with(sk, :v)", values, None, true)
            .await
    }

    /// The clusters the table holds history of, in every account and region (README access pattern
    /// 7): one Query of the catalog partition, never a scan.
    pub async fn clusters(&self) -> Result<Vec<CatalogEntry>, ServiceError> {
        let values = HashMap::from([(":pk".to_owned(), AttributeValue::S(CATALOG_PK.to_owned()))]);
        let items = self
            .query_all(None, "pk = :pk", values, None, false)
            .await?;
        Ok(items
            .iter()
            .filter_map(|item| match catalog_entry(item) {
                Ok(entry) => Some(entry),
                Err(err) => {
                    warn!(error = %err, "skipping an unreadable catalog item");
                    None
                }
            })
            .collect())
    }

    /// One task's timeline: its readable records, tags carried to every version. Unreadable items
    /// are logged and left out.
    pub async fn timeline(&self, task_arn: &str) -> Result<Timeline, ServiceError> {
        let mut records = Vec::new();
        for item in self.task_history(task_arn).await? {
            match history_from_item(&item) {
                Ok(record) => records.push(record),
                Err(err) => warn!(error = %err, "skipping an unreadable history item"),
            }
        }
        carry_tags(&mut records);
        Ok(Timeline {
            task_arn: task_arn.to_owned(),
            records,
        })
    }

    /// The tasks that changed in `[from, to]` (README access patterns 4–6), with their whole
    /// timelines, the task with the newest change first. The index holds one entry per task per
    /// hour it changed in, so the query covers the whole hours the window touches, and the
    /// timelines say which changes fall in the window; tasks with none there are left out.
    pub async fn window(
        &self,
        scope: &Scope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Timeline>, ServiceError> {
        let task_arns = self.tasks_in_hours(scope, from, to).await?;
        let timelines: Vec<Result<Timeline, ServiceError>> = stream::iter(&task_arns)
            .map(|task_arn| self.timeline(task_arn))
            .buffered(TIMELINE_CONCURRENCY)
            .collect()
            .await;
        let mut found = Vec::with_capacity(timelines.len());
        for timeline in timelines {
            let timeline = timeline?;
            if let Some(newest) = timeline.in_window(from, to).last().map(|r| r.event_time) {
                found.push((newest, timeline));
            }
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.task_arn.cmp(&b.1.task_arn)));
        Ok(found.into_iter().map(|(_, timeline)| timeline).collect())
    }

    /// Task ARNs with an index entry in the hours `[from, to]` touches, from every shard at once.
    async fn tasks_in_hours(
        &self,
        scope: &Scope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<String>, ServiceError> {
        let hour = Duration::hours(1);
        let first = from.duration_trunc(hour).unwrap_or(from);
        let last = to.duration_trunc(hour).map_or(to, |start| start + hour);
        let mut base = HashMap::from([
            (":t1".to_owned(), AttributeValue::S(iso_time(first))),
            // `~` sorts after every character of the keys written before the hourly index
            // (`<time>#<task id>#<version>`), so everything up to `last` is included.
            (
                ":t2".to_owned(),
                AttributeValue::S(format!("{}~", iso_time(last))),
            ),
        ]);
        let filter = match scope {
            Scope::Service { service, .. } => {
                base.insert(
                    ":group".to_owned(),
                    AttributeValue::S(format!("service:{service}")),
                );
                Some("#group = :group")
            }
            Scope::Cluster { .. } => None,
        };
        let queries = (0..GSI_SHARDS).map(|shard| {
            let mut values = base.clone();
            values.insert(
                ":p".to_owned(),
                AttributeValue::S(cluster_index_pk(scope.cluster_arn(), shard)),
            );
            self.query_all(
                Some(CLUSTER_INDEX),
                "gsi1pk = :p AND gsi1sk BETWEEN :t1 AND :t2",
                values,
                filter,
                false,
            )
        });
        let mut seen = HashSet::new();
        let mut task_arns = Vec::new();
        for entries in futures::future::join_all(queries).await {
            for entry in entries? {
                let Some(task_arn) = item_key(&entry).and_then(|(pk, _)| task_arn_of(pk)) else {
                    continue;
                };
                if seen.insert(task_arn.to_owned()) {
                    task_arns.push(task_arn.to_owned());
                }
            }
        }
        Ok(task_arns)
    }

    async fn query_all(
        &self,
        index: Option<&str>,
        key_condition: &str,
        values: HashMap<String, AttributeValue>,
        filter_expression: Option<&str>,
        consistent: bool,
    ) -> Result<Vec<Item>, ServiceError> {
        let names = filter_expression
            .filter(|filter| filter.contains("#group"))
            .map(|_| HashMap::from([("#group".to_owned(), "group".to_owned())]));
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
                .set_expression_attribute_names(names.clone())
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
