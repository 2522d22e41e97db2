//! ECS enumerations that keep parsing when AWS adds a value: anything unrecognised lands in `Unknown`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a string enum with an `Unknown(String)` fallback, serde support and `as_str`.
macro_rules! aws_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this build does not know yet, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The exact text AWS uses for this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Unknown(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok(Self::from(text.as_ref()))
            }
        }
    };
}

aws_enum! {
    /// A task's (or container's) lifecycle status; used for `lastStatus` and `desiredStatus`.
    TaskStatus {
        Provisioning => "PROVISIONING",
        Pending => "PENDING",
        Activating => "ACTIVATING",
        Running => "RUNNING",
        Deactivating => "DEACTIVATING",
        Stopping => "STOPPING",
        Deprovisioning => "DEPROVISIONING",
        Stopped => "STOPPED",
        Deleted => "DELETED",
    }
}

aws_enum! {
    /// The infrastructure a task runs on.
    LaunchType {
        Ec2 => "EC2",
        Fargate => "FARGATE",
        External => "EXTERNAL",
        ManagedInstances => "MANAGED_INSTANCES",
    }
}

aws_enum! {
    /// Why a task stopped; `stoppedReason` carries the human detail.
    StopCode {
        TaskFailedToStart => "TaskFailedToStart",
        EssentialContainerExited => "EssentialContainerExited",
        UserInitiated => "UserInitiated",
        ServiceSchedulerInitiated => "ServiceSchedulerInitiated",
        SpotInterruption => "SpotInterruption",
        TerminationNotice => "TerminationNotice",
    }
}

aws_enum! {
    /// Health of a task or container as the ECS agent reports it.
    HealthStatus {
        Healthy => "HEALTHY",
        Unhealthy => "UNHEALTHY",
        Undetermined => "UNKNOWN",
    }
}

aws_enum! {
    /// Whether the task's agent is connected to the ECS control plane.
    Connectivity {
        Connected => "CONNECTED",
        Disconnected => "DISCONNECTED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip_through_serde() {
        for text in [
            "PROVISIONING",
            "PENDING",
            "ACTIVATING",
            "RUNNING",
            "DEACTIVATING",
            "STOPPING",
            "DEPROVISIONING",
            "STOPPED",
            "DELETED",
        ] {
            let status: TaskStatus = serde_json::from_str(&format!("\"{text}\"")).unwrap();
            assert!(
                !matches!(status, TaskStatus::Unknown(_)),
                "{text} parsed as unknown"
            );
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{text}\"")
            );
        }
        assert_eq!(LaunchType::from("FARGATE"), LaunchType::Fargate);
        assert_eq!(LaunchType::from("EC2"), LaunchType::Ec2);
        assert_eq!(LaunchType::from("EXTERNAL"), LaunchType::External);
        assert_eq!(
            StopCode::from("SpotInterruption"),
            StopCode::SpotInterruption
        );
        assert_eq!(
            StopCode::from("TerminationNotice"),
            StopCode::TerminationNotice
        );
        assert_eq!(HealthStatus::from("UNKNOWN"), HealthStatus::Undetermined);
        assert_eq!(
            Connectivity::from("DISCONNECTED"),
            Connectivity::Disconnected
        );
    }

    #[test]
    fn new_aws_values_fall_back_to_unknown_and_keep_their_text() {
        let status: TaskStatus = serde_json::from_str("\"HIBERNATING\"").unwrap();
        assert_eq!(status, TaskStatus::Unknown("HIBERNATING".into()));
        assert_eq!(status.as_str(), "HIBERNATING");
        assert_eq!(serde_json::to_string(&status).unwrap(), "\"HIBERNATING\"");
        assert_eq!(
            LaunchType::from("MICRO_VM"),
            LaunchType::Unknown("MICRO_VM".into())
        );
        assert_eq!(StopCode::from("Evicted").to_string(), "Evicted");
        assert_eq!(
            HealthStatus::from("DEGRADED"),
            HealthStatus::Unknown("DEGRADED".into())
        );
        assert_eq!(
            Connectivity::from("FLAPPING"),
            Connectivity::Unknown("FLAPPING".into())
        );
    }

    #[test]
    fn matching_is_case_sensitive_like_aws() {
        assert_eq!(
            TaskStatus::from("running"),
            TaskStatus::Unknown("running".into())
        );
    }

    #[test]
    fn a_non_string_value_is_a_parse_error() {
        assert!(serde_json::from_str::<TaskStatus>("42").is_err());
    }
}
