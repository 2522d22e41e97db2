//! What the adapters spent on AWS, counted as it happens so each invocation can report its own cost
//! (requests, capacity, throttles) in its metrics line.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::orchestrator::Metadata;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

use super::error::THROTTLING_CODES;

/// Shared by the adapters (behind an `Arc`); the Lambda boundary takes and resets it per invocation.
#[derive(Debug, Default)]
pub struct Usage {
    describe_calls: AtomicU64,
    describe_missing: AtomicU64,
    unreachable_tasks: AtomicU64,
    sts_calls: AtomicU64,
    dynamodb_requests: AtomicU64,
    /// Capacity units in thousandths, so fractional read units add up exactly.
    read_milli_units: AtomicU64,
    write_milli_units: AtomicU64,
    operations: AtomicU64,
    attempts: AtomicU64,
    throttles: AtomicU64,
    /// HTTP attempts by operation name (`PutItem`, `DescribeTasks`, `AssumeRole`, …) since the
    /// process started (or [`Usage::reset_requests`]): what tests and the benchmark account for.
    requests: Mutex<BTreeMap<String, u64>>,
}

/// A copy of the counts at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UsageCounts {
    pub describe_calls: u64,
    pub describe_missing: u64,
    /// Tasks recorded without tags because their account or region could not be reached.
    pub unreachable_tasks: u64,
    /// STS calls (AssumeRole of member roles, GetCallerIdentity).
    pub sts_calls: u64,
    pub dynamodb_requests: u64,
    pub read_units: f64,
    pub write_units: f64,
    /// Attempts the SDK made beyond the first, for any reason.
    pub retries: u64,
    /// Attempts AWS answered with a throttling error.
    pub throttles: u64,
}

impl Usage {
    pub fn describe_call(&self, missing: usize) {
        self.describe_calls.fetch_add(1, Ordering::Relaxed);
        self.describe_missing
            .fetch_add(missing as u64, Ordering::Relaxed);
    }

    pub fn unreachable(&self, tasks: usize) {
        self.unreachable_tasks
            .fetch_add(tasks as u64, Ordering::Relaxed);
    }

    pub fn sts_call(&self) {
        self.sts_calls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dynamodb_request(&self) {
        self.dynamodb_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn read_units(&self, units: f64) {
        self.read_milli_units
            .fetch_add(milli(units), Ordering::Relaxed);
    }

    pub fn write_units(&self, units: f64) {
        self.write_milli_units
            .fetch_add(milli(units), Ordering::Relaxed);
    }

    pub fn operation(&self) {
        self.operations.fetch_add(1, Ordering::Relaxed);
    }

    pub fn attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn throttle(&self) {
        self.throttles.fetch_add(1, Ordering::Relaxed);
    }

    pub fn request(&self, operation: &str) {
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match requests.get_mut(operation) {
            Some(count) => *count += 1,
            None => {
                requests.insert(operation.to_owned(), 1);
            }
        }
    }

    /// HTTP attempts by operation since the start or the last [`Usage::reset_requests`].
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn reset_requests(&self) {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// Returns the counts so far and starts again from zero.
    pub fn take(&self) -> UsageCounts {
        UsageCounts {
            describe_calls: self.describe_calls.swap(0, Ordering::Relaxed),
            describe_missing: self.describe_missing.swap(0, Ordering::Relaxed),
            unreachable_tasks: self.unreachable_tasks.swap(0, Ordering::Relaxed),
            sts_calls: self.sts_calls.swap(0, Ordering::Relaxed),
            dynamodb_requests: self.dynamodb_requests.swap(0, Ordering::Relaxed),
            read_units: self.read_milli_units.swap(0, Ordering::Relaxed) as f64 / 1000.0,
            write_units: self.write_milli_units.swap(0, Ordering::Relaxed) as f64 / 1000.0,
            retries: self
                .attempts
                .swap(0, Ordering::Relaxed)
                .saturating_sub(self.operations.swap(0, Ordering::Relaxed)),
            throttles: self.throttles.swap(0, Ordering::Relaxed),
        }
    }
}

fn milli(units: f64) -> u64 {
    if units.is_finite() && units > 0.0 {
        (units * 1000.0).round() as u64
    } else {
        0
    }
}

/// Counts every HTTP attempt the SDK makes (so retries show) and every throttled answer. Attach one
/// to each client; it tells the services apart by their `x-amz-target` prefix.
#[derive(Clone, Debug)]
pub struct UsageInterceptor(pub Arc<Usage>);

impl Intercept for UsageInterceptor {
    fn name(&self) -> &'static str {
        "UsageInterceptor"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.operation();
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        self.0.attempt();
        if target.starts_with("DynamoDB") {
            self.0.dynamodb_request();
        }
        if let Some(metadata) = cfg.load::<Metadata>() {
            self.0.request(metadata.name());
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(response) = context.response() {
            let status = response.status().as_u16();
            let body = response.body().bytes().unwrap_or_default();
            if status == 429 || (status == 400 && is_throttling(body)) {
                self.0.throttle();
            }
        }
        Ok(())
    }
}

/// Whether an error body names a throttling code. The interceptor sees raw bytes, before the SDK
/// has parsed the error, so it looks for the codes in the body.
fn is_throttling(body: &[u8]) -> bool {
    THROTTLING_CODES.iter().any(|code| {
        let code = code.as_bytes();
        body.windows(code.len()).any(|window| window == code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_the_counts_and_resets_them() {
        let usage = Usage::default();
        usage.describe_call(3);
        usage.describe_call(0);
        usage.write_units(1.0);
        usage.write_units(2.5);
        usage.read_units(0.5);
        usage.read_units(f64::NAN);
        usage.dynamodb_request();
        usage.operation();
        usage.attempt();
        usage.attempt();
        usage.throttle();
        let counts = usage.take();
        assert_eq!(counts.describe_calls, 2);
        assert_eq!(counts.describe_missing, 3);
        assert_eq!(counts.write_units, 3.5);
        assert_eq!(counts.read_units, 0.5);
        assert_eq!(
            (counts.dynamodb_requests, counts.retries, counts.throttles),
            (1, 1, 1)
        );
        assert_eq!(usage.take(), UsageCounts::default());
    }

    #[test]
    fn throttling_is_recognised_in_both_services_error_bodies() {
        assert!(is_throttling(
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"x"}"#
        ));
        assert!(is_throttling(
            br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#
        ));
        assert!(!is_throttling(
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}"#
        ));
        assert!(!is_throttling(b""));
    }
}
