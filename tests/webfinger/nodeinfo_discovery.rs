//! NodeInfo discovery against a real server on 127.0.0.1, and lossless
//! round trips of the shared corpus.

#[cfg(feature = "client")]
use crate::support;

use std::path::Path;

use archipel::nodeinfo::{NodeInfo, NodeInfoError, NodeInfoLinks};

#[cfg(feature = "client")]
mod discovery {
    use super::support::{Reply, TestServer, local_policy};
    use archipel::client::ReqwestClient;
    use archipel::nodeinfo::{NodeInfoError, discover};

    const WELL_KNOWN: &str = r#"{"links":[
      {"rel":"http://nodeinfo.diaspora.software/ns/schema/2.0","href":"{base}/nodeinfo/2.0"},
      {"rel":"http://nodeinfo.diaspora.software/ns/schema/2.1","href":"{base}/nodeinfo/2.1"}]}"#;

    #[tokio::test]
    async fn discovers_the_newest_version() {
        let s = TestServer::start().await;
        s.route("/.well-known/nodeinfo", Reply::json(WELL_KNOWN));
        s.route(
            "/nodeinfo/2.1",
            Reply::json(
                r#"{"version":"2.1","software":{"name":"mastodon","version":"4.3.0"},
                "protocols":["activitypub"],"services":{"inbound":[],"outbound":[]},
                "usage":{"users":{"total":7,"activeMonth":2}},"openRegistrations":false,
                "metadata":{"nodeName":"Test"}}"#,
            ),
        );
        let client = ReqwestClient::new(local_policy()).unwrap();
        let base = url::Url::parse(&s.url("/")).unwrap();
        let ni = discover(&client, &base).await.unwrap();
        assert_eq!(ni.version, "2.1");
        assert_eq!(ni.software.name, "mastodon");
        assert_eq!(ni.usage.users.total, Some(7));
        assert_eq!(ni.usage.users.active_month, Some(2));
        assert_eq!(ni.open_registrations, Some(false));
        let paths: Vec<_> = s.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(paths, ["/.well-known/nodeinfo", "/nodeinfo/2.1"]);
    }

    #[tokio::test]
    async fn missing_and_unsupported() {
        let s = TestServer::start().await;
        let client = ReqwestClient::new(local_policy()).unwrap();
        let base = url::Url::parse(&s.url("/")).unwrap();
        let err = discover(&client, &base).await.unwrap_err();
        assert!(
            matches!(&err, NodeInfoError::Status { status: 404, url } if url.ends_with("/.well-known/nodeinfo")),
            "{err:?}"
        );
        s.route(
            "/.well-known/nodeinfo",
            Reply::json(r#"{"links":[{"rel":"http://nodeinfo.diaspora.software/ns/schema/1.1","href":"/n"}]}"#),
        );
        let err = discover(&client, &base).await.unwrap_err();
        assert!(
            matches!(&err, NodeInfoError::NoSupportedVersion { rels, .. } if rels.len() == 1),
            "{err:?}"
        );
        s.route(
            "/.well-known/nodeinfo",
            Reply::json(r#"{"links":[{"rel":"http://nodeinfo.diaspora.software/ns/schema/2.0","href":"/n"}]}"#),
        );
        s.route("/n", Reply::ok("text/html", "<html>"));
        let err = discover(&client, &base).await.unwrap_err();
        assert!(
            matches!(&err, NodeInfoError::InvalidDocument { url: Some(u), .. } if u.ends_with("/n")),
            "{err:?}"
        );
    }
}

fn corpus() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/activitypub/nodeinfo"
    ));
    let Ok(entries) = std::fs::read_dir(dir) else {
        crate::support::skip_or_fail("the shared corpus", &format!("{} absent", dir.display()));
        return None;
    };
    let mut out: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("json"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    Some(out)
}

#[test]
fn corpus_documents_round_trip() {
    let Some(files) = corpus() else { return };
    let (mut docs, mut links) = (0, 0);
    for (name, bytes) in files {
        let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let again = if original.get("links").is_some() {
            links += 1;
            serde_json::to_value(NodeInfoLinks::from_slice(&bytes).unwrap()).unwrap()
        } else {
            docs += 1;
            let ni = NodeInfo::from_slice(&bytes)
                .unwrap_or_else(|e: NodeInfoError| panic!("{name}: {e}"));
            assert!(ni.version == "2.0" || ni.version == "2.1", "{name}");
            serde_json::to_value(ni).unwrap()
        };
        assert_eq!(original, again, "{name}");
    }
    assert!(docs > 0 && links > 0);
    eprintln!("round-tripped {docs} NodeInfo and {links} well-known documents");
}
