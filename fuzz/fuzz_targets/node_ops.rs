//! `node_ops`: see `sluice_fuzz::node_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: sluice_fuzz::node_ops::NodeOps| {
    sluice_fuzz::node_ops::run(&input)
});
