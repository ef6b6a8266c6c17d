//! Quote posts (FEP-044f) in this server; the decisions are the library's
//! (`archipel::federation::quotes`):
//!
//! - `{"type":"Update","object":{"id":ME,"interactionPolicy":{"canQuote":
//!   {"automaticApproval":[...],"manualApproval":[...]}}}}` posted to a
//!   user's outbox sets who may quote their new posts (`as:Public`, their
//!   followers or following collection, actor IRIs). Until then nobody
//!   but themselves may: the library's safe default. Each new post carries
//!   the policy as its `interactionPolicy`, as Mastodon's do.
//! - A note posted with `quote` (an IRI) goes out at once, as a plain
//!   link, and a `QuoteRequest` goes to the quoted author. Once their
//!   server authorizes it (and the library checked the authorization), the
//!   note gets its `quoteAuthorization` and an `Update` goes to its
//!   audience; a refusal leaves it a link.
//! - A request the policy leaves to the author waits: `{"type":"Accept",
//!   "object":REQUEST_ID}` approves it, `Reject` refuses it. `{"type":
//!   "Delete","object":AUTHORIZATION_IRI}` revokes an authorization.
//! - A received note that quotes is shown as a quote only when the library
//!   verified its authorization ([`QuotePosts::shown_as_quote`]).
//! - Under `--data-dir`, `quotes.sqlite3` keeps what a restart must not
//!   lose: the authorizations issued, the requests awaiting a user's
//!   approval and the requests this server sent (the library's
//!   `SqliteAuthorizations` and `SqliteQuoteRequests`), and each user's
//!   policy (a `quote_policies` table of this server). Without it, all of
//!   it is in memory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use archipel::federation::dispatch::{Cx, HandlerResult};
use archipel::federation::quotes::{
    PostTargets, QuoteError, QuoteOutcome, QuotePolicy, QuoteReply, QuoteRequest, Quotes,
    SqliteAuthorizations, SqliteQuoteRequests,
};
use archipel::federation::store::Posts;
use archipel::federation::{Federation, LocalActor};
use archipel::vocab::{AnyObject, InteractionPolicy, Iri};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::App;

/// At most this many received quote posts are remembered as checked.
pub const MAX_CHECKED: usize = 10_000;

/// What the server keeps for quote posts: the library's state (issued
/// authorizations, pending and sent requests), each user's policy, and
/// which received notes were verified as quotes.
pub struct QuotePosts {
    /// The library's quote posts.
    pub quotes: Quotes,
    /// Local user name → who may quote their new posts.
    policies: Mutex<HashMap<String, QuotePolicy>>,
    /// Where the policies are kept under `--data-dir`.
    policy_file: Option<Arc<Mutex<rusqlite::Connection>>>,
    /// Received quote post → whether it is shown as a quote (bounded).
    checked: Mutex<(VecDeque<Iri>, HashMap<Iri, bool>)>,
}

impl QuotePosts {
    /// Quote posts of `fed`, whose quoted posts are in `posts`; under
    /// `dir`, the authorizations issued, the requests awaiting an answer
    /// and the users' policies are kept in `quotes.sqlite3` (so quotes
    /// and requests survive a restart), in memory without.
    pub async fn open(
        fed: &Federation,
        posts: Posts,
        dir: Option<&std::path::Path>,
    ) -> std::io::Result<QuotePosts> {
        let targets = Arc::new(PostTargets::new(fed, posts));
        let mut quotes = Quotes::new(fed).with_targets(targets);
        let mut policies = HashMap::new();
        let mut policy_file = None;
        if let Some(dir) = dir {
            let path = dir.join("quotes.sqlite3");
            // The library creates the file private (0600) first.
            let store = SqliteAuthorizations::open(&path).map_err(std::io::Error::other)?;
            quotes = quotes.with_store(Arc::new(store));
            let requests = SqliteQuoteRequests::open(&path).map_err(std::io::Error::other)?;
            quotes = quotes
                .with_requests(Arc::new(requests))
                .await
                .map_err(std::io::Error::other)?;
            let conn = open_policies(&path).map_err(std::io::Error::other)?;
            policies = load_policies(fed, &conn).map_err(std::io::Error::other)?;
            policy_file = Some(Arc::new(Mutex::new(conn)));
        }
        Ok(QuotePosts {
            quotes,
            policies: Mutex::new(policies),
            policy_file,
            checked: Mutex::new((VecDeque::new(), HashMap::new())),
        })
    }

    /// Who may quote `name`'s new posts.
    pub fn policy(&self, name: &str) -> QuotePolicy {
        let policies = self.policies.lock().unwrap_or_else(|e| e.into_inner());
        policies.get(name).cloned().unwrap_or_default()
    }

