//! Checkers: the invariants of DESIGN.md §7 that a single node can show, judged from the
//! history (what clients were told and what consumers read) and the node's queue sizes only.

use crate::client::{batch_of_value, is_tombstone, key_of_value, RECORDS_TIME_MS};
use crate::configure::RETENTION_BYTES;
use crate::history::{History, Operation};
use sluice_core::group::records::coordinator_partition;
use sluice_core::limits::{
    CONNECTIONS_MAX, INFLIGHT_REQUESTS_PER_CONNECTION_MAX, OUTPUTS_QUEUED_MAX, PARKED_FETCHES_MAX,
};
use sluice_core::node::NodeStats;
use sluice_core::protocol::record_batch::Compression;
use sluice_core::protocol::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};

/// A broken invariant, with what shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

/// Every record consumers read: (partition, offset) → value. Fails if one offset was seen with
/// two different values (invariant 2), a consumer's offsets went backwards or repeated
/// (invariant 3), a group consumer did not read on from where its OffsetFetch (its
/// committed offset, or 0 when none) put it, one offset after another, or a plain reader's
/// fetch was not answered as asked.
pub fn consumed_records(history: &History) -> Result<BTreeMap<(i32, i64), String>, Violation> {
    let mut records: BTreeMap<(i32, i64), String> = BTreeMap::new();
    let mut last_seen: BTreeMap<u32, i64> = BTreeMap::new();
    // Group consumers: (client, partition) → the next offset it must read.
    let mut group_next: BTreeMap<(u32, i32), i64> = BTreeMap::new();
    for operation in &history.operations {
        let (partition, offset, value) = match operation {
            Operation::Consumed { client, partition, offset, value } => {
                if let Some(previous) = last_seen.insert(*client, *offset) {
                    if *offset <= previous {
                        return Err(Violation(format!(
                            "consumer {client} read offset {offset} after {previous} on partition {partition}"
                        )));
                    }
                }
                (*partition, *offset, value)
            }
            Operation::GroupAssigned { client, .. } => {
                group_next.retain(|(owner, _), _| owner != client);
                continue;
            }
            Operation::OffsetFetched { client, offsets, .. } => {
                for &(partition, committed) in offsets {
                    group_next.insert((*client, partition), committed.max(0));
                }
                continue;
            }
            Operation::GroupConsumed { client, generation, partition, offset, value } => {
                let Some(expected) = group_next.get_mut(&(*client, *partition)) else {
                    return Err(Violation(format!(
                        "group consumer {client} read {partition}/{offset} in generation {generation} without an offset fetch for it"
                    )));
                };
                if *offset != *expected {
                    return Err(Violation(format!(
                        "group consumer {client} read {partition}/{offset} in generation {generation}; its position was {expected}"
                    )));
                }
                *expected = offset + 1;
                (*partition, *offset, value)
            }
            Operation::PositionReset { client, error_code } => {
                return Err(Violation(format!(
                    "consumer {client} lost its position with error {error_code}"
                )));
            }
            Operation::FetchMisanswered { client, partition, position, fault } => {
                return Err(Violation(format!(
                    "consumer {client}'s fetch of {partition} from {position} was misanswered: {fault}"
                )));
            }
            Operation::ResetToEarliest { client, partition, from, to } => {
                // Out of range below the log start moves a reader on; one that had to move
                // back was out of range above the log end, which it never read past.
                if to < from {
                    return Err(Violation(format!(
                        "consumer {client} at {partition}/{from} was out of range, and the earliest offset is {to}"
                    )));
                }
                // A group member reads on from there.
                if let Some(expected) = group_next.get_mut(&(*client, *partition)) {
                    *expected = *to;
                }
                continue;
            }
            _ => continue,
        };
        match records.get(&(partition, offset)) {
            Some(existing) if existing != value => {
                return Err(Violation(format!(
                    "partition {partition} offset {offset} held {} and later {}",
                    shown(existing),
                    shown(value)
                )));
            }
            Some(_) => {}
            None => {
                records.insert((partition, offset), value.clone());
            }
        }
    }
    Ok(records)
}

/// Every acknowledged record (acks=all, and acks=1: both answer after the fsync on one node)
/// is where its acknowledgement said, in what consumers read by the end (invariant 1). On a
/// `compacted` topic a record may be missing when a later one with its key
/// ([`key_of_value`]) was acknowledged or read: compaction keeps the last record of a key.
///
/// Under `retention_ms`, a record may be missing when a reader's reset to the earliest offset
/// skipped it, and only if its retention was due by then: retention deletes a segment only
/// once its largest timestamp is older than `retention.ms` by the node's deletion clock, which
/// never runs ahead of the wall clock's reading at the node's start plus the time since
/// ([`History::opens`]). A configurer may change `retention.ms` on the live topic
/// ([`Operation::RetentionSet`]): the shortest value sent by the reset, or the topic's first
/// one, is what bounds it (-1 keeps records forever).
///
/// Under `retention_bytes` (the topic's first value, or the smallest a configurer sent by the
/// reset: [`Operation::TopicConfigSet`]), such a record may also be gone if its partition may
/// have held that many bytes after it by the reset: retention deletes a segment by size only
/// while what stays is at least `retention.bytes` (so all of it came after the record).
/// Those bytes are at most the batches of every produce request to the partition sent by the
/// reset and not answered before the record's batch was first sent
/// ([`Operation::ProduceSent`]), less one copy of the record's own batch.
pub fn acknowledged_records_kept(
    history: &History,
    consumed: &BTreeMap<(i32, i64), String>,
    compacted: bool,
    retention_ms: Option<i64>,
    retention_bytes: Option<i64>,
    tombstones_kept: Option<(i64, i64)>,
) -> Result<usize, Violation> {
    // (partition, key) → the highest offset acknowledged or read with that key.
    let mut last_of_key: BTreeMap<(i32, String), i64> = BTreeMap::new();
    if compacted {
        let acknowledged = history.operations.iter().filter_map(|operation| match operation {
            Operation::ProduceAcked { partition, base_offset, values, .. } => {
                Some((*partition, *base_offset, values))
            }
            _ => None,
        });
        for (partition, base_offset, values) in acknowledged {
            for (index, value) in values.iter().enumerate() {
                note_key(&mut last_of_key, partition, base_offset + index as i64, value);
            }
        }
        for (&(partition, offset), value) in consumed {
            note_key(&mut last_of_key, partition, offset, value);
        }
    }
    // Per partition, (offset, tick) of every record a plain reader read, by offset, with the
    // earliest tick at or after each: when a reader first read past an offset.
    let mut reads: BTreeMap<i32, Vec<(i64, u64)>> = BTreeMap::new();
    if tombstones_kept.is_some() {
        for (operation, &tick) in history.operations.iter().zip(&history.ticks) {
            if let Operation::Consumed { partition, offset, .. } = operation {
                reads.entry(*partition).or_default().push((*offset, tick));
            }
        }
        for list in reads.values_mut() {
            list.sort_unstable();
            for index in (0..list.len().saturating_sub(1)).rev() {
                list[index].1 = list[index].1.min(list[index + 1].1);
            }
        }
    }
    let first_read_past = |partition: i32, offset: i64| {
        let list = reads.get(&partition)?;
        let index = list.partition_point(|&(read, _)| read <= offset);
        list.get(index).map(|&(_, tick)| tick)
    };
    let superseded = |partition: i32, offset: i64, value: &str| {
        key_of_value(value).is_some_and(|key| {
            last_of_key.get(&(partition, key)).is_some_and(|&last| last > offset)
        })
    };
    // (partition, from, to, tick) of each reset to the earliest offset.
    let resets: Vec<(i32, i64, i64, u64)> = history
        .operations
        .iter()
        .zip(&history.ticks)
        .filter_map(|(operation, &tick)| match operation {
            Operation::ResetToEarliest { partition, from, to, .. } => {
                Some((*partition, *from, *to, tick))
            }
            _ => None,
        })
        .collect();
    // The first reset that moved a reader of `partition` over `offset`.
    let reset_over = |partition: i32, offset: i64| {
        resets
            .iter()
            .find(|&&(reset, from, to, _)| reset == partition && (from..to).contains(&offset))
    };
    // The shortest `retention.ms` that may have been in force by `tick`, if any is finite.
    let retention_sets: Vec<(u64, i64)> = history
        .operations
        .iter()
        .zip(&history.ticks)
        .filter_map(|(operation, &tick)| match operation {
            Operation::RetentionSet { retention_ms, .. } => Some((tick, *retention_ms)),
            _ => None,
        })
        .collect();
    let retention_by = |tick: u64| {
        let set = retention_sets.iter().filter(|&&(sent, _)| sent <= tick);
        retention_ms.into_iter().chain(set.map(|&(_, ms)| ms)).filter(|&ms| ms >= 0).min()
    };
    // The same for `retention.bytes` (-1: no limit).
    let size_sets: Vec<(u64, i64)> = history
        .operations
        .iter()
        .zip(&history.ticks)
        .filter_map(|(operation, &tick)| match operation {
            Operation::TopicConfigSet { name, value, .. } if *name == RETENTION_BYTES => {
                Some((tick, *value))
            }
            _ => None,
        })
        .collect();
    let size_limit_by = |tick: u64| {
        let set = size_sets.iter().filter(|&&(sent, _)| sent <= tick);
        retention_bytes.into_iter().chain(set.map(|&(_, bytes)| bytes)).filter(|&b| b >= 0).min()
    };
    let bytes_after = produced_bytes_after(history);
    // The latest the deletion clock can read at `tick`.
    let deletion_clock_max = |tick: u64| {
        history
            .opens
            .iter()
            .filter(|&&(opened, _)| opened <= tick)
            .map(|&(opened, wall_ms)| wall_ms.saturating_add((tick - opened) as i64))
            .max()
    };
    let mut checked = 0;
    for operation in &history.operations {
        if let Operation::ProduceAcked {
            client,
            partition,
            base_offset,
            values,
            acks,
            made,
            timestamp_ms,
            ..
        } = operation
        {
            for (index, value) in values.iter().enumerate() {
                let offset = base_offset + index as i64;
                match consumed.get(&(*partition, offset)) {
                    Some(found) if found == value => checked += 1,
                    Some(found) => {
                        return Err(Violation(format!(
                            "acks={acks} record {} of client {client} was acknowledged at {partition}/{offset}, which holds {}",
                            shown(value),
                            shown(found)
                        )))
                    }
                    None if compacted && superseded(*partition, offset, value) => {}
                    // A tombstone goes once delete.retention.ms is up (that no older record
                    // of its key comes back is `compacted_keys_stay_deleted`'s to judge):
                    // counted from the first compaction pass that kept it (its delete
                    // horizon, KIP-534), whatever its own timestamp, by the deletion clock.
                    // That clock never passes the wall clock, and where the wall clock never
                    // jumps (it drifts by `drift_ppm`) it reads at least the start's wall
                    // time plus the simulated time, less any slow drift. The pass came after
                    // the batch was made, so a reader that read past the tombstone before the
                    // wall clock reached that bound at `made` plus delete.retention.ms should
                    // have been sent it.
                    None if compacted && is_tombstone(value) => {
                        let Some((kept_ms, drift_ppm)) = tombstones_kept else { continue };
                        let Some(passed) = first_read_past(*partition, offset) else { continue };
                        // The simulated wall clock at `passed`, as the engine gives it.
                        let ms = passed as i64;
                        let wall_ms = RECORDS_TIME_MS + ms + ms.saturating_mul(drift_ppm) / 1_000_000;
                        let made = i64::try_from(*made).unwrap_or(i64::MAX);
                        let slow = made.saturating_mul(drift_ppm.min(0)) / 1_000_000;
                        let made_ms = RECORDS_TIME_MS + made + slow;
                        let due_ms = made_ms.saturating_add(kept_ms);
                        if wall_ms < due_ms {
                            return Err(Violation(format!(
                                "tombstone {} of client {client} at {partition}/{offset} was gone when a reader read past it at wall {wall_ms} ms, before {made_ms} (the deletion clock's least reading when it was made) plus delete.retention.ms={kept_ms}",
                                shown(value)
                            )));
                        }
                    }
                    None => {
                        let record = format!("acks={acks} record {} of client {client}", shown(value));
                        let gone = format!("{record} acknowledged at {partition}/{offset} is gone");
                        let Some(&(_, from, to, tick)) = reset_over(*partition, offset) else {
                            return Err(Violation(gone));
                        };
                        let after = bytes_after(*partition, value, tick);
                        let size_limit = size_limit_by(tick);
                        if size_limit.is_some_and(|limit| after as i64 >= limit) {
                            continue;
                        }
                        let by_size = size_limit.map_or(String::new(), |limit| {
                            format!(", with at most {after} bytes after it (retention.bytes={limit})")
                        });
                        let Some(retention_ms) = retention_by(tick) else {
                            return Err(Violation(format!(
                                "{gone} (a reset from {from} to {to}){by_size}"
                            )));
                        };
                        let clock = deletion_clock_max(tick).unwrap_or(i64::MIN);
                        if timestamp_ms.saturating_add(retention_ms) >= clock {
                            return Err(Violation(format!(
                                "{record} at {partition}/{offset}, made at {timestamp_ms} ms, was gone by {clock} ms (a reset from {from} to {to}), before its retention.ms of {retention_ms} was up{by_size}"
                            )));
                        }
                    }
                }
            }
        }
    }
    Ok(checked)
}

