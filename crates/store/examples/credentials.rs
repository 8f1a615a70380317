//! Manages the users' PagerDuty User API Tokens in a `SqlCredentialStore`: add, rotate, revoke,
//! list, verify, delete. Tokens are sealed at rest; this program never prints one.
//!
//! ```text
//! export PAGERDUTY_MCP_STORE_KEY=$(cargo run -q -p pagerduty-mcp-connect-store --example credentials -- keygen)
//! cargo run -p pagerduty-mcp-connect-store --example credentials -- add alice@example.com --verify
//! cargo run -p pagerduty-mcp-connect-store --example credentials -- list
//! cargo run -p pagerduty-mcp-connect-store --example credentials -- rotate alice@example.com
//! cargo run -p pagerduty-mcp-connect-store --example credentials -- revoke alice@example.com left the team
//! cargo run -p pagerduty-mcp-connect-store --example credentials -- verify alice@example.com
//! cargo run -p pagerduty-mcp-connect-store --example credentials --features postgres -- \
//!     --database-url postgres://gateway@db.internal/gateway list
//! ```
//!
//! Options (before the command):
//! - `--db FILE`: the SQLite file (default `credentials.db`).
//! - `--database-url URL`: `sqlite://…` or `postgres://…` (Postgres needs feature `postgres`).
//! - `--key-file PATH`: read the key from a file (mode 600) instead of `PAGERDUTY_MCP_STORE_KEY`.
//!
//! Commands:
//! - `keygen`: prints a fresh base64 key for `PAGERDUTY_MCP_STORE_KEY` (or a key file).
//! - `add USER [--region us|eu] [--verify]`: stores a token, read from
//!   `PAGERDUTY_USER_API_TOKEN`, else from the terminal without echo (or one line of a pipe).
//!   `--verify` checks it with PagerDuty first and records whose it is and its region.
//! - `rotate USER [--verify]`: replaces a user's token (same input).
//! - `revoke USER REASON…`, `delete USER`, `list`.
//! - `verify USER`: runs the PagerDuty token check on the stored token and records the identity
//!   and region it finds (a rejected token is marked revoked).
//!
//! `PAGERDUTY_API_URL` sends the token check to another REST API base URL (a proxy, a fake).

use std::process::ExitCode;
use std::time::SystemTime;

use pagerduty_mcp_connect::{Region, TokenVerifier, UserId};
use pagerduty_mcp_connect_store::{CredentialRecord, KeySource, SqlCredentialStore, StoreError};
use secrecy::ExposeSecret;

#[path = "../../../examples/common/token_prompt.rs"]
mod token_prompt;
use token_prompt::read_token;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: credentials [--db FILE | --database-url URL] [--key-file PATH] \
    (keygen | add USER [--region us|eu] [--verify] | rotate USER [--verify] | revoke USER REASON... \
    | delete USER | list | verify USER)";

