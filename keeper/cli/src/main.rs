//! `flex-keeper`: the keeper's command line.

use clap::{Parser, Subcommand};

mod admin_cmd;
mod balance_cmd;
mod claim_cmd;
mod contract_args;
mod deploy_cmd;
mod follow_cmd;
mod forecast_cmd;
mod http;
mod import_cmd;
mod merkle_cmd;
mod offchain_cmd;
mod pool_reader;
mod replay;
mod resync_cmd;
mod run_cmd;
mod shutdown;

#[derive(Parser)]
#[command(name = "flex-keeper", version, about = "Flex epoch rewards keeper")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Merkle commitments: OpenZeppelin standard-v1 dumps, proofs and verification.
    Merkle(merkle_cmd::MerkleArgs),
    /// Replay epochs from a pool file and a weight table; prints one JSON document.
    Replay(replay::ReplayArgs),
    /// Run the keeper service: import activity, close epochs, commit on chain, serve the API.
    Run(run_cmd::RunArgs),
    /// Rebuild this keeper's epochs and months that differ from the chain's, from its inputs and
    /// the chain (run with the keeper stopped; never votes).
    Resync(resync_cmd::ResyncArgs),
    /// Import pool JSON and JSON-lines files into a keeper's store (each file all or nothing).
    Import(import_cmd::ImportArgs),
    /// Claim a month's reward for an EVM wallet: proof from a keeper's API, signed, submitted.
    Claim(claim_cmd::ClaimArgs),
    /// Deploy the tokens (or take existing ones) and the reward pool from their bundles; prints
    /// addresses (SS58 and hex), code hashes and transactions.
    Deploy(deploy_cmd::DeployArgs),
    /// The pool owner's messages: governance announce/execute/cancel, pause, deposit, ownership;
    /// `status` reads the pool.
    Admin(admin_cmd::AdminArgs),
    /// Forecasts (prediction layer): train, predict, evaluate an LSTM against naive baselines.
    Forecast(forecast_cmd::ForecastArgs),
    /// Assign tasks to validators minimising the variance of their load factor.
    Balance(balance_cmd::BalanceArgs),
    /// Signed off-chain action batches: sign with an attester's key, submit to keepers' APIs.
    Offchain(offchain_cmd::OffchainArgs),
    /// Follow the `[[evm]]` contract logs of a keeper config into its store (`--once`: until caught up).
    FollowEvm(follow_cmd::FollowArgs),
    /// Follow the `[[substrate]]` events of a keeper config into its store (`--once`: up to the head).
    FollowSubstrate(follow_cmd::FollowArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_)) {
        // `run` sets up its logs from its config.
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    match cli.command {
        Command::Run(args) => run_cmd::run(args),
        Command::Resync(args) => resync_cmd::run(args),
        Command::Import(args) => import_cmd::run(args),
        Command::Claim(args) => claim_cmd::run(args),
        Command::Deploy(args) => deploy_cmd::run(args),
        Command::Admin(args) => admin_cmd::run(args),
        Command::Merkle(args) => merkle_cmd::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Forecast(args) => forecast_cmd::run(args),
        Command::Balance(args) => balance_cmd::run(args),
        Command::Offchain(args) => offchain_cmd::run(args),
        Command::FollowEvm(args) => follow_cmd::run(follow_cmd::Kind::Evm, args),
        Command::FollowSubstrate(args) => follow_cmd::run(follow_cmd::Kind::Substrate, args),
    }
}
