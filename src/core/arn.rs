//! ECS ARNs: a task's ARN says where it lives (partition, account, region, cluster), which is how
//! an organization-wide deployment knows whose credentials and which region describe it.

/// The parts of `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Reads an ARN; `None` for anything that is not one (a bare name or id, a truncated text).
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        let (prefix, partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        (prefix == "arn" && !partition.is_empty() && !service.is_empty() && !resource.is_empty())
            .then_some(Self {
                partition,
                service,
                region,
                account,
                resource,
            })
    }

    /// The account and region this resource lives in.
    pub fn location(&self) -> Location {
        Location {
            partition: self.partition.to_owned(),
            account: self.account.to_owned(),
            region: self.region.to_owned(),
        }
    }
}

/// An account in a region: the unit that credentials, clients and the DescribeTasks rate budget
/// belong to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub partition: String,
    pub account: String,
    pub region: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

/// The part of an ARN after its last `/`: a task id from a task ARN, a cluster name from a cluster ARN.
/// Short (legacy) task ARNs and bare ids come out right too.
pub fn last_segment(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The task ARN a task id has in a cluster: `arn:…:cluster/NAME` → `arn:…:task/NAME/ID` (the
/// long ARN format every account has used since 2021).
pub fn task_arn_in(cluster_arn: &str, task_id: &str) -> Option<String> {
    let (prefix, name) = cluster_arn.split_once(":cluster/")?;
    Some(format!("{prefix}:task/{name}/{task_id}"))
}

/// The cluster ARN a long-format task ARN names (`…:task/NAME/ID` → `…:cluster/NAME`); `None` for
/// the short, legacy format (`…:task/ID`), which does not name its cluster.
pub fn cluster_arn_of_task(task_arn: &str) -> Option<String> {
    let (prefix, rest) = task_arn.split_once(":task/")?;
    let (name, id) = rest.split_once('/')?;
    (!name.is_empty() && !id.is_empty() && !id.contains('/'))
        .then(|| format!("{prefix}:cluster/{name}"))
}

/// The ARN of a cluster given by name in an account and region, without asking ECS (so the history
/// of a member account's or a deleted cluster stays readable).
pub fn cluster_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:ecs:{region}:{account}:cluster/{name}")
}

/// Whether this is an ECS cluster ARN (and not a name).
pub fn is_cluster_arn(text: &str) -> bool {
    Arn::parse(text).is_some_and(|arn| arn.service == "ecs" && arn.resource.starts_with("cluster/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_names_its_partition_account_region_and_resource() {
        let arn = Arn::parse("arn:aws-cn:ecs:cn-north-1:222222222222:task/prod/abc").unwrap();
        assert_eq!(arn.partition, "aws-cn");
        assert_eq!(arn.service, "ecs");
        assert_eq!(arn.region, "cn-north-1");
        assert_eq!(arn.account, "222222222222");
        assert_eq!(arn.resource, "task/prod/abc");
        assert_eq!(arn.location().to_string(), "222222222222/cn-north-1");
    }

    #[test]
    fn names_ids_and_broken_texts_are_not_arns() {
        for text in [
            "demo",
            "",
            "arn:aws:ecs",
            "arn::ecs:r:a:task/x",
            "arn:aws:ecs:r:a:",
            "urn:aws:ecs:r:a:x",
        ] {
            assert_eq!(Arn::parse(text), None, "{text}");
        }
    }

    #[test]
    fn ids_names_and_arns_convert_both_ways() {
        assert_eq!(last_segment("arn:aws:ecs:us-east-1:1:task/demo/abc"), "abc");
        assert_eq!(last_segment("arn:aws:ecs:us-east-1:1:task/abc"), "abc");
        assert_eq!(last_segment("abc"), "abc");
        assert_eq!(
            task_arn_in("arn:aws:ecs:us-east-1:123456789012:cluster/demo", "abc").as_deref(),
            Some("arn:aws:ecs:us-east-1:123456789012:task/demo/abc")
        );
        assert_eq!(task_arn_in("demo", "abc"), None);
        assert_eq!(
            cluster_arn_of_task("arn:aws:ecs:us-east-1:123456789012:task/demo/abc").as_deref(),
            Some("arn:aws:ecs:us-east-1:123456789012:cluster/demo")
        );
        assert_eq!(
            cluster_arn_of_task("arn:aws:ecs:us-east-1:123456789012:task/abc"),
            None
        );
        let arn = cluster_arn("aws", "eu-west-1", "222222222222", "prod");
        assert_eq!(arn, "arn:aws:ecs:eu-west-1:222222222222:cluster/prod");
        assert!(is_cluster_arn(&arn));
        assert!(!is_cluster_arn(
            "arn:aws:ecs:eu-west-1:222222222222:task/prod/x"
        ));
        assert!(!is_cluster_arn("prod"));
    }
}