/// The workload topic's `message.timestamp.type` and `compression.type` hold for what readers
/// are sent: in a LogAppendTime topic every batch is flagged so, and the batch an acks=all
/// produce was acknowledged at carries the append time its answer gave; in a CreateTime
/// topic no answer gives one, no batch is flagged (producers may flag theirs) and each
/// batch's maxTimestamp is its records' latest time; in a topic with a codec of its own,
/// every batch that holds records is stored with it (compaction leaves empty batches
/// uncompressed). Returns how many batches were judged.
pub fn batches_stamped_and_encoded(
    history: &History,
    log_append_time: bool,
    codec: Option<Compression>,
) -> Result<usize, Violation> {
    let mut stamps = BTreeMap::new();
    for operation in &history.operations {
        let Operation::ProduceAcked {
            client,
            partition,
            base_offset,
            acks,
            log_append_time_ms,
            ..
        } = operation
        else {
            continue;
        };
        if *log_append_time_ms == -1 {
            // Retries answered as duplicates carry the original append time too.
            if log_append_time && *acks == -1 {
                return Err(Violation(format!(
                    "client {client}'s produce to {partition}/{base_offset} was answered without its append time in a LogAppendTime topic"
                )));
            }
            continue;
        }
        if !log_append_time {
            return Err(Violation(format!(
                "client {client}'s produce to {partition}/{base_offset} was answered with log_append_time {log_append_time_ms} in a CreateTime topic"
            )));
        }
        // An acks=1 batch of a page-cache topic may be lost and its offset given again.
        if *acks == -1 {
            stamps.insert((*partition, *base_offset), *log_append_time_ms);
        }
    }
    let mut judged = 0;
    for operation in &history.operations {
        let Operation::BatchSeen {
            client,
            partition,
            base_offset,
            records,
            log_append_time: flagged,
            max_timestamp,
            records_max_timestamp,
            codec: stored,
        } = operation
        else {
            continue;
        };
        let batch = format!("the batch at {partition}/{base_offset} read by client {client}");
        if *flagged != log_append_time {
            let kind = if *flagged { "LogAppendTime" } else { "CreateTime" };
            return Err(Violation(format!("{batch} has timestamp type {kind}")));
        }
        if *records > 0 {
            if let Some(codec) = codec.filter(|codec| codec != stored) {
                return Err(Violation(format!(
                    "{batch} is stored with {stored:?}, not the topic's {codec:?}"
                )));
            }
            // Kafka's readers take a CreateTime batch's maxTimestamp as its records' latest
            // time (a producer may have flagged it LogAppendTime with another).
            if !log_append_time && max_timestamp != records_max_timestamp {
                return Err(Violation(format!(
                    "{batch} has maxTimestamp {max_timestamp}, but its records' latest time is {records_max_timestamp}"
                )));
            }
            let stamp = stamps.get(&(*partition, *base_offset));
            if let Some(stamp) = stamp.filter(|&&stamp| stamp != *max_timestamp) {
                return Err(Violation(format!(
                    "{batch} has maxTimestamp {max_timestamp}, but its produce was answered with log_append_time {stamp}"
                )));
            }
        }
        judged += 1;
    }
    Ok(judged)
}

/// A record value for a message: whole if short, else its start and its length (padded values
/// run to kilobytes).
fn shown(value: &str) -> String {
    const SHOWN_MAX: usize = 64;
    match value.get(..SHOWN_MAX) {
        Some(start) if value.len() > SHOWN_MAX => format!("{start:?}... ({} bytes)", value.len()),
        _ => format!("{value:?}"),
    }
}

fn note_key(
    last_of_key: &mut BTreeMap<(i32, String), i64>,
    partition: i32,
    offset: i64,
    value: &str,
) {
    if let Some(key) = key_of_value(value) {
        let last = last_of_key.entry((partition, key)).or_insert(offset);
        *last = (*last).max(offset);
    }
}

/// The clients that produced idempotently.
fn idempotent_clients(history: &History) -> BTreeSet<u32> {
    history
        .operations
        .iter()
        .filter_map(|operation| match operation {
            Operation::ProduceAcked { client, idempotent: true, .. }
            | Operation::ProducerInitialised { client, .. } => Some(*client),
            _ => None,
        })
        .collect()
}

/// (client, batch, record) of a value `c<client>-b<batch>-r<record>`.
fn value_origin(value: &str) -> Option<(u32, u32, u32)> {
    let mut parts = value.strip_prefix('c')?.split('-');
    let client = parts.next()?.parse().ok()?;
    let batch = parts.next()?.strip_prefix('b')?.parse().ok()?;
    let record = parts.next()?.strip_prefix('r')?.parse().ok()?;
    Some((client, batch, record))
}

/// An idempotent producer's record is stored at most once (invariant 5); unless `forgetting`
/// (the broker forgets producers after `producer.id.expiration.ms`): a forgotten producer's
/// retry is new to the broker and may be stored again, as in Kafka.
pub fn idempotent_records_unique(
    history: &History,
    consumed: &BTreeMap<(i32, i64), String>,
    forgetting: bool,
) -> Result<(), Violation> {
    if forgetting {
        return Ok(());
    }
    let idempotent = idempotent_clients(history);
    let mut seen = BTreeSet::new();
    for value in consumed.values() {
        let client = value_origin(value).map(|(client, _, _)| client);
        if client.is_some_and(|client| idempotent.contains(&client)) && !seen.insert(value.clone())
        {
            return Err(Violation(format!("idempotent record {} is stored twice", shown(value))));
        }
    }
    Ok(())
}

/// An idempotent producer's records are stored in the order it made them, even with several
/// batches in flight and retried (Kafka's guarantee up to `max.in.flight` 5): in each
/// partition, its (batch, record) numbers only go up with the offset. When `forgetting` (see
/// [`idempotent_records_unique`]), a record stored again is passed over: each record's first
/// copy must still be in order. Returns how many records were checked.
pub fn idempotent_order_kept(
    history: &History,
    consumed: &BTreeMap<(i32, i64), String>,
    forgetting: bool,
) -> Result<usize, Violation> {
    let idempotent = idempotent_clients(history);
    // (partition, client) -> (offset, batch, record) of the last record seen.
    let mut last: BTreeMap<(i32, u32), (i64, u32, u32)> = BTreeMap::new();
    let mut seen: BTreeSet<(i32, &str)> = BTreeSet::new();
    let mut checked = 0;
    for (&(partition, offset), value) in consumed {
        let Some((client, batch, record)) = value_origin(value) else { continue };
        if !idempotent.contains(&client) {
            continue;
        }
        checked += 1;
        if !seen.insert((partition, value.as_str())) && forgetting {
            continue;
        }
        if let Some(&(before, last_batch, last_record)) = last.get(&(partition, client)) {
            if (batch, record) <= (last_batch, last_record) {
                return Err(Violation(format!(
                    "idempotent client {client} out of order on partition {partition}: \
                     {} at {offset} after b{last_batch}-r{last_record} at {before}",
                    shown(value)
                )));
            }
        }
        last.insert((partition, client), (offset, batch, record));
    }
    Ok(checked)
}

/// In each generation, each partition was handed to at most one member (invariant 6), as the
/// SyncGroup answers tell; a static member under a new member id is the same member. Returns how many (generation, partition) ownerships were checked.
///
/// Where `groups_restart` (offsets expire), a group whose offsets all expired is deleted and
/// starts again at generation 1, as in Kafka: a generation is then named by its leader's
/// member id too, which the new incarnation never shares.
pub fn one_owner_per_generation(
    history: &History,
    groups_restart: bool,
) -> Result<usize, Violation> {
    let mut owners: BTreeMap<(&str, i32, &str, i32), (u32, &str)> = BTreeMap::new();
    for operation in &history.operations {
        let Operation::GroupAssigned {
            client, member_id, generation, leader_id, partitions, ..
        } = operation
        else {
            continue;
        };
        let group = history.group_of(*client);
        let leader = if groups_restart { leader_id.as_str() } else { "" };
        for &partition in partitions {
            let owner = owners
                .entry((group, *generation, leader, partition))
                .or_insert((*client, member_id));
            // A static member that comes back under a new member id takes its partitions over
            // in the same generation (KIP-345): the owner is still that one consumer.
            let taken_over = owner.0 == *client && history.is_static(*client);
            if owner.1 != member_id.as_str() && !taken_over {
                return Err(Violation(format!(
                    "group {group} generation {generation}: partition {partition} was assigned to member {:?} (client {}) and to member {member_id:?} (client {client})",
                    owner.1, owner.0
                )));
            }
        }
    }
    Ok(owners.len())
}

/// A member id names one member: the coordinator never hands one client's id to another
/// (Kafka's are UUIDs), or the two would be one member to it — heartbeating, committing and
/// being assigned partitions for each other.
pub fn member_ids_never_shared(history: &History) -> Result<(), Violation> {
    let mut owners: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for operation in &history.operations {
        let (client, member_id) = match operation {
            Operation::GroupJoined { client, member_id, .. }
            | Operation::GroupAssigned { client, member_id, .. } => (*client, member_id.as_str()),
            _ => continue,
        };
        let group = history.group_of(client);
        let owner = *owners.entry((group, member_id)).or_insert(client);
        if owner != client {
            return Err(Violation(format!(
                "group {group}: member id {member_id:?} was given to group consumer {owner} and to group consumer {client}"
            )));
        }
    }
    Ok(())
}

/// A member never sees its group's generation go down: within one broker incarnation never,
/// and across restarts never below a generation it was assigned partitions in (a SyncGroup
/// answer is sent only once the group record of its generation is durable).
///
/// A JoinGroup answer alone may be forgotten by a restart: the coordinator stores the group
/// only when the leader's assignment arrives, as Kafka's does, so a member that joined
/// generation g+1 may find the group back at g after a crash and be answered g on rejoining.
///
/// Incarnations are those of the broker that sent each answer, not of the time it arrived: an
/// answer sent just before a restart may be delivered just after it. A reload of group state
/// from `__consumer_offsets` after a refused store counts as a restart (the `reloads` of each
/// answer): it brings back what the log holds, a group whose deletion was refused included.
///
/// Where `groups_restart` (offsets expire), a group deleted when its offsets expired starts
/// again at generation 1 ([`one_owner_per_generation`]): a lower generation under another
/// leader is a new incarnation of the group, from which the member counts afresh. So is an
/// answer of generation 1 under another leader than the group's last answer named, to any
/// member: a member that was not in the group when it began again may see its generation
/// rise past the old one's and, once a restart forgets the new one's unstored generations,
/// fall below it (seed 7879066).
pub fn generations_never_go_down(history: &History, groups_restart: bool) -> Result<(), Violation> {
    // client → (highest generation seen from the latest incarnation that answered it, what),
    // and the highest generation it was assigned partitions in.
    let mut seen: BTreeMap<u32, (i32, &'static str)> = BTreeMap::new();
    // client → (incarnation, reloads) of the broker that sent its last answer.
    let mut incarnations: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut assigned: BTreeMap<u32, i32> = BTreeMap::new();
    // client → (the leader's member id, generation) of its last answer.
    let mut last: BTreeMap<u32, (&str, i32)> = BTreeMap::new();
    // group → the leader's member id in the last answer to any of its members.
    let mut leaders: BTreeMap<&str, &str> = BTreeMap::new();
    for operation in &history.operations {
        let (client, incarnation, reloads, generation, leader, what) = match operation {
            Operation::GroupJoined {
                client, incarnation, reloads, generation, leader_id, ..
            } => (*client, *incarnation, *reloads, *generation, leader_id.as_str(), "joined"),
            Operation::GroupAssigned {
                client,
                incarnation,
                reloads,
                generation,
                leader_id,
                ..
            } => {
                let what = "was assigned partitions";
                (*client, *incarnation, *reloads, *generation, leader_id.as_str(), what)
            }
            _ => continue,
        };
        let group = history.group_of(client);
        let new_leader = leaders.insert(group, leader).is_some_and(|previous| previous != leader);
        if groups_restart && generation == 1 && new_leader {
            seen.retain(|&other, _| history.group_of(other) != group);
            assigned.retain(|&other, _| history.group_of(other) != group);
        }
        let epoch = (incarnation, reloads);
        if incarnations.insert(client, epoch).is_some_and(|previous| previous != epoch) {
            seen.remove(&client);
        }
        let restarted =
            last.insert(client, (leader, generation)).is_some_and(|(previous_leader, previous)| {
                previous_leader != leader && generation < previous
            });
        if groups_restart && restarted {
            seen.remove(&client);
            assigned.remove(&client);
        }
        if let Some(&highest) = assigned.get(&client) {
            if generation < highest {
                return Err(Violation(format!(
                    "group consumer {client} {what} in generation {generation} after it was assigned partitions in generation {highest}"
                )));
            }
        }
        if let Some(&(previous, previous_what)) = seen.get(&client) {
            if generation < previous {
                return Err(Violation(format!(
                    "group consumer {client} {what} in generation {generation} after it {previous_what} in generation {previous}, both answered by broker incarnation {incarnation} after {reloads} reloads of group state"
                )));
            }
        }
        if generation >= seen.get(&client).map_or(i32::MIN, |&(previous, _)| previous) {
            seen.insert(client, (generation, what));
        }
        if matches!(operation, Operation::GroupAssigned { .. }) {
            let highest = assigned.entry(client).or_insert(generation);
            *highest = (*highest).max(generation);
        }
    }
    Ok(())
}

/// One offset commit: when it was sent and answered (history indexes) and what it carried.
struct Commit {
    group: &'static str,
    generation: i32,
    sent_at: usize,
    answered_at: Option<usize>,
    offsets: Vec<(i32, i64)>,
    errors: Vec<(i32, i16)>,
}

impl Commit {
    fn offset(&self, partition: i32) -> Option<i64> {
        self.offsets.iter().find(|(p, _)| *p == partition).map(|&(_, offset)| offset)
    }

    fn code(&self, partition: i32) -> Option<i16> {
        self.errors.iter().find(|(p, _)| *p == partition).map(|&(_, code)| code)
    }

    /// Whether the coordinator acknowledged `partition` of this commit.
    fn acknowledged(&self, partition: i32) -> bool {
        self.answered_at.is_some() && self.code(partition) == Some(0)
    }

    /// Whether this commit may have set `partition`'s offset: acknowledged, unanswered (lost,
    /// so it may still have been applied), or refused only for want of durability.
    fn maybe_applied(&self, partition: i32) -> bool {
        self.answered_at.is_none()
            || matches!(self.code(partition), Some(code) if code == 0 || code == STORAGE_ERROR)
    }
}

const STORAGE_ERROR: i16 = 56;

/// Clients never change `__consumer_offsets` (see [`crate::meddle`]): a produce to it and a
/// DeleteRecords of it are refused with INVALID_TOPIC_EXCEPTION, as in Kafka; growing it is
/// refused (INVALID_PARTITIONS, or UNKNOWN_TOPIC_OR_PARTITION before it exists); and Metadata,
/// when it answers the topic, answers it internal with `offsets_partitions` partitions, as the
/// coordinator makes it even when a client's Metadata request does; a deletion of it is done,
/// or refused for want of the topic or of storage. Returns the answers checked.
pub fn offsets_topic_guarded(
    history: &History,
    offsets_partitions: i32,
) -> Result<usize, Violation> {
    use crate::meddle::Meddle;
    let mut checked = 0;
    for operation in &history.operations {
        let Operation::Meddled { client, meddle, error_code, partitions, internal } = operation
        else {
            continue;
        };
        checked += 1;
        let code = *error_code;
        let kept = match meddle {
            Meddle::Produce | Meddle::DeleteRecords => code == INVALID_TOPIC_EXCEPTION,
            Meddle::Grow => code == INVALID_PARTITIONS || code == UNKNOWN_TOPIC_OR_PARTITION,
            Meddle::Metadata => code != 0 || (*internal && *partitions == offsets_partitions),
            // Allowed, as in Kafka; or the topic is not there (yet, or any more); or its
            // registry or files could not be changed.
            Meddle::Delete => {
                matches!(code, 0 | UNKNOWN_TOPIC_OR_PARTITION | STORAGE_ERROR)
            }
        };
        if !kept {
            return Err(Violation(format!(
                "meddler {client}: {meddle:?} on __consumer_offsets was answered error {code} (partitions {partitions}, internal {internal})"
            )));
        }
    }
    Ok(checked)
}

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_TOPIC_EXCEPTION: i16 = 17;
const INVALID_PARTITIONS: i16 = 37;

/// An OffsetFetch answer: who fetched, when (history indexes), and what it found.
struct Fetched<'h> {
    client: u32,
    /// The group whose offsets it shows.
    group: &'h str,
    sent_at: usize,
    answered_at: usize,
    offsets: &'h [(i32, i64)],
}

