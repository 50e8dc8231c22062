//! cargo-fuzz targets for Sluice's parsers and core, and the checks they run.
//!
//! Each target in `fuzz_targets/` is one line calling a check here, so the same checks replay
//! the committed corpus under plain `cargo test` (`tests/tests/fuzz_regressions.rs` includes
//! these modules' sources) and the crash regressions:
//! - `decode_request`, `decode_response`: [`codec`];
//! - `record_batch`: [`batch`];
//! - `log_recovery`: [`recovery`];
//! - `node_ops`: [`node_ops`], whose operations derive `Arbitrary`.
//!
//! The crate sits outside the workspace's default members because the targets need cargo-fuzz's
//! instrumentation; `fuzz/ci.sh` runs each target for a bounded time and `fuzz/run-long.sh`
//! runs one for long.

pub mod batch;
pub mod codec;
pub mod node_ops;
pub mod recovery;

/// Every target, as named in `Cargo.toml` and under `corpus/`.
pub const TARGETS: &[&str] =
    &["decode_request", "decode_response", "record_batch", "log_recovery", "node_ops"];

/// Runs the checks of `target` on one input, as the target does.
pub fn check(target: &str, data: &[u8]) {
    match target {
        "decode_request" => codec::check_decode_request(data),
        "decode_response" => codec::check_decode_response(data),
        "record_batch" => batch::check_record_batch(data),
        "log_recovery" => recovery::check_log_recovery(data),
        #[cfg(feature = "arbitrary")]
        "node_ops" => {
            if let Some(input) = node_ops_input(data) {
                node_ops::run(&input);
            }
        }
        other => panic!("unknown fuzz target {other}"),
    }
}

/// Reads bytes as `node_ops` input exactly as `fuzz_target!` does.
#[cfg(feature = "arbitrary")]
pub fn node_ops_input(data: &[u8]) -> Option<node_ops::NodeOps> {
    use arbitrary::{Arbitrary, Unstructured};
    if data.len() < <node_ops::NodeOps as Arbitrary>::size_hint(0).0 {
        return None;
    }
    node_ops::NodeOps::arbitrary_take_rest(Unstructured::new(data)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_committed_corpus_passes_every_check() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for target in TARGETS {
            let Ok(entries) = std::fs::read_dir(root.join(target)) else { continue };
            for entry in entries {
                let path = entry.expect("corpus entry").path();
                let data = std::fs::read(&path).expect("corpus file");
                let replay = std::panic::catch_unwind(|| check(target, &data));
                assert!(replay.is_ok(), "{target}: {} fails", path.display());
            }
        }
    }
}
