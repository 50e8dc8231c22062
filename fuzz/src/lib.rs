//! cargo-fuzz targets for Sluice's parsers and core.
//!
//! The crate sits outside the workspace's default members because the targets need cargo-fuzz's
//! instrumentation flags. The targets themselves (request and response decoding, record
//! batches, log recovery, core operation sequences) come with the fuzzing work.
