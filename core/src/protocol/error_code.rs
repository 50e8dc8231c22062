//! Kafka's error codes, as numbered in the protocol guide.

/// A Kafka error code. Only codes the broker can actually return are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i16)]
pub enum ErrorCode {
    /// The server experienced an unexpected error.
    UnknownServerError = -1,
    /// No error.
    None = 0,
    /// The requested offset is not within the range of offsets the server holds.
    OffsetOutOfRange = 1,
    /// The message failed its CRC check, is malformed, or has an invalid size.
    CorruptMessage = 2,
    /// The topic or partition does not exist on this broker.
    UnknownTopicOrPartition = 3,
    /// There is no leader for this partition right now.
    LeaderNotAvailable = 5,
    /// This broker is not the leader for the partition.
    NotLeaderOrFollower = 6,
    /// The batch is larger than the topic or broker allows.
    MessageTooLarge = 10,
    /// The coordinator is not available (no transaction coordinator yet).
    CoordinatorNotAvailable = 15,
    /// This broker is not the coordinator (or could not store the group's state).
    NotCoordinator = 16,
    /// The request contained a topic name that is not valid.
    InvalidTopicException = 17,
    /// The request is larger than the server accepts.
    RecordListTooLarge = 18,
    /// Fewer in-sync replicas than `min.insync.replicas`.
    NotEnoughReplicas = 19,
    /// `acks` is not -1, 0 or 1.
    InvalidRequiredAcks = 21,
    /// A record's timestamp is out of the topic's range, or a producer set LogAppendTime.
    InvalidTimestamp = 32,
    /// The version of the API is not supported.
    UnsupportedVersion = 35,
    /// The topic already exists.
    TopicAlreadyExists = 36,
    /// The partition count is not valid.
    InvalidPartitions = 37,
    /// The replication factor is not valid.
    InvalidReplicationFactor = 38,
    /// The replica assignment is not valid.
    InvalidReplicaAssignment = 39,
    /// A configuration name or value is not valid.
    InvalidConfig = 40,
    /// The request is malformed or not allowed in this state.
    InvalidRequest = 42,
    /// The message format is not supported here.
    UnsupportedForMessageFormat = 43,
    /// The producer's sequence number is not the next one expected.
    OutOfOrderSequenceNumber = 45,
    /// The producer's epoch is older than the broker's: another producer fenced it.
    InvalidProducerEpoch = 47,
    /// The broker has no state for this producer id.
    UnknownProducerId = 59,
    /// The request violates a broker policy or limit.
    PolicyViolation = 44,
    /// The transactional id is not authorized (transactions are not supported yet).
    TransactionalIdAuthorizationFailed = 53,
    /// The disk or log directory failed; the replica cannot serve it.
    KafkaStorageError = 56,
    /// The fetch session id is not known.
    FetchSessionIdNotFound = 70,
    /// Topic deletion is disabled.
    TopicDeletionDisabled = 73,
    /// The leader epoch in the request is older than the broker's.
    FencedLeaderEpoch = 74,
    /// The leader epoch in the request is newer than the broker's.
    UnknownLeaderEpoch = 75,
    /// The record is invalid (for example its record count disagrees with its content).
    InvalidRecord = 87,
    /// The topic id is not known.
    UnknownTopicId = 100,
}

impl ErrorCode {
    /// The code as sent on the wire.
    pub fn code(self) -> i16 {
        self as i16
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_match_the_protocol_guide() {
        assert_eq!(ErrorCode::None.code(), 0);
        assert_eq!(ErrorCode::OffsetOutOfRange.code(), 1);
        assert_eq!(ErrorCode::CorruptMessage.code(), 2);
        assert_eq!(ErrorCode::NotCoordinator.code(), 16);
        assert_eq!(ErrorCode::KafkaStorageError.code(), 56);
        assert_eq!(ErrorCode::InvalidRecord.code(), 87);
    }
}
