//! A client that changes the workload topic's `retention.ms` while it is written and read, as
//! an operator does with `kafka-configs --alter --add-config retention.ms=...`: it follows a
//! plan of steps, each at a tick of its own, one request at a time. A step either reads the
//! topic's `retention.ms` (DescribeConfigs) or sets it (IncrementalAlterConfigs, SET); a value
//! of -1 keeps records forever, as in Kafka. A configurer that alters the whole set
//! ([`Configurer::altering_whole`]) sets it with AlterConfigs instead, as older tools and
//! kafka-python's admin client do: every override the topic was made with, `retention.ms`
//! changed. Some plans also set `retention.bytes` or `segment.ms`, always with
//! IncrementalAlterConfigs. Steps are never retried: a lost or refused one is over, as a tool
//! run by hand that printed an error is.
//!
//! Every step goes into the history: [`Operation::RetentionSet`] when an alteration of
//! `retention.ms` is sent and [`Operation::RetentionSetAnswered`] with its answer;
//! [`Operation::TopicConfigSet`] and [`Operation::TopicConfigSetAnswered`] for the other two
//! settings; [`Operation::RetentionAsked`] and [`Operation::RetentionRead`] for a
//! description. Two checkers read them:
//! - [`crate::checker::acknowledged_records_kept`] lets retention delete a record only once
//!   the shortest `retention.ms` that may have been in force by then is up, or once the
//!   partition may have held the smallest `retention.bytes` in force by then after it;
//! - [`crate::checker::retention_changes_kept`]: a description shows the last acknowledged
//!   value, or one sent after it, through crashes and power loss (an acknowledged
//!   alteration was saved, and a restart loads it).

use crate::client::{Next, TOPIC};
use crate::history::{History, Operation};
use sluice_core::protocol::api::alter_configs::{
    AlterConfigsRequest, AlterConfigsRequestConfig, AlterConfigsRequestResource,
};
use sluice_core::protocol::api::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsRequestResource,
};
use sluice_core::protocol::api::incremental_alter_configs::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsRequestConfig,
    IncrementalAlterConfigsRequestResource,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::wire::StrBytes;

const RETENTION_MS: &str = "retention.ms";
/// The topic setting a [`Step::RetentionBytes`] sets.
pub const RETENTION_BYTES: &str = "retention.bytes";
/// The topic setting a [`Step::SegmentMs`] sets.
pub const SEGMENT_MS: &str = "segment.ms";
const RESOURCE_TOPIC: i8 = 2;

/// One step of a configurer's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Reads `retention.ms` (DescribeConfigs).
    Describe,
    /// Sets `retention.ms`.
    RetentionMs(i64),
    /// Sets `retention.bytes` (IncrementalAlterConfigs).
    RetentionBytes(i64),
    /// Sets `segment.ms` (IncrementalAlterConfigs).
    SegmentMs(i64),
}

impl Step {
    /// The setting an IncrementalAlterConfigs of this step sets, and its value.
    fn setting(self) -> Option<(&'static str, i64)> {
        match self {
            Step::Describe => None,
            Step::RetentionMs(ms) => Some((RETENTION_MS, ms)),
            Step::RetentionBytes(bytes) => Some((RETENTION_BYTES, bytes)),
            Step::SegmentMs(ms) => Some((SEGMENT_MS, ms)),
        }
    }
}

/// The configurer's state.
#[derive(Clone, Debug)]
pub struct Configurer {
    client: u32,
    /// (tick, step).
    plan: Vec<(u64, Step)>,
    /// Steps done.
    step: usize,
    /// With AlterConfigs, the topic's whole set of overrides (`retention.ms` among them).
    whole: Option<Vec<(&'static str, String)>>,
}

impl Configurer {
    /// A configurer that takes the steps of `plan`, each no earlier than its tick.
    pub fn new(client: u32, plan: Vec<(u64, Step)>) -> Self {
        Self { client, plan, step: 0, whole: None }
    }