/// When a group had a member: spans (answered, sent, stored) by answer.
#[derive(Default)]
struct Presence {
    spans: Vec<(u64, u64, bool)>,
    /// For the stored spans, by answer: (answered, the latest any of them answered by then
    /// was sent).
    stored: Vec<(u64, u64)>,
}

impl Presence {
    fn new(mut spans: Vec<(u64, u64, bool)>) -> Self {
        spans.sort_unstable();
        let mut latest = 0;
        let stored = spans
            .iter()
            .filter(|&&(_, _, stored)| stored)
            .map(|&(answered, sent, _)| {
                latest = latest.max(sent);
                (answered, latest)
            })
            .collect();
        Self { spans, stored }
    }

    /// The latest a span answered by `tick` was sent, counting a span not stored only if
    /// it was answered at or after the node's last start by then, `restarted`.
    fn latest_sent(&self, tick: u64, restarted: u64) -> Option<u64> {
        let stored = self.stored.partition_point(|&(answered, _)| answered <= tick);
        let mut latest = stored.checked_sub(1).map(|index| self.stored[index].1);
        let end = self.spans.partition_point(|&(answered, _, _)| answered <= tick);
        for &(answered, sent, _) in self.spans[..end].iter().rev() {
            // Earlier spans were answered before the restart, or sent before `latest`.
            if answered < restarted || latest.is_some_and(|latest| answered < latest) {
                break;
            }
            latest = latest.max(Some(sent));
        }
        latest
    }
}

/// The offset traffic in a history: the group consumers' commits, every OffsetFetch answer
/// (members', the observer's and the lag monitor's), and when each group had a member.
struct OffsetTraffic<'h> {
    commits: BTreeMap<(u32, u32), Commit>,
    /// The OffsetFetch answers, in the order answered.
    fetched: Vec<Fetched<'h>>,
    /// Per group, when the coordinator had a member.
    present: BTreeMap<&'static str, Presence>,
    offsets_retention_ms: Option<u64>,
    history: &'h History,
    /// The ticks at which the node's deletion clock may leap or fall back.
    clock_breaks: Vec<u64>,
}

impl<'h> OffsetTraffic<'h> {
    fn new(history: &'h History, offsets_retention_ms: Option<u64>) -> Self {
        let mut commits: BTreeMap<(u32, u32), Commit> = BTreeMap::new();
        let mut fetches_sent: BTreeMap<(u32, u32), usize> = BTreeMap::new();
        let mut fetched = Vec::new();
        for (index, operation) in history.operations.iter().enumerate() {
            match operation {
                Operation::CommitSent { client, commit, offsets, generation } => {
                    let entry = Commit {
                        group: history.group_of(*client),
                        generation: *generation,
                        sent_at: index,
                        answered_at: None,
                        offsets: offsets.clone(),
                        errors: Vec::new(),
                    };
                    assert!(
                        commits.insert((*client, *commit), entry).is_none(),
                        "commit ids are unique"
                    );
                }
                Operation::CommitAnswered { client, commit, errors } => {
                    let entry = commits.get_mut(&(*client, *commit)).expect("answered after sent");
                    assert!(entry.answered_at.is_none(), "a commit is answered once");
                    entry.answered_at = Some(index);
                    entry.errors.clone_from(errors);
                }
                Operation::OffsetFetchSent { client, fetch } => {
                    fetches_sent.insert((*client, *fetch), index);
                }
                Operation::OffsetFetched { client, fetch, offsets } => {
                    let sent_at = fetches_sent[&(*client, *fetch)];
                    let answered_at = index;
                    let group = history.group_of(*client);
                    fetched.push(Fetched { client: *client, group, sent_at, answered_at, offsets });
                }
                Operation::OffsetsObserved { client, fetch, group, offsets, .. } => {
                    let sent_at = fetches_sent[&(*client, *fetch)];
                    let answered_at = index;
                    fetched.push(Fetched { client: *client, group, sent_at, answered_at, offsets });
                }
                _ => {}
            }
        }
        // (answered, sent, stored) spans.
        let mut spans: BTreeMap<&'static str, Vec<(u64, u64, bool)>> = BTreeMap::new();
        for (operation, &tick) in history.operations.iter().zip(&history.ticks) {
            if let Operation::MemberPresent { client, sent, stored } = operation {
                spans.entry(history.group_of(*client)).or_default().push((tick, *sent, *stored));
            }
        }
        for commit in commits.values() {
            let whole = commit.offsets.iter().all(|&(partition, _)| commit.acknowledged(partition));
            if let (true, true, Some(answered)) =
                (whole, commit.generation >= 0, commit.answered_at)
            {
                // Acknowledged once durable, with the record of its generation before it in
                // the same log: a stored membership.
                let span = (history.ticks[answered], history.ticks[commit.sent_at], true);
                spans.entry(commit.group).or_default().push(span);
            }
        }
        let present =
            spans.into_iter().map(|(group, spans)| (group, Presence::new(spans))).collect();
        let clock_breaks = history.deletion_clock_breaks();
        Self { commits, fetched, present, offsets_retention_ms, history, clock_breaks }
    }

    /// Whether `group`'s offsets may have expired at some tick in `from..=to`. The node
    /// stamps a group that empties with its deletion clock, keeps the stamp through restarts
    /// (the group's record holds it), and expires the offsets of an Empty group once that
    /// clock reads `offsets.retention.ms` past the stamp, as Kafka does. A member was in the
    /// group at some moment of each span of presence (from sending a request to its answer,
    /// where the answer shows it; `extra` is one more, stored), so the group emptied at or
    /// after the span was sent: expiry at a tick `t` after a span was answered needs the
    /// clock at `t` to read the retention past its least reading since the span was sent.
    /// Across a restart only a stored membership counts: the restarted node knows the group
    /// as its last durable record has it, as Kafka's coordinator does after a failover.
    /// The clock follows the wall clock's drift and jumps and the node's starts
    /// ([`History::deletion_clock_range`]); between its breaks it only rises, so each
    /// stretch between breaks and span answers is judged at its end.
    fn may_expire(&self, group: &str, from: u64, to: u64, extra: Option<(u64, u64)>) -> bool {
        let Some(retention_ms) = self.offsets_retention_ms else { return false };
        let retention_ms = i64::try_from(retention_ms).unwrap_or(i64::MAX);
        let empty = Presence::default();
        let presence = self.present.get(group).unwrap_or(&empty);
        let inside = |tick: &u64| *tick > from && *tick <= to;
        let ends = presence.spans.iter().map(|&(answered, _, _)| answered);
        let mut candidates: Vec<u64> = ends
            .chain(extra.map(|(_, answered)| answered))
            .chain(self.clock_breaks.iter().copied())
            .filter(inside)
            .map(|tick| tick - 1)
            .collect();
        candidates.push(to);
        candidates.into_iter().filter(|&tick| tick >= from).any(|tick| {
            let restarted = self.history.opens.iter().rev().find(|&&(at, _)| at <= tick);
            let restarted = restarted.map_or(0, |&(at, _)| at);
            let extra_sent = extra.filter(|&(_, answered)| answered <= tick).map(|(sent, _)| sent);
            let latest = presence.latest_sent(tick, restarted).max(extra_sent);
            let Some(sent) = latest else { return true };
            let (_, clock_max) = self.history.deletion_clock_range(tick);
            clock_max.saturating_sub(self.least_deletion_clock(sent, tick)) >= retention_ms
        })
    }

    /// The least the node's deletion clock read in `from..=to`: at `from` or where it fell
    /// back, at a break.
    fn least_deletion_clock(&self, from: u64, to: u64) -> i64 {
        let first = self.clock_breaks.partition_point(|&tick| tick <= from);
        let breaks = self.clock_breaks[first..].iter().take_while(|&&tick| tick <= to);
        breaks
            .map(|&tick| self.history.deletion_clock_range(tick).0)
            .fold(self.history.deletion_clock_range(from).0, i64::min)
    }

    fn commits_of<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a Commit> {
        self.commits.values().filter(move |commit| commit.group == group)
    }

    /// Whether a commit of exactly `offset` to `partition` of `group` may have been applied
    /// after history index `after` and before index `before`: sent before `before`, not
    /// answered before `after`, and not refused.
    fn lowered_to(
        &self,
        group: &str,
        partition: i32,
        offset: i64,
        after: usize,
        before: usize,
    ) -> bool {
        self.commits_of(group).any(|later| {
            later.offset(partition) == Some(offset)
                && later.maybe_applied(partition)
                && later.sent_at < before
                && later.answered_at.is_none_or(|at| at >= after)
        })
    }
}

/// No acknowledged offset commit is lost (invariant 6): every OffsetFetch answer — after a
/// broker restart too — is at least the offset of every commit of its group acknowledged before
/// the fetch was sent, unless a commit of exactly the answered offset may have been applied
/// after that one (a later commit that lowered it). Returns how many (fetch, commit) pairs
/// were checked.
///
/// With `offsets_retention_ms`, the fetch may find no offset if the commit may have expired:
/// if its group may have been Empty that long between the commit and the fetch. A member was
/// in the group at some moment of each span from sending a request to its answer where that
/// answer shows it ([`Operation::MemberPresent`], and acknowledged commits with a
/// generation), so no expiry falls within `offsets_retention_ms` after such a span began, or
/// before it ended.
pub fn acknowledged_commits_kept(
    history: &History,
    offsets_retention_ms: Option<u64>,
) -> Result<usize, Violation> {
    let traffic = OffsetTraffic::new(history, offsets_retention_ms);
    let mut checked = 0;
    for fetch in &traffic.fetched {
        let (client, group, fetch_sent_at, fetch_answered_at) =
            (fetch.client, fetch.group, fetch.sent_at, fetch.answered_at);
        for &(partition, found) in fetch.offsets {
            let before = traffic.commits_of(group).filter(|commit| {
                commit.acknowledged(partition)
                    && commit.answered_at.is_some_and(|at| at < fetch_sent_at)
            });
            for acknowledged in before {
                checked += 1;
                let offset = acknowledged.offset(partition).expect("acknowledged for it");
                if found >= offset {
                    continue;
                }
                let lowered = traffic.lowered_to(
                    group,
                    partition,
                    found,
                    acknowledged.sent_at,
                    fetch_answered_at,
                );
                // The commit itself shows a member (with a generation) in the group when it
                // was applied, which was when its offset began: a span of presence.
                let (sent, applied_by) = (
                    history.ticks[acknowledged.sent_at],
                    history.ticks[acknowledged.answered_at.expect("acknowledged")],
                );
                let own = (acknowledged.generation >= 0).then_some((sent, applied_by));
                let from = if own.is_some() { applied_by } else { sent };
                let answered = history.ticks[fetch_answered_at];
                let expired = found < 0 && traffic.may_expire(group, from, answered, own);
                if !lowered && !expired {
                    return Err(Violation(format!(
                        "offset commit lost: group {group} partition {partition} was committed at {offset} (acknowledged at history index {}), and an OffsetFetch of client {client} sent after that answered {found}",
                        acknowledged.answered_at.expect("acknowledged")
                    )));
                }
            }
        }
    }
    Ok(checked)
}

