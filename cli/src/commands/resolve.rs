//! Names people type → the ARNs the table is keyed by. A cluster ARN is taken as it is (so the
//! history of a deleted cluster, or of a member account's, stays readable); a name with
//! `--account`/`--region` becomes an ARN without any call; a bare name is looked up in ECS.

use ecs_task_history::core::arn::{cluster_arn, is_cluster_arn, task_arn_in};
use ecs_task_history::ports::TaskDescriber;

use crate::args::Where;
use crate::context::Context;
use crate::error::{CliError, ErrorKind};

/// A cluster ARN for a name or ARN.
pub async fn cluster(context: &Context, cluster: &str, place: &Where) -> Result<String, CliError> {
    if is_cluster_arn(cluster) {
        return Ok(cluster.to_owned());
    }
    if let Some(account) = &place.account {
        let region = place
            .cluster_region
            .clone()
            .or_else(|| context.aws.sdk.region().map(ToString::to_string))
            .unwrap_or_default();
        let partition = ecs_task_history::aws::accounts::partition_of(&region);
        return Ok(cluster_arn(partition, &region, account, cluster));
    }
    let found = context
        .ecs()?
        .cluster_arn(cluster)
        .await
        .map_err(|err| CliError::aws(err, "ecs:DescribeClusters"))?;
    found.ok_or_else(|| {
        CliError::new(
            ErrorKind::NotFound,
            format!("ECS knows no cluster named {cluster:?} in this region"),
            "check the name and region, or pass the cluster ARN, or --account (and --cluster-region) for a member account's (a deleted cluster's history is still readable by ARN)",
        )
    })
}

/// Every cluster ARN ECS lists in the caller's account and region.
pub async fn all_clusters(context: &Context) -> Result<Vec<String>, CliError> {
    context
        .ecs()?
        .list_clusters(None)
        .await
        .map_err(|err| CliError::aws(err, "ecs:ListClusters"))
}

/// The task ARN a task id has in a cluster.
pub fn task_arn(cluster_arn: &str, task_id: &str) -> Option<String> {
    task_arn_in(cluster_arn, task_id)
}
