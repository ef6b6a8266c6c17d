//! PostgreSQL test plumbing: the server comes from `ARCHIPEL_TEST_PG_URL`
//! (set by `.ci/postgres.sh`); each test gets a schema of its own.

/// The server URL, from `ARCHIPEL_TEST_PG_URL` or else `target/pg_url`
/// (written by `tests/setup.sh`), or `None` after
/// [`skip_or_fail`](crate::support::skip_or_fail) (which panics in CI).
pub fn url(test: &str) -> Option<String> {
    if let Ok(url) = std::env::var("ARCHIPEL_TEST_PG_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/target/pg_url");
    if let Ok(url) = std::fs::read_to_string(file)
        && !url.trim().is_empty()
    {
        return Some(url.trim().to_owned());
    }
    crate::support::skip_or_fail(
        "PostgreSQL",
        &format!("{test}: no server (run `bash tests/setup.sh`, or set ARCHIPEL_TEST_PG_URL)"),
    );
    None
}

/// A schema name no other test (or test run) uses.
pub fn unique_schema(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let tag: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(36)
        .collect();
    format!("t_{tag}_{}_{nanos}", std::process::id())
}

/// Drops a test schema and everything in it.
#[cfg(feature = "postgres")]
pub async fn drop_schema(url: &str, schema: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    drop(client);
    let _ = driver.await;
}
