//! Several accounts and regions in one moto: the credentials `sts:AssumeRole` gives are mapped to
//! the role's account, and ECS resources live per account and region, as in an organization.

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

use super::{run_tasks_as, sdk_config};

/// moto's default account: the central (home) account of these tests.
pub const HOME: &str = "123456789012";
/// The role member.yaml creates in every member account.
pub const READER_ROLE: &str = "ecs-task-history-reader";

/// One account in one region, with clients acting in it.
pub struct Place {
    pub account: String,
    pub region: String,
    pub access_key: String,
    pub ecs: aws_sdk_ecs::Client,
}

impl Place {
    /// The home account, with the tests' own credentials, in `region`.
    pub async fn home(region: &str) -> Self {
        let config = in_region(sdk_config().await, region);
        Self {
            account: HOME.to_owned(),
            region: region.to_owned(),
            access_key: "test".to_owned(),
            ecs: aws_sdk_ecs::Client::new(&config),
        }
    }

    /// A member account, acting through its reader role (as the function does), in `region`.
    pub async fn member(account: &str, region: &str) -> Self {
        let home = sdk_config().await;
        let assumed = aws_sdk_sts::Client::new(&home)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/{READER_ROLE}"))
            .role_session_name("tests")
            .send()
            .await
            .expect("assume the member role in moto")
            .credentials
            .expect("credentials");
        let credentials = Credentials::new(
            assumed.access_key_id.clone(),
            assumed.secret_access_key,
            Some(assumed.session_token),
            None,
            "member",
        );
        let config = in_region(home, region)
            .into_builder()
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                credentials,
            ))
            .build();
        Self {
            account: account.to_owned(),
            region: region.to_owned(),
            access_key: assumed.access_key_id,
            ecs: aws_sdk_ecs::Client::new(&config),
        }
    }

    /// Fargate tasks running here, tagged: (cluster ARN, task ARNs).
    pub async fn run_tasks(&self, count: i32, tags: &[(&str, &str)]) -> (String, Vec<String>) {
        run_tasks_as(&self.ecs, (&self.access_key, &self.region), count, tags).await
    }
}

fn in_region(config: SdkConfig, region: &str) -> SdkConfig {
    config
        .into_builder()
        .region(Region::new(region.to_owned()))
        .build()
}
