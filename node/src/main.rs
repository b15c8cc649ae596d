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
    /// The node's database: move it between backends, compare, back up.
    Db {
        #[command(subcommand)]
        command: DbCommand,
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
enum DbCommand {
    /// Write the configured database's whole state as JSON Lines (events, ledger journal,
    /// subscriptions, peers, channels, settings) to --out or stdout. Stop the node first (or
    /// export a `db backup` copy): the export is read in pages, not in one snapshot.
    Export {
        /// File to write (created; must not exist). Default: stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Load an export into the configured database (`database_url`, or the data dir's SQLite
    /// file), which must be empty. To move SQLite → PostgreSQL: `db export --out state.jsonl`,
    /// then `BTPNIPS_DATABASE_URL=postgres://… btpnips db import state.jsonl`, then set
    /// `database_url` in btpnips.toml.
    Import {
        /// The export file.
        file: PathBuf,
    },
    /// Print counts, every account's balance (asset units) and every channel's state as JSON,
    /// to compare two databases (before and after a move).
    Summary,
    /// A consistent copy of the data dir's SQLite database, taken while the node runs
    /// (`VACUUM INTO`). For PostgreSQL use `pg_dump --format=custom <database_url>`.
    Backup {
        /// The new file (must not exist).
        dest: PathBuf,
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
        Command::Db { command } => db(&config, command).await,
        Command::Pay { spsp, amount, data } => {
            let body = serde_json::json!({ "spsp": spsp, "amount": amount, "data": data });
            let json = btpnips::api::call(&config, "POST", "/api/pay", Some(body)).await?;
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(())
        }
    }
}

/// `btpnips db …`: open the configured database directly (not through a running node).
async fn db(config: &Config, command: DbCommand) -> anyhow::Result<()> {
    use std::io::Write;
    let sqlite = config.data_dir.join(btpnips::node::DB_FILE);
    if let DbCommand::Backup { dest } = &command {
        anyhow::ensure!(
            config.database_url.as_deref().is_none_or(|u| u.starts_with("sqlite://")),
            "db backup copies SQLite files; for PostgreSQL run: pg_dump --format=custom <database_url>"
        );
        let source = match config.database_url.as_deref() {
            Some(url) => PathBuf::from(url.trim_start_matches("sqlite://")),
            None => sqlite,
        };
        storage::Storage::backup_sqlite(&source, dest).await.context("backup")?;
        eprintln!("copied {} to {}", source.display(), dest.display());
        return Ok(());
    }
    if config.database_url.is_none() {
        btpnips::data_dir::prepare(&config.data_dir, btpnips::node::DB_FILE)?;
    }
    let store = storage::Storage::open(config.database_url.as_deref(), &sqlite).await.context("opening database")?;
    let result = match command {
        DbCommand::Export { out } => {
            let counts = match out {
                Some(path) => {
                    let file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut w = std::io::BufWriter::new(file);
                    store.export(&mut w).await?
                }
                None => {
                    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                    let counts = store.export(&mut w).await?;
                    w.flush()?;
                    counts
                }
            };
            eprintln!("exported {}", serde_json::to_string(&counts)?);
            Ok(())
        }
        DbCommand::Import { file } => {
            let f = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
            let counts = store.import(std::io::BufReader::new(f)).await?;
            println!("{}", serde_json::to_string_pretty(&counts)?);
            Ok(())
        }
        DbCommand::Summary => {
            println!("{}", serde_json::to_string_pretty(&store.summary().await?)?);
            Ok(())
        }
        DbCommand::Backup { .. } => unreachable!("handled above"),
    };
    store.close().await;
    result
}
