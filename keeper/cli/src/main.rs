//! `flex-keeper`: the keeper's command line.

use clap::{Parser, Subcommand};

mod merkle_cmd;
mod replay;

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
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Merkle(args) => merkle_cmd::run(args),
        Command::Replay(args) => replay::run(args),
    }
}
