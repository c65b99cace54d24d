//! `flex-keeper`: the keeper's command line.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "flex-keeper", version, about = "Flex epoch rewards keeper")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {}
}
