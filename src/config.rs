//! Runtime configuration from environment variables, read once at cold start.

use crate::core::alert::{parse_categories, AlertRules};
use crate::core::enrich::EnrichMode;
use crate::pipeline::Settings;

/// SDK attempts per AWS call unless `AWS_MAX_ATTEMPTS` says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name}={value:?} is invalid: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

#[derive(Clone, Debug)]
pub struct Config {
    /// `TABLE_NAME`: the history table.
    pub table_name: String,
    /// `RETENTION_DAYS` (default 90): history ages out this long after the change it records.
    pub retention_days: u32,
    /// `TASK_CONCURRENCY` (default 16): tasks of one batch written in parallel.
    pub task_concurrency: usize,
    /// `AWS_MAX_ATTEMPTS` (default 5): SDK attempts per AWS call, with standard jittered backoff.
    pub max_attempts: u32,
    /// `ENRICH` (default `new-tasks`): `always`, `new-tasks` or `never`.
    pub enrich: EnrichMode,
    /// How ECS is reached: `DESCRIBE_TASKS_PER_SECOND` (default 5 per account and region; 0 =
    /// unlimited), `DESCRIBE_TASKS_BURST` (default 10), `ACCOUNT_ID`, `MEMBER_ROLE_NAME`,
    /// `MEMBER_ROLE_EXTERNAL_ID`.
    pub ecs: EcsSettings,
    /// `RECONCILE_CLUSTERS`: what a scheduled event reconciles (names, ARNs, `*`); empty: nothing.
    pub reconcile_clusters: Vec<String>,
    /// `METRICS_NAMESPACE` (default `EcsTaskHistory`; empty = no metrics lines), with the
    /// `AWS_LAMBDA_FUNCTION_NAME` dimension.
    pub metrics: Option<MetricsTarget>,
    /// `WARM_CONNECTIONS` (default `true`): open the DynamoDB and ECS connections during init, so
    /// the first invocation does not pay for the TLS handshakes.
    pub warm_connections: bool,
    /// `ALERT_TOPIC_ARN` and the `ALERT_*` rules; `None` (no topic): no alerts.
    pub alerts: Option<Alerts>,
}

/// How the function reaches ECS outside its own account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EcsSettings {
    /// DescribeTasks calls per second per account and region (0 = unlimited).
    pub describe_tasks_per_second: f64,
    /// Calls allowed at once before the rate applies.
    pub describe_tasks_burst: u32,
    /// The function's own account (`ACCOUNT_ID`); needed to tell member accounts apart.
    pub home_account: Option<String>,
    /// The reader role every member account has (`MEMBER_ROLE_NAME`); none: members are not described.
    pub member_role: Option<String>,
    /// `MEMBER_ROLE_EXTERNAL_ID`, if the member roles require one.
    pub external_id: Option<String>,
}

/// Where the metrics go and under which dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsTarget {
    /// `METRICS_NAMESPACE` (default `EcsTaskHistory`; empty turns metrics off).
    pub namespace: String,
    /// The `FunctionName` dimension (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
}

/// Failure alerts: where they go and which failures alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alerts {
    pub topic_arn: String,
    pub rules: AlertRules,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME")
            .filter(|name| !name.trim().is_empty())
            .ok_or(ConfigError::Missing("TABLE_NAME"))?;
        Ok(Self {
            table_name,
            retention_days: number(&lookup, "RETENTION_DAYS", 90, 1..=36_500)?,
            task_concurrency: number(&lookup, "TASK_CONCURRENCY", 16, 1..=256)?,
            max_attempts: number(&lookup, "AWS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1..=20)?,
            enrich: match lookup("ENRICH") {
                None => EnrichMode::default(),
                Some(value) => EnrichMode::parse(&value).ok_or(ConfigError::Invalid {
                    name: "ENRICH",
                    value,
                    expected: "always, new-tasks or never",
                })?,
            },
            ecs: EcsSettings {
                describe_tasks_per_second: number(
                    &lookup,
                    "DESCRIBE_TASKS_PER_SECOND",
                    5.0,
                    0.0..=1000.0,
                )?,
                describe_tasks_burst: number(&lookup, "DESCRIBE_TASKS_BURST", 10, 1..=1000)?,
                home_account: text(&lookup, "ACCOUNT_ID"),
                member_role: text(&lookup, "MEMBER_ROLE_NAME"),
                external_id: text(&lookup, "MEMBER_ROLE_EXTERNAL_ID"),
            },
            reconcile_clusters: parse_list(&lookup("RECONCILE_CLUSTERS").unwrap_or_default()),
            metrics: match lookup("METRICS_NAMESPACE") {
                Some(namespace) if namespace.trim().is_empty() => None,
                namespace => Some(MetricsTarget {
                    namespace: namespace.unwrap_or_else(|| "EcsTaskHistory".into()),
                    function_name: lookup("AWS_LAMBDA_FUNCTION_NAME")
                        .unwrap_or_else(|| "ecs-task-history".into()),
                }),
            },
            warm_connections: flag(&lookup, "WARM_CONNECTIONS", true)?,
            alerts: alerts(&lookup)?,
        })
    }

    /// `AWS_MAX_ATTEMPTS` alone: the CLI needs it before it knows whether a command needs the rest.
    pub fn max_attempts_from_env() -> Result<u32, ConfigError> {
        number(
            &|name: &str| std::env::var(name).ok(),
            "AWS_MAX_ATTEMPTS",
            DEFAULT_MAX_ATTEMPTS,
            1..=20,
        )
    }

    pub fn settings(&self) -> Settings {
        Settings {
            retention_days: self.retention_days,
            task_concurrency: self.task_concurrency,
            enrich: self.enrich,
        }
    }
}

