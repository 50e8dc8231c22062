//! A client that watches the consumer groups as an operator's tool does
//! (`kafka-consumer-groups --list`, `--describe`): every `every_ms` it asks ListGroups, then
//! DescribeGroups of the workload's groups, `rounds` times, and changes nothing.
//!
//! Every answer goes into the history ([`Operation::GroupsListed`],
//! [`Operation::GroupDescribed`]); the checker [`crate::checker::group_views_consistent`]
//! reads them: a group is listed once, and only if a client used it; a Stable group's
//! description hands each partition of the topic to exactly one member; and
//! [`crate::checker::offline_groups_refused`]: a group whose `__consumer_offsets` partition
//! went offline before the request was sent is neither listed nor described by that broker
//! incarnation. The coordinator must
//! keep that true through rebalances, static members that come back under a new member id,
//! restarts that load groups from `__consumer_offsets`, and partitions of it going offline.

use crate::client::Next;
use crate::group::assigned_partitions;
use crate::history::{History, Operation};
use sluice_core::protocol::api::describe_groups::DescribeGroupsRequest;
use sluice_core::protocol::api::list_groups::ListGroupsRequest;
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::wire::StrBytes;

/// The observer's state.
#[derive(Clone, Debug)]
pub struct Observer {
    client: u32,
    /// The groups it describes.
    groups: Vec<&'static str>,
    /// The topic whose partitions the groups are assigned.
    topic: &'static str,
    every_ms: u64,
    rounds: u32,
    /// Rounds done.
    round: u32,
    /// Whether this round's ListGroups was answered (or lost): DescribeGroups is next.
    listed: bool,
}

impl Observer {
    /// An observer of `groups`, assigned partitions of `topic`, every `every_ms` (from tick
    /// `every_ms` on), `rounds` times.
    pub fn new(
        client: u32,
        groups: Vec<&'static str>,
        topic: &'static str,
        every_ms: u64,
        rounds: u32,
    ) -> Self {
        assert!(every_ms > 0, "an observer waits between rounds");
        Self { client, groups, topic, every_ms, rounds, round: 0, listed: false }
    }

    /// Whether it has done every round.
    pub fn done(&self) -> bool {
        self.round == self.rounds
    }

    /// One line for liveness failure reports.
    pub fn report(&self) -> String {
        format!("observe round {}/{} listed={}", self.round, self.rounds, self.listed)
    }

    /// What to send next.
    pub fn poll_request(&mut self, now: u64) -> Next {
        if self.done() {
            return Next::Idle;
        }
        let at = u64::from(self.round + 1) * self.every_ms;
        if now < at {
            return Next::WakeAt(at);
        }
        let (request, version) = if self.listed {
            let groups = self.groups.iter().map(|group| StrBytes::from_static(group)).collect();
            (Request::DescribeGroups(DescribeGroupsRequest { groups, ..Default::default() }), 5)
        } else {
            (Request::ListGroups(ListGroupsRequest::default()), 4)
        };
        Next::Send { request, version, timeout_ms: None }
    }

    fn step(&mut self) {
        if self.listed {
            self.round += 1;
        }
        self.listed = !self.listed;
    }

    /// The request prepared by the last `poll_request` was sent.
    pub fn on_sent(&mut self, history: &mut History) {
        history.push(Operation::ObserverAsked { client: self.client });
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
            other => panic!("observer {} got {other:?}", self.client),
        }
        self.step();
        false
    }
}
