//! A social-reading server in the style of BookWyrm, built on archipel's
//! public API: books, authors, shelves and reviews federate as rich objects
//! between instances of this example, and the same reviews reach Mastodon-
//! style servers (such as the `minimal_server` example) as plain articles.
//!
//! ```sh
//! cargo run --example bookwyrm_like --features axum,client,delivery,rfc9421 -- \
//!     --bind 127.0.0.1:8090 --user mouse --allow-private-addresses
//! ```
//!
//! The reader acts through a small JSON API (bearer token printed at start):
//! `POST /api/book {"title","author"}`, `POST /api/shelve {"book","shelf"}` (and `/api/unshelve`),
//! `POST /api/status {"kind": "Review"|"Rating"|"Comment"|"Quotation",
//! "book", "name", "content", "rating", "quote", "position"}`,
//! `POST /api/follow {"target": actor IRI}`, `GET /api/received`.

mod books;
mod routes;
mod server;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = server::Config {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 8090)),
        base_url: None,
        user: "mouse".to_owned(),
        token: format!("{:016x}", rand_u64()),
        allow_private_addresses: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match flag.as_str() {
            "--bind" => match value().parse() {
                Ok(addr) => config.bind = addr,
                Err(e) => return usage(&format!("--bind: {e}")),
            },
            "--base-url" => match url::Url::parse(&value()) {
                Ok(url) => config.base_url = Some(url),
                Err(e) => return usage(&format!("--base-url: {e}")),
            },
            "--user" => config.user = value(),
            "--token" => config.token = value(),
            "--allow-private-addresses" => config.allow_private_addresses = true,
            other => return usage(&format!("unknown argument {other}")),
        }
    }
    let listener = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(l) => l,
        Err(e) => return usage(&format!("cannot bind {}: {e}", config.bind)),
    };
    let token = config.token.clone();
    let running = match server::start_on(listener, config).await {
        Ok(r) => r,
        Err(e) => return usage(&format!("cannot start: {e}")),
    };
    eprintln!("bookwyrm-like server on {}", running.addr);
    eprintln!("  reader {}", running.app.actor_iri());
    eprintln!("  API token {token}");
    match running.task.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!(
        "{msg}\nusage: bookwyrm_like [--bind ADDR] [--base-url URL] [--user NAME] [--token T] [--allow-private-addresses]"
    );
    ExitCode::from(2)
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("OS random generator");
    u64::from_le_bytes(b)
}
