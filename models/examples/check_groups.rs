//! A deeper check of the consumer-group model than the tests run:
//!
//!     cargo run -p sluice-models --release --example check_groups -- [depth] [members]
//!
//! Prints the state counts and any counterexample.

use sluice_models::groups::GroupModel;
use stateright::{Checker, Model};

fn main() {
    let mut args = std::env::args().skip(1);
    let depth: usize = args.next().map_or(12, |text| text.parse().expect("depth: a number"));
    let members: usize = args.next().map_or(2, |text| text.parse().expect("members: a number"));
    let model = GroupModel {
        members,
        partitions: 3,
        initial_rebalance_delay_ms: 3000,
        failover: true,
        offsets_retention_ms: None,
    };
    let started = std::time::Instant::now();
    let checker = model.clone().checker().threads(2).target_max_depth(depth).spawn_bfs().join();
    println!(
        "{model:?} depth {depth}: {} states, {} unique, max depth {}, {:.1} s",
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth(),
        started.elapsed().as_secs_f64()
    );
    checker.assert_properties();
    println!("all properties hold");
}
