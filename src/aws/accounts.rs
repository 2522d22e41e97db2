//! One ECS client per account and region, kept for the life of the execution environment: the
//! function's own account with its own credentials, member accounts through their reader role
//! (`sts:AssumeRole`, credentials cached until shortly before they expire). Each account and region
//! has its own DescribeTasks token bucket, as its rate limit is its own. An account that cannot be
//! reached (no role, AssumeRole denied, region not enabled) is remembered for a while, so its
//! events are recorded without tags at once, with one log line per account instead of per event.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use tracing::{error, info};

use super::error::service_error;
use super::rate_limit::RateLimiter;
use super::usage::{Usage, UsageInterceptor};
use crate::config::EcsSettings;
use crate::core::arn::Location;
use crate::ports::{ErrorClass, ServiceError};

/// Locations (account and region) whose clients are kept; past this, the oldest is dropped.
const MAX_LOCATIONS: usize = 256;
/// How long an unreachable account is left alone before it is tried again.
const UNREACHABLE_FOR: Duration = Duration::from_secs(300);
/// Assumed-role credentials are renewed this long before they expire.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// What it takes to call ECS in one account and region.
pub struct Reachable {
    pub location: Location,
    pub client: aws_sdk_ecs::Client,
    pub limiter: Arc<RateLimiter>,
}

pub enum Reach {
    Client(Arc<Reachable>),
    /// Known not to work at the moment (see [`Accounts::mark_unreachable`]).
    Unreachable,
}

struct State {
    clients: HashMap<Location, Arc<Reachable>>,
    order: VecDeque<Location>,
    unreachable: HashMap<Location, Instant>,
    member_credentials: HashMap<String, SharedCredentialsProvider>,
}

pub struct Accounts {
    base: SdkConfig,
    settings: EcsSettings,
    usage: Arc<Usage>,
    home: Arc<Reachable>,
    /// The function's own account: `ACCOUNT_ID`, else asked of STS once, and only when member
    /// accounts are configured (a single-account deployment never needs to know it).
    home_account: tokio::sync::OnceCell<Option<String>>,
    sts: aws_sdk_sts::Client,
    state: Mutex<State>,
}

