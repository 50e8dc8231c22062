//! Bounded model checks of the consumer-group coordinator (see `src/groups.rs`).

use sluice_models::groups::GroupModel;
use stateright::{Checker, Model};

fn check(model: GroupModel, depth: usize) {
    let checker = model.clone().checker().target_max_depth(depth).spawn_bfs().join();
    println!(
        "groups model {model:?} depth {depth}: {} states, {} unique, max depth {}",
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth()
    );
    checker.assert_properties();
}

#[test]
fn two_members_two_partitions_with_failover() {
    check(
        GroupModel {
            members: 2,
            partitions: 2,
            initial_rebalance_delay_ms: 0,
            failover: true,
            offsets_retention_ms: None,
        },
        9,
    );
}

#[test]
fn two_members_with_the_initial_rebalance_delay() {
    check(
        GroupModel {
            members: 2,
            partitions: 3,
            initial_rebalance_delay_ms: 3000,
            failover: false,
            offsets_retention_ms: None,
        },
        9,
    );
}

#[test]
fn offsets_expire_only_after_the_group_was_empty_that_long() {
    // A member joins, commits, leaves and comes back in every order while expiry runs at any
    // step, time passes by half the retention, and the coordinator fails over: no expiry may
    // come sooner than the retention after the group's last state other than Empty. Depth 12
    // reaches a visit between two expiry runs (join, leave, half the retention, join again,
    // leave, half the retention, expiry), which a coordinator before 9b0a47a failed.
    check(
        GroupModel {
            members: 1,
            partitions: 1,
            initial_rebalance_delay_ms: 0,
            failover: true,
            offsets_retention_ms: Some(4_000),
        },
        12,
    );
}
