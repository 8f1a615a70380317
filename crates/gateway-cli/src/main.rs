//! An MCP gateway for agents: each user's agent connects here with its gateway key, and every
//! request goes to PagerDuty's hosted MCP server with that user's own User API Token.
//!
//! ```sh
//! export PAGERDUTY_MCP_STORE_KEY=…   # the credential store's key (the credentials tool's keygen)
//! cargo run -p pagerduty-mcp-gateway -- \
//!     --listen 127.0.0.1:8080 --users users.toml [--store sqlite:PATH | --store postgres://…] \
//!     [--store-cache-ttl SECONDS] \
//!     [--upstream URL | --region us|eu | --mock] \
//!     [--read-only] [--allow-tool NAME]… [--deny-tool NAME]… [--hide-refused-tools]
//! ```
//!
//! Users' PagerDuty tokens live only in the encrypted credential store (`--store`, default
//! `sqlite:gateway-credentials.db`; the key from `PAGERDUTY_MCP_STORE_KEY` or
//! `--store-key-file`), which the `credentials` admin tool writes. `users.toml` holds one
//! `[[user]]` table per user, with the gateway key their agent sends:
//!
//! ```toml
//! [[user]]
//! id = "alice@example.com"                # the user's id in the credential store
//! key = "gk_alice_change-me-0123456789"   # the agent sends Authorization: Bearer <key>
//! ```
//!
//! A file that still has `token = "u+…"` or `token_env = "VAR"` is imported: a user the store
//! has no token for gets that one, once; either way a WARN line says to remove it from the file.
//! With `--mock` and no `--store`, tokens are the mock's test tokens, in memory.
//!
//! Agents use `http://127.0.0.1:8080/mcp`; `/healthz` and `/metrics` (Prometheus) are beside
//! it. SIGINT or SIGTERM stops the gateway after the calls in flight finish. A bad `users.toml`
//! is reported with its line and exit status 2; tokens are never printed.

#![forbid(unsafe_code)]

mod connect_page;
#[cfg(feature = "mock")]
mod mock_users;
mod token_store;
mod users_file;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Parser};
use pagerduty_mcp_connect::{Connector, PagerDuty, Policy, Region};
use pagerduty_mcp_connect_gateway::{Gateway, OAuthResourceServer};
#[cfg(feature = "mock")]
use pagerduty_mcp_connect_mock::MockPagerDuty;
use token_store::TokenStore;
use tracing_subscriber::EnvFilter;
use users_file::UsersFile;

