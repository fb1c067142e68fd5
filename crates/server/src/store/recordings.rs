//! Screen recordings in the store (api.md §5.1): a session's rrweb chunks, masked and
//! compressed, their totals, and the derivation state carried from one chunk to the next.

use async_trait::async_trait;

use crate::domain::ids::SessionId;

use super::{EventRow, Guarded, StoreResult};
use crate::domain::{SessionStatus, Tenant};

/// A recording's totals and health, as the session and its export report them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingSummary {
    pub chunks: i64,
    pub events: i64,
    /// JSON bytes received (after decompression), masked.
    pub raw_bytes: i64,
    /// Bytes stored (compressed).
    pub stored_bytes: i64,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub full_snapshots: i64,
    /// JSON array of `{at, reason}`: where the recording cannot be replayed.
    pub gaps: String,
}

/// The summary with the derivation state (gzip of JSON) the next chunk continues from.
#[derive(Debug, Clone, Default)]
pub struct RecordingHead {
    pub summary: RecordingSummary,
    pub state: Vec<u8>,
}

/// One chunk to append, with everything that changes with it.
#[derive(Debug, Clone)]
pub struct ChunkAppend {
    /// The number of chunks the state was derived from: the append only happens if no other
    /// chunk arrived meanwhile (else `AppendOutcome::Raced`, and the caller derives again).
    pub after_chunks: i64,
    pub chunk_id: Option<String>,
    pub first_ts: i64,
    pub last_ts: i64,
    pub events: i64,
    pub raw_bytes: i64,
    /// gzip of the masked events, comma-separated JSON (no brackets).
    pub data: Vec<u8>,
    /// Totals after this chunk.
    pub summary: RecordingSummary,
    pub state: Vec<u8>,
    /// Events derived from the recording, upserted by their deterministic `clientId`
    /// (`rr:…`); skipped when the recorder sent the same action (same type within
    /// `TWIN_MS`). Stored only when the session consented to the events stream.
    pub derived: Vec<EventRow>,
    pub now: i64,
}

/// Two events of one type this close (ms) are one action recorded twice (rrweb and the
/// events recorder).
pub const TWIN_MS: i64 = 500;

/// The prefix of derived events' `clientId`s.
pub const DERIVED_PREFIX: &str = "rr:";

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    Stored {
        derived: u64,
    },
    /// A chunk with this `chunkId` is already stored: nothing written.
    Duplicate,
    /// Another chunk was appended since the state was read.
    Raced,
}

#[async_trait]
pub trait RecordingStore: Send + Sync + 'static {
    /// The recording's summary and derivation state (`None`: nothing recorded yet).
    async fn recording_head(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
    ) -> StoreResult<Option<RecordingHead>>;
    /// Whether a chunk with this id is stored for the session.
    async fn has_chunk(&self, tenant: &Tenant, session_id: &SessionId, chunk_id: &str) -> StoreResult<bool>;
    /// Appends a chunk in one transaction if the session is `accepting` and has consented to
    /// the screen stream (both read in it), and the recording still has `after_chunks` chunks.
    async fn append_chunk(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        accepting: SessionStatus,
        a: ChunkAppend,
    ) -> StoreResult<Guarded<AppendOutcome>>;
    /// Up to `limit` stored chunks after `after_seq`, in order: `(seq, gzip data)`.
    async fn recording_chunks(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<(i64, Vec<u8>)>>;
}
