//! `btpnips` command line: run a node, or ask a running node for its status.
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use btpnips::config::Config;
use btpnips::keys;

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
    /// The node key: encrypt it at rest, or show its three views.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
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

#[derive(Subcommand)]
enum KeyCommand {
    /// Encrypt an unencrypted node.key under a passphrase (BTPNIPS_PASSPHRASE,
    /// key_passphrase_file, or asked twice on the terminal); argon2id + ChaCha20-Poly1305.
    Encrypt,
    /// Print the key's Nostr pubkey, libp2p PeerId and EVM address (no passphrase needed for
    /// the pubkey; the others need the key).
    Show,
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
            btpnips::data_dir::prepare(&config.data_dir, btpnips::node::DB_FILE)?;
            let passphrase = keys::configured_passphrase(config.key_passphrase_file.as_deref())?;
            let key = keys::NodeKey::load_or_generate(&config.data_dir, passphrase.as_ref().map(|p| p.as_str()))?;
            println!("{}", key.pubkey_hex);
            Ok(())
        }
        Command::Key { command: KeyCommand::Encrypt } => {
            let passphrase = match keys::configured_passphrase(config.key_passphrase_file.as_deref())? {
                Some(p) => p,
                None => {
                    let first = keys::prompt("New passphrase for the node key: ")?;
                    if *first != *keys::prompt("Repeat it: ")? {
                        anyhow::bail!("the passphrases differ; nothing changed");
                    }
                    first
                }
            };
            if passphrase.is_empty() {
                anyhow::bail!("an empty passphrase encrypts nothing; nothing changed");
            }
            let pubkey = keys::encrypt_in_place(&config.data_dir, &passphrase, keys::KdfParams::default())?;
            println!("{} encrypted (pubkey {pubkey})", config.data_dir.join(keys::KEY_FILE).display());
            Ok(())
        }
        Command::Key { command: KeyCommand::Show } => {
            let file = keys::KeyFile::read(&config.data_dir)?
                .ok_or_else(|| anyhow::anyhow!("no key in {}", config.data_dir.display()))?;
            let key = match file {
                keys::KeyFile::Plain(k) => k,
                keys::KeyFile::Encrypted(sealed) => {
                    let passphrase = match keys::configured_passphrase(config.key_passphrase_file.as_deref())? {
                        Some(p) => p,
                        None => keys::prompt("Passphrase for the node key: ")?,
                    };
                    sealed.open(&passphrase)?
                }
            };
            let json = serde_json::json!({
                "pubkey": key.pubkey_hex,
                "peer_id": discovery::p2p::keypair_from_secret(&key.secret).ok().map(|k| k.public().to_peer_id().to_string()),
                "evm_address": contracts::claim::evm_address(&key.secret).ok().map(|a| a.to_checksum(None)),
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
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