    /// Sets `retention.ms` with AlterConfigs, which replaces the topic's overrides: with
    /// `configs`, the ones it was made with.
    pub fn altering_whole(self, configs: Vec<(&'static str, String)>) -> Self {
        Self { whole: Some(configs), ..self }
    }

    /// Whether it has taken every step.
    pub fn done(&self) -> bool {
        self.step == self.plan.len()
    }

    /// One line for liveness failure reports.
    pub fn report(&self) -> String {
        format!("configure step {}/{}", self.step, self.plan.len())
    }

    /// What to send next.
    pub fn poll_request(&mut self, now: u64) -> Next {
        let Some(&(at, step)) = self.plan.get(self.step) else { return Next::Idle };
        if now < at {
            return Next::WakeAt(at);
        }
        let request = match (step, &self.whole) {
            (Step::RetentionMs(retention_ms), Some(configs)) => {
                let mut configs: Vec<AlterConfigsRequestConfig> = configs
                    .iter()
                    .filter(|(name, _)| *name != RETENTION_MS)
                    .map(|(name, value)| AlterConfigsRequestConfig {
                        name: StrBytes::from_static(name),
                        value: Some(StrBytes::from_string(value.clone())),
                        ..Default::default()
                    })
                    .collect();
                configs.push(AlterConfigsRequestConfig {
                    name: StrBytes::from_static(RETENTION_MS),
                    value: Some(StrBytes::from_string(retention_ms.to_string())),
                    ..Default::default()
                });
                let resource = AlterConfigsRequestResource {
                    resource_type: RESOURCE_TOPIC,
                    resource_name: StrBytes::from_static(TOPIC),
                    configs,
                    ..Default::default()
                };
                Request::AlterConfigs(AlterConfigsRequest {
                    resources: vec![resource],
                    ..Default::default()
                })
            }
            (Step::RetentionMs(_) | Step::RetentionBytes(_) | Step::SegmentMs(_), _) => {
                let (name, value) = step.setting().expect("a step that sets");
                let config = IncrementalAlterConfigsRequestConfig {
                    name: StrBytes::from_static(name),
                    config_operation: 0, // SET
                    value: Some(StrBytes::from_string(value.to_string())),
                    ..Default::default()
                };
                let resource = IncrementalAlterConfigsRequestResource {
                    resource_type: RESOURCE_TOPIC,
                    resource_name: StrBytes::from_static(TOPIC),
                    configs: vec![config],
                    ..Default::default()
                };
                Request::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
                    resources: vec![resource],
                    ..Default::default()
                })
            }
            (Step::Describe, _) => {
                let resource = DescribeConfigsRequestResource {
                    resource_type: RESOURCE_TOPIC,
                    resource_name: StrBytes::from_static(TOPIC),
                    configuration_keys: Some(vec![StrBytes::from_static(RETENTION_MS)]),
                    ..Default::default()
                };
                Request::DescribeConfigs(DescribeConfigsRequest {
                    resources: vec![resource],
                    ..Default::default()
                })
            }
        };
        Next::Send { request, version: 1, timeout_ms: None }
    }

    /// The request prepared by the last `poll_request` was sent.
    pub fn on_sent(&mut self, history: &mut History) {
        let client = self.client;
        history.push(match self.plan[self.step].1 {
            Step::RetentionMs(retention_ms) => Operation::RetentionSet { client, retention_ms },
            Step::Describe => Operation::RetentionAsked { client },
            step => {
                let (name, value) = step.setting().expect("a step that sets");
                Operation::TopicConfigSet { client, name, value }
            }
        });
    }

    /// The request in flight was lost: that step is over.
    pub fn on_lost(&mut self) {
        self.step += 1;
    }

    /// Handles a response: the answer goes into the history; never backs off.
    pub fn on_response(&mut self, response: Response, history: &mut History) -> bool {
        let client = self.client;
        match response {
            Response::IncrementalAlterConfigs(answer) => {
                let error_code = answer.responses.first().map_or(-1, |answer| answer.error_code);
                history.push(match self.plan[self.step].1 {
                    Step::RetentionMs(_) => Operation::RetentionSetAnswered { client, error_code },
                    _ => Operation::TopicConfigSetAnswered { client, error_code },
                });
            }
            Response::AlterConfigs(answer) => {
                let error_code = answer.responses.first().map_or(-1, |answer| answer.error_code);
                history.push(Operation::RetentionSetAnswered { client, error_code });
            }
            Response::DescribeConfigs(answer) => {
                let result = answer.results.first();
                let error_code = result.map_or(-1, |result| result.error_code);
                let value = result
                    .and_then(|result| {
                        result.configs.iter().find(|c| c.name.as_str() == RETENTION_MS)
                    })
                    .and_then(|config| config.value.as_ref())
                    .map(|value| value.to_string());
                let retention_ms = value.as_deref().map(|value| {
                    value.parse().unwrap_or_else(|_| {
                        panic!("configurer {client}: retention.ms {value:?} is not a number")
                    })
                });
                history.push(Operation::RetentionRead { client, error_code, retention_ms });
            }
            other => panic!("configurer {client} got {other:?}"),
        }
        self.step += 1;
        false
    }
}
