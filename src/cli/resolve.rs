//! Names people type → the ARNs the table is keyed by: cluster names through ECS, task ids through
//! their cluster (the long task ARN format is `…:task/<cluster name>/<task id>`).

use super::error::{sdk_error, CliError, ErrorKind};

/// A cluster ARN for a name or ARN. A name needs ECS (DescribeClusters); an ARN is taken as it is,
/// so the history of a deleted cluster stays readable.
pub async fn cluster_arn(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Result<String, CliError> {
    if cluster.starts_with("arn:") {
        return Ok(cluster.to_owned());
    }
    let output = ecs
        .describe_clusters()
        .clusters(cluster)
        .send()
        .await
        .map_err(|err| sdk_error("ECS DescribeClusters", &err, "ecs:DescribeClusters"))?;
    output
        .clusters()
        .iter()
        .filter(|found| found.status() != Some("INACTIVE"))
        .find_map(|found| found.cluster_arn().map(str::to_owned))
        .ok_or_else(|| {
            CliError::new(
                ErrorKind::NotFound,
                format!("ECS knows no cluster named {cluster:?} in this region"),
                "check the name and region, or pass the cluster ARN (a deleted cluster's history is still readable by ARN)",
            )
        })
}

/// Every active cluster ARN ECS lists (ListClusters, paged).
pub async fn all_clusters(ecs: &aws_sdk_ecs::Client) -> Result<Vec<String>, CliError> {
    let mut pages = ecs.list_clusters().into_paginator().send();
    let mut clusters = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| sdk_error("ECS ListClusters", &err, "ecs:ListClusters"))?;
        clusters.extend(page.cluster_arns().iter().cloned());
    }
    Ok(clusters)
}

/// The task ARN a task id has in a cluster: `arn:…:cluster/NAME` → `arn:…:task/NAME/ID`.
pub fn task_arn_in(cluster_arn: &str, task_id: &str) -> Option<String> {
    let (prefix, name) = cluster_arn.split_once(":cluster/")?;
    Some(format!("{prefix}:task/{name}/{task_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_id_becomes_the_long_arn_in_its_cluster() {
        assert_eq!(
            task_arn_in("arn:aws:ecs:us-east-1:123456789012:cluster/demo", "abc").as_deref(),
            Some("arn:aws:ecs:us-east-1:123456789012:task/demo/abc")
        );
        assert_eq!(task_arn_in("demo", "abc"), None);
    }
}
