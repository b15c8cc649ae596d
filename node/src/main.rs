//! `btpnips` command line: run a node, or ask a running node for its status.
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use btpnips::config::Config;

#[derive(Parser)]
#[command(name = "btpnips", version, about = "A peer-to-peer node that carries Nostr inside Interledger")]
struct Cli {
    /// Data directory (key, database, API token, btpnips.toml). Default: ~/.btpnips
    #[arg(long, global = true, env = "BTPNIPS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Config file (TOML). Default: <data-dir>/btpnips.toml if present.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node (the default).
    Run,
    /// Create the data dir and key if missing, then print the node's pubkey.
    Init,
    /// Print a running node's status (peers, subscriptions, balances) as JSON.
    Status,
    /// Close, on chain, the payment channels from a peer that pay this node (highest claim).
    SettleClose {
        /// The peer's account id (its pubkey hex).
        #[arg(long)]
        peer: String,
    },
    /// Pay a plain Interledger receiver (SPSP, RFC 9) through the running node.
    Pay {
        /// SPSP endpoint URL, e.g. http://127.0.0.1:8080/.well-known/pay
        #[arg(long)]
        spsp: String,
        /// Amount in the node's asset units (at its asset scale).
        #[arg(long)]
        amount: u64,
        /// Data to send along (UTF-8).
        #[arg(long, default_value = "")]
        data: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("BTPNIPS_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let config = Config::load(cli.data_dir.as_deref(), cli.config.as_deref()).context("loading configuration")?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            let node = btpnips::node::Node::start(config).await?;
            node.wait_for_shutdown_signal().await;
            Ok(())
        }
        Command::Init => {
            std::fs::create_dir_all(&config.data_dir)?;
            let key = btpnips::keys::NodeKey::load_or_generate(&config.data_dir)?;
            println!("{}", key.pubkey_hex);
            Ok(())
        }
        Command::Status => {
            let json = btpnips::api::fetch_status(&config).await?;
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(())
        }
        Command::SettleClose { peer } => {
            let json =
                btpnips::api::call(&config, "POST", "/api/settlement/close", Some(serde_json::json!({ "peer": peer })))
                    .await?;
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(())
        }
        Command::Pay { spsp, amount, data } => {
            let body = serde_json::json!({ "spsp": spsp, "amount": amount, "data": data });
            let json = btpnips::api::call(&config, "POST", "/api/pay", Some(body)).await?;
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(())
        }
    }
}