/// `ALERT_TOPIC_ARN` (empty: alerts off), `ALERT_ON`, `ALERT_CLUSTERS`, `ALERT_GROUPS`,
/// `ALERT_CRASH_LOOP_THRESHOLD`, `ALERT_CRASH_LOOP_WINDOW_MINUTES`, `ALERT_MAX_AGE_MINUTES`.
fn alerts(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<Alerts>, ConfigError> {
    let Some(topic_arn) = text(lookup, "ALERT_TOPIC_ARN") else {
        return Ok(None);
    };
    let defaults = AlertRules::default();
    let on =
        match text(lookup, "ALERT_ON") {
            None => defaults.on,
            Some(value) => parse_categories(&value).filter(|on| !on.is_empty()).ok_or(
                ConfigError::Invalid {
                    name: "ALERT_ON",
                    value,
                    expected:
                        "failure categories: failed-to-start, out-of-memory, exited-non-zero, \
                           spot-interruption, health-check, host-gone, unknown",
                },
            )?,
        };
    let minutes = |name: &'static str, default: i64, max: i64| {
        number(lookup, name, default, 1..=max).map(chrono::Duration::minutes)
    };
    Ok(Some(Alerts {
        topic_arn,
        rules: AlertRules {
            on,
            clusters: parse_list(&lookup("ALERT_CLUSTERS").unwrap_or_default()),
            groups: parse_list(&lookup("ALERT_GROUPS").unwrap_or_default()),
            crash_loop_threshold: number(
                lookup,
                "ALERT_CRASH_LOOP_THRESHOLD",
                defaults.crash_loop_threshold,
                1..=1000,
            )?,
            window: minutes(
                "ALERT_CRASH_LOOP_WINDOW_MINUTES",
                defaults.window.num_minutes(),
                1440,
            )?,
            max_age: minutes(
                "ALERT_MAX_AGE_MINUTES",
                defaults.max_age.num_minutes(),
                43_200,
            )?,
        },
    }))
}

