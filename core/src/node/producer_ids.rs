//! Producer ids for InitProducerId, handed out from blocks whose end is persisted before any id
//! in them is used, so a restart never hands out an id twice.

use super::{LogLevel, Node};
use crate::limits::{CHECKPOINT_FILE_BYTES_MAX, PRODUCER_ID_BLOCK_SIZE};
use crate::protocol::api::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::ErrorCode;
use crate::storage::{self, Storage, StorageError, StorageErrorKind};

const PRODUCER_ID_FILE: &str = "producer-id-block";

/// The next producer id and the end of the persisted block it comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct ProducerIds {
    next: i64,
    block_end: i64,
}

impl ProducerIds {
    /// Starts after the last persisted block: ids of a block in use at a crash are skipped.
    pub(super) fn open<S: Storage + ?Sized>(storage: &mut S) -> Result<Self, StorageError> {
        let Some(bytes) =
            storage::read_small_file(storage, PRODUCER_ID_FILE, CHECKPOINT_FILE_BYTES_MAX)?
        else {
            return Ok(Self::default());
        };
        let text = String::from_utf8_lossy(&bytes);
        let end: i64 = text.trim().parse().map_err(|_| {
            StorageError::new(
                StorageErrorKind::Io,
                PRODUCER_ID_FILE,
                format!("{text:?} is not a producer id"),
            )
        })?;
        Ok(Self { next: end, block_end: end })
    }

    fn allocate<S: Storage + ?Sized>(&mut self, storage: &mut S) -> Result<i64, StorageError> {
        if self.next >= self.block_end {
            let end = self.next + PRODUCER_ID_BLOCK_SIZE;
            storage::write_file_atomic(storage, PRODUCER_ID_FILE, end.to_string().as_bytes())?;
            self.block_end = end;
        }
        let id = self.next;
        self.next += 1;
        assert!(self.next <= self.block_end);
        Ok(id)
    }
}

impl<S: Storage> Node<S> {
    pub(super) fn handle_init_producer_id(
        &mut self,
        request: InitProducerIdRequest,
    ) -> InitProducerIdResponse {
        let mut response =
            InitProducerIdResponse { producer_id: -1, producer_epoch: -1, ..Default::default() };
        if request.transactional_id.is_some() {
            response.error_code = ErrorCode::TransactionalIdAuthorizationFailed.code();
            return response;
        }
        // KIP-360: a known producer may ask to bump its epoch instead of taking a new id.
        let known = request.producer_id >= 0 && request.producer_id < self.producer_ids.next;
        if known && request.producer_epoch >= 0 && request.producer_epoch < i16::MAX - 1 {
            response.producer_id = request.producer_id;
            response.producer_epoch = request.producer_epoch + 1;
            return response;
        }
        if request.producer_id >= 0 && !known {
            response.error_code = ErrorCode::InvalidProducerEpoch.code();
            return response;
        }
        match self.producer_ids.allocate(&mut self.storage) {
            Ok(id) => {
                response.producer_id = id;
                response.producer_epoch = 0;
            }
            Err(error) => {
                self.log(LogLevel::Error, format!("cannot persist a producer id block: {error}"));
                response.error_code = ErrorCode::KafkaStorageError.code();
            }
        }
        response
    }
}
