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
        GroupModel { members: 2, partitions: 2, initial_rebalance_delay_ms: 0, failover: true },
        9,
    );
}

#[test]
fn two_members_with_the_initial_rebalance_delay() {
    check(
        GroupModel { members: 2, partitions: 3, initial_rebalance_delay_ms: 3000, failover: false },
        9,
    );
}
