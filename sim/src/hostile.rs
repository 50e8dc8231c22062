//! Damaged requests from a stranger (FAULTS 22 in the swarm): a request that only reads —
//! ApiVersions, Metadata of a topic no one uses, Fetch, ListOffsets, FindCoordinator,
//! DescribeGroups, OffsetFetch — encoded as a client would, then damaged: bits flipped, cut
//! short, junk appended, or a run of bytes overwritten. The api key (its first two bytes)
//! stays, so that whatever the broker makes of it still only reads; every other byte of the
//! header and body may change: versions, lengths, counts, names, flags.
//!
//! The engine sends each on a connection of its own and closes that connection at once (see
//! `Sim::fault_tick`), so a request the broker parks (a long-poll Fetch) is closed under it.
//! The broker must answer or close, never panic, and every checker must still pass: nothing
//! the stranger sends may change what the workload's clients see.
//!
//! A stranger that writes (`FaultSettings::hostile_writes`) also makes a topic of its own,
//! [`STRANGER_WRITE_TOPIC`], with an undamaged CreateTopics now and then, and sends damaged
//! Produce requests to it: a damaged batch must be refused whole or stored as a valid batch,
//! and the log must recover through crashes and power loss with such writes in it. The topic's
//! name starts with none of the workload's topic names, so that no few flipped bits turn a
//! write to it into a write to theirs.

use crate::client::{RECORDS_TIME_MS, TOPIC};
use crate::group::GROUP;
use bytes::{Bytes, BytesMut};
use sluice_core::prng::Prng;
use sluice_core::protocol::api::api_versions::ApiVersionsRequest;
use sluice_core::protocol::api::create_topics::{CreateTopicsRequest, CreateTopicsRequestTopic};
use sluice_core::protocol::api::describe_groups::DescribeGroupsRequest;
use sluice_core::protocol::api::fetch::{FetchRequest, FetchRequestPartition, FetchRequestTopic};
use sluice_core::protocol::api::find_coordinator::FindCoordinatorRequest;
use sluice_core::protocol::api::list_offsets::{
    ListOffsetsRequest, ListOffsetsRequestPartition, ListOffsetsRequestTopic,
};
use sluice_core::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic};
use sluice_core::protocol::api::offset_fetch::OffsetFetchRequest;
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{encode_request, Request};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
use sluice_core::protocol::wire::StrBytes;

/// The topic a stranger's Metadata names: no client uses it, so that a damaged request that
/// turns auto-creation on makes only a topic of its own.
pub const STRANGER_TOPIC: &str = "sim-stranger";

/// The topic a stranger that writes makes and sends damaged Produce requests to.
pub const STRANGER_WRITE_TOPIC: &str = "zz-stranger";

/// One damaged request body (the frame without its length prefix); with `writes`, also an
/// undamaged CreateTopics of [`STRANGER_WRITE_TOPIC`] or a damaged Produce to it.
pub fn damaged_request(prng: &mut Prng, writes: bool) -> Bytes {
    let kinds = if writes { 9 } else { 7 };
    let kind = prng.below(kinds);
    let mut body = request_body(kind, prng);
    if kind != CREATE {
        damage(&mut body, prng);
    }
    Bytes::from(body)
}

/// Template numbers of the requests that write.
const CREATE: u64 = 7;
const PRODUCE: u64 = 8;

/// Request `kind`, encoded as a client would (without the length prefix).
fn request_body(kind: u64, prng: &mut Prng) -> Vec<u8> {
    let (request, version) = template(kind, prng);
    let header = RequestHeader {
        api_key: request.api_key(),
        api_version: version,
        correlation_id: prng.below(1 << 20) as i32,
        client_id: Some(StrBytes::from_static("stranger")),
        ..Default::default()
    };
    let mut frame = BytesMut::new();
    encode_request(&header, &request, &mut frame);
    frame.split_off(4).to_vec()
}

