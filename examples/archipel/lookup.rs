//! `lookup <acct-or-URL> [--allow-private]`: WebFinger an account (or take
//! an actor URL as is), fetch the actor, print a summary and its JSON.
//!
//! `--allow-private` permits private and loopback addresses and plain
//! `http` for them, for local federation tests
//! (`lookup alice@127.0.0.1:8080 --allow-private`).

use std::process::ExitCode;

/// Runs the `lookup` subcommand; `args` are the arguments after `lookup`.
pub fn run(args: &[String]) -> ExitCode {
    let mut target = None;
    let mut allow_private = false;
    for a in args {
        match a.as_str() {
            "--allow-private" => allow_private = true,
            "-h" | "--help" => {
                println!("usage: lookup <acct-or-URL> [--allow-private]");
                return ExitCode::SUCCESS;
            }
            s if target.is_none() && !s.starts_with("--") => target = Some(s.to_owned()),
            other => {
                eprintln!("lookup: unexpected argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(target) = target else {
        eprintln!("usage: lookup <acct-or-URL> [--allow-private]");
        return ExitCode::from(2);
    };
    imp::run(&target, allow_private)
}

#[cfg(feature = "client")]
mod imp {
    use std::process::ExitCode;
    use std::sync::Arc;

    use archipel::client::{FetchPolicy, HttpClient, ReqwestClient};
    use archipel::fetch::Fetcher;
    use archipel::webfinger::{Acct, Resolver};
    use serde_json::Value;
    use url::Url;

    pub fn run(target: &str, allow_private: bool) -> ExitCode {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("lookup: cannot start the runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        match rt.block_on(lookup(target, allow_private)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lookup: {e}");
                ExitCode::FAILURE
            }
        }
    }

    async fn lookup(target: &str, allow_private: bool) -> Result<(), Box<dyn std::error::Error>> {
        let policy = FetchPolicy::default()
            .user_agent(concat!(
                "archipel-lookup/",
                env!("CARGO_PKG_VERSION"),
                " (+https://crates.io/crates/archipel)"
            ))
            .allow_private_addresses(allow_private)
            .allow_http(allow_private);
        let client: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new(policy)?);
        let actor_url = if target.starts_with("https://") || target.starts_with("http://") {
            Url::parse(target)?
        } else {
            let acct = Acct::parse(target)?;
            let url = Resolver::new(Arc::clone(&client))
                .local_http(allow_private)
                .resolve(&acct)
                .await?;
            println!("webfinger: {} -> {url}", acct.to_uri());
            url
        };
        let actor = Fetcher::new(client).fetch_value(&actor_url).await?;
        print_summary(&actor);
        println!("{}", serde_json::to_string_pretty(&actor)?);
        Ok(())
    }

    /// A string field, or the `id` of an embedded object, or the first of an
    /// array.
    fn iri(v: Option<&Value>) -> String {
        match v {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => iri(o.get("id")),
            Some(Value::Array(a)) => iri(a.first()),
            _ => "-".into(),
        }
    }

    fn print_summary(actor: &Value) {
        let shared = actor.get("endpoints").and_then(|e| e.get("sharedInbox"));
        for (label, value) in [
            ("id", iri(actor.get("id"))),
            ("type", iri(actor.get("type"))),
            ("preferredUsername", iri(actor.get("preferredUsername"))),
            ("inbox", iri(actor.get("inbox"))),
            ("sharedInbox", iri(shared)),
            ("publicKey", iri(actor.get("publicKey"))),
        ] {
            println!("{label:>17}: {value}");
        }
    }
}

#[cfg(not(feature = "client"))]
mod imp {
    use std::process::ExitCode;

    pub fn run(_target: &str, _allow_private: bool) -> ExitCode {
        eprintln!("lookup: build with `--features client` to enable network access");
        ExitCode::FAILURE
    }
}
