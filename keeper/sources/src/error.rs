//! Why a source failed.

use flex_ingest::offchain::OffchainError;
use flex_ingest::section::KeyError;
use flex_ingest::IngestError;
use flex_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A source's configuration is wrong (the key names it).
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An input file is malformed (the message names the file, line and field).
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Offchain(#[from] OffchainError),
    /// An EVM follower stopped (deep reorganisation, wrong chain, bad endpoint).
    #[error(transparent)]
    Evm(#[from] flex_evm::follow::FollowError),
    /// A Substrate follower stopped.
    #[error("substrate {name}: {error}")]
    Substrate {
        name: String,
        // Boxed: the chain's error is large and this one is rare.
        #[source]
        error: Box<flex_chain::FollowError>,
    },
    /// A follower refuses to read on: the store holds what it read from blocks that a
    /// reorganisation deeper than its confirmation depth replaced (rebuild the database).
    #[error("{name}: {message}")]
    Untrusted { name: String, message: String },
    /// A log or event that does not fit its declared mapping.
    #[error("{at}: {message}")]
    Mapping { at: String, message: String },
    /// The store's record of a follower's position is damaged.
    #[error("store meta {key}: {message}")]
    Cursor { key: String, message: String },
    /// A file could not be read to the end.
    #[error("{file}: {message}")]
    File { file: String, message: String },
}
