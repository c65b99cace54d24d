//! chopsticks' `dev_*` RPCs: how tests and the demo move a local chain's clock and blocks.

use subxt::backend::rpc::{rpc_params, RpcClient};

use crate::client::ChainError;

/// Sets the chain's clock: the next block gets this timestamp (unix milliseconds) and later blocks
/// advance from it. Produces no block by itself.
pub async fn time_travel(rpc: &RpcClient, unix_ms: u64) -> Result<(), ChainError> {
    let _: serde_json::Value = rpc
        .request("dev_timeTravel", rpc_params![unix_ms])
        .await
        .map_err(|e| ChainError::Rpc(format!("dev_timeTravel: {e}")))?;
    Ok(())
}

/// Builds `count` empty blocks now.
pub async fn new_blocks(rpc: &RpcClient, count: u32) -> Result<(), ChainError> {
    let _: serde_json::Value = rpc
        .request("dev_newBlock", rpc_params![serde_json::json!({ "count": count })])
        .await
        .map_err(|e| ChainError::Rpc(format!("dev_newBlock: {e}")))?;
    Ok(())
}