async fn run(mut args: Vec<String>) -> Result<(), String> {
    let mut database_url = None;
    let mut db_file = "credentials.db".to_owned();
    let mut key = KeySource::env(KeySource::DEFAULT_ENV);
    while args.first().is_some_and(|a| a.starts_with("--")) {
        let flag = args.remove(0);
        let mut value = || {
            if args.is_empty() {
                Err(format!("{flag} needs a value\n{USAGE}"))
            } else {
                Ok(args.remove(0))
            }
        };
        match flag.as_str() {
            "--db" => db_file = value()?,
            "--database-url" => database_url = Some(value()?),
            "--key-file" => key = KeySource::file(value()?),
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    let Some(command) = args.first().cloned() else {
        return Err(USAGE.to_owned());
    };
    let rest = &args[1..];
    if command == "keygen" {
        let key = KeySource::generate().map_err(|err| err.to_string())?;
        println!("{}", key.expose_secret());
        eprintln!(
            "Keep this key secret and safe: without it the stored tokens cannot be opened. Export it as {}.",
            KeySource::DEFAULT_ENV
        );
        return Ok(());
    }

    let mut builder = SqlCredentialStore::builder().key(key);
    builder = match &database_url {
        Some(url) => builder.database_url(url.clone()),
        None => builder.sqlite_file(&db_file),
    };
    let store = builder.open().await.map_err(|err| explain(&err))?;
    let result = command_on(&store, &command, rest).await;
    store.close().await;
    result
}

async fn command_on(
    store: &SqlCredentialStore,
    command: &str,
    rest: &[String],
) -> Result<(), String> {
    let user = || {
        rest.first()
            .map(|u| UserId::from(u.as_str()))
            .ok_or_else(|| format!("{command} needs a USER\n{USAGE}"))
    };
    let has = |flag: &str| rest.iter().any(|a| a == flag);
    match command {
        "add" | "rotate" => {
            let user = user()?;
            let region = match rest.iter().position(|a| a == "--region") {
                Some(i) => Some(
                    rest.get(i + 1)
                        .ok_or("--region needs us or eu")?
                        .parse::<Region>()
                        .map_err(|err| err.to_string())?,
                ),
                None => None,
            };
            let token = read_token()?;
            let record = match (command, has("--verify"), region) {
                ("add", true, _) => store.put_verified(&user, token, &verifier()?).await,
                ("add", false, Some(region)) => store.put_with_route(&user, token, region).await,
                ("add", false, None) => store.put(&user, token).await,
                (_, true, _) => store.rotate_verified(&user, token, &verifier()?).await,
                (_, false, region) => {
                    let record = store.rotate(&user, token).await;
                    match (record, region) {
                        (Ok(_), Some(region)) => store.set_route(&user, region).await,
                        (record, _) => record,
                    }
                }
            }
            .map_err(|err| explain(&err))?;
            println!(
                "{} the token of {}",
                if command == "add" {
                    "Stored"
                } else {
                    "Rotated"
                },
                user
            );
            print_record(&record);
        }
        "revoke" => {
            let user = user()?;
            let reason = rest[1..].join(" ");
            if reason.trim().is_empty() {
                return Err("revoke needs a REASON".to_owned());
            }
            let record = store
                .revoke(&user, &reason)
                .await
                .map_err(|err| explain(&err))?;
            println!("Revoked the token of {user}");
            print_record(&record);
        }
        "delete" => {
            let user = user()?;
            if store.delete(&user).await.map_err(|err| explain(&err))? {
                println!("Deleted {user}");
            } else {
                return Err(format!("no credential is stored for {user}"));
            }
        }
        "list" => {
            let records = store.list().await.map_err(|err| explain(&err))?;
            println!(
                "{} user(s) ({}, key {})",
                records.len(),
                store.engine(),
                store.key_id()
            );
            for record in &records {
                print_record(record);
            }
        }
        "verify" => {
            let user = user()?;
            eprintln!("Checking the stored token of {user} with PagerDuty (us, then eu)…");
            let record = store
                .verify(&user, &verifier()?)
                .await
                .map_err(|err| explain(&err))?;
            print_record(&record);
        }
        other => return Err(format!("unknown command {other}\n{USAGE}")),
    }
    Ok(())
}

fn verifier() -> Result<TokenVerifier, String> {
    let mut verifier =
        TokenVerifier::new().map_err(|err| format!("cannot start the HTTP client: {err}"))?;
    if let Ok(api_url) = std::env::var("PAGERDUTY_API_URL") {
        let url = url::Url::parse(api_url.trim())
            .map_err(|err| format!("PAGERDUTY_API_URL is not a URL: {err}"))?;
        for region in Region::ALL {
            verifier = verifier
                .with_api_url(region, url.clone())
                .map_err(|err| format!("PAGERDUTY_API_URL: {err}"))?;
        }
    }
    Ok(verifier)
}

fn print_record(record: &CredentialRecord) {
    let status = match &record.revocation {
        Some(revocation) => format!(
            "revoked {} by {:?}: {}",
            ago(revocation.revoked_at),
            revocation.by,
            revocation.reason
        ),
        None => "active".to_owned(),
    };
    println!("- {} [{status}]", record.user);
    println!("    created {}", ago(record.created_at));
    if let Some(at) = record.rotated_at {
        println!("    rotated {}", ago(at));
    }
    if let Some(at) = record.last_used_at {
        println!("    last used {}", ago(at));
    }
    match &record.verification {
        Some(v) => println!(
            "    verified {}: {} <{}> ({})",
            ago(v.verified_at),
            v.identity.name,
            v.identity.email,
            v.identity.role,
        ),
        None => println!("    not verified"),
    }
    match record
        .route
        .as_ref()
        .map(|route| route.as_str().parse::<Region>())
    {
        Some(Ok(region)) => println!("    region {region} → {}", region.mcp_url()),
        Some(Err(_)) => println!(
            "    route {}",
            record.route.as_ref().map_or("", |r| r.as_str())
        ),
        None => {}
    }
}

fn ago(at: SystemTime) -> String {
    match SystemTime::now().duration_since(at) {
        Ok(age) if age.as_secs() < 120 => format!("{} s ago", age.as_secs()),
        Ok(age) if age.as_secs() < 2 * 3600 => format!("{} min ago", age.as_secs() / 60),
        Ok(age) if age.as_secs() < 2 * 86_400 => format!("{} h ago", age.as_secs() / 3600),
        Ok(age) => format!("{} days ago", age.as_secs() / 86_400),
        Err(_) => "just now".to_owned(),
    }
}

/// The error, with what to do about it.
fn explain(err: &StoreError) -> String {
    let hint = match err {
        StoreError::Key { .. } => format!(
            "\nhint: set {} to a key made by `credentials keygen`, or use --key-file",
            KeySource::DEFAULT_ENV
        ),
        StoreError::WrongKey { .. } => {
            "\nhint: this database was sealed with another key".to_owned()
        }
        StoreError::InvalidToken { .. } => {
            "\nhint: copy the token again: it must be one word of printable characters".to_owned()
        }
        _ => String::new(),
    };
    format!("{err}{hint}")
}
