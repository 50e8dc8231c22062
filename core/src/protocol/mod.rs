//! The Kafka wire protocol: error codes and the v2 record-batch view.
//!
//! The full request/response codec grows here (see the codec issue); the log needs only the
//! batch view, which validates and patches batches in place without re-encoding them.

pub mod api;
pub mod compression;
pub mod error_code;
pub mod header;
pub mod legacy;
pub mod record_batch;
pub mod schema;
pub mod varint;
pub mod wire;

pub use error_code::ErrorCode;