/// An MCP gateway: agents in, each user's own credential out.
#[derive(Parser, Debug)]
#[command(version, about)]
#[command(group(ArgGroup::new("target").args(["upstream", "region", "mock"])))]
struct Args {
    /// Where agents connect (the MCP endpoint is /mcp there).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The users and their gateway keys (a `token`/`token_env` still there is imported into
    /// the store). Optional with --oauth-issuer (agents then sign in with OAuth only).
    #[arg(long, required_unless_present = "oauth_issuers")]
    users: Option<PathBuf>,
    /// The encrypted credential store holding users' tokens: sqlite:PATH, sqlite://PATH or
    /// postgres://USER@HOST/DATABASE [default: sqlite:gateway-credentials.db; with --mock:
    /// memory].
    #[arg(long, value_name = "STORE")]
    store: Option<String>,
    /// A file holding the store's key (mode 600), instead of the environment variable
    /// PAGERDUTY_MCP_STORE_KEY.
    #[arg(long, value_name = "PATH")]
    store_key_file: Option<PathBuf>,
    /// Seconds the store's lookups are cached in this process [default: 5]. With several
    /// replicas on one Postgres, a token rotated or revoked through another replica is used or
    /// refused here within this time; 0 turns the cache off (every call reads the database).
    #[arg(long, value_name = "SECONDS")]
    store_cache_ttl: Option<u64>,
    /// The upstream MCP endpoint (default: the region's hosted PagerDuty endpoint).
    #[arg(long)]
    upstream: Option<String>,
    /// The PagerDuty region: us or eu.
    #[arg(long, default_value = "us")]
    region: Region,
    /// Start the embedded mock PagerDuty MCP server and forward to it (for trying it out; needs
    /// the build feature `mock`).
    #[arg(long)]
    mock: bool,
    /// An OAuth 2.1 authorization server whose access tokens sign agents in, by its issuer URL
    /// (repeatable): the gateway becomes a resource server (RFC 9728 metadata, JWTs checked
    /// against the issuer's keys). Gateway keys from --users keep working beside it.
    #[arg(long = "oauth-issuer", value_name = "URL")]
    oauth_issuers: Vec<String>,
    /// The gateway's public MCP URL, the resource its access tokens must be for
    /// [default: http://LISTEN/mcp, LISTEN being the address listened on].
    #[arg(long, value_name = "URL", requires = "oauth_issuers")]
    public_url: Option<String>,
    /// A scope every access token must carry (repeatable; asked for in the 401's challenge).
    #[arg(long = "oauth-scope", value_name = "SCOPE", requires = "oauth_issuers")]
    oauth_scopes: Vec<String>,
    /// The access token's claim that names the user in the credential store (sub, email, …).
    #[arg(
        long,
        value_name = "CLAIM",
        default_value = "sub",
        requires = "oauth_issuers"
    )]
    user_claim: String,
    /// Serve the page where each user connects their own PagerDuty account
    /// (<public URL's base>/connect/…), and give an agent whose user has no usable token a link
    /// to it. People sign in there with the --oauth-issuer, or with their gateway key.
    #[arg(long)]
    connect: bool,
    /// The connect page's OAuth client id at the issuer [default: registered at start]; a
    /// confidential client's secret is read from PAGERDUTY_MCP_CONNECT_CLIENT_SECRET.
    #[arg(long, value_name = "ID", requires = "connect")]
    connect_client_id: Option<String>,
    /// On the connect page, accept only a token of the PagerDuty user whose email is the
    /// signed-in person's.
    #[arg(long, requires = "connect")]
    connect_require_matching_email: bool,
    /// Check pasted tokens against this REST API base URL instead of PagerDuty's regional
    /// ones (a proxy; with --mock, the mock's).
    #[arg(long, value_name = "URL", requires = "connect")]
    pagerduty_api_url: Option<String>,
    /// Offer and allow only tools annotated readOnlyHint: true.
    #[arg(long)]
    read_only: bool,
    /// Offer and allow only these tools (repeatable).
    #[arg(long = "allow-tool", value_name = "NAME")]
    allow_tools: Vec<String>,
    /// Never offer nor allow these tools (repeatable).
    #[arg(long = "deny-tool", value_name = "NAME")]
    deny_tools: Vec<String>,
    /// Leave the tools the policy refuses a user out of that user's tool list. By default they
    /// are listed, marked as refused by the gateway's policy with the reason, so that a client
    /// shows the refusal rather than "tool not found"; calling one is refused either way.
    #[arg(long)]
    hide_refused_tools: bool,
    /// Host header values agents may use besides loopback names, when listening on a public
    /// address (repeatable).
    #[arg(long = "allowed-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,
    /// Browser origins whose pages may call the gateway besides loopback pages, as
    /// `scheme://host[:port]` or `scheme://host:*` (repeatable). Requests without an Origin header
    /// (every MCP client that is not a web page) are not affected.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Seconds a connection has to send a request's headers (new, or idle between requests)
    /// before it is closed.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout: u64,
    /// The most agent connections served at once (default: half the open-file limit, 64 to
    /// 4096).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// The most calls of one user in flight at once (0: no limit).
    #[arg(long, default_value_t = 32)]
    max_in_flight_per_user: usize,
    /// Requests per second one user may send on average (0: no limit).
    #[arg(long, default_value_t = 50)]
    rate_per_user: u32,
    /// Requests one user may send at once above the rate.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    burst_per_user: u32,
    /// Seconds shutdown waits for calls in flight.
    #[arg(long, default_value_t = 30)]
    shutdown_grace: u64,
    /// Seconds an agent's session (2025-era protocol) may stay unused before the gateway ends
    /// it; the agent then opens a new one.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    session_idle: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            EnvFilter::new("info,pagerduty_mcp_connect::connector=warn,rmcp=warn")
        }))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // With --mock, a user without a token gets one from the mock (below).
    let users = match args.users.as_deref().map(UsersFile::load).transpose() {
        Ok(users) => users.unwrap_or_default(),
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    match run(args, users).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, users: UsersFile) -> Result<(), Box<dyn std::error::Error>> {
    #[cfg(not(feature = "mock"))]
    if args.mock {
        return Err(
            "--mock needs the embedded mock server, which this build left out: \
                    cargo run -p pagerduty-mcp-gateway --features mock -- --mock …"
                .into(),
        );
    }
    let tokens = match (&args.store, args.mock) {
        (None, true) => TokenStore::memory(),
        (spec, _) => {
            token_store::open(
                spec.as_deref().unwrap_or(token_store::DEFAULT_STORE),
                args.store_key_file.clone(),
                args.store_cache_ttl.map(Duration::from_secs),
            )
            .await?
        }
    };
    tokens.import(&users).await?;
    #[cfg(not(feature = "mock"))]
    let mock: Option<std::convert::Infallible> = None;
    #[cfg(feature = "mock")]
    let mock = if args.mock {
        let mock = MockPagerDuty::builder().start().await?;
        eprintln!(
            "--mock: the embedded mock PagerDuty MCP server (test data, not PagerDuty) is at {}",
            mock.url()
        );
        mock_users::give_tokens(&mock, &users, &tokens).await?;
        Some(mock)
    } else {
        None
    };
    let server = match (&mock, &args.upstream) {
        #[cfg(feature = "mock")]
        (Some(mock), _) => PagerDuty::builder().endpoint(mock.url().as_str()).build()?,
        #[cfg(not(feature = "mock"))]
        (Some(never), _) => match *never {},
        (None, Some(url)) => PagerDuty::builder()
            .region(args.region)
            .endpoint(url)
            .build()?,
        (None, None) => PagerDuty::new(args.region),
    };
    // PagerDuty itself: a token the credentials tool checked (`add --verify`) names its region,
    // and goes there; one that names none goes to --region's.
    let hosted = mock.is_none() && args.upstream.is_none();
    let mut policy = Policy::new()
        .read_only(args.read_only)
        .deny_tools(args.deny_tools.iter().cloned());
    if !args.allow_tools.is_empty() {
        policy = policy.allow_tools(args.allow_tools.iter().cloned());
    }
    let mut origins: Vec<String> = [
        "http://localhost:*",
        "http://127.0.0.1:*",
        "http://[::1]:*",
        "https://localhost:*",
        "https://127.0.0.1:*",
        "https://[::1]:*",
    ]
    .map(str::to_owned)
    .to_vec();
    origins.extend(args.allowed_origins.iter().cloned());
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    hosts.extend(args.allowed_hosts.iter().cloned());
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let oauth = if args.oauth_issuers.is_empty() {
        None
    } else {
        let public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}/mcp"));
        // Agents reach the gateway under its public name.
        if let Some(host) = url::Url::parse(&public_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
        {
            hosts.push(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
            );
        }
        let oauth = OAuthResourceServer::builder(public_url)
            .issuers(args.oauth_issuers.iter().cloned())
            .required_scopes(args.oauth_scopes.iter().cloned())
            .user_claim(args.user_claim.clone())
            .build()?;
        Some(oauth)
    };
    let upstream = pagerduty_mcp_connect::RemoteMcpServer::endpoint(&server).to_string();
    let mut connector = Connector::builder();
    if hosted {
        connector = connector.routes(PagerDuty::routes());
    }
    let connector = connector
        .server(server)
        .credentials(tokens.clone())
        .policy(policy);
    let mut builder = Gateway::builder(connector, users.keys().clone())
        .allowed_hosts(hosts)
        .allowed_origins(origins)
        .header_read_timeout(Duration::from_secs(args.header_read_timeout))
        .max_in_flight_per_user(args.max_in_flight_per_user)
        .rate_per_user(args.rate_per_user, args.burst_per_user)
        .shutdown_grace(Duration::from_secs(args.shutdown_grace))
        .session_idle_timeout(Duration::from_secs(args.session_idle))
        .list_refused_tools(!args.hide_refused_tools);
    if let Some(max) = args.max_connections {
        builder = builder.max_connections(usize::try_from(max).unwrap_or(usize::MAX));
    }
    if mock.is_some() {
        builder = builder.instructions(format!(
            "A gateway to the embedded mock PagerDuty MCP server at {upstream} (test data, not PagerDuty): every request goes there with your own credential."
        ));
    }
    let oauth_server = oauth.clone();
    if let Some(oauth) = oauth {
        eprintln!(
            "OAuth sign-in: access tokens of {} for {}, the user from claim {:?}",
            oauth.issuers().join(", "),
            oauth.resource(),
            oauth.user_claim()
        );
        builder = builder.oauth(oauth);
    }
    if args.connect {
        let public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}/mcp"));
        let mut api_url = args
            .pagerduty_api_url
            .as_deref()
            .map(url::Url::parse)
            .transpose()
            .map_err(|err| format!("--pagerduty-api-url: {err}"))?;
        #[cfg(feature = "mock")]
        if let (None, Some(mock)) = (&api_url, &mock) {
            // The mock answers the token check (`GET /users/me`) for its own users.
            api_url = Some(mock.url().join("/")?);
        }
        let options = connect_page::ConnectOptions {
            public_url,
            client_id: args.connect_client_id.clone(),
            require_matching_email: args.connect_require_matching_email,
            api_url: api_url.take(),
        };
        let page =
            connect_page::build(&options, oauth_server.as_ref(), users.keys(), &tokens).await?;
        eprintln!(
            "--connect: the connect page is at {}connect/",
            page.registry().public_base()
        );
        builder = builder.connect(page);
    }
    let gateway = builder.build()?;
    eprintln!("gateway for {users} forwarding to {upstream}; tokens from {tokens}");
    // The line scripts wait for.
    println!("LISTENING http://{addr}/mcp");
    gateway.serve(listener, shutdown_signal()).await?;
    tokens.close().await;
    eprintln!("gateway stopped");
    #[cfg(feature = "mock")]
    if let Some(mock) = mock {
        mock.shutdown().await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => eprintln!("SIGINT: shutting down"),
        () = term => eprintln!("SIGTERM: shutting down"),
    }
}
