//! PostgreSQL test plumbing: the server comes from `ARCHIPEL_TEST_PG_URL`
//! (set by `.ci/postgres.sh`); each test gets a schema of its own.

/// The server URL, or `None` after printing why the test is skipped.
pub fn url(test: &str) -> Option<String> {
    match std::env::var("ARCHIPEL_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            shout(&format!(
                "notice: skipping PostgreSQL test {test}: ARCHIPEL_TEST_PG_URL is not set \
                 (run `eval \"$(bash .ci/postgres.sh)\"` to start a local server)"
            ));
            None
        }
    }
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

/// Writes a line straight to stderr, past the test harness's output
/// capture, so skip notices and measured figures show in CI logs.
pub fn shout(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