/// An OffsetFetch shows only what the coordinator stored: once a fetch answered an offset, no
/// fetch of the group sent after that answer finds less (through restarts and power losses
/// too), unless a commit of exactly the lesser offset may have been applied since the first
/// fetch was sent, or the lesser answer is no offset and the offsets may have expired since
/// then ([`acknowledged_commits_kept`] says when). A fetch answered from a commit that was
/// appended but never synced would show an offset that a power loss takes back. Returns how
/// many (fetch, partition) answers were compared with an earlier one.
///
/// Of the earlier answers showing one offset, the one sent last among those answered before
/// the fetch was sent is the strictest witness (fewer commits may have lowered the offset
/// since it, and less time let it expire), so only that one is judged, for each offset above
/// the one found: the lag monitor's thousands of answers cost a search each, not a pass over
/// every earlier answer.
pub fn fetched_offsets_kept(
    history: &History,
    offsets_retention_ms: Option<u64>,
) -> Result<usize, Violation> {
    let traffic = OffsetTraffic::new(history, offsets_retention_ms);
    // Per (group, partition) and offset shown, the fetches that showed it, in answer order,
    // kept only where each was sent after every one kept before it (a fetch sent earlier and
    // answered later witnesses less than the one kept before it).
    let mut shown: BTreeMap<(&str, i32), BTreeMap<i64, Vec<&Fetched<'_>>>> = BTreeMap::new();
    // Per (group, partition), when the first answer that showed an offset was given.
    let mut first_shown: BTreeMap<(&str, i32), usize> = BTreeMap::new();
    let mut checked = 0;
    for fetch in &traffic.fetched {
        let (client, group, fetch_sent_at, fetch_answered_at) =
            (fetch.client, fetch.group, fetch.sent_at, fetch.answered_at);
        for &(partition, found) in fetch.offsets {
            if first_shown.get(&(group, partition)).is_some_and(|&at| at < fetch_sent_at) {
                checked += 1;
            }
            let by_offset = shown.entry((group, partition)).or_default();
            for (&offset, firsts) in by_offset.range(found.saturating_add(1)..) {
                let answered_before =
                    firsts.partition_point(|first| first.answered_at < fetch_sent_at);
                let Some(first) = answered_before.checked_sub(1).map(|index| firsts[index]) else {
                    continue;
                };
                let (first_sent_at, first_answered_at) = (first.sent_at, first.answered_at);
                let lowered =
                    traffic.lowered_to(group, partition, found, first_sent_at, fetch_answered_at);
                let expired = found < 0
                    && traffic.may_expire(
                        group,
                        history.ticks[first_sent_at],
                        history.ticks[fetch_answered_at],
                        None,
                    );
                if !lowered && !expired {
                    return Err(Violation(format!(
                        "fetched offset lost: group {group} partition {partition} was fetched at {offset} (answered at history index {first_answered_at}), and an OffsetFetch of client {client} sent after that answered {found}"
                    )));
                }
            }
            if found >= 0 {
                first_shown.entry((group, partition)).or_insert(fetch_answered_at);
                let firsts = by_offset.entry(found).or_default();
                if firsts.last().is_none_or(|last| last.sent_at < fetch_sent_at) {
                    firsts.push(fetch);
                }
            }
        }
    }
    Ok(checked)
}

/// A purging reader deletes only what it has read, so its DeleteRecords is never out of range
/// (it has read nothing past the high watermark), and an acknowledged one moves the log start
/// exactly to the offset asked for: it alone deletes, and its position only grows, so the
/// log start was at most that. Under `retention`, which moves the log start too, the log may
/// start past that offset, never before it. Nor does the log start ever go back below an
/// acknowledged deletion, through restarts and logs gone offline: each later Fetch answer
/// ([`Operation::LogStartSeen`]) and reset to the earliest offset the reader gets shows it
/// there or past it. Returns the deletions acknowledged.
pub fn deletions_exact(history: &History, retention: bool) -> Result<usize, Violation> {
    let mut acknowledged = 0;
    // Per (reader, partition), the log start its last acknowledged deletion reported.
    let mut deleted_to: BTreeMap<(u32, i32), i64> = BTreeMap::new();
    for operation in &history.operations {
        let shown = match *operation {
            Operation::LogStartSeen { client, partition, log_start } => {
                Some((client, partition, log_start))
            }
            Operation::ResetToEarliest { client, partition, to, .. } => {
                Some((client, partition, to))
            }
            _ => None,
        };
        if let Some((client, partition, shown)) = shown {
            let deleted = deleted_to.get(&(client, partition)).copied().unwrap_or(0);
            if shown < deleted {
                return Err(Violation(format!(
                    "consumer {client} deleted below {deleted} on partition {partition}, and was later shown the log starting at {shown}"
                )));
            }
        }
        let Operation::RecordsDeleted { client, partition, offset, error_code, low_watermark } =
            operation
        else {
            continue;
        };
        if *error_code == ErrorCode::OffsetOutOfRange.code() {
            return Err(Violation(format!(
                "consumer {client} could not delete below its position {offset} on partition {partition}: out of range"
            )));
        }
        if *error_code == 0 {
            let exact = low_watermark == offset || (retention && low_watermark > offset);
            if !exact {
                return Err(Violation(format!(
                    "consumer {client} deleted below {offset} on partition {partition} and was told the log now starts at {low_watermark}"
                )));
            }
            deleted_to.insert((*client, *partition), *low_watermark);
            acknowledged += 1;
        }
    }
    Ok(acknowledged)
}

