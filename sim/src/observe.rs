//! A client that watches the consumer groups as an operator's tool does
//! (`kafka-consumer-groups --list`, `--describe`): every `every_ms` it asks ListGroups, then
//! DescribeGroups of the workload's groups, then (from settings version 22) their committed
//! offsets with one OffsetFetch v8 for every group, as `--describe` does (every other round
//! with topics null: every offset the group committed), `rounds` times, and
//! changes nothing. A lag monitor is an observer that only fetches the committed offsets, and
//! does so often and without end, as monitoring tools poll: its fetches arrive while members'
//! commits wait for their sync.
//!
//! Every answer goes into the history ([`Operation::GroupsListed`],
//! [`Operation::GroupDescribed`], [`Operation::OffsetsObserved`]); the checker
//! [`crate::checker::group_views_consistent`] reads them: a group is listed once, and only if
//! a client used it; a Stable group's description hands each partition of the topic to
//! exactly one member; [`crate::checker::offline_groups_refused`]: a group whose
//! `__consumer_offsets` partition went offline before the request was sent is neither listed,
//! nor described, nor has its offsets shown by that broker incarnation; and the offset
//! checkers ([`crate::checker::acknowledged_commits_kept`],
//! [`crate::checker::fetched_offsets_kept`]) judge the offsets shown as they judge the
//! members' own fetches. The coordinator must
//! keep that true through rebalances, static members that come back under a new member id,
//! restarts that load groups from `__consumer_offsets`, and partitions of it going offline.

use crate::client::Next;
use crate::group::assigned_partitions;
use crate::history::{History, Operation};
use sluice_core::protocol::api::describe_groups::DescribeGroupsRequest;
use sluice_core::protocol::api::list_groups::ListGroupsRequest;
use sluice_core::protocol::api::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestGroupTopic,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::wire::StrBytes;
use std::collections::BTreeMap;

/// One request of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// ListGroups.
    List,
    /// DescribeGroups of every group.
    Describe,
    /// OffsetFetch v8 of every group: in even rounds for every partition of the topic, in odd
    /// ones for every offset the group committed (topics null), as an admin client's
    /// `listConsumerGroupOffsets` asks when given no partitions.
    Offsets,
}

/// The observer's state.
#[derive(Clone, Debug)]
pub struct Observer {
    client: u32,
    /// The groups it describes.
    groups: Vec<&'static str>,
    /// The topic whose partitions the groups are assigned.
    topic: &'static str,
    /// The topic's partitions (whose offsets it asks for).
    partitions: i32,
    every_ms: u64,
    /// Rounds to do; `None` for a monitor that goes on as long as the run (and so never owes
    /// the liveness phase anything).
    rounds: Option<u32>,
    /// What each round asks, in order.
    plan: Vec<Ask>,
    /// Rounds done.
    round: u32,
    /// The index in `plan` of the next request of this round.
    step: usize,
    /// OffsetFetch requests sent (each answer is judged with the number of its request).
    fetches: u32,
}

