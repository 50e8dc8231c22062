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

use crate::client::TOPIC;
use crate::group::GROUP;
use bytes::{Bytes, BytesMut};
use sluice_core::prng::Prng;
use sluice_core::protocol::api::api_versions::ApiVersionsRequest;
use sluice_core::protocol::api::describe_groups::DescribeGroupsRequest;
use sluice_core::protocol::api::fetch::{FetchRequest, FetchRequestPartition, FetchRequestTopic};
use sluice_core::protocol::api::find_coordinator::FindCoordinatorRequest;
use sluice_core::protocol::api::list_offsets::{
    ListOffsetsRequest, ListOffsetsRequestPartition, ListOffsetsRequestTopic,
};
use sluice_core::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic};
use sluice_core::protocol::api::offset_fetch::OffsetFetchRequest;
use sluice_core::protocol::api::{encode_request, Request};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::wire::StrBytes;

/// The topic a stranger's Metadata names: no client uses it, so that a damaged request that
/// turns auto-creation on makes only a topic of its own.
pub const STRANGER_TOPIC: &str = "sim-stranger";

/// One damaged request body (the frame without its length prefix).
pub fn damaged_request(prng: &mut Prng) -> Bytes {
    let mut body = request_body(prng);
    damage(&mut body, prng);
    Bytes::from(body)
}

/// A request that only reads, encoded as a client would (without the length prefix).
fn request_body(prng: &mut Prng) -> Vec<u8> {
    let (request, version) = template(prng);
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

fn template(prng: &mut Prng) -> (Request, i16) {
    let group = || StrBytes::from_static(GROUP);
    match prng.below(7) {
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
        _ => {
            let request = OffsetFetchRequest { group_id: group(), ..Default::default() };
            (Request::OffsetFetch(request), 7)
        }
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
    fn damage_keeps_the_api_key_and_cuts_extends_or_changes_the_rest() {
        let mut prng = Prng::new(7);
        let (mut shorter, mut longer, mut changed) = (0, 0, 0);
        for _ in 0..300 {
            let body = request_body(&mut prng);
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