/// A deleted topic stays deleted: once the churner's DeleteTopics of an incarnation was
/// acknowledged, no later read returns a record produced to that incarnation or an earlier
/// one (through a restart, or from a new topic of the same name), except a record whose
/// produce lost its answer: that request may reach the broker after the topic was made
/// again, and Kafka's name-based Produce then appends it there. Within one incarnation, no
/// offset holds two different records. After a deletion, the churner's group has no
/// committed offset of the topic, except one whose commit lost its answer (it may have
/// been stored on a topic made again by a CreateTopics that lost its answer too); so too
/// after the churner's acknowledged OffsetDelete or DeleteGroups.
///
/// A racer's record ([`crate::race`]) acknowledged before the churner first sent the
/// DeleteTopics of an incarnation was in that incarnation or an earlier one: once that
/// deletion is acknowledged, no read returns it (unless an attempt of it lost its answer).
/// Returns the records and offset probes checked.
pub fn deleted_topics_stay_deleted(history: &History) -> Result<usize, Violation> {
    let mut deleted = 0u32;
    let mut lost: BTreeSet<&str> = BTreeSet::new();
    let mut commits_lost: BTreeSet<u32> = BTreeSet::new();
    let mut seen: BTreeMap<(u32, i64), &str> = BTreeMap::new();
    // Racer records acknowledged and not yet taken by a deletion, with their history index;
    // those taken, with the incarnation whose deletion took them.
    let mut race_live: Vec<(&str, usize)> = Vec::new();
    let mut race_gone: BTreeMap<&str, u32> = BTreeMap::new();
    // The history index of the first DeleteTopics sent for each incarnation.
    let mut delete_sent: BTreeMap<u32, usize> = BTreeMap::new();
    let mut checked = 0;
    // What removed the offsets last, for the report.
    let mut removal = String::new();
    for (index, operation) in history.operations.iter().enumerate() {
        match operation {
            Operation::ChurnDeleteSent { incarnation, .. } => {
                delete_sent.entry(*incarnation).or_insert(index);
            }
            Operation::RaceAcked { value, .. } => race_live.push((value, index)),
            Operation::ChurnDeleted { incarnation, .. } => {
                deleted = deleted.max(*incarnation);
                removal = format!("the deletion of incarnation {incarnation}");
                if let Some(&sent) = delete_sent.get(incarnation) {
                    race_live.retain(|&(value, acknowledged)| {
                        let taken = acknowledged < sent;
                        if taken {
                            race_gone.insert(value, *incarnation);
                        }
                        !taken
                    });
                }
            }
            Operation::ChurnOffsetsForgotten { incarnation, group, .. } => {
                let how = if *group { "DeleteGroups" } else { "OffsetDelete" };
                removal = format!("its {how} in incarnation {incarnation}");
            }
            Operation::ChurnProduceLost { value, .. } => {
                lost.insert(value);
            }
            Operation::ChurnCommitLost { incarnation, .. } => {
                commits_lost.insert(*incarnation);
            }
            Operation::ChurnOffsetProbed { client, committed, .. } => {
                checked += 1;
                let Some((offset, metadata)) = committed else { continue };
                let committed_in = metadata.strip_prefix('d').and_then(|rest| rest.parse().ok());
                if committed_in.is_none_or(|incarnation| !commits_lost.contains(&incarnation)) {
                    return Err(Violation(format!(
                        "churner {client}'s group still had offset {offset} ({metadata:?}) committed after {removal}"
                    )));
                }
            }
            Operation::ChurnConsumed { client, incarnation, offset, value } => {
                checked += 1;
                if value.starts_with('z') {
                    let taken_by = race_gone.get(value.as_str());
                    if let Some(taken_by) = taken_by.filter(|_| !lost.contains(value.as_str())) {
                        return Err(Violation(format!(
                            "churner {client} read racer record {value} at offset {offset} of its topic's incarnation {incarnation}, although it was acknowledged before the deletion of incarnation {taken_by} was sent, and that deletion was acknowledged"
                        )));
                    }
                } else {
                    let produced_to = value
                        .strip_prefix('d')
                        .and_then(|rest| rest.split_once("-r"))
                        .and_then(|(incarnation, _)| incarnation.parse::<u32>().ok());
                    let Some(produced_to) = produced_to else {
                        return Err(Violation(format!(
                            "churner {client} read {} at offset {offset}, which no churner produced",
                            shown(value)
                        )));
                    };
                    if produced_to <= deleted && !lost.contains(value.as_str()) {
                        return Err(Violation(format!(
                            "churner {client} read {value} at offset {offset} of its topic's incarnation {incarnation}, although the deletion of incarnation {deleted} was acknowledged"
                        )));
                    }
                }
                if let Some(earlier) = seen.insert((*incarnation, *offset), value) {
                    if earlier != value {
                        return Err(Violation(format!(
                            "offset {offset} of the churner's incarnation {incarnation} held {earlier} and then {value}"
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(checked)
}

/// What an observer saw of the groups holds together: ListGroups lists a group at most once,
/// only groups some client used, each in a state a listed group can be in; and DescribeGroups
/// of a Stable group with members hands every partition of the workload topic (`partitions`)
/// to exactly one member, as the leader's assignment did (invariant 6, as an operator sees
/// it). Returns the descriptions checked.
pub fn group_views_consistent(history: &History, partitions: i32) -> Result<usize, Violation> {
    let known = [crate::group::GROUP, crate::group::SECOND_GROUP, crate::churn::CHURN_GROUP];
    let listable = ["Stable", "PreparingRebalance", "CompletingRebalance", "Empty"];
    let mut checked = 0;
    for operation in &history.operations {
        match operation {
            Operation::GroupsListed { client, error_code: 0, groups, .. } => {
                let mut seen = BTreeSet::new();
                for (group, state) in groups {
                    if !seen.insert(group) || !known.contains(&group.as_str()) {
                        return Err(Violation(format!(
                            "observer {client}: ListGroups listed {groups:?}"
                        )));
                    }
                    if !listable.contains(&state.as_str()) {
                        return Err(Violation(format!(
                            "observer {client}: ListGroups listed group {group} in state {state:?}"
                        )));
                    }
                }
            }
            Operation::GroupDescribed { client, group, error_code: 0, state, members, .. }
                if state == "Stable" && !members.is_empty() =>
            {
                checked += 1;
                let mut owners: BTreeMap<i32, &str> = BTreeMap::new();
                for (member, assigned) in members {
                    let Some(assigned) = assigned else {
                        return Err(Violation(format!(
                            "observer {client}: member {member:?} of Stable group {group} has an assignment that is not one"
                        )));
                    };
                    for &partition in assigned {
                        if let Some(other) = owners.insert(partition, member) {
                            return Err(Violation(format!(
                                "observer {client}: Stable group {group} assigns partition {partition} to {other:?} and to {member:?}"
                            )));
                        }
                    }
                }
                if !owners.keys().copied().eq(0..partitions) {
                    return Err(Violation(format!(
                        "observer {client}: Stable group {group} assigns partitions {:?} of 0..{partitions}",
                        owners.keys().collect::<Vec<_>>()
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(checked)
}

/// A group whose `__consumer_offsets` partition went offline is refused until the broker
/// starts again, as Kafka refuses the groups of a partition it unloaded: a ListGroups,
/// DescribeGroups or observer's OffsetFetch sent after the partition went offline, and
/// answered by that incarnation, neither lists the group, nor describes it, nor shows its
/// offsets without an error. (Memory may hold what the log never made durable.) `offsets_partitions` places groups. Returns the answers checked.
pub fn offline_groups_refused(
    history: &History,
    offsets_partitions: i32,
) -> Result<usize, Violation> {
    // (incarnation, partition) → history index at which it went offline.
    let mut offline: BTreeMap<(u64, i32), usize> = BTreeMap::new();
    // Observer → history index of its last request sent.
    let mut asked: BTreeMap<u32, usize> = BTreeMap::new();
    let mut checked = 0;
    let refused_since = |offline: &BTreeMap<(u64, i32), usize>, group: &str, incarnation, sent| {
        let partition = coordinator_partition(group, offsets_partitions);
        offline.get(&(incarnation, partition)).filter(|&&at| at < sent).map(|&at| (partition, at))
    };
    for (index, operation) in history.operations.iter().enumerate() {
        match operation {
            Operation::OffsetsPartitionOffline { partition, incarnation } => {
                offline.entry((*incarnation, *partition)).or_insert(index);
            }
            Operation::ObserverAsked { client } | Operation::OffsetFetchSent { client, .. } => {
                asked.insert(*client, index);
            }
            Operation::GroupsListed { client, incarnation, error_code: 0, groups } => {
                checked += 1;
                let sent = asked.get(client).copied().unwrap_or(index);
                for (group, _) in groups {
                    if let Some((partition, at)) =
                        refused_since(&offline, group, *incarnation, sent)
                    {
                        return Err(Violation(format!(
                            "observer {client}: ListGroups listed group {group}, whose partition {partition} of __consumer_offsets went offline (history index {at}) before it was sent"
                        )));
                    }
                }
            }
            Operation::GroupDescribed { client, incarnation, group, error_code: 0, .. } => {
                checked += 1;
                let sent = asked.get(client).copied().unwrap_or(index);
                if let Some((partition, at)) = refused_since(&offline, group, *incarnation, sent) {
                    return Err(Violation(format!(
                        "observer {client}: DescribeGroups described group {group} without an error, although its partition {partition} of __consumer_offsets went offline (history index {at}) before it was sent"
                    )));
                }
            }
            Operation::OffsetsObserved { client, incarnation, group, .. } => {
                checked += 1;
                let sent = asked.get(client).copied().unwrap_or(index);
                if let Some((partition, at)) = refused_since(&offline, group, *incarnation, sent) {
                    return Err(Violation(format!(
                        "observer {client}: OffsetFetch showed the offsets of group {group}, although its partition {partition} of __consumer_offsets went offline (history index {at}) before it was sent"
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(checked)
}

/// An acknowledged change of the topic's `retention.ms` is kept, through crashes and power
/// loss: a DescribeConfigs answered without error shows the value of the last change
/// acknowledged before it was sent, or of a change sent after that one (which may have landed
/// whatever its answer said: a lost answer, or an error after the registry was written).
/// Before any change is acknowledged, it shows `initial_ms` or a value sent. Returns the
/// descriptions checked.
pub fn retention_changes_kept(
    history: &History,
    initial_ms: Option<i64>,
) -> Result<usize, Violation> {
    // Every value sent, in order, and the index among them of the last one acknowledged.
    let mut sent: Vec<i64> = Vec::new();
    let mut acknowledged: Option<usize> = None;
    // Per configurer, the acknowledged change when its description in flight was asked.
    let mut asked: BTreeMap<u32, Option<usize>> = BTreeMap::new();
    let mut checked = 0;
    for operation in &history.operations {
        match operation {
            Operation::RetentionSet { retention_ms, .. } => sent.push(*retention_ms),
            // A configurer sends one request at a time: the answer is to the last one sent.
            Operation::RetentionSetAnswered { error_code: 0, .. } => {
                acknowledged = sent.len().checked_sub(1);
            }
            Operation::RetentionAsked { client } => {
                asked.insert(*client, acknowledged);
            }
            Operation::RetentionRead { client, error_code: 0, retention_ms } => {
                let floor = asked.get(client).copied().flatten();
                let (allowed, since): (Vec<i64>, _) = match floor {
                    Some(index) => {
                        (sent[index..].to_vec(), format!("{} was acknowledged", sent[index]))
                    }
                    None => (
                        initial_ms.into_iter().chain(sent.iter().copied()).collect(),
                        "no change was acknowledged".to_string(),
                    ),
                };
                match retention_ms {
                    Some(value) if allowed.contains(value) => checked += 1,
                    _ => {
                        return Err(Violation(format!(
                            "configurer {client} read retention.ms {retention_ms:?} after {since}; it may read only {allowed:?}"
                        )))
                    }
                }
            }
            _ => {}
        }
    }
    Ok(checked)
}

/// For [`acknowledged_records_kept`]: a function of (partition, a record's value, tick) to
/// the most bytes the partition may have held after that record at the tick, from the
/// produce requests noted in the history; 0 when the record's batch was never noted.
fn produced_bytes_after(history: &History) -> impl Fn(i32, &str, u64) -> u64 + '_ {
    // (partition, tick sent, tick answered, client, batch, bytes) of every batch sent.
    let mut parts: Vec<(i32, u64, Option<u64>, u32, u32, u32)> = Vec::new();
    // (client, request) → where its batches start in `parts`, and how many there are.
    let mut requests: BTreeMap<(u32, u64), (usize, usize)> = BTreeMap::new();
    for (operation, &tick) in history.operations.iter().zip(&history.ticks) {
        match operation {
            Operation::ProduceSent { client, request, parts: sent } => {
                requests.insert((*client, *request), (parts.len(), sent.len()));
                for &(partition, batch, bytes) in sent {
                    parts.push((partition, tick, None, *client, batch, bytes));
                }
            }
            Operation::ProduceAnswered { client, request } => {
                if let Some(&(start, count)) = requests.get(&(*client, *request)) {
                    for part in &mut parts[start..start + count] {
                        part.2 = Some(tick);
                    }
                }
            }
            _ => {}
        }
    }
    move |partition: i32, value: &str, by: u64| {
        let Some((client, batch)) = batch_of_value(value) else { return 0 };
        let own =
            parts.iter().find(|part| part.0 == partition && (part.3, part.4) == (client, batch));
        let Some(&(_, first_sent, _, _, _, own_bytes)) = own else { return 0 };
        let may_follow = parts.iter().filter(|&&(to, sent, answered, ..)| {
            to == partition && sent <= by && answered.is_none_or(|answered| answered >= first_sent)
        });
        let total: u64 = may_follow.map(|part| u64::from(part.5)).sum();
        total.saturating_sub(u64::from(own_bytes))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::RECORDS_TIME_MS;

    fn joined(client: u32, incarnation: u64, generation: i32) -> Operation {
        Operation::GroupJoined {
            client,
            incarnation,
            reloads: 0,
            member_id: format!("m{client}"),
            generation,
            leader: false,
            leader_id: "l".to_string(),
        }
    }

    fn history(operations: Vec<Operation>) -> History {
        let mut history = History::default();
        for operation in operations {
            history.push(operation);
        }
        history
    }

    /// Client `client`'s commit number `commit` of `offset` to partition 0, in generation 1.
    fn commit_sent(client: u32, commit: u32, offset: i64) -> Operation {
        Operation::CommitSent { client, commit, generation: 1, offsets: vec![(0, offset)] }
    }

    /// Appends each operation at its tick.
    fn push_at(history: &mut History, steps: impl IntoIterator<Item = (u64, Operation)>) {
        for (tick, operation) in steps {
            history.now = tick;
            history.push(operation);
        }
    }

    /// Client 1's acks=all record `c1-b<offset>-r0` at 0/`offset`, made `made_ms` into the run.
    fn acked_record(offset: i64, made_ms: i64) -> Operation {
        Operation::ProduceAcked {
            client: 1,
            partition: 0,
            acks: -1,
            idempotent: false,
            base_offset: offset,
            values: vec![format!("c1-b{offset}-r0")],
            timestamp_ms: RECORDS_TIME_MS + made_ms,
            made: u64::try_from(made_ms).expect("made in the run"),
            log_append_time_ms: -1,
            producer: None,
        }
    }

    #[test]
    fn a_deleted_incarnation_may_show_only_records_whose_produce_was_lost() {
        let read = |incarnation: u32, offset: i64, value: &str| Operation::ChurnConsumed {
            client: 9,
            incarnation,
            offset,
            value: value.to_string(),
        };
        let deleted = |incarnation: u32| Operation::ChurnDeleted { client: 9, incarnation };
        let lost = |value: &str| Operation::ChurnProduceLost { client: 9, value: value.into() };
        let verdict = |operations| deleted_topics_stay_deleted(&history(operations));
        assert_eq!(verdict(vec![read(1, 0, "d1-r0"), deleted(1), read(2, 0, "d2-r0")]), Ok(2));
        // A produce of incarnation 1 whose answer was lost lands in incarnation 2: allowed.
        let late = vec![lost("d1-r1"), read(1, 0, "d1-r1"), deleted(1), read(2, 0, "d1-r1")];
        assert_eq!(verdict(late), Ok(2));
        assert_eq!(
            verdict(vec![read(1, 0, "d1-r0"), deleted(1), read(2, 0, "d1-r0")]),
            Err(Violation(
                "churner 9 read d1-r0 at offset 0 of its topic's incarnation 2, although the deletion of incarnation 1 was acknowledged".into()
            ))
        );
        assert_eq!(
            verdict(vec![read(1, 0, "d1-r0"), read(1, 0, "d1-r1")]),
            Err(Violation(
                "offset 0 of the churner's incarnation 1 held d1-r0 and then d1-r1".into()
            ))
        );
        assert!(verdict(vec![read(1, 0, "x")]).is_err());
        // A racer's record acknowledged before the DeleteTopics of incarnation 1 was sent is
        // gone with it; one acknowledged after may be in the incarnation made again.
        let sent = Operation::ChurnDeleteSent { client: 9, incarnation: 1 };
        let raced = |value: &str| Operation::RaceAcked { client: 8, value: value.into() };
        let before = vec![raced("z8-r0"), sent.clone(), raced("z8-r1"), deleted(1)];
        let mut later = before.clone();
        later.push(read(2, 0, "z8-r1"));
        assert_eq!(verdict(later), Ok(1));
        let mut later = before.clone();
        later.push(read(2, 0, "z8-r0"));
        assert_eq!(
            verdict(later.clone()),
            Err(Violation(
                "churner 9 read racer record z8-r0 at offset 0 of its topic's incarnation 2, although it was acknowledged before the deletion of incarnation 1 was sent, and that deletion was acknowledged".into()
            ))
        );
        let racer_lost = Operation::ChurnProduceLost { client: 8, value: "z8-r0".into() };
        later.insert(0, racer_lost);
        assert_eq!(verdict(later), Ok(1), "an attempt that lost its answer may land later");
        let probed = |committed: Option<(i64, &str)>| Operation::ChurnOffsetProbed {
            client: 9,
            deleted: 1,
            committed: committed.map(|(offset, metadata)| (offset, metadata.to_string())),
        };
        let commit_lost = Operation::ChurnCommitLost { client: 9, incarnation: 1 };
        assert_eq!(verdict(vec![deleted(1), probed(None)]), Ok(1));
        assert_eq!(verdict(vec![commit_lost, deleted(1), probed(Some((3, "d1")))]), Ok(1));
        assert_eq!(
            verdict(vec![deleted(1), probed(Some((3, "d1")))]),
            Err(Violation(
                "churner 9's group still had offset 3 (\"d1\") committed after the deletion of incarnation 1".into()
            ))
        );
        // The same after an acknowledged OffsetDelete of the incarnation's offset.
        let forgotten =
            Operation::ChurnOffsetsForgotten { client: 9, incarnation: 2, group: false };
        assert_eq!(verdict(vec![forgotten.clone(), probed(None)]), Ok(1));
        assert_eq!(
            verdict(vec![forgotten, probed(Some((5, "d2")))]),
            Err(Violation(
                "churner 9's group still had offset 5 (\"d2\") committed after its OffsetDelete in incarnation 2".into()
            ))
        );
    }

    #[test]
    fn on_a_compacted_topic_only_a_superseded_record_may_be_gone() {
        let acked = |base_offset: i64, values: &[&str]| Operation::ProduceAcked {
            client: 1,
            partition: 0,
            acks: -1,
            idempotent: false,
            base_offset,
            values: values.iter().map(|value| value.to_string()).collect(),
            timestamp_ms: RECORDS_TIME_MS,
            made: 0,
            log_append_time_ms: -1,
            producer: None,
        };
        // Batches 0 and 3 of client 1 share a key; batch 1 has its own.
        let log = history(vec![
            acked(0, &["c1-b0-r0"]),
            acked(1, &["c1-b1-r0"]),
            acked(2, &["c1-b3-r0"]),
        ]);
        let mut consumed = BTreeMap::new();
        consumed.insert((0, 1), "c1-b1-r0".to_string());
        consumed.insert((0, 2), "c1-b3-r0".to_string());
        assert_eq!(acknowledged_records_kept(&log, &consumed, true, None, None, None), Ok(2));
        assert_eq!(
            acknowledged_records_kept(&log, &consumed, false, None, None, None),
            Err(Violation(
                "acks=-1 record \"c1-b0-r0\" of client 1 acknowledged at 0/0 is gone".to_string()
            )),
            "not on a topic that is not compacted"
        );
        consumed.remove(&(0, 2));
        assert_eq!(
            acknowledged_records_kept(&log, &consumed, true, None, None, None),
            Err(Violation(
                "acks=-1 record \"c1-b3-r0\" of client 1 acknowledged at 0/2 is gone".to_string()
            )),
            "the last record of a key is never removed"
        );
    }

    #[test]
    fn a_tombstone_may_be_gone_only_once_delete_retention_ms_may_have_passed_since_it_was_made() {
        // Client 1's tombstone for key k, made at 120 ms, carries the run's start time (a
        // stale time does not shorten its stay) and is acknowledged at 0/0; a reader reads 0/1
        // at `passed` ms, never 0/0. It is kept 1000 ms from a pass after it was made, by a
        // deletion clock no faster than the wall clock, which drifts `drift` ppm.
        let verdict = |passed: u64, kept: Option<(i64, i64)>| {
            let mut log = History::default();
            let tombstone = Operation::ProduceAcked {
                client: 1,
                partition: 0,
                acks: -1,
                idempotent: false,
                base_offset: 0,
                values: vec!["k@tombstone".to_string()],
                timestamp_ms: RECORDS_TIME_MS,
                made: 120,
                log_append_time_ms: -1,
                producer: None,
            };
            let read = Operation::Consumed {
                client: 4,
                partition: 0,
                offset: 1,
                value: "c2-b0-r0".to_string(),
            };
            push_at(&mut log, [(150, tombstone), (passed, read)]);
            let mut consumed = BTreeMap::new();
            consumed.insert((0, 1), "c2-b0-r0".to_string());
            acknowledged_records_kept(&log, &consumed, true, None, None, kept)
        };
        assert!(crate::client::is_tombstone("k@tombstone"));
        let early = verdict(1_119, Some((1_000, 0)));
        assert!(early.is_err_and(|error| error.0.contains("1700000000120 (the deletion clock")));
        assert_eq!(verdict(1_120, Some((1_000, 0))), Ok(0));
        // A slow clock reaches the time later; a fast one sooner.
        assert!(verdict(1_120, Some((1_000, -1_000))).is_err());
        assert_eq!(verdict(1_121, Some((1_000, -1_000))), Ok(0));
        assert_eq!(verdict(1_119, Some((1_000, 1_000))), Ok(0));
        assert_eq!(verdict(500, None), Ok(0), "not judged where the clock jumps");
    }

    #[test]
    fn committed_offsets_may_be_gone_only_after_the_group_may_have_been_empty_that_long() {
        // Client 3 commits offset 7 (sent at 5, acknowledged at 10) in generation 1, and is
        // seen in the group by a heartbeat sent at 100 and answered at 110. Offsets expire
        // 1000 ms after the group empties. An offset fetch answered at `fetched` finds none.
        let verdict = |fetched: u64, retention: Option<u64>| {
            let mut log = History::default();
            let steps = [
                (5, commit_sent(3, 1, 7)),
                (10, Operation::CommitAnswered { client: 3, commit: 1, errors: vec![(0, 0)] }),
                (110, Operation::MemberPresent { client: 3, sent: 100, stored: false }),
                (fetched - 10, Operation::OffsetFetchSent { client: 4, fetch: 1 }),
                (fetched, Operation::OffsetFetched { client: 4, fetch: 1, offsets: vec![(0, -1)] }),
            ];
            push_at(&mut log, steps);
            acknowledged_commits_kept(&log, retention)
        };
        let lost = "offset commit lost: group sim-group partition 0 was committed at 7 \
                    (acknowledged at history index 1), and an OffsetFetch of client 4 \
                    sent after that answered -1";
        // The commit blocks expiry over [10, 1005), the heartbeat over [110, 1100).
        assert_eq!(verdict(1_099, Some(1_000)), Err(Violation(lost.into())));
        assert_eq!(verdict(1_100, Some(1_000)), Ok(1));
        assert_eq!(verdict(5_000, None), Err(Violation(lost.into())), "nothing expires");
    }

    #[test]
    fn expiry_is_judged_by_the_deletion_clock_and_only_stored_presence_outlives_a_restart() {
        // Client 3's commit of 7 is sent at 5 and acknowledged at 10; an answer to a request
        // sent at 100 and answered at 110 shows it in the group (a SyncGroup answer, a stored
        // membership, if `stored`; else a heartbeat's). The node restarts at 200, its wall
        // clock `jump` ms ahead from then. Offsets expire 1000 ms after the group empties by
        // the deletion clock; a fetch answered at `fetched` finds none.
        let verdict = |fetched: u64, stored: bool, jump: i64| {
            let mut log = History::default();
            log.wall_pieces.extend([(0, 0, 0), (200, 0, jump)]);
            log.opens.extend([(0, RECORDS_TIME_MS), (200, RECORDS_TIME_MS + 200 + jump)]);
            let steps = [
                (5, commit_sent(3, 1, 7)),
                (10, Operation::CommitAnswered { client: 3, commit: 1, errors: vec![(0, 0)] }),
                (110, Operation::MemberPresent { client: 3, sent: 100, stored }),
                (fetched - 10, Operation::OffsetFetchSent { client: 4, fetch: 1 }),
                (fetched, Operation::OffsetFetched { client: 4, fetch: 1, offsets: vec![(0, -1)] }),
            ];
            push_at(&mut log, steps);
            acknowledged_commits_kept(&log, Some(1_000)).map_err(|violation| violation.0)
        };
        let lost = Err("offset commit lost: group sim-group partition 0 was committed at 7 \
                        (acknowledged at history index 1), and an OffsetFetch of client 4 \
                        sent after that answered -1"
            .to_string());
        // A stored membership holds expiry off until 1000 ms after it was seen.
        assert_eq!(verdict(1_099, true, 0), lost);
        assert_eq!(verdict(1_100, true, 0), Ok(1));
        // A heartbeat's is forgotten by the restart: only the commit's own counts.
        assert_eq!(verdict(1_004, false, 0), lost);
        assert_eq!(verdict(1_005, false, 0), Ok(1));
        // The clock 600 ms ahead after the restart reads the retention past 100 at 500.
        assert_eq!(verdict(499, true, 600), lost);
        assert_eq!(verdict(500, true, 600), Ok(1));
        // 600 ms behind: a group that emptied at the restart was stamped with the clock
        // gone back, and 1000 ms later, at 1200, the clock reads the retention past it.
        assert_eq!(verdict(1_199, true, -600), lost);
        assert_eq!(verdict(1_200, true, -600), Ok(1));
    }

    #[test]
    fn an_offset_fetched_is_never_taken_back() {
        // Client 3's commit of 9 is sent at 5, and a heartbeat sent at 10 and answered at 15
        // shows it in the group; a fetch by client 4 (sent at 20) finds the offset at 30, and
        // the commit is answered `code` at 40. A fetch by client 5, sent at `sent` (a
        // restart in between), finds `found` at `sent + 10`. Offsets expire 1000 ms after the
        // group empties, if `retention`; `lowering` commits 3 (sent at 50, acknowledged at 60).
        let verdict = |code: i16, sent: u64, found: i64, retention: Option<u64>, lowering: bool| {
            let mut log = History::default();
            let mut steps = vec![
                (5, commit_sent(3, 1, 9)),
                (15, Operation::MemberPresent { client: 3, sent: 10, stored: false }),
                (20, Operation::OffsetFetchSent { client: 4, fetch: 1 }),
                (30, Operation::OffsetFetched { client: 4, fetch: 1, offsets: vec![(0, 9)] }),
                (40, Operation::CommitAnswered { client: 3, commit: 1, errors: vec![(0, code)] }),
            ];
            if lowering {
                steps.extend([
                    (50, commit_sent(3, 2, 3)),
                    (60, Operation::CommitAnswered { client: 3, commit: 2, errors: vec![(0, 0)] }),
                ]);
            }
            steps.extend([
                (sent, Operation::OffsetFetchSent { client: 5, fetch: 1 }),
                (
                    sent + 10,
                    Operation::OffsetFetched { client: 5, fetch: 1, offsets: vec![(0, found)] },
                ),
            ]);
            steps.sort_by_key(|&(tick, _)| tick);
            push_at(&mut log, steps);
            fetched_offsets_kept(&log, retention)
        };
        let lost = |found: i64| {
            Err(Violation(format!(
                "fetched offset lost: group sim-group partition 0 was fetched at 9 (answered at \
                 history index 3), and an OffsetFetch of client 5 sent after that \
                 answered {found}"
            )))
        };
        // The commit failed its sync (KAFKA_STORAGE_ERROR), and a restart forgot it: the first
        // fetch showed what was never stored.
        assert_eq!(verdict(STORAGE_ERROR, 100, 3, None, false), lost(3));
        assert_eq!(verdict(STORAGE_ERROR, 100, -1, None, false), lost(-1));
        // The same or more is what was stored.
        assert_eq!(verdict(0, 100, 9, None, false), Ok(1));
        assert_eq!(verdict(0, 100, 12, None, false), Ok(1));
        // A later commit lowered it.
        assert_eq!(verdict(0, 100, 3, None, true), Ok(1));
        // None is left once the group may have been empty for 1000 ms after the first fetch
        // was sent: the heartbeat blocks expiry over [15, 1010), the commit over [40, 1005).
        assert_eq!(verdict(0, 990, -1, Some(1_000), false), lost(-1));
        assert_eq!(verdict(0, 1_000, -1, Some(1_000), false), Ok(1));
        // A fetch sent before the first one was answered is not compared with it.
        assert_eq!(verdict(0, 25, -1, None, false), Ok(0));
    }

    #[test]
    fn a_group_deleted_when_its_offsets_expired_counts_generations_afresh() {
        // Client 2 was assigned partition 0 in generation 5 under leader "l1"; the group was
        // deleted and made again, and client 3 is assigned it in generation 1 under leader
        // "l2", then client 2 joins generation 1 of it.
        let assigned = |client: u32, generation: i32, leader: &str| Operation::GroupAssigned {
            client,
            incarnation: 1,
            reloads: 0,
            member_id: format!("m{client}-{leader}"),
            generation,
            leader_id: leader.to_string(),
            partitions: vec![0],
        };
        let joined_under = |leader: &str| Operation::GroupJoined {
            client: 2,
            incarnation: 1,
            reloads: 0,
            member_id: format!("m2-{leader}"),
            generation: 1,
            leader: false,
            leader_id: leader.to_string(),
        };
        let rejoined = joined_under("l2");
        let log = history(vec![assigned(2, 5, "l1"), assigned(3, 1, "l2"), rejoined]);
        assert_eq!(generations_never_go_down(&log, true), Ok(()));
        assert!(generations_never_go_down(&log, false).is_err());
        // Under the same leader, a lower generation is still refused.
        let same = joined_under("l1");
        assert!(
            generations_never_go_down(&history(vec![assigned(2, 5, "l1"), same]), true).is_err()
        );
        // Generation 1 of each incarnation has its own owners; within one, still one owner.
        let both = history(vec![assigned(2, 1, "l1"), assigned(3, 1, "l2")]);
        assert_eq!(one_owner_per_generation(&both, true), Ok(2));
        assert!(one_owner_per_generation(&both, false).is_err());
        let one = history(vec![assigned(2, 1, "l1"), assigned(3, 1, "l1")]);
        assert!(one_owner_per_generation(&one, true).is_err());
    }

    #[test]
    fn long_values_are_shown_by_their_start_and_length() {
        assert_eq!(shown("c1-b2-r0"), "\"c1-b2-r0\"");
        let padded = format!("c1-b2-r0-{}", "x".repeat(100));
        assert_eq!(shown(&padded), format!("{:?}... (109 bytes)", &padded[..64]));
    }

    #[test]
    fn an_acknowledged_retention_change_is_what_later_descriptions_show() {
        let set = |retention_ms: i64| Operation::RetentionSet { client: 4, retention_ms };
        let answered = |error_code: i16| Operation::RetentionSetAnswered { client: 4, error_code };
        let asked = Operation::RetentionAsked { client: 4 };
        let read = |retention_ms: Option<i64>| Operation::RetentionRead {
            client: 4,
            error_code: 0,
            retention_ms,
        };
        let verdict =
            |operations: Vec<Operation>| retention_changes_kept(&history(operations), Some(2000));
        assert_eq!(verdict(vec![asked.clone(), read(Some(2000))]), Ok(1));
        assert_eq!(verdict(vec![set(500), answered(0), asked.clone(), read(Some(500))]), Ok(1));
        assert_eq!(
            verdict(vec![set(500), answered(0), asked.clone(), read(Some(2000))]),
            Err(Violation(
                "configurer 4 read retention.ms Some(2000) after 500 was acknowledged; it may read only [500]".into()
            )),
            "an acknowledged change was lost"
        );
        // A change whose answer was lost, or was an error, may have landed or not.
        for outcome in [vec![], vec![answered(56)]] {
            for value in [500, 2000] {
                let mut operations = vec![set(500)];
                operations.extend(outcome.clone());
                operations.extend([asked.clone(), read(Some(value))]);
                assert_eq!(verdict(operations), Ok(1));
            }
        }
        // A later change may have landed before the acknowledged one was read back; an
        // earlier one may not.
        let later = vec![set(700), answered(0), set(-1), asked.clone(), read(Some(-1))];
        assert_eq!(verdict(later), Ok(1));
        let earlier = vec![set(700), set(900), answered(0), asked.clone(), read(Some(700))];
        assert_eq!(
            verdict(earlier),
            Err(Violation(
                "configurer 4 read retention.ms Some(700) after 900 was acknowledged; it may read only [900]".into()
            ))
        );
        // The floor is the acknowledged change when the description was asked, not answered.
        assert_eq!(verdict(vec![asked.clone(), set(500), answered(0), read(Some(2000))]), Ok(1));
        assert_eq!(
            verdict(vec![asked.clone(), read(None)]),
            Err(Violation(
                "configurer 4 read retention.ms None after no change was acknowledged; it may read only [2000]".into()
            ))
        );
        let refused = Operation::RetentionRead { client: 4, error_code: 3, retention_ms: None };
        assert_eq!(verdict(vec![asked, refused]), Ok(0));
    }

    #[test]
    fn retention_bytes_may_take_a_record_only_with_that_many_bytes_after_it() {
        // Client 1 sends batches 0, 1 and 2 of 100 bytes each to partition 0, at 10, 30 and
        // 50; the first two are acknowledged at 20 and 40, the last answer is lost. A reader
        // is reset past offsets 0 and 1.
        let sent = |request: u64, batch: u32| Operation::ProduceSent {
            client: 1,
            request,
            parts: vec![(0, batch, 100)],
        };
        let answered = |request: u64| Operation::ProduceAnswered { client: 1, request };
        let acked = |offset: i64| acked_record(offset, 0);
        // `limit` is the topic's first retention.bytes; `sets` are (tick, value) of those a
        // configurer sent.
        let verdict_with = |reset_tick: u64, limit: Option<i64>, sets: &[(u64, i64)]| {
            let mut log = History::default();
            let steps = [
                (10, sent(0, 0)),
                (20, answered(0)),
                (20, acked(0)),
                (30, sent(1, 1)),
                (40, answered(1)),
                (40, acked(1)),
                (50, sent(2, 2)),
            ];
            let sets = sets.iter().map(|&(tick, value)| {
                (tick, Operation::TopicConfigSet { client: 3, name: RETENTION_BYTES, value })
            });
            let mut steps: Vec<(u64, Operation)> = steps.into_iter().chain(sets).collect();
            steps.sort_by_key(|(tick, _)| *tick);
            push_at(&mut log, steps.into_iter().filter(|(tick, _)| *tick <= reset_tick));
            let reset = Operation::ResetToEarliest { client: 2, partition: 0, from: 0, to: 2 };
            push_at(&mut log, [(reset_tick, reset)]);
            acknowledged_records_kept(&log, &BTreeMap::new(), false, None, limit, None)
        };
        let verdict = |reset_tick: u64, limit: i64| verdict_with(reset_tick, Some(limit), &[]);
        // By 100, batch 0 may have 200 bytes after it (batches 1 and 2); batch 1 only 100:
        // batch 0 was answered before batch 1 was sent, so it came before.
        assert_eq!(verdict(100, 100), Ok(0));
        assert_eq!(
            verdict(100, 200),
            Err(Violation(
                "acks=-1 record \"c1-b1-r0\" of client 1 acknowledged at 0/1 is gone (a reset from 0 to 2), with at most 100 bytes after it (retention.bytes=200)".into()
            ))
        );
        // Before batch 2 was sent, batch 1 had nothing after it.
        assert_eq!(
            verdict(45, 100),
            Err(Violation(
                "acks=-1 record \"c1-b1-r0\" of client 1 acknowledged at 0/1 is gone (a reset from 0 to 2), with at most 0 bytes after it (retention.bytes=100)".into()
            ))
        );
        // A topic made without a limit, given one of 100 on the live topic by the reset: the
        // smallest value sent by then bounds it; -1 (no limit) bounds nothing, and neither
        // does a value sent after the reset.
        assert_eq!(verdict_with(100, None, &[(60, 100), (70, -1)]), Ok(0));
        assert_eq!(verdict_with(100, Some(300), &[(60, 1000), (80, 100)]), Ok(0));
        assert_eq!(
            verdict_with(100, None, &[(60, -1), (110, 100)]),
            Err(Violation(
                "acks=-1 record \"c1-b0-r0\" of client 1 acknowledged at 0/0 is gone (a reset from 0 to 2)".into()
            ))
        );
        assert_eq!(
            verdict_with(100, None, &[(60, 200)]),
            Err(Violation(
                "acks=-1 record \"c1-b1-r0\" of client 1 acknowledged at 0/1 is gone (a reset from 0 to 2), with at most 100 bytes after it (retention.bytes=200)".into()
            ))
        );
    }

    #[test]
    fn retention_may_take_only_records_whose_retention_was_up() {
        // Records made 1000 and 5000 ms into the run, kept 2000 ms; a reader is reset from
        // offset 0 to 2 at `reset_tick`, past both.
        let acked = acked_record;
        let verdict = |reset_tick: u64, opens: &[(u64, i64)], retention_ms: Option<i64>| {
            let mut log = history(vec![acked(0, 1000), acked(1, 5000)]);
            log.opens = opens.to_vec();
            log.now = reset_tick;
            log.push(Operation::ResetToEarliest { client: 2, partition: 0, from: 0, to: 2 });
            acknowledged_records_kept(&log, &BTreeMap::new(), false, retention_ms, None, None)
        };
        let started = [(0, RECORDS_TIME_MS)];
        assert_eq!(verdict(7001, &started, Some(2000)), Ok(0));
        assert_eq!(
            verdict(7000, &started, Some(2000)),
            Err(Violation(
                "acks=-1 record \"c1-b1-r0\" of client 1 at 0/1, made at 1700000005000 ms, was gone by 1700000007000 ms (a reset from 0 to 2), before its retention.ms of 2000 was up".into()
            )),
            "the record made at 5000 is not older than 2000 ms at 7000"
        );
        // A node that started at 6000 ms with its wall clock an hour ahead may have deleted
        // both: a clock jump made while the node was down is believed.
        let jumped = [(0, RECORDS_TIME_MS), (6000, RECORDS_TIME_MS + 3_600_000)];
        assert_eq!(verdict(6000, &jumped, Some(2000)), Ok(0));
        // A `retention.ms` of 500 sent by 6000 may have been in force: both may be gone then.
        // Sent later, or -1 (keep forever), it changes nothing.
        let changed = |sets: &[(u64, i64)], reset_tick: u64| {
            let mut log = history(vec![acked(0, 1000), acked(1, 5000)]);
            log.opens = started.to_vec();
            let sets = sets.iter().map(|&(tick, retention_ms)| {
                (tick, Operation::RetentionSet { client: 4, retention_ms })
            });
            push_at(&mut log, sets);
            let reset = Operation::ResetToEarliest { client: 2, partition: 0, from: 0, to: 2 };
            push_at(&mut log, [(reset_tick, reset)]);
            acknowledged_records_kept(&log, &BTreeMap::new(), false, Some(2000), None, None)
        };
        assert_eq!(changed(&[(3000, 500)], 6000), Ok(0));
        assert_eq!(changed(&[(3000, 500)], 5500), Err(Violation(
            "acks=-1 record \"c1-b1-r0\" of client 1 at 0/1, made at 1700000005000 ms, was gone by 1700000005500 ms (a reset from 0 to 2), before its retention.ms of 500 was up".into()
        )));
        assert!(changed(&[(6001, 500)], 6000).is_err(), "sent after the reset");
        assert!(changed(&[(3000, -1)], 6000).is_err(), "-1 deletes nothing");
        assert_eq!(changed(&[(3000, -1)], 7001), Ok(0), "2000 may still have been in force");
        assert_eq!(
            verdict(7001, &started, None),
            Err(Violation(
                "acks=-1 record \"c1-b0-r0\" of client 1 acknowledged at 0/0 is gone (a reset from 0 to 2)".into()
            )),
            "without retention nothing may be gone"
        );
        // A group member reads on from where a reset put it, and only from there.
        let fetched = Operation::OffsetFetched { client: 3, fetch: 1, offsets: vec![(0, 4)] };
        let read = |offset: i64| Operation::GroupConsumed {
            client: 3,
            generation: 1,
            partition: 0,
            offset,
            value: format!("c1-b{offset}-r0"),
        };
        let reset = Operation::ResetToEarliest { client: 3, partition: 0, from: 5, to: 9 };
        let log = history(vec![fetched.clone(), read(4), reset.clone(), read(9)]);
        assert_eq!(consumed_records(&log).map(|records| records.len()), Ok(2));
        assert_eq!(
            consumed_records(&history(vec![fetched, read(4), reset, read(5)])),
            Err(Violation("group consumer 3 read 0/5 in generation 1; its position was 9".into()))
        );
        // A reset that moves a reader back is out of range above the log end.
        let log =
            history(vec![Operation::ResetToEarliest { client: 2, partition: 0, from: 5, to: 3 }]);
        assert_eq!(
            consumed_records(&log),
            Err(Violation(
                "consumer 2 at 0/5 was out of range, and the earliest offset is 3".into()
            ))
        );
    }

    #[test]
    fn a_stable_group_is_described_with_each_partition_owned_once() {
        let described = |state: &str, members: Vec<(&str, Option<Vec<i32>>)>| {
            let members =
                members.into_iter().map(|(member, assigned)| (member.to_string(), assigned));
            Operation::GroupDescribed {
                client: 5,
                incarnation: 1,
                group: "sim-group".into(),
                error_code: 0,
                state: state.into(),
                members: members.collect(),
            }
        };
        let verdict = |operation| group_views_consistent(&history(vec![operation]), 3);
        let exact = vec![("a", Some(vec![0, 2])), ("b", Some(vec![1]))];
        assert_eq!(verdict(described("Stable", exact)), Ok(1));
        let shared = vec![("a", Some(vec![0, 1])), ("b", Some(vec![1, 2]))];
        assert_eq!(
            verdict(described("Stable", shared.clone())),
            Err(Violation(
                "observer 5: Stable group sim-group assigns partition 1 to \"a\" and to \"b\""
                    .into()
            ))
        );
        assert_eq!(verdict(described("PreparingRebalance", shared)), Ok(0), "only Stable");
        assert_eq!(
            verdict(described("Stable", vec![("a", Some(vec![0, 1]))])),
            Err(Violation(
                "observer 5: Stable group sim-group assigns partitions [0, 1] of 0..3".into()
            ))
        );
        assert_eq!(
            verdict(described("Stable", vec![("a", None)])),
            Err(Violation(
                "observer 5: member \"a\" of Stable group sim-group has an assignment that is not one".into()
            ))
        );
        let listed = |groups: &[(&str, &str)]| Operation::GroupsListed {
            client: 5,
            incarnation: 1,
            error_code: 0,
            groups: groups.iter().map(|&(group, state)| (group.into(), state.into())).collect(),
        };
        assert_eq!(verdict(listed(&[("sim-group", "Stable"), ("sim-group-2", "Empty")])), Ok(0));
        assert_eq!(
            verdict(listed(&[("sim-group", "Stable"), ("sim-group", "Stable")])),
            Err(Violation(
                "observer 5: ListGroups listed [(\"sim-group\", \"Stable\"), (\"sim-group\", \"Stable\")]".into()
            ))
        );
        assert_eq!(
            verdict(listed(&[("sim-group", "Dead")])),
            Err(Violation(
                "observer 5: ListGroups listed group sim-group in state \"Dead\"".into()
            ))
        );
    }

    #[test]
    fn the_groups_of_an_offline_partition_are_neither_listed_nor_described() {
        let partition = coordinator_partition("sim-group", 3);
        let offline = |incarnation| Operation::OffsetsPartitionOffline { partition, incarnation };
        let asked = Operation::ObserverAsked { client: 5 };
        let listed = |incarnation| Operation::GroupsListed {
            client: 5,
            incarnation,
            error_code: 0,
            groups: vec![("sim-group".into(), "Stable".into())],
        };
        let described = |incarnation, error_code| Operation::GroupDescribed {
            client: 5,
            incarnation,
            group: "sim-group".into(),
            error_code,
            state: if error_code == 0 { "Stable" } else { "" }.into(),
            members: Vec::new(),
        };
        let verdict = |operations| offline_groups_refused(&history(operations), 3);
        // Sent before the partition went offline, or answered by the next incarnation: fine.
        assert_eq!(verdict(vec![asked.clone(), offline(1), listed(1)]), Ok(1));
        assert_eq!(verdict(vec![offline(1), asked.clone(), listed(2)]), Ok(1));
        assert_eq!(verdict(vec![offline(1), asked.clone(), described(1, 16)]), Ok(0));
        assert_eq!(
            verdict(vec![offline(1), asked.clone(), listed(1)]),
            Err(Violation(format!(
                "observer 5: ListGroups listed group sim-group, whose partition {partition} of __consumer_offsets went offline (history index 0) before it was sent"
            )))
        );
        assert_eq!(
            verdict(vec![offline(1), asked, described(1, 0)]),
            Err(Violation(format!(
                "observer 5: DescribeGroups described group sim-group without an error, although its partition {partition} of __consumer_offsets went offline (history index 0) before it was sent"
            )))
        );
        // An observer's OffsetFetch: sent as `OffsetFetchSent`, answered per group.
        let fetch_sent = Operation::OffsetFetchSent { client: 5, fetch: 1 };
        let observed = |incarnation| Operation::OffsetsObserved {
            client: 5,
            fetch: 1,
            incarnation,
            group: "sim-group",
            offsets: vec![(0, 4)],
        };
        assert_eq!(verdict(vec![fetch_sent.clone(), offline(1), observed(1)]), Ok(1));
        assert_eq!(verdict(vec![offline(1), fetch_sent.clone(), observed(2)]), Ok(1));
        assert_eq!(
            verdict(vec![offline(1), fetch_sent, observed(1)]),
            Err(Violation(format!(
                "observer 5: OffsetFetch showed the offsets of group sim-group, although its partition {partition} of __consumer_offsets went offline (history index 0) before it was sent"
            )))
        );
    }

    #[test]
    fn the_last_sent_of_the_answers_showing_an_offset_is_the_witness() {
        // Observer 7 fetches 9 twice: sent at 10 (answered at 20) and at 40 (answered at
        // 50). Member 3's commit of 3 is sent at 25 and acknowledged at 30; member 5's fetch
        // sent at 60 finds 3. The commit lowered the offset after the first answer's fetch
        // was sent, not after the second's: the second shows 9 stored after the commit of 3,
        // so the later 3 took it back. Without the second answer, the commit excuses it.
        let verdict = |second: bool| {
            let observed = |fetch| Operation::OffsetsObserved {
                client: 7,
                fetch,
                incarnation: 1,
                group: crate::group::GROUP,
                offsets: vec![(0, 9)],
            };
            let mut steps = vec![
                (10, Operation::OffsetFetchSent { client: 7, fetch: 1 }),
                (20, observed(1)),
                (25, commit_sent(3, 1, 3)),
                (30, Operation::CommitAnswered { client: 3, commit: 1, errors: vec![(0, 0)] }),
                (60, Operation::OffsetFetchSent { client: 5, fetch: 1 }),
                (70, Operation::OffsetFetched { client: 5, fetch: 1, offsets: vec![(0, 3)] }),
            ];
            if second {
                steps.extend([
                    (40, Operation::OffsetFetchSent { client: 7, fetch: 2 }),
                    (50, observed(2)),
                ]);
            }
            steps.sort_by_key(|&(tick, _)| tick);
            let mut log = History::default();
            push_at(&mut log, steps);
            fetched_offsets_kept(&log, None)
        };
        assert_eq!(verdict(false), Ok(1));
        assert_eq!(
            verdict(true),
            Err(Violation(
                "fetched offset lost: group sim-group partition 0 was fetched at 9 (answered at \
                 history index 5), and an OffsetFetch of client 5 sent after that answered 3"
                    .to_string()
            ))
        );
    }

    #[test]
    fn an_observers_offsets_are_judged_with_the_group_they_belong_to() {
        use crate::group::SECOND_GROUP;
        // Observer 7's one OffsetFetch shows offset 9 of partition 0 in each group; then
        // member 5 (of the first group, or of the second) fetches and finds 3.
        let verdict = |member_group: &'static str| {
            let mut log = history(vec![
                Operation::OffsetFetchSent { client: 7, fetch: 1 },
                Operation::OffsetsObserved {
                    client: 7,
                    fetch: 1,
                    incarnation: 1,
                    group: SECOND_GROUP,
                    offsets: vec![(0, 9)],
                },
                Operation::OffsetsObserved {
                    client: 7,
                    fetch: 1,
                    incarnation: 1,
                    group: crate::group::GROUP,
                    offsets: vec![(0, 2)],
                },
                Operation::OffsetFetchSent { client: 5, fetch: 1 },
                Operation::OffsetFetched { client: 5, fetch: 1, offsets: vec![(0, 3)] },
            ]);
            log.set_group(5, member_group);
            fetched_offsets_kept(&log, None)
        };
        assert_eq!(verdict(crate::group::GROUP), Ok(1));
        assert_eq!(
            verdict(SECOND_GROUP),
            Err(Violation(format!(
                "fetched offset lost: group {SECOND_GROUP} partition 0 was fetched at 9 (answered \
                 at history index 1), and an OffsetFetch of client 5 sent after that answered 3"
            )))
        );
    }

    #[test]
    fn an_idempotent_producers_records_keep_their_order() {
        let initialised =
            Operation::ProducerInitialised { client: 2, producer_id: 0, producer_epoch: 0 };
        let log = history(vec![initialised]);
        let mut consumed = BTreeMap::new();
        consumed.insert((0, 0), "c2-b0-r0".to_string());
        consumed.insert((0, 1), "c2-b1-r0".to_string());
        consumed.insert((0, 2), "c2-b1-r1".to_string());
        // Another partition and a plain producer's retry are not compared with these.
        consumed.insert((1, 0), "c2-b0-r0".to_string());
        consumed.insert((1, 1), "c3-b5-r0".to_string());
        consumed.insert((1, 2), "c3-b4-r0".to_string());
        assert_eq!(idempotent_order_kept(&log, &consumed, false), Ok(4));
        // A record stored again: out of order, unless the broker forgets producers (it is
        // then a forgotten producer's retry); a new record out of order fails either way.
        consumed.insert((0, 3), "c2-b1-r0".to_string());
        let again =
            "idempotent client 2 out of order on partition 0: \"c2-b1-r0\" at 3 after b1-r1 at 2";
        assert_eq!(
            idempotent_order_kept(&log, &consumed, false),
            Err(Violation(again.to_string()))
        );
        assert_eq!(idempotent_order_kept(&log, &consumed, true), Ok(5));
        assert!(idempotent_records_unique(&log, &consumed, false).is_err());
        assert_eq!(idempotent_records_unique(&log, &consumed, true), Ok(()));
        consumed.insert((0, 4), "c2-b0-r1".to_string());
        for forgetting in [false, true] {
            assert_eq!(
                idempotent_order_kept(&log, &consumed, forgetting),
                Err(Violation(if forgetting {
                    "idempotent client 2 out of order on partition 0: \"c2-b0-r1\" at 4 after b1-r1 at 2"
                        .to_string()
                } else {
                    again.to_string()
                }))
            );
        }
    }

    #[test]
    fn a_deletion_must_land_exactly_where_its_reader_asked() {
        let deleted = |error_code: i16, low_watermark: i64| Operation::RecordsDeleted {
            client: 4,
            partition: 1,
            offset: 12,
            error_code,
            low_watermark,
        };
        // Exact, and a storage error (retried), pass.
        let verdict = |operations, retention| deletions_exact(&history(operations), retention);
        assert_eq!(verdict(vec![deleted(0, 12), deleted(56, -1)], false), Ok(1));
        assert_eq!(verdict(vec![deleted(0, 13)], true), Ok(1), "retention went further");
        // Later answers show the log start there or past it; never before it.
        let seen = |log_start: i64| Operation::LogStartSeen { client: 4, partition: 1, log_start };
        let reset = |to: i64| Operation::ResetToEarliest { client: 4, partition: 1, from: 20, to };
        let other = Operation::LogStartSeen { client: 5, partition: 1, log_start: 3 };
        let later = vec![seen(5), deleted(0, 12), seen(12), reset(15), seen(15), other.clone()];
        assert_eq!(verdict(later, false), Ok(1));
        let gone_back = |shown: i64| {
            Err(Violation(format!(
                "consumer 4 deleted below 12 on partition 1, and was later shown the log \
                 starting at {shown}"
            )))
        };
        assert_eq!(verdict(vec![deleted(0, 12), seen(12), seen(11)], false), gone_back(11));
        assert_eq!(verdict(vec![deleted(0, 12), reset(10)], false), gone_back(10));
        assert_eq!(
            verdict(vec![deleted(0, 11)], true),
            Err(Violation(
                "consumer 4 deleted below 12 on partition 1 and was told the log now starts at 11"
                    .to_string()
            ))
        );
        assert_eq!(
            verdict(vec![deleted(0, 13)], false),
            Err(Violation(
                "consumer 4 deleted below 12 on partition 1 and was told the log now starts at 13"
                    .to_string()
            ))
        );
        assert_eq!(
            verdict(vec![deleted(1, -1)], true),
            Err(Violation(
                "consumer 4 could not delete below its position 12 on partition 1: out of range"
                    .to_string()
            ))
        );
    }

    #[test]
    fn a_reload_of_group_state_is_judged_as_a_restart() {
        // Seed 4229264 (v18): on a full disk, every group store failed and the coordinator
        // loaded __consumer_offsets again each time; the group's generations 6 to 11 were
        // never stored. Its deletion when its offsets expired was refused too, so the next
        // reload brought it back at generation 5, its last stored one, with the same leader;
        // a member that had joined 11 then joined 6.
        let joined_after = |reloads: u64, generation: i32| Operation::GroupJoined {
            client: 9,
            incarnation: 1,
            reloads,
            member_id: format!("m9-{reloads}"),
            generation,
            leader: false,
            leader_id: "m10".to_string(),
        };
        let reloaded = history(vec![joined_after(3, 11), joined_after(4, 6)]);
        assert_eq!(generations_never_go_down(&reloaded, true), Ok(()));
        let same = history(vec![joined_after(4, 11), joined_after(4, 6)]);
        assert_eq!(
            generations_never_go_down(&same, true),
            Err(Violation(
                "group consumer 9 joined in generation 6 after it joined in generation 11, both \
                 answered by broker incarnation 1 after 4 reloads of group state"
                    .to_string()
            ))
        );
    }

    #[test]
    fn generations_are_judged_by_the_incarnation_that_answered() {
        // Seed 30408: a JoinGroup answer for generation 42 was sent just before a restart and
        // delivered just after it; the restarted broker had never stored the group (its
        // offsets log was offline) and rightly began again at generation 1.
        let late_answer = history(vec![
            joined(6, 1, 41),
            Operation::NodeRestarted,
            joined(6, 1, 42),
            joined(6, 2, 1),
        ]);
        assert_eq!(generations_never_go_down(&late_answer, false), Ok(()));
        // One incarnation never goes down, whenever its answers arrive.
        let down = history(vec![joined(6, 2, 5), joined(6, 2, 4)]);
        assert_eq!(
            generations_never_go_down(&down, false),
            Err(Violation(
                "group consumer 6 joined in generation 4 after it joined in generation 5, both \
                 answered by broker incarnation 2 after 0 reloads of group state"
                    .to_string()
            ))
        );
        // Nor below a generation whose assignment was acknowledged, across restarts too.
        let assigned = Operation::GroupAssigned {
            client: 6,
            incarnation: 1,
            reloads: 0,
            member_id: "m6".to_string(),
            generation: 3,
            leader_id: "l".to_string(),
            partitions: vec![0],
        };
        let below = history(vec![assigned.clone(), Operation::NodeRestarted, joined(6, 2, 2)]);
        let violation = Err(Violation(
            "group consumer 6 joined in generation 2 after it was assigned partitions in \
             generation 3"
                .to_string(),
        ));
        assert_eq!(generations_never_go_down(&below, false), violation);
        assert_eq!(generations_never_go_down(&below, true), violation);
        // Seed 7879066: the group was deleted when its offsets expired and began again at
        // generation 1 without member 6, which then joined generation 11; a restart forgot
        // generations 2 to 11 (no room to store them), and it joined generation 2.
        let under = |client: u32, incarnation: u64, generation: i32| Operation::GroupJoined {
            client,
            incarnation,
            reloads: 0,
            member_id: format!("m{client}"),
            generation,
            leader: client == 7,
            leader_id: "m7".to_string(),
        };
        let again = history(vec![
            assigned,
            under(7, 1, 1),
            under(6, 1, 11),
            Operation::NodeRestarted,
            under(6, 2, 2),
        ]);
        assert_eq!(generations_never_go_down(&again, true), Ok(()));
        assert!(generations_never_go_down(&again, false).is_err());
    }

    #[test]
    fn two_groups_are_judged_apart() {
        use crate::group::SECOND_GROUP;
        let assigned = |client: u32, partitions: Vec<i32>| Operation::GroupAssigned {
            client,
            incarnation: 1,
            reloads: 0,
            member_id: format!("m{client}"),
            generation: 1,
            leader_id: "l".to_string(),
            partitions,
        };
        let commit_answered = |client: u32, commit: u32| Operation::CommitAnswered {
            client,
            commit,
            errors: vec![(0, 0)],
        };
        let fetch_sent = Operation::OffsetFetchSent { client: 5, fetch: 0 };
        let fetched = Operation::OffsetFetched { client: 5, fetch: 0, offsets: vec![(0, 3)] };
        let operations = vec![
            assigned(5, vec![0]),
            assigned(8, vec![0]),
            commit_sent(5, 0, 3),
            commit_answered(5, 0),
            commit_sent(8, 0, 9),
            commit_answered(8, 0),
            fetch_sent.clone(),
            fetched.clone(),
        ];
        // Client 8 is in the second group: partition 0 has one owner in each group's
        // generation 1, and its commit at 9 says nothing of the first group's offset.
        let mut two = history(operations.clone());
        two.set_group(8, SECOND_GROUP);
        assert_eq!(one_owner_per_generation(&two, false), Ok(2));
        assert_eq!(acknowledged_commits_kept(&two, None), Ok(1));
        // In one group, both verdicts fail.
        let one = history(operations);
        assert_eq!(
            one_owner_per_generation(&one, false),
            Err(Violation(
                "group sim-group generation 1: partition 0 was assigned to member \"m5\" (client \
                 5) and to member \"m8\" (client 8)"
                    .to_string()
            ))
        );
        assert_eq!(
            acknowledged_commits_kept(&one, None),
            Err(Violation(
                "offset commit lost: group sim-group partition 0 was committed at 9 (acknowledged \
                 at history index 5), and an OffsetFetch of client 5 sent after that \
                 answered 3"
                    .to_string()
            ))
        );
    }

    #[test]
    fn only_refusals_keep_the_offsets_topic() {
        use crate::meddle::Meddle;
        let meddled = |meddle: Meddle, error_code: i16, partitions: i32, internal: bool| {
            Operation::Meddled { client: 4, meddle, error_code, partitions, internal }
        };
        let refused = history(vec![
            meddled(Meddle::Metadata, 0, 3, true),
            meddled(Meddle::Metadata, 56, 0, false),
            meddled(Meddle::Produce, 17, 0, false),
            meddled(Meddle::DeleteRecords, 17, 0, false),
            meddled(Meddle::Grow, 3, 0, false),
            meddled(Meddle::Grow, 37, 0, false),
        ]);
        assert_eq!(offsets_topic_guarded(&refused, 3), Ok(6));
        let verdict = |operation: Operation| offsets_topic_guarded(&history(vec![operation]), 3);
        assert_eq!(
            verdict(meddled(Meddle::Produce, 0, 0, false)),
            Err(Violation(
                "meddler 4: Produce on __consumer_offsets was answered error 0 (partitions 0, \
                 internal false)"
                    .to_string()
            ))
        );
        assert!(verdict(meddled(Meddle::DeleteRecords, 0, 0, false)).is_err());
        assert!(verdict(meddled(Meddle::Grow, 0, 0, false)).is_err());
        // Made as a plain topic of one partition, or not marked internal.
        assert!(verdict(meddled(Meddle::Metadata, 0, 1, true)).is_err());
        assert!(verdict(meddled(Meddle::Metadata, 0, 3, false)).is_err());
        // A deletion is done or refused for want of the topic or of storage, nothing else.
        assert_eq!(verdict(meddled(Meddle::Delete, 0, 0, false)), Ok(1));
        assert_eq!(verdict(meddled(Meddle::Delete, 3, 0, false)), Ok(1));
        assert_eq!(verdict(meddled(Meddle::Delete, 56, 0, false)), Ok(1));
        assert!(verdict(meddled(Meddle::Delete, 41, 0, false)).is_err());
    }

    #[test]
    fn a_static_member_takes_its_partitions_over_under_a_new_id() {
        let assigned = |client: u32, member_id: &str| Operation::GroupAssigned {
            client,
            incarnation: 1,
            reloads: 0,
            member_id: member_id.to_string(),
            generation: 3,
            leader_id: "l".to_string(),
            partitions: vec![1],
        };
        let operations = vec![assigned(5, "a"), assigned(5, "a2")];
        let mut taken_over = history(operations.clone());
        taken_over.set_static(5);
        assert_eq!(one_owner_per_generation(&taken_over, false), Ok(1));
        // A dynamic member never gets a second id in one generation.
        assert!(one_owner_per_generation(&history(operations), false).is_err());
        // Nor does another consumer get a static member's partition.
        let mut other = history(vec![assigned(5, "a"), assigned(6, "b")]);
        other.set_static(5);
        other.set_static(6);
        assert!(one_owner_per_generation(&other, false).is_err());
    }

    #[test]
    fn batches_keep_the_topics_timestamp_type_append_time_and_codec() {
        // Records made at 1 (a LogAppendTime batch's records keep their producer's times).
        let seen =
            |base_offset: i64, records: i32, flagged: bool, max: i64, codec| Operation::BatchSeen {
                client: 2,
                partition: 0,
                base_offset,
                records,
                log_append_time: flagged,
                max_timestamp: max,
                records_max_timestamp: if records > 0 { 1 } else { -1 },
                codec,
            };
        let acked = |base_offset: i64, acks: i16, stamp: i64| Operation::ProduceAcked {
            client: 1,
            partition: 0,
            acks,
            idempotent: false,
            base_offset,
            values: vec!["v".to_string()],
            timestamp_ms: RECORDS_TIME_MS,
            made: 0,
            log_append_time_ms: stamp,
            producer: None,
        };
        let history = |operations: Vec<Operation>| {
            let mut history = History::default();
            for operation in operations {
                history.push(operation);
            }
            history
        };
        let zstd = Some(Compression::Zstd);
        // A LogAppendTime topic: flagged batches with the answered times pass; an acks=1
        // answer (which page-cache mode may lose) and an empty batch are not held to a time.
        let good = history(vec![
            acked(0, -1, 500),
            acked(1, 1, 600),
            seen(0, 1, true, 500, Compression::Zstd),
            seen(1, 1, true, 601, Compression::Zstd),
            seen(2, 0, true, 9, Compression::None),
        ]);
        assert_eq!(batches_stamped_and_encoded(&good, true, zstd), Ok(3));
        // The same topic read as CreateTime, or as another codec, fails.
        assert!(batches_stamped_and_encoded(&good, false, zstd).is_err());
        assert!(batches_stamped_and_encoded(&good, true, Some(Compression::Lz4)).is_err());
        // A stored time other than the answered one fails.
        let moved = history(vec![acked(0, -1, 500), seen(0, 1, true, 501, Compression::Zstd)]);
        let error = batches_stamped_and_encoded(&moved, true, zstd).unwrap_err();
        assert!(error.0.contains("maxTimestamp 501"), "{}", error.0);
        // An unflagged batch in a LogAppendTime topic fails; so does an answered append time
        // in a CreateTime topic.
        let plain = history(vec![seen(0, 1, false, 1, Compression::None)]);
        assert!(batches_stamped_and_encoded(&plain, true, None).is_err());
        assert_eq!(batches_stamped_and_encoded(&plain, false, None), Ok(1));
        // A CreateTime batch whose maxTimestamp is not its records' latest time fails (a
        // flagged batch whose maxTimestamp was kept); an empty one is not judged by it.
        let kept = history(vec![seen(0, 1, false, 8, Compression::None)]);
        let error = batches_stamped_and_encoded(&kept, false, None).unwrap_err();
        assert!(error.0.contains("records' latest time is 1"), "{}", error.0);
        let empty = history(vec![seen(0, 0, false, 8, Compression::None)]);
        assert_eq!(batches_stamped_and_encoded(&empty, false, None), Ok(1));
        let answered = history(vec![acked(0, -1, 500)]);
        assert!(batches_stamped_and_encoded(&answered, false, None).is_err());
    }
}
