//! Checkers: the invariants of DESIGN.md §7 that a single node can show, judged from the
//! history (what clients were told and what consumers read) and the node's queue sizes only.

use crate::history::{History, Operation};
use sluice_core::limits::{
    CONNECTIONS_MAX, INFLIGHT_REQUESTS_PER_CONNECTION_MAX, OUTPUTS_QUEUED_MAX, PARKED_FETCHES_MAX,
};
use sluice_core::node::NodeStats;
use std::collections::{BTreeMap, BTreeSet};

/// A broken invariant, with what shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

/// Every record consumers read: (partition, offset) → value. Fails if one offset was seen with
/// two different values (invariant 2), or a consumer's offsets went backwards or repeated
/// (invariant 3).
pub fn consumed_records(history: &History) -> Result<BTreeMap<(i32, i64), String>, Violation> {
    let mut records = BTreeMap::new();
    let mut last_seen: BTreeMap<u32, i64> = BTreeMap::new();
    for operation in &history.operations {
        match operation {
            Operation::Consumed { client, partition, offset, value } => {
                if let Some(previous) = last_seen.insert(*client, *offset) {
                    if *offset <= previous {
                        return Err(Violation(format!(
                            "consumer {client} read offset {offset} after {previous} on partition {partition}"
                        )));
                    }
                }
                if let Some(existing) = records.insert((*partition, *offset), value.clone()) {
                    if &existing != value {
                        return Err(Violation(format!(
                            "partition {partition} offset {offset} held {existing:?} and later {value:?}"
                        )));
                    }
                }
            }
            Operation::PositionReset { client, error_code } => {
                return Err(Violation(format!(
                    "consumer {client} lost its position with error {error_code}"
                )));
            }
            _ => {}
        }
    }
    Ok(records)
}

/// Every acknowledged record (acks=all, and acks=1: both answer after the fsync on one node)
/// is where its acknowledgement said, in what consumers read by the end (invariant 1).
pub fn acknowledged_records_kept(
    history: &History,
    consumed: &BTreeMap<(i32, i64), String>,
) -> Result<usize, Violation> {
    let mut checked = 0;
    for operation in &history.operations {
        if let Operation::ProduceAcked { client, partition, base_offset, values, acks, .. } =
            operation
        {
            for (index, value) in values.iter().enumerate() {
                let offset = base_offset + index as i64;
                match consumed.get(&(*partition, offset)) {
                    Some(found) if found == value => checked += 1,
                    Some(found) => {
                        return Err(Violation(format!(
                            "acks={acks} record {value:?} of client {client} was acknowledged at {partition}/{offset}, which holds {found:?}"
                        )))
                    }
                    None => {
                        return Err(Violation(format!(
                            "acks={acks} record {value:?} of client {client} acknowledged at {partition}/{offset} is gone"
                        )))
                    }
                }
            }
        }
    }
    Ok(checked)
}

/// An idempotent producer's record is stored at most once (invariant 5).
pub fn idempotent_records_unique(
    history: &History,
    consumed: &BTreeMap<(i32, i64), String>,
) -> Result<(), Violation> {
    let idempotent: BTreeSet<u32> = history
        .operations
        .iter()
        .filter_map(|operation| match operation {
            Operation::ProduceAcked { client, idempotent: true, .. } => Some(*client),
            _ => None,
        })
        .collect();
    let mut seen = BTreeSet::new();
    for value in consumed.values() {
        let client: Option<u32> = value
            .strip_prefix('c')
            .and_then(|rest| rest.split('-').next())
            .and_then(|id| id.parse().ok());
        if client.is_some_and(|client| idempotent.contains(&client)) && !seen.insert(value.clone())
        {
            return Err(Violation(format!("idempotent record {value:?} is stored twice")));
        }
    }
    Ok(())
}

/// The node's queues stayed within their limits (invariant 8's memory bound).
pub fn memory_bounded(stats: &NodeStats) -> Result<(), Violation> {
    let checks = [
        ("connections", stats.connections, CONNECTIONS_MAX),
        (
            "requests per connection",
            stats.slots_per_connection_max,
            INFLIGHT_REQUESTS_PER_CONNECTION_MAX,
        ),
        ("parked fetches", stats.parked_fetches, PARKED_FETCHES_MAX),
        ("queued outputs", stats.queued_outputs, OUTPUTS_QUEUED_MAX),
    ];
    for (what, value, limit) in checks {
        if value > limit {
            return Err(Violation(format!("{what}: {value} above the limit {limit}")));
        }
    }
    Ok(())
}