    /// Whether the received note `id` quotes a post and is shown as a
    /// quote (`Some(false)`: shown as a link), if it was checked: what a
    /// client of this server asks before rendering the note.
    #[allow(dead_code)] // this server has no timeline page; read by the tests
    pub fn shown_as_quote(&self, id: &Iri) -> Option<bool> {
        let checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        checked.1.get(id).copied()
    }

    fn remember(&self, id: Iri, quote: bool) {
        let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        let (order, map) = &mut *checked;
        if map.insert(id.clone(), quote).is_none() {
            order.push_back(id);
        }
        while map.len() > MAX_CHECKED {
            let Some(old) = order.pop_front() else { break };
            map.remove(&old);
        }
    }
}

type Answer = Result<Iri, (StatusCode, String)>;

fn bad(msg: impl Into<String>) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, msg.into())
}

/// Whether an outbox post is an `Update` of the user's own actor with an
/// `interactionPolicy`: the quote policy command.
pub fn is_policy_update(raw: &Map<String, Value>, me: &LocalActor) -> bool {
    let Some(Value::Object(object)) = raw.get("object") else {
        return false;
    };
    object.contains_key("interactionPolicy")
        && object
            .get("id")
            .and_then(Value::as_str)
            .is_none_or(|id| id == me.id().as_str())
}

/// Sets the user's quote policy from the `Update` of their actor.
pub async fn set_policy(app: &App, me: &LocalActor, raw: &Map<String, Value>) -> Answer {
    let policy = raw
        .get("object")
        .and_then(|o| o.get("interactionPolicy"))
        .cloned()
        .ok_or_else(|| bad("no interactionPolicy"))?;
    let policy: InteractionPolicy =
        serde_json::from_value(policy).map_err(|e| bad(format!("interactionPolicy: {e}")))?;
    if policy.can_quote.is_none() {
        return Err(bad("interactionPolicy: no canQuote rule"));
    }
    let policy = QuotePolicy::from_interaction_policy(Some(&policy), me);
    eprintln!("{} may now be quoted by {policy:?}", me.name());
    if let Some(conn) = &app.quotes.policy_file {
        // Kept before it applies: an accepted policy survives a restart.
        let json = serde_json::to_string(&policy.to_interaction_policy(me))
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        save_policy(conn.clone(), me.name().to_owned(), json)
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
    }
    let mut policies = app
        .quotes
        .policies
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    policies.insert(me.name().to_owned(), policy);
    Ok(me.id().clone())
}

/// Gives a new note of `me` (bare, or in a `Create`) the user's policy as
/// its `interactionPolicy`, unless it has one.
pub fn stamp(app: &App, me: &LocalActor, doc: &mut AnyObject) {
    let policy = app.quotes.policy(me.name()).to_interaction_policy(me);
    let object = match doc {
        AnyObject::Activity(a) if a.has_type("Create") => a
            .object
            .as_mut()
            .and_then(|o| o.as_mut_slice().first_mut())
            .and_then(|r| match r {
                archipel::vocab::Reference::Object(o) => o.as_object_mut(),
                _ => None,
            }),
        AnyObject::Activity(_) => None,
        other => other.as_object_mut(),
    };
    if let Some(object) = object
        && object.interaction_policy.is_none()
    {
        object.interaction_policy = Some(Box::new(policy));
    }
}

/// After a note with `quote` was posted: asks the quoted author's server.
pub async fn request(app: &App, me: &LocalActor, posted: Option<&AnyObject>) {
    let Some(note) = posted.and_then(AnyObject::as_object) else {
        return;
    };
    if note.quoted_post().is_none() {
        return;
    }
    match app.quotes.quotes.request(me, note).await {
        Ok(_) => eprintln!("{} asked to quote {:?}", me.name(), note.quoted_post()),
        Err(e) => eprintln!("{}'s quote stays a link: {e}", me.name()),
    }
}

/// `Accept`/`Reject` of a pending quote request of `me`'s post, if `key`
/// names one.
pub async fn decide(app: &App, me: &LocalActor, accept: bool, key: &str) -> Option<Answer> {
    let pending = app.quotes.quotes.pending(me.id());
    let request = pending.iter().find(|p| p.request.id.as_str() == key)?;
    let id = request.request.id.clone();
    let done = if accept {
        app.quotes.quotes.approve(me, &id).await.map(|a| a.id)
    } else {
        app.quotes.quotes.refuse(me, &id).await.map(|_| id.clone())
    };
    Some(done.map_err(|e| match e {
        // The authorizations kept are at their cap, in all or for the
        // quoter's host: the user may revoke some, not a server fault.
        QuoteError::Full { .. } | QuoteError::HostFull { .. } => {
            (StatusCode::CONFLICT, e.to_string())
        }
        e => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }))
}

