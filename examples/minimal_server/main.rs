//! A minimal ActivityPub server built on archipel: local actors with
//! generated keys, WebFinger, NodeInfo, verified inboxes (personal and
//! shared), outbox posting (ActivityPub client-to-server) delivered to
//! followers, follower/following collections with paging.
//!
//! ```sh
//! cargo run --example minimal_server --features server
//! ```
//!
//! The flags are in [`USAGE`] and the README: the address and public URL,
//! the users (`--locked` ones approve followers by hand), the bearer
//! token, `--data-dir` (memory only without it), `--allow-private-addresses`,
//! `--block`, `--authorized-fetch`, and the caps on what peers can grow
//! (defaults in `store::Caps`).

mod app;
mod inbound;
mod outbound;
mod store;

use std::process::ExitCode;

use archipel::federation::Paths;
use archipel::federation::relay::RelayKind;

const USAGE: &str = "usage: minimal_server [--bind ADDR] [--base-url URL] [--user NAME]... \
[--locked NAME]... [--token TOKEN] [--data-dir DIR] [--allow-private-addresses] [--block DOMAIN]... [--authorized-fetch] \
[--max-inbox N] [--max-received N] [--max-reactions N] [--max-pending N] [--max-followers N] \
[--max-verifications N] [--also-known-as NAME=IRI]... [--relay URL]... [--relay-kind mastodon|litepub]";

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<app::Config, String> {
    let mut c = app::Config::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, mut inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        };
        let mut val = || {
            inline
                .take()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value\n{USAGE}"))
        };
        let num = |v: String| {
            v.parse::<usize>()
                .map(|n| n.max(1))
                .map_err(|e| format!("{flag} {v}: {e}"))
        };
        match flag.as_str() {
            "--bind" => {
                let v = val()?;
                c.bind = v.parse().map_err(|e| format!("--bind {v}: {e}"))?;
            }
            "--base-url" => {
                let v = val()?;
                let url = url::Url::parse(&v).map_err(|e| format!("--base-url {v}: {e}"))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(format!(
                        "--base-url {v}: must be an http(s) URL with a host"
                    ));
                }
                c.base_url = Some(url);
            }
            "--user" => c.users.push(val()?),
            "--locked" => c.locked.push(val()?),
            "--token" => c.token = Some(val()?),
            "--data-dir" => c.data_dir = Some(val()?.into()),
            "--block" => c.blocked_domains.push(val()?),
            "--allow-private-addresses" => c.allow_private_addresses = true,
            "--authorized-fetch" => c.authorized_fetch = true,
            "--max-inbox" => c.caps.inbox_per_user = num(val()?)?,
            "--max-received" => c.caps.received = num(val()?)?,
            "--max-reactions" => c.caps.reactions = num(val()?)?,
            "--max-pending" => c.caps.pending_per_user = num(val()?)?,
            "--max-followers" => c.caps.followers_per_user = num(val()?)?,
            "--max-verifications" => c.caps.verifications = num(val()?)?,
            "--also-known-as" => c.also_known_as.push(app::migration::parse_alias(&val()?)?),
            "--relay" => c
                .relays
                .push(val()?.parse().map_err(|e| format!("--relay: {e}"))?),
            "--relay-kind" => {
                let v = val()?;
                c.relay_kind =
                    RelayKind::parse(&v).ok_or(format!("--relay-kind {v}: mastodon or litepub"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    for name in c.users.iter().chain(&c.locked) {
        Paths::check_name(name).map_err(|e| e.to_string())?;
    }
    // A locked user is a user.
    for name in c.locked.clone() {
        if !c.users.contains(&name) {
            c.users.push(name);
        }
    }
    Ok(c)
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
            "state, keys and the delivery queue live in memory only; pass --data-dir DIR to keep them",
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
        let locked = app.fed.local(user).is_some_and(|a| a.is_locked());
        let lock = if locked {
            " (locked: approves followers by hand)"
        } else {
            ""
        };
        eprintln!("  @{user}@{authority}  actor {}{lock}", app.actor_iri(user));
    }
    eprintln!("  shared inbox {}/inbox", app.base());
    eprintln!(
        "  operator page {}/admin (sign in with the token); Prometheus metrics {}/metrics (bearer token)",
        app.base(),
        app.base()
    );
    eprintln!("outbox bearer token: {}", app.token);
    for (_, note) in notes.iter().filter(|(applies, _)| *applies) {
        eprintln!("note: {note}");
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

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_every_flag() {
        let c = parse_args(args(
            "--bind 127.0.0.1:9000 --base-url http://127.0.0.1:9000 --user bob --locked carol \
             --token t --data-dir d --allow-private-addresses --block=bad.example \
             --authorized-fetch --max-inbox 7 --max-followers=9",
        ))
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
            parse_args(args("--nope"))
                .unwrap_err()
                .contains("unknown argument --nope")
        );
        assert!(parse_args(args("--base-url ftp://x")).is_err());
        assert!(parse_args(args("--user ../x")).is_err());
        assert!(
            parse_args(args("--max-inbox lots"))
                .unwrap_err()
                .starts_with("--max-inbox lots:")
        );
    }
}
