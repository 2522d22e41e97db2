//! The table's key layout: the contract every reader (CLI, queries in the README) relies on.

use chrono::{DateTime, SecondsFormat, Utc};

/// Partitions each cluster's index entries are spread over, so one busy cluster writes to several
/// index partitions instead of one hot one. Readers query every shard and merge.
pub const GSI_SHARDS: u64 = 4;
/// The one index: "which tasks of cluster C changed between t1 and t2" (and of service S, by a
/// filter on `group`). It holds one entry per task per hour the task changed in (the record marked
/// `indexed`), not one per change: readers read those tasks' timelines for the changes themselves.
pub const CLUSTER_INDEX: &str = "byCluster";
pub const SNAPSHOT_SK: &str = "SNAPSHOT";
/// The partition of the cluster catalog: one item per cluster with history, sorted by cluster ARN.
pub const CATALOG_PK: &str = "CLUSTERS";
/// The only attribute besides the keys the index carries (projection `INCLUDE`): what a service
/// window filters on. An entry of ~300 bytes costs 1 write unit.
pub const INDEX_PROJECTED: [&str; 1] = ["group"];

/// Partition key of everything about one task.
pub fn task_pk(task_arn: &str) -> String {
    format!("TASK#{task_arn}")
}

/// Sort key of a history record: zero-padded so versions sort numerically.
pub fn history_sk(version: u64) -> String {
    format!("V#{version:010}")
}

/// The task ARN of a [`task_pk`].
pub fn task_arn_of(pk: &str) -> Option<&str> {
    pk.strip_prefix("TASK#").filter(|arn| !arn.is_empty())
}

/// The version of a [`history_sk`].
pub fn version_of(sk: &str) -> Option<u64> {
    sk.strip_prefix("V#")?.parse().ok()
}

/// Index shard of a task: FNV-1a of its id, stable across processes, languages and versions.
pub fn shard(task_id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in task_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash % GSI_SHARDS
}

pub fn cluster_index_pk(cluster_arn: &str, shard: u64) -> String {
    format!("CLUSTER#{cluster_arn}#{shard}")
}

/// Index sort key: the change's time. (Index keys need not be unique; the entry's table keys say
/// which task and version it is. Entries written before the hourly index also carry
/// `#<task id>#<version>` after the time, which sorts the same.)
pub fn index_sk(event_time: DateTime<Utc>) -> String {
    iso_time(event_time)
}

/// Fixed-width ISO-8601 UTC with milliseconds, so text order is time order.
pub fn iso_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keys_sort_by_version() {
        assert_eq!(history_sk(7), "V#0000000007");
        assert!(history_sk(9) < history_sk(10));
        assert_eq!(history_sk(9_999_999_999), "V#9999999999");
    }

    #[test]
    fn keys_read_back_what_they_were_made_of() {
        let arn = "arn:aws:ecs:us-east-1:1:task/c/t";
        assert_eq!(task_arn_of(&task_pk(arn)), Some(arn));
        assert_eq!(version_of(&history_sk(42)), Some(42));
        assert_eq!(task_arn_of("TASK#"), None);
        assert_eq!(task_arn_of("CLUSTER#x"), None);
        assert_eq!(version_of(SNAPSHOT_SK), None);
        assert_eq!(version_of("V#-1"), None);
    }

    #[test]
    fn shards_are_stable_and_in_range() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; readers in other languages must agree.
        assert_eq!(shard("a"), 0xaf63_dc4c_8601_ec8c % GSI_SHARDS);
        let ids: Vec<String> = (0..1000).map(|n| format!("{n:032x}")).collect();
        let mut counts = [0usize; GSI_SHARDS as usize];
        for id in &ids {
            counts[shard(id) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&count| count > 150),
            "uneven shards: {counts:?}"
        );
    }

    #[test]
    fn index_sort_keys_order_by_time() {
        let early = DateTime::parse_from_rfc3339("2026-11-20T03:14:07Z")
            .unwrap()
            .with_timezone(&Utc);
        let late = DateTime::parse_from_rfc3339("2026-11-20T03:14:07.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(index_sk(early), "2026-11-20T03:14:07.000Z");
        assert!(index_sk(early) < index_sk(late));
    }
}