/// `Delete` of one of `me`'s quote authorizations, if `key` names one.
pub async fn revoke(app: &App, me: &LocalActor, key: &str) -> Option<Answer> {
    let iri = Iri::parse(key).ok()?;
    // The library revokes only `me`'s own authorizations.
    match app.quotes.quotes.revoke(me, &iri).await {
        Ok(auth) => Some(Ok(auth.id)),
        Err(QuoteError::UnknownAuthorization { .. }) => None,
        Err(e) => Some(Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))),
    }
}

/// A `QuoteRequest` for a post of this server: the library decides.
pub async fn on_quote_request(app: Arc<App>, _cx: Cx, request: QuoteRequest) -> HandlerResult {
    let (quoter, quoted) = (request.quoter.clone(), request.quoted.clone());
    let decision = app.quotes.quotes.handle_request(request).await?;
    eprintln!("quote of {quoted} by {quoter}: {decision:?}");
    Ok(())
}

/// The answer to one of this server's quote requests: once approved, the
/// note carries its authorization and its `Update` goes out.
pub async fn on_quote_reply(app: Arc<App>, cx: Cx, reply: QuoteReply) -> HandlerResult {
    match app.quotes.quotes.handle_reply(cx.actor(), &reply).await? {
        QuoteOutcome::Approved { quote, .. } => update_note(&app, &quote).await,
        QuoteOutcome::Refused { quote } => {
            eprintln!("quote {quote} refused: it stays a link");
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A `Delete`: if it revokes the authorization of one of this server's
/// quotes, the note loses it (an `Update` goes out).
pub async fn on_delete(app: &Arc<App>, cx: &Cx, deleted: &Iri) -> HandlerResult {
    if let Some(quote) = app
        .quotes
        .quotes
        .handle_revocation(cx.actor(), deleted)
        .await?
    {
        eprintln!("quote {quote} revoked: it is a link again");
        update_note(app, &quote).await?;
    }
    Ok(())
}

/// A received note (created or updated): shown as a quote only if the
/// library verified it.
pub async fn check_received(app: &App, object: &AnyObject) {
    let Some(note) = object.as_object() else {
        return;
    };
    let Some(id) = note.id.clone() else { return };
    if note.quoted_post().is_none() {
        return;
    }
    let check = app.quotes.quotes.verify(note).await;
    let quote = check.is_quote();
    if let archipel::federation::quotes::QuoteCheck::Link { reason, .. } = &check {
        eprintln!("{id} is shown as a link: {reason}");
    }
    app.quotes.remember(id, quote);
}

/// Re-sends a local quote note with `quoteAuthorization` as the library
/// says it stands now, through the outbox (stored, then its `Update`
/// delivered to the note's audience).
async fn update_note(app: &App, quote: &Iri) -> HandlerResult {
    let stored = app
        .store
        .post(quote)
        .await
        .ok_or("the quote note is gone")?;
    let me = app
        .fed
        .local_by_id(&stored.author)
        .ok_or("the quote's author is not local")?;
    let mut note = stored.object.into_object();
    if !app.quotes.quotes.attach(&mut note) {
        // The outbox merges an Update into the stored note: an explicit
        // null is what removes the revoked authorization from it.
        note.extra.insert("quoteAuthorization".into(), Value::Null);
    }
    let mut update = Map::new();
    update.insert("type".into(), Value::from("Update"));
    update.insert("object".into(), serde_json::to_value(&note)?);
    crate::outbound::post(app, &me, update)
        .await
        .map_err(|(_, e)| e)?;
    Ok(())
}

// One row per local user (only they set one): the `interactionPolicy` it
// was set from, read back for the user at start.
const POLICIES: &str = "CREATE TABLE IF NOT EXISTS quote_policies (
    name TEXT PRIMARY KEY NOT NULL,
    policy TEXT NOT NULL
);";

fn open_policies(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(POLICIES)?;
    Ok(conn)
}

// At start, before serving: a user no longer here is skipped.
fn load_policies(
    fed: &Federation,
    conn: &rusqlite::Connection,
) -> Result<HashMap<String, QuotePolicy>, String> {
    let mut stmt = conn
        .prepare("SELECT name, policy FROM quote_policies")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    for row in rows {
        let (name, json) = row.map_err(|e| e.to_string())?;
        let Some(me) = fed.local(&name) else { continue };
        let policy: InteractionPolicy =
            serde_json::from_str(&json).map_err(|e| format!("{name}'s quote policy: {e}"))?;
        out.insert(
            name,
            QuotePolicy::from_interaction_policy(Some(&policy), &me),
        );
    }
    Ok(out)
}

// SQLite blocks: off the async threads.
async fn save_policy(
    conn: Arc<Mutex<rusqlite::Connection>>,
    name: String,
    json: String,
) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute(
            "INSERT INTO quote_policies (name, policy) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET policy = ?2",
            rusqlite::params![name, json],
        )
        .map(|_| ())
        .map_err(|e| format!("saving {name}'s quote policy: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}