impl Accounts {
    pub fn new(base: &SdkConfig, settings: EcsSettings, usage: Arc<Usage>) -> Self {
        let region = base.region().map(|r| r.to_string()).unwrap_or_default();
        let home_location = Location {
            partition: partition_of(&region).to_owned(),
            account: settings.home_account.clone().unwrap_or_default(),
            region,
        };
        let home = Arc::new(Reachable {
            client: ecs_client(base, None, None, &usage),
            limiter: Arc::new(limiter(&settings)),
            location: home_location,
        });
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(base)
                .interceptor(UsageInterceptor(usage.clone()))
                .build(),
        );
        Self {
            base: base.clone(),
            settings,
            usage,
            home,
            home_account: tokio::sync::OnceCell::new(),
            sts,
            state: Mutex::new(State {
                clients: HashMap::new(),
                order: VecDeque::new(),
                unreachable: HashMap::new(),
                member_credentials: HashMap::new(),
            }),
        }
    }

    /// The client of the function's own account and region.
    pub fn home_client(&self) -> &aws_sdk_ecs::Client {
        &self.home.client
    }

    /// The function's own account, when it can be known (see [`Accounts::home_account`]).
    async fn home_account(&self) -> Option<&str> {
        self.home_account
            .get_or_init(|| async {
                if let Some(account) = &self.settings.home_account {
                    return Some(account.clone());
                }
                self.settings.member_role.as_ref()?;
                self.usage.sts_call();
                match self.sts.get_caller_identity().send().await {
                    Ok(identity) => identity.account,
                    Err(err) => {
                        let err = service_error("STS GetCallerIdentity", "the function", &err);
                        error!(error = %err, "cannot tell the function's own account; set ACCOUNT_ID");
                        None
                    }
                }
            })
            .await
            .as_deref()
    }

    /// The client and rate bucket for `location` (`None`: the function's own account and region).
    /// Without a known own account (a single-account deployment), every account counts as ours.
    pub async fn reach(&self, location: Option<&Location>) -> Reach {
        let home_account = self.home_account().await;
        let ours = |location: &Location| home_account.is_none_or(|home| home == location.account);
        let Some(location) =
            location.filter(|l| !(ours(l) && l.region == self.home.location.region))
        else {
            return Reach::Client(self.home.clone());
        };
        let mut state = self.lock();
        if let Some(since) = state.unreachable.get(location) {
            if since.elapsed() < UNREACHABLE_FOR {
                return Reach::Unreachable;
            }
            state.unreachable.remove(location);
        }
        if let Some(found) = state.clients.get(location) {
            return Reach::Client(found.clone());
        }
        let credentials = if ours(location) {
            None
        } else {
            match self.member_credentials(&mut state, location) {
                Some(credentials) => Some(credentials),
                None => {
                    drop(state);
                    self.mark_unreachable(
                        location,
                        "no member role is configured (MEMBER_ROLE_NAME)",
                    );
                    return Reach::Unreachable;
                }
            }
        };
        let reachable = Arc::new(Reachable {
            client: ecs_client(&self.base, Some(&location.region), credentials, &self.usage),
            limiter: Arc::new(limiter(&self.settings)),
            location: location.clone(),
        });
        if state.order.len() >= MAX_LOCATIONS {
            if let Some(oldest) = state.order.pop_front() {
                state.clients.remove(&oldest);
            }
        }
        state.order.push_back(location.clone());
        state.clients.insert(location.clone(), reachable.clone());
        Reach::Client(reachable)
    }

    /// Remembers that `location` cannot be reached (the member role is missing or refuses us, the
    /// region is not enabled) and says so in one log line. Returns false for the function's own
    /// account and region, whose trouble is not an account problem but a failure to retry.
    pub fn mark_unreachable(&self, location: &Location, reason: &str) -> bool {
        let home_account = self.home_account.get().cloned().flatten();
        let ours = home_account.is_none_or(|home| home == location.account);
        if ours && location.region == self.home.location.region {
            return false;
        }
        let mut state = self.lock();
        state.clients.remove(location);
        state.order.retain(|known| known != location);
        state.unreachable.insert(location.clone(), Instant::now());
        drop(state);
        error!(
            account = %location.account,
            region = %location.region,
            reason,
            retry_in_s = UNREACHABLE_FOR.as_secs(),
            "cannot reach this account and region: its tasks are recorded without tags until it can be; \
             deploy member.yaml there (the reader role, trusted by this function's role) or enable the region"
        );
        true
    }

    /// The error for a call that needs an account known to be unreachable.
    pub fn unreachable_error(&self, location: Option<&Location>, target: &str) -> ServiceError {
        ServiceError {
            operation: "ECS",
            target: target.to_owned(),
            message: format!(
                "account and region {} cannot be reached (see the earlier log line; member.yaml deploys the reader role)",
                location.map_or_else(String::new, Location::to_string)
            ),
            class: ErrorClass::AccessDenied,
        }
    }

    /// The shared, caching credentials of a member account's reader role; `None` without a role name.
    fn member_credentials(
        &self,
        state: &mut State,
        location: &Location,
    ) -> Option<SharedCredentialsProvider> {
        let role = self.settings.member_role.as_deref()?;
        let provider = state
            .member_credentials
            .entry(location.account.clone())
            .or_insert_with(|| {
                SharedCredentialsProvider::new(MemberRole {
                    sts: self.sts.clone(),
                    usage: self.usage.clone(),
                    role_arn: format!(
                        "arn:{}:iam::{}:role/{role}",
                        location.partition, location.account
                    ),
                    external_id: self.settings.external_id.clone(),
                    cached: Arc::default(),
                })
            });
        Some(provider.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The partition of a region: ARNs and role ARNs are partition-specific.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

fn limiter(settings: &EcsSettings) -> RateLimiter {
    RateLimiter::new(
        settings.describe_tasks_per_second,
        settings.describe_tasks_burst,
    )
}

fn ecs_client(
    base: &SdkConfig,
    region: Option<&str>,
    credentials: Option<SharedCredentialsProvider>,
    usage: &Arc<Usage>,
) -> aws_sdk_ecs::Client {
    let mut config =
        aws_sdk_ecs::config::Builder::from(base).interceptor(UsageInterceptor(usage.clone()));
    if let Some(region) = region {
        config = config.region(Region::new(region.to_owned()));
    }
    if let Some(credentials) = credentials {
        config = config.credentials_provider(credentials);
    }
    aws_sdk_ecs::Client::from_conf(config.build())
}

/// Credentials of a member account's reader role, from `sts:AssumeRole`, kept until shortly
/// before they expire and shared by the account's clients in every region.
#[derive(Debug)]
struct MemberRole {
    sts: aws_sdk_sts::Client,
    usage: Arc<Usage>,
    role_arn: String,
    external_id: Option<String>,
    cached: Arc<tokio::sync::Mutex<Option<Credentials>>>,
}

impl MemberRole {
    async fn credentials(&self) -> aws_credential_types::provider::Result {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref() {
            let fresh = credentials
                .expiry()
                .is_none_or(|expiry| expiry > SystemTime::now() + RENEW_BEFORE_EXPIRY);
            if fresh {
                return Ok(credentials.clone());
            }
        }
        self.usage.sts_call();
        let answer = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name("ecs-task-history")
            .set_external_id(self.external_id.clone())
            .send()
            .await
            .map_err(|err| {
                let err = service_error("STS AssumeRole", &self.role_arn, &err);
                aws_credential_types::provider::error::CredentialsError::provider_error(err)
            })?;
        let assumed = answer.credentials.ok_or_else(|| {
            aws_credential_types::provider::error::CredentialsError::unhandled(
                "AssumeRole answered without credentials",
            )
        })?;
        let credentials = Credentials::new(
            assumed.access_key_id,
            assumed.secret_access_key,
            Some(assumed.session_token),
            SystemTime::try_from(assumed.expiration).ok(),
            "ecs-task-history member role",
        );
        info!(role_arn = %self.role_arn, "assumed the member account's reader role");
        *cached = Some(credentials.clone());
        Ok(credentials)
    }
}

impl ProvideCredentials for MemberRole {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(self.credentials())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(account: &str, region: &str) -> Location {
        Location {
            partition: "aws".into(),
            account: account.into(),
            region: region.into(),
        }
    }

    async fn accounts() -> Accounts {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("k", "s", None, None, "test"))
            .load()
            .await;
        let settings = EcsSettings {
            describe_tasks_per_second: 1.0,
            describe_tasks_burst: 1,
            home_account: Some("111111111111".into()),
            member_role: Some("reader".into()),
            external_id: None,
        };
        Accounts::new(&sdk, settings, Arc::default())
    }

    fn reached(reach: Reach) -> Arc<Reachable> {
        match reach {
            Reach::Client(reachable) => reachable,
            Reach::Unreachable => panic!("unreachable"),
        }
    }

    /// DescribeTasks' rate limit is per account and region: a burst in one must not slow another.
    #[tokio::test(start_paused = true)]
    async fn each_account_and_region_has_its_own_describe_tasks_bucket() {
        let accounts = accounts().await;
        let busy = reached(
            accounts
                .reach(Some(&location("222222222222", "us-east-1")))
                .await,
        );
        let other = reached(
            accounts
                .reach(Some(&location("333333333333", "us-east-1")))
                .await,
        );
        let home_west = reached(
            accounts
                .reach(Some(&location("111111111111", "us-west-2")))
                .await,
        );
        assert_eq!(busy.limiter.acquire().await, Duration::ZERO);
        assert!(
            busy.limiter.acquire().await > Duration::from_millis(900),
            "the burst is spent"
        );
        assert_eq!(
            other.limiter.acquire().await,
            Duration::ZERO,
            "another account's is not"
        );
        assert_eq!(
            home_west.limiter.acquire().await,
            Duration::ZERO,
            "nor another region's"
        );
        let again = reached(
            accounts
                .reach(Some(&location("222222222222", "us-east-1")))
                .await,
        );
        assert!(
            Arc::ptr_eq(&again.limiter, &busy.limiter),
            "one bucket per place, kept"
        );
    }

    #[tokio::test]
    async fn the_home_account_and_region_is_reached_with_the_functions_own_client() {
        let accounts = accounts().await;
        let home = reached(
            accounts
                .reach(Some(&location("111111111111", "us-east-1")))
                .await,
        );
        assert_eq!(home.location, accounts.home.location);
        let none = reached(accounts.reach(None).await);
        assert!(Arc::ptr_eq(&home, &none));
        assert!(
            !accounts.mark_unreachable(&location("111111111111", "us-east-1"), "denied"),
            "the home account's trouble is a failure to retry, not an unreachable member"
        );
    }

    #[tokio::test]
    async fn an_unreachable_member_is_left_alone_for_a_while() {
        let accounts = accounts().await;
        let member = location("222222222222", "eu-west-1");
        reached(accounts.reach(Some(&member)).await);
        assert!(accounts.mark_unreachable(&member, "AccessDenied"));
        assert!(matches!(
            accounts.reach(Some(&member)).await,
            Reach::Unreachable
        ));
        let same_account_elsewhere = location("222222222222", "us-east-1");
        reached(accounts.reach(Some(&same_account_elsewhere)).await);
    }

    #[tokio::test]
    async fn without_a_member_role_another_account_is_unreachable() {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("k", "s", None, None, "test"))
            .load()
            .await;
        let settings = EcsSettings {
            home_account: Some("111111111111".into()),
            ..EcsSettings::default()
        };
        let accounts = Accounts::new(&sdk, settings, Arc::default());
        let member = location("222222222222", "us-east-1");
        assert!(matches!(
            accounts.reach(Some(&member)).await,
            Reach::Unreachable
        ));
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("eu-west-1"), "aws");
    }
}