impl Observer {
    /// An observer of `groups`, assigned partitions of `topic` (of `partitions` partitions),
    /// asking `plan` every `every_ms` (from tick `every_ms` on), `rounds` times (`None`:
    /// without end).
    pub fn new(
        client: u32,
        groups: Vec<&'static str>,
        (topic, partitions): (&'static str, i32),
        (every_ms, rounds): (u64, Option<u32>),
        plan: Vec<Ask>,
    ) -> Self {
        assert!(every_ms > 0, "an observer waits between rounds");
        assert!(!plan.is_empty(), "an observer asks something");
        Self {
            client,
            groups,
            topic,
            partitions,
            every_ms,
            rounds,
            plan,
            round: 0,
            step: 0,
            fetches: 0,
        }
    }

    /// Whether it has done every round (always, for one without end).
    pub fn done(&self) -> bool {
        self.rounds.is_none_or(|rounds| self.round == rounds)
    }

    /// One line for liveness failure reports.
    pub fn report(&self) -> String {
        let rounds = self.rounds.map_or("endless".to_string(), |rounds| rounds.to_string());
        format!("observe round {}/{rounds} step {}/{}", self.round, self.step, self.plan.len())
    }

    /// What to send next.
    pub fn poll_request(&mut self, now: u64) -> Next {
        if self.rounds.is_some() && self.done() {
            return Next::Idle;
        }
        let at = u64::from(self.round + 1) * self.every_ms;
        if now < at {
            return Next::WakeAt(at);
        }
        let (request, version) = match self.plan[self.step] {
            Ask::List => (Request::ListGroups(ListGroupsRequest::default()), 4),
            Ask::Describe => {
                let groups = self.groups.iter().map(|group| StrBytes::from_static(group)).collect();
                (Request::DescribeGroups(DescribeGroupsRequest { groups, ..Default::default() }), 5)
            }
            Ask::Offsets => {
                let all = self.asks_every_offset();
                let groups = self
                    .groups
                    .iter()
                    .map(|group| OffsetFetchRequestGroup {
                        group_id: StrBytes::from_static(group),
                        topics: (!all).then(|| {
                            vec![OffsetFetchRequestGroupTopic {
                                name: StrBytes::from_static(self.topic),
                                partition_indexes: (0..self.partitions).collect(),
                                ..Default::default()
                            }]
                        }),
                        ..Default::default()
                    })
                    .collect();
                (Request::OffsetFetch(OffsetFetchRequest { groups, ..Default::default() }), 8)
            }
        };
        Next::Send { request, version, timeout_ms: None }
    }

    /// Whether this round's OffsetFetch asks for every committed offset (topics null).
    fn asks_every_offset(&self) -> bool {
        self.round % 2 == 1
    }

    fn step(&mut self) {
        self.step += 1;
        if self.step == self.plan.len() {
            self.step = 0;
            self.round += 1;
        }
    }

    /// The request prepared by the last `poll_request` was sent.
    pub fn on_sent(&mut self, history: &mut History) {
        if self.plan[self.step] == Ask::Offsets {
            self.fetches += 1;
            history.push(Operation::OffsetFetchSent { client: self.client, fetch: self.fetches });
        } else {
            history.push(Operation::ObserverAsked { client: self.client });
        }
    }

    /// The request in flight was lost: that step is over.
    pub fn on_lost(&mut self) {
        self.step();
    }

    /// Handles a response: the answer goes into the history; never backs off.
    pub fn on_response(&mut self, response: Response, history: &mut History) -> bool {
        match response {
            Response::ListGroups(answer) => {
                let groups = answer
                    .groups
                    .iter()
                    .map(|group| (group.group_id.to_string(), group.group_state.to_string()))
                    .collect();
                history.push(Operation::GroupsListed {
                    client: self.client,
                    incarnation: history.answered_by,
                    error_code: answer.error_code,
                    groups,
                });
            }
            Response::DescribeGroups(answer) => {
                for group in &answer.groups {
                    let members = group
                        .members
                        .iter()
                        .map(|member| {
                            let partitions =
                                assigned_partitions(&member.member_assignment, self.topic);
                            (member.member_id.to_string(), partitions)
                        })
                        .collect();
                    history.push(Operation::GroupDescribed {
                        client: self.client,
                        incarnation: history.answered_by,
                        group: group.group_id.to_string(),
                        error_code: group.error_code,
                        state: group.group_state.to_string(),
                        members,
                    });
                }
            }
            Response::OffsetFetch(answer) => {
                for group in &answer.groups {
                    let Some(&group_id) =
                        self.groups.iter().find(|id| **id == group.group_id.as_str())
                    else {
                        panic!(
                            "observer {}: OffsetFetch answered for group {:?}",
                            self.client, group.group_id
                        );
                    };
                    if group.error_code != 0 {
                        continue;
                    }
                    let answered: BTreeMap<i32, (i16, i64)> = group
                        .topics
                        .iter()
                        .filter(|topic| topic.name.as_str() == self.topic)
                        .flat_map(|topic| &topic.partitions)
                        .map(|partition| {
                            let answer = (partition.error_code, partition.committed_offset);
                            (partition.partition_index, answer)
                        })
                        .collect();
                    // Asked for everything, the answer lists every committed offset: a
                    // partition it leaves out has none.
                    let none = self.asks_every_offset().then_some((0, -1));
                    let offsets = (0..self.partitions)
                        .filter_map(|partition| {
                            let answer = answered.get(&partition).copied().or(none)?;
                            (answer.0 == 0).then_some((partition, answer.1))
                        })
                        .collect();
                    history.push(Operation::OffsetsObserved {
                        client: self.client,
                        fetch: self.fetches,
                        incarnation: history.answered_by,
                        group: group_id,
                        offsets,
                    });
                }
            }
            other => panic!("observer {} got {other:?}", self.client),
        }
        self.step();
        false
    }
}
