//! The reward pool at an address, its messages encoded from the bundle and dry-run as an origin:
//! what `claim` and `admin` read before they send anything.

use anyhow::Context as _;
use codec::{Decode, Encode};
use flex_chain::{AccountId32, Chain, ContractBundle};

/// Read-only pool messages, dry-run as `origin`.
pub(crate) struct PoolReader {
    pub(crate) chain: Chain,
    pub(crate) bundle: ContractBundle,
    pub(crate) address: AccountId32,
    pub(crate) origin: AccountId32,
}

impl PoolReader {
    /// A message's call data: its selector from the bundle, then the SCALE-encoded arguments.
    pub(crate) fn data(&self, message: &str, args: impl Encode) -> anyhow::Result<Vec<u8>> {
        let mut data = self.bundle.message(message)?.to_vec();
        args.encode_to(&mut data);
        Ok(data)
    }

    /// Dry-runs `message` and decodes its output.
    pub(crate) async fn query<T: Decode>(&self, message: &str, args: impl Encode) -> anyhow::Result<T> {
        let data = self.data(message, args)?;
        self.chain
            .query(&self.origin, &self.address, &data)
            .await
            .with_context(|| format!("the pool's {message}"))
    }
}