/// A setting that may be unset or empty (both mean "not given").
fn text(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// A list setting: names or ARNs separated by commas or white space.
pub fn parse_list(value: &str) -> Vec<String> {
    value
        .split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

fn number<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd,
{
    let Some(value) = lookup(name) else {
        return Ok(default);
    };
    match value.trim().parse::<T>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(ConfigError::Invalid {
            name,
            value,
            expected: "a number in the allowed range (see README, Configuration)",
        }),
    }
}

fn flag(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match lookup(name).as_deref().map(str::trim) {
        None => Ok(default),
        Some("1" | "true" | "on" | "yes") => Ok(true),
        Some("0" | "false" | "off" | "no") => Ok(false),
        Some(other) => Err(ConfigError::Invalid {
            name,
            value: other.to_owned(),
            expected: "true or false",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::diagnosis::Category;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn table_name_is_required() {
        assert!(matches!(
            config(&[]),
            Err(ConfigError::Missing("TABLE_NAME"))
        ));
        assert!(matches!(
            config(&[("TABLE_NAME", " ")]),
            Err(ConfigError::Missing("TABLE_NAME"))
        ));
    }

    #[test]
    fn defaults_apply_when_unset() {
        let config = config(&[("TABLE_NAME", "history")]).unwrap();
        assert_eq!(config.table_name, "history");
        assert_eq!(config.retention_days, 90);
        assert_eq!(config.task_concurrency, 16);
        assert_eq!(config.max_attempts, 5);
        assert_eq!(config.enrich, EnrichMode::NewTasks);
        assert_eq!(config.ecs.describe_tasks_per_second, 5.0);
        assert_eq!(config.ecs.describe_tasks_burst, 10);
        assert_eq!(config.ecs.member_role, None);
        assert!(config.reconcile_clusters.is_empty());
        assert!(config.warm_connections);
        assert_eq!(
            config.metrics,
            Some(MetricsTarget {
                namespace: "EcsTaskHistory".into(),
                function_name: "ecs-task-history".into()
            })
        );
    }

    #[test]
    fn metrics_and_warm_up_can_be_turned_off() {
        let config = config(&[
            ("TABLE_NAME", "h"),
            ("METRICS_NAMESPACE", ""),
            ("WARM_CONNECTIONS", "false"),
        ])
        .unwrap();
        assert_eq!(config.metrics, None);
        assert!(!config.warm_connections);
        assert!(matches!(
            super::tests::config(&[("TABLE_NAME", "h"), ("WARM_CONNECTIONS", "maybe")]),
            Err(ConfigError::Invalid {
                name: "WARM_CONNECTIONS",
                ..
            })
        ));
    }

    #[test]
    fn enrich_mode_and_rate_are_read_and_checked() {
        let config = config(&[
            ("TABLE_NAME", "h"),
            ("ENRICH", "always"),
            ("DESCRIBE_TASKS_PER_SECOND", "0.5"),
        ])
        .unwrap();
        assert_eq!(config.enrich, EnrichMode::Always);
        assert_eq!(config.ecs.describe_tasks_per_second, 0.5);
        assert!(matches!(
            super::tests::config(&[("TABLE_NAME", "h"), ("ENRICH", "often")]),
            Err(ConfigError::Invalid { name: "ENRICH", .. })
        ));
        assert!(matches!(
            super::tests::config(&[("TABLE_NAME", "h"), ("DESCRIBE_TASKS_PER_SECOND", "-1")]),
            Err(ConfigError::Invalid {
                name: "DESCRIBE_TASKS_PER_SECOND",
                ..
            })
        ));
    }

    #[test]
    fn member_accounts_and_reconciled_clusters_are_read() {
        let config = config(&[
            ("TABLE_NAME", "h"),
            ("ACCOUNT_ID", "111111111111"),
            ("MEMBER_ROLE_NAME", "ecs-task-history-reader"),
            ("MEMBER_ROLE_EXTERNAL_ID", " "),
            ("RECONCILE_CLUSTERS", " a, b  arn:x:cluster/c,"),
        ])
        .unwrap();
        assert_eq!(config.ecs.home_account.as_deref(), Some("111111111111"));
        assert_eq!(
            config.ecs.member_role.as_deref(),
            Some("ecs-task-history-reader")
        );
        assert_eq!(config.ecs.external_id, None, "blank means unset");
        assert_eq!(config.reconcile_clusters, vec!["a", "b", "arn:x:cluster/c"]);
        assert!(parse_list("").is_empty());
        assert_eq!(parse_list("*"), vec!["*"]);
    }

    #[test]
    fn alerts_are_off_without_a_topic_and_read_with_one() {
        let off = config(&[
            ("TABLE_NAME", "h"),
            ("ALERT_TOPIC_ARN", ""),
            ("ALERT_ON", "nonsense"),
        ]);
        assert_eq!(
            off.unwrap().alerts,
            None,
            "no topic: the rules are not read"
        );
        let topic = "arn:aws:sns:us-east-1:111111111111:failures";
        let on = config(&[
            ("TABLE_NAME", "h"),
            ("ALERT_TOPIC_ARN", topic),
            ("ALERT_ON", "out-of-memory,failed-to-start"),
            ("ALERT_GROUPS", "service:web"),
            ("ALERT_CRASH_LOOP_THRESHOLD", "5"),
            ("ALERT_CRASH_LOOP_WINDOW_MINUTES", "10"),
        ])
        .unwrap()
        .alerts
        .unwrap();
        assert_eq!(on.topic_arn, topic);
        assert_eq!(
            on.rules.on,
            [Category::OutOfMemory, Category::FailedToStart].into()
        );
        assert_eq!(on.rules.groups, ["service:web"]);
        assert_eq!(on.rules.crash_loop_threshold, 5);
        assert_eq!(on.rules.window, chrono::Duration::minutes(10));
        assert_eq!(on.rules.max_age, chrono::Duration::minutes(60));
        let defaults = config(&[("TABLE_NAME", "h"), ("ALERT_TOPIC_ARN", topic)]).unwrap();
        assert_eq!(defaults.alerts.unwrap().rules, AlertRules::default());
        for (name, value) in [
            ("ALERT_ON", "out-of-memory,flood"),
            ("ALERT_ON", ","),
            ("ALERT_CRASH_LOOP_THRESHOLD", "0"),
            ("ALERT_CRASH_LOOP_WINDOW_MINUTES", "day"),
        ] {
            let refused = config(&[
                ("TABLE_NAME", "h"),
                ("ALERT_TOPIC_ARN", topic),
                (name, value),
            ]);
            assert!(
                matches!(&refused, Err(ConfigError::Invalid { name: n, .. }) if *n == name),
                "{name}={value}: {refused:?}"
            );
        }
    }

    #[test]
    fn values_are_parsed_and_range_checked() {
        let config = config(&[
            ("TABLE_NAME", "h"),
            ("RETENTION_DAYS", "7"),
            ("AWS_MAX_ATTEMPTS", "3"),
        ])
        .unwrap();
        assert_eq!(config.retention_days, 7);
        assert_eq!(config.max_attempts, 3);
        assert!(matches!(
            super::tests::config(&[("TABLE_NAME", "h"), ("RETENTION_DAYS", "0")]),
            Err(ConfigError::Invalid {
                name: "RETENTION_DAYS",
                ..
            })
        ));
        assert!(matches!(
            super::tests::config(&[("TABLE_NAME", "h"), ("TASK_CONCURRENCY", "many")]),
            Err(ConfigError::Invalid {
                name: "TASK_CONCURRENCY",
                ..
            })
        ));
    }
}
