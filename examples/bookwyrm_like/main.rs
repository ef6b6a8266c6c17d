//! A social-reading server in the style of BookWyrm, built on archipel's
//! application layer: books, authors, shelves and reviews federate as rich
//! objects between instances of this example, and the same reviews reach
//! Mastodon-style servers (such as the `minimal_server` example) as plain
//! articles. People get pages: a reader's profile, a book with the reviews
//! from every server that federates with this one, each review.
//!
//! ```sh
//! cargo run --example bookwyrm_like --features server -- \
//!     --bind 127.0.0.1:8090 --user mouse --allow-private-addresses --data-dir ./books-data
//! ```
//!
//! The readers act through a small JSON API (see `routes.rs`; the bearer
//! token is printed at start).

mod books;
mod inbound;
mod pages;
mod routes;
mod server;
mod store;

use std::process::ExitCode;

const USAGE: &str =
    "usage: bookwyrm_like [--bind ADDR] [--base-url URL] [--user NAME]... [--token T]
    [--data-dir DIR] [--allow-private-addresses]
    [--max-received N] [--max-remote-books N] [--max-remote-shelf-items N]
    [--max-inbox N] [--max-peers N] [--max-followers N]";

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot bind {}: {e}", config.bind);
            return ExitCode::FAILURE;
        }
    };
    let token = config.token.clone();
    let running = match server::start_on(listener, config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("bookwyrm-like server on {}", running.addr);
    for name in &running.app.users {
        if let Ok(reader) = running.app.reader(Some(name)) {
            eprintln!("  reader {}", reader.id());
        }
    }
    eprintln!("  API token {token}");
    match running.task.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// The configuration from the command line.
fn parse(args: impl Iterator<Item = String>) -> Result<server::Config, String> {
    let mut config = server::Config {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 8090)),
        base_url: None,
        users: Vec::new(),
        token: archipel::federation::routes::BearerToken::random()
            .map_err(|e| format!("API token: {e}"))?
            .as_str()
            .to_owned(),
        data_dir: None,
        allow_private_addresses: false,
        caps: store::Caps::default(),
        admission: archipel::inbox::admission::AdmissionConfig::default(),
    };
    let mut args = args;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag} {v:?}: {e}"));
        let caps = &mut config.caps;
        match flag.as_str() {
            "--bind" => config.bind = value()?.parse().map_err(|e| format!("--bind: {e}"))?,
            "--base-url" => {
                config.base_url =
                    Some(url::Url::parse(&value()?).map_err(|e| format!("--base-url: {e}"))?)
            }
            "--user" => config.users.push(value()?),
            "--token" => config.token = value()?,
            "--data-dir" => config.data_dir = Some(value()?.into()),
            "--allow-private-addresses" => config.allow_private_addresses = true,
            "--max-received" => caps.received = number(value()?)?,
            "--max-remote-books" => caps.remote_books = number(value()?)?,
            "--max-remote-shelf-items" => caps.remote_shelf_items = number(value()?)?,
            "--max-inbox" => caps.inbox = number(value()?)?,
            "--max-peers" => caps.peers = number(value()?)?,
            "--max-followers" => caps.followers = number(value()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(line: &str) -> impl Iterator<Item = String> {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn flags_set_the_configuration() {
        let c = parse(args(
            "--user mouse --user owl --data-dir d --max-received 5 --max-inbox 6 \
             --max-remote-books 7 --max-remote-shelf-items 8 --max-peers 9 --max-followers 10 \
             --token t --bind 127.0.0.1:9 --allow-private-addresses",
        ))
        .unwrap();
        assert_eq!(c.users, ["mouse", "owl"]);
        assert_eq!(c.data_dir.as_deref(), Some(std::path::Path::new("d")));
        let caps = c.caps;
        assert_eq!(
            (
                caps.received,
                caps.inbox,
                caps.remote_books,
                caps.remote_shelf_items
            ),
            (5, 6, 7, 8)
        );
        assert_eq!((caps.peers, caps.followers), (9, 10));
        assert_eq!((c.token.as_str(), c.bind.port()), ("t", 9));
        assert!(c.allow_private_addresses);
    }

    #[test]
    fn bad_flags_are_refused_with_their_name() {
        assert_eq!(
            parse(args("--max-received lots")).err().as_deref(),
            Some("--max-received \"lots\": invalid digit found in string")
        );
        assert_eq!(
            parse(args("--user")).err().as_deref(),
            Some("--user needs a value")
        );
        assert_eq!(
            parse(args("--colour")).err().as_deref(),
            Some("unknown argument --colour")
        );
        // Without flags: memory only, default caps, a random token.
        let c = parse(args("")).unwrap();
        assert_eq!(
            (c.data_dir, c.caps.received, c.token.len()),
            (None, 10_000, 32)
        );
    }
}