fn template(kind: u64, prng: &mut Prng) -> (Request, i16) {
    let group = || StrBytes::from_static(GROUP);
    match kind {
        0 => (Request::ApiVersions(ApiVersionsRequest::default()), 3),
        1 => {
            let topic = MetadataRequestTopic {
                name: Some(StrBytes::from_static(STRANGER_TOPIC)),
                ..Default::default()
            };
            let request = MetadataRequest { topics: Some(vec![topic]), ..Default::default() };
            (Request::Metadata(request), 9)
        }
        2 => {
            let partition = FetchRequestPartition {
                partition: 0,
                fetch_offset: prng.below(100) as i64,
                partition_max_bytes: 4096,
                ..Default::default()
            };
            let topic = FetchRequestTopic {
                topic: StrBytes::from_static(TOPIC),
                partitions: vec![partition],
                ..Default::default()
            };
            let request = FetchRequest {
                max_wait_ms: prng.below(1_000) as i32,
                min_bytes: 1 + prng.below(100_000) as i32,
                max_bytes: 1 << 20,
                topics: vec![topic],
                ..Default::default()
            };
            (Request::Fetch(request), 12)
        }
        3 => {
            let partition = ListOffsetsRequestPartition {
                partition_index: 0,
                timestamp: -1,
                ..Default::default()
            };
            let topic = ListOffsetsRequestTopic {
                name: StrBytes::from_static(TOPIC),
                partitions: vec![partition],
                ..Default::default()
            };
            let request =
                ListOffsetsRequest { replica_id: -1, topics: vec![topic], ..Default::default() };
            (Request::ListOffsets(request), 7)
        }
        4 => {
            let request = FindCoordinatorRequest { key: group(), ..Default::default() };
            (Request::FindCoordinator(request), 3)
        }
        5 => {
            let request = DescribeGroupsRequest { groups: vec![group()], ..Default::default() };
            (Request::DescribeGroups(request), 5)
        }
        6 => {
            let request = OffsetFetchRequest { group_id: group(), ..Default::default() };
            (Request::OffsetFetch(request), 7)
        }
        CREATE => {
            let topic = CreateTopicsRequestTopic {
                name: StrBytes::from_static(STRANGER_WRITE_TOPIC),
                num_partitions: 2,
                replication_factor: 1,
                ..Default::default()
            };
            let request = CreateTopicsRequest { topics: vec![topic], ..Default::default() };
            (Request::CreateTopics(request), 7)
        }
        PRODUCE => {
            let count = prng.range_inclusive(1, 4) as usize;
            let values: Vec<String> = (0..count).map(|index| format!("stranger-{index}")).collect();
            let records: Vec<NewRecord<'_>> = values
                .iter()
                .map(|value| NewRecord {
                    key: None,
                    value: Some(value.as_bytes()),
                    headers: Vec::new(),
                    timestamp_ms: RECORDS_TIME_MS,
                })
                .collect();
            let batch = build_batch(&records, BatchOptions::default());
            let partition = ProduceRequestPartition {
                index: prng.below(2) as i32,
                records: Some(Bytes::from(batch)),
                ..Default::default()
            };
            let topic = ProduceRequestTopic {
                name: StrBytes::from_static(STRANGER_WRITE_TOPIC),
                partition_data: vec![partition],
                ..Default::default()
            };
            let acks = [-1, 1][prng.below(2) as usize];
            let request = ProduceRequest {
                acks,
                timeout_ms: 30_000,
                topic_data: vec![topic],
                ..Default::default()
            };
            (Request::Produce(request), 9)
        }
        other => unreachable!("no request template {other}"),
    }
}

/// Damages `body` past its api key: flips bits, cuts it short, appends junk, or overwrites a
/// run of bytes.
fn damage(body: &mut Vec<u8>, prng: &mut Prng) {
    const KEPT: usize = 2;
    let len = body.len();
    assert!(len > KEPT, "a request is longer than its api key");
    let at = |prng: &mut Prng| KEPT + prng.below((len - KEPT) as u64) as usize;
    match prng.below(4) {
        0 => {
            for _ in 0..prng.range_inclusive(1, 4) {
                let index = at(prng);
                body[index] ^= 1 << prng.below(8);
            }
        }
        1 => body.truncate(at(prng)),
        2 => {
            for _ in 0..prng.range_inclusive(1, 64) {
                body.push(prng.below(256) as u8);
            }
        }
        _ => {
            let start = at(prng);
            let end = (start + prng.range_inclusive(1, 8) as usize).min(len);
            let fill = [0x00, 0xFF, 0x80, 0x7F][prng.below(4) as usize];
            body[start..end].fill(fill);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stranger_that_writes_makes_its_topic_whole_and_damages_its_produces() {
        use sluice_core::protocol::api::decode_request;
        let mut prng = Prng::new(11);
        let (mut creates, mut produces) = (0, 0);
        for _ in 0..200 {
            let body = damaged_request(&mut prng, true);
            match i16::from_be_bytes([body[0], body[1]]) {
                19 => {
                    creates += 1;
                    let decoded = decode_request(body).expect("a CreateTopics is sent whole");
                    let Request::CreateTopics(request) = decoded.request else {
                        panic!("{:?}", decoded.request)
                    };
                    assert_eq!(request.topics[0].name.as_str(), STRANGER_WRITE_TOPIC);
                }
                0 => produces += 1,
                _ => {}
            }
        }
        assert_eq!((creates, produces), (19, 24));
        // Without writes, neither is ever sent.
        let mut prng = Prng::new(11);
        let keys = (0..200).map(|_| {
            let body = damaged_request(&mut prng, false);
            i16::from_be_bytes([body[0], body[1]])
        });
        assert_eq!(keys.filter(|key| matches!(key, 0 | 19)).count(), 0);
    }

    #[test]
    fn damage_keeps_the_api_key_and_cuts_extends_or_changes_the_rest() {
        let mut prng = Prng::new(7);
        let (mut shorter, mut longer, mut changed) = (0, 0, 0);
        for _ in 0..300 {
            let kind = prng.below(7);
            let body = request_body(kind, &mut prng);
            let mut damaged = body.clone();
            damage(&mut damaged, &mut prng);
            assert_eq!(damaged[..2], body[..2], "the api key stays");
            match damaged.len().cmp(&body.len()) {
                std::cmp::Ordering::Less => shorter += 1,
                std::cmp::Ordering::Greater => longer += 1,
                std::cmp::Ordering::Equal if damaged != body => changed += 1,
                std::cmp::Ordering::Equal => {}
            }
        }
        // Flips that cancel out, or a run overwritten with what it held, change nothing.
        assert_eq!((shorter, longer, changed), (63, 87, 149));
    }
}
