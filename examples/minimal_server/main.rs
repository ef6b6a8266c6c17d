//! A minimal ActivityPub server built on archipel: local actors with
//! generated keys, WebFinger, NodeInfo, verified inboxes (personal and
//! shared), outbox posting (ActivityPub client-to-server) delivered to
//! followers, follower/following collections with paging.
//!
//! ```sh
//! cargo run --example minimal_server --features client,axum
//! ```
//!
//! Flags: `--bind ADDR` (default `127.0.0.1:8080`), `--base-url URL`
//! (default `http://` + the bound address), `--user NAME` (repeatable,
//! default `alice`), `--locked NAME` (approves followers by hand),
//! `--token TOKEN` (outbox bearer token, random by default),
//! `--data-dir DIR` (keep state, the follow graph and keys; memory only by
//! default),
//! `--allow-private-addresses` (federate with loopback/private peers),
//! `--block DOMAIN` (repeatable; refuse a domain inbound and outbound),
//! `--authorized-fetch` (serve documents only to signed requests), and the
//! caps on the tables peers can grow: `--max-inbox N` (per user, default
//! 5,000), `--max-received N` (50,000), `--max-reactions N` (100,000),
//! `--max-pending N` (per user, 1,000), `--max-followers N` (per user,
//! 100,000), `--max-verifications N` (10,000).

mod app;
mod inbound;
mod outbound;
mod store;

use std::process::ExitCode;

const USAGE: &str = "usage: minimal_server [--bind ADDR] [--base-url URL] [--user NAME]... \
[--locked NAME]... [--token TOKEN] [--data-dir DIR] [--allow-private-addresses] [--block DOMAIN]... [--authorized-fetch] \
[--max-inbox N] [--max-received N] [--max-reactions N] [--max-pending N] [--max-followers N] \
[--max-verifications N]";

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<app::Config, String> {
    let mut config = app::Config::default();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (flag, None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--bind" => {
                let v = value("--bind")?;
                config.bind = v.parse().map_err(|e| format!("--bind {v}: {e}"))?;
            }
            "--base-url" => {
                let v = value("--base-url")?;
                let url = url::Url::parse(&v).map_err(|e| format!("--base-url {v}: {e}"))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(format!(
                        "--base-url {v}: must be an http(s) URL with a host"
                    ));
                }
                config.base_url = Some(url);
            }
            "--user" => config.users.push(value("--user")?),
            "--locked" => config.locked.push(value("--locked")?),
            "--token" => config.token = Some(value("--token")?),
            "--data-dir" => config.data_dir = Some(value("--data-dir")?.into()),
            "--block" => config.blocked_domains.push(value("--block")?),
            "--allow-private-addresses" => config.allow_private_addresses = true,
            "--authorized-fetch" => config.authorized_fetch = true,
            cap @ ("--max-inbox"
            | "--max-received"
            | "--max-reactions"
            | "--max-pending"
            | "--max-followers"
            | "--max-verifications") => {
                let v = value(cap)?;
                let n: usize = v.parse().map_err(|e| format!("{cap} {v}: {e}"))?;
                let caps = &mut config.caps;
                *match cap {
                    "--max-inbox" => &mut caps.inbox_per_user,
                    "--max-received" => &mut caps.received,
                    "--max-reactions" => &mut caps.reactions,
                    "--max-pending" => &mut caps.pending_per_user,
                    "--max-followers" => &mut caps.followers_per_user,
                    _ => &mut caps.verifications,
                } = n.max(1);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    for name in config.users.iter().chain(&config.locked) {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "user name {name:?}: use letters, digits and '_' only"
            ));
        }
    }
    // A locked user is a user.
    for name in config.locked.clone() {
        if !config.users.contains(&name) {
            config.users.push(name);
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let notes = [
        (
            !config.allow_private_addresses,
            "loopback/private peers are refused; pass --allow-private-addresses to federate locally",
        ),
        (
            config.data_dir.is_none(),
            "state, keys and the delivery queue live in memory only; pass --data-dir DIR to keep them (SQLite queue)",
        ),
    ];
    let running = match app::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = &running.app;
    let authority = archipel::client::authority(&running.base);
    eprintln!(
        "archipel minimal server listening on {} (public base {})",
        running.addr,
        app.base()
    );
    for user in &app.users {
        let lock = if app.fed.local(user).is_some_and(|a| a.is_locked()) {
            " (locked: approves followers by hand)"
        } else {
            ""
        };
        eprintln!("  @{user}@{authority}  actor {}{lock}", app.actor_iri(user));
    }
    eprintln!("  shared inbox {}/inbox", app.base());
    eprintln!("outbox bearer token: {}", app.token);
    for (applies, note) in notes {
        if applies {
            eprintln!("note: {note}");
        }
    }
    eprintln!(
        "post a note:  curl -X POST -H 'Authorization: Bearer {}' -H 'Content-Type: application/activity+json' \
         -d '{{\"type\":\"Note\",\"content\":\"Hello, Fediverse\"}}' {}/outbox",
        app.token,
        app.actor_iri(&app.users[0])
    );
    match running.task.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_every_flag() {
        let c = parse_args(args(&[
            "--bind",
            "127.0.0.1:9000",
            "--base-url",
            "http://127.0.0.1:9000",
            "--user",
            "bob",
            "--locked",
            "carol",
            "--token",
            "t",
            "--data-dir",
            "d",
            "--allow-private-addresses",
            "--block=bad.example",
            "--authorized-fetch",
            "--max-inbox",
            "7",
            "--max-followers=9",
        ]))
        .unwrap();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.users, vec!["bob", "carol"]);
        assert_eq!(c.locked, vec!["carol"]);
        assert_eq!(c.token.as_deref(), Some("t"));
        assert!(c.allow_private_addresses);
        assert!(c.authorized_fetch);
        assert_eq!(c.caps.inbox_per_user, 7);
        assert_eq!(c.caps.followers_per_user, 9);
        assert_eq!(c.caps.received, 50_000);
        assert_eq!(c.blocked_domains, vec!["bad.example"]);
    }

    #[test]
    fn refuses_unknown_flags_and_bad_urls() {
        assert!(
            parse_args(args(&["--nope"]))
                .unwrap_err()
                .contains("unknown argument --nope")
        );
        assert!(parse_args(args(&["--base-url", "ftp://x"])).is_err());
        assert!(parse_args(args(&["--user", "../x"])).is_err());
        assert!(
            parse_args(args(&["--max-inbox", "lots"]))
                .unwrap_err()
                .starts_with("--max-inbox lots:")
        );
    }
}
