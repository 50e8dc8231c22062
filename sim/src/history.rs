//! What the simulated clients did and saw, in order: the only input of the checkers besides
//! the node's outputs.

/// One operation and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A produce was acknowledged: `values[i]` is at `base_offset + i`.
    ProduceAcked {
        /// Client id.
        client: u32,
        /// Partition.
        partition: i32,
        /// acks of the request (-1 or 1).
        acks: i16,
        /// Whether the producer is idempotent.
        idempotent: bool,
        /// Offset of the first value.
        base_offset: i64,
        /// The values, in order.
        values: Vec<String>,
    },
    /// A produce failed with a Kafka error code (the client retries).
    ProduceFailed {
        /// Client id.
        client: u32,
        /// The error code.
        error_code: i16,
    },
    /// A request timed out or its connection broke (the client retries).
    RequestLost {
        /// Client id.
        client: u32,
    },
    /// A consumer read a record.
    Consumed {
        /// Client id.
        client: u32,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// Value.
        value: String,
    },
    /// A consumer's position was reset by an error (it never should be without retention).
    PositionReset {
        /// Client id.
        client: u32,
        /// The error code.
        error_code: i16,
    },
}

/// Every operation, in the order it completed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct History {
    /// Operations.
    pub operations: Vec<Operation>,
}

impl History {
    /// Appends an operation.
    pub fn push(&mut self, operation: Operation) {
        self.operations.push(operation);
    }
}
