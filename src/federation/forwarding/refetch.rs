//! The fallback of forwarded-activity verification: the same content,
//! fetched from the actor's own origin.
//!
//! The activity is fetched at its `id`; when its origin does not serve it
//! (Mastodon serves few activities), a `Create` or `Update` is believed
//! through its embedded object, and a `Delete` through its object being
//! gone. See [`establish`] for exactly what each proves.

use serde_json::Value;
use url::Url;

use super::{Budgets, first, iris};
use crate::fetch::{FetchError, Fetcher};
use crate::inbox::{Authenticity, ForwardedError, echo, same_content};
use crate::vocab::Iri;

/// The addressing members a `Create` or `Update` believed through its
/// object must share with that object: the activity then claims no
/// audience the author did not give the object.
const ADDRESSING: [&str; 5] = ["to", "cc", "audience", "bto", "bcc"];

/// What the origin says about a forwarded activity.
pub(super) enum Outcome {
    /// The origin confirms it.
    Established(Authenticity),
    /// The origin contradicts it: final, whatever else was tried.
    Refused(ForwardedError),
    /// The origin could not say; why.
    Unknown(String),
}

/// Fetches from the actor's origin, charging each fetch to the
/// forwarder's budget and that origin's.
pub(super) struct Refetcher<'a> {
    pub(super) fetcher: &'a Fetcher,
    pub(super) budgets: &'a Budgets,
    /// Who passed it on, when known.
    pub(super) forwarder: Option<super::Forwarder<'a>>,
}

impl Refetcher<'_> {
    /// Establishes `document` (whose `id` is `id`) as `actor`'s from its
    /// origin:
    ///
    /// 1. the activity fetched at its `id` (on the actor's origin, served
    ///    at its own `id`) has the same content (its `@context` aside when
    ///    the copy has none, being embedded): any activity;
    /// 2. else, for a `Create` or `Update` of an embedded object on the
    ///    actor's origin, attributed to the actor (or the actor itself) and
    ///    addressed exactly as the activity: the object fetched at its `id`
    ///    has the same content. The activity's other claims are then only
    ///    what the object says (its author, its audience);
    /// 3. else, for a `Delete` of an object on the actor's origin: the
    ///    object answers `410 Gone` (or is served as a `Tombstone`). The
    ///    object is gone, which is all a `Delete` claims. A `404` confirms
    ///    nothing: Mastodon, and archipel's own object routes, answer `404`
    ///    for an object the requester may not see (a followers-only post,
    ///    a suspended actor), so a forged `Delete` of one would pass.
    ///
    /// Steps 2 and 3 need exactly one `object`: the origin's copy of one
    /// says nothing of another beside it, which the application would
    /// otherwise take as confirmed too.
    ///
    /// Any other activity (`Like`, `Follow`, `Announce`, `Undo`, …) cannot
    /// be believed from its object: only from its own copy.
    pub(super) async fn establish(&self, document: &Value, id: &str, actor: &Iri) -> Outcome {
        let Some(url) = on_origin(id, actor) else {
            return Outcome::Unknown(format!(
                "its id {:?} is not on its actor's origin",
                echo(id)
            ));
        };
        // A copy embedded elsewhere (a relay's `Announce`) has no
        // `@context` of its own: it is its container's.
        let embedded = document.get("@context").is_none();
        let served = self
            .fetch(&url)
            .await
            .map(|d| if embedded { without_context(d) } else { d });
        let activity_said = match served {
            Ok(fetched) if same_content(document, &fetched) => {
                return Outcome::Established(Authenticity::Refetched {
                    from: Iri::new_unchecked(id),
                });
            }
            Ok(_) => {
                return Outcome::Refused(ForwardedError::ContentMismatch {
                    id: echo(id),
                    from: echo(id),
                });
            }
            Err(Fetched::OverBudget(e)) => return Outcome::Refused(e),
            Err(Fetched::Failed(e)) => e,
        };
        let kind = first_type(document);
        let outcome = match kind {
            Some("Create" | "Update") => self.by_object(document, id, actor).await,
            Some("Delete") => self.by_deletion(document, id, actor).await,
            _ => Outcome::Unknown(format!(
                "a {} is believed only from its own copy",
                kind.map_or_else(|| "activity without type".to_owned(), echo)
            )),
        };
        match outcome {
            Outcome::Unknown(why) => {
                Outcome::Unknown(format!("fetching the activity: {activity_said}; {why}"))
            }
            decided => decided,
        }
    }

    async fn by_object(&self, document: &Value, id: &str, actor: &Iri) -> Outcome {
        let object = match single_object(document) {
            Ok(o) => o,
            Err(why) => return Outcome::Unknown(why),
        };
        let Some(object) = object.filter(|o| o.is_object()) else {
            return Outcome::Unknown("its object is not embedded".into());
        };
        let Some(object_id) = object.get("id").and_then(Value::as_str) else {
            return Outcome::Unknown("its object has no id".into());
        };
        let Some(url) = on_origin(object_id, actor) else {
            return Outcome::Unknown(format!(
                "its object {:?} is not on its actor's origin",
                echo(object_id)
            ));
        };
        let is_actor = object_id == actor.as_str();
        if !is_actor && !attributed_to(object, actor) {
            return Outcome::Unknown(format!(
                "its object {:?} is not attributed to its actor alone",
                echo(object_id)
            ));
        }
        if !is_actor
            && let Some(member) = ADDRESSING
                .into_iter()
                .find(|m| !same_set(document.get(*m), object.get(*m)))
        {
            return Outcome::Unknown(format!(
                "its {member:?} differs from its object's, which alone the origin can confirm"
            ));
        }
        match self.fetch(&url).await.map(without_context) {
            Ok(fetched) if same_content(object, &fetched) => {
                Outcome::Established(Authenticity::Refetched {
                    from: Iri::new_unchecked(object_id),
                })
            }
            Ok(_) => Outcome::Refused(ForwardedError::ContentMismatch {
                id: echo(id),
                from: echo(object_id),
            }),
            Err(Fetched::OverBudget(e)) => Outcome::Refused(e),
            Err(Fetched::Failed(e)) => Outcome::Unknown(format!("fetching its object: {e}")),
        }
    }

    async fn by_deletion(&self, document: &Value, id: &str, actor: &Iri) -> Outcome {
        let object = match single_object(document) {
            Ok(o) => o,
            Err(why) => return Outcome::Unknown(why),
        };
        let object_id = match object {
            Some(Value::String(s)) => s.as_str(),
            Some(o) => match o.get("id").and_then(Value::as_str) {
                Some(s) => s,
                None => return Outcome::Unknown("its object has no id".into()),
            },
            None => return Outcome::Unknown("it has no object".into()),
        };
        let Some(url) = on_origin(object_id, actor) else {
            return Outcome::Unknown(format!(
                "its object {:?} is not on its actor's origin",
                echo(object_id)
            ));
        };
        let gone = || {
            Outcome::Established(Authenticity::Refetched {
                from: Iri::new_unchecked(object_id),
            })
        };
        match self.fetch(&url).await {
            Err(Fetched::Failed(FetchError::Gone { .. })) => gone(),
            Ok(fetched) if first_type(&fetched) == Some("Tombstone") => gone(),
            Err(Fetched::Failed(FetchError::NotFound { .. })) => Outcome::Unknown(format!(
                "its object {:?} answers 404, which may hide it rather than say it is \
                 deleted: only 410 Gone or a Tombstone confirms a deletion",
                echo(object_id)
            )),
            Ok(_) => Outcome::Refused(ForwardedError::NotDeleted {
                id: echo(id),
                object: echo(object_id),
            }),
            Err(Fetched::OverBudget(e)) => Outcome::Refused(e),
            Err(Fetched::Failed(e)) => Outcome::Unknown(format!("fetching its object: {e}")),
        }
    }

    /// One fetch from `url`'s origin, within its budget, served at its own
    /// `id` (so a document elsewhere on the origin cannot stand for it).
    async fn fetch(&self, url: &Url) -> Result<Value, Fetched> {
        self.budgets
            .take(url.as_str(), self.forwarder)
            .map_err(Fetched::OverBudget)?;
        self.fetcher
            .fetch_authoritative(url)
            .await
            .map_err(Fetched::Failed)
    }
}

enum Fetched {
    OverBudget(ForwardedError),
    Failed(FetchError),
}

/// `document` without its `@context`: an embedded object has none of its
/// own (it is in its activity's), while the same object served alone
/// carries one.
fn without_context(mut document: Value) -> Value {
    if let Some(map) = document.as_object_mut() {
        map.remove("@context");
    }
    document
}

/// `iri` as an `http(s)` URL on `actor`'s origin.
fn on_origin(iri: &str, actor: &Iri) -> Option<Url> {
    let url = Url::parse(iri).ok()?;
    (matches!(url.scheme(), "http" | "https") && crate::client::same_origin(iri, actor.as_str()))
        .then_some(url)
}

/// The activity's one `object` (`None` without one), or why there is not
/// exactly one.
fn single_object(document: &Value) -> Result<Option<&Value>, String> {
    match document.get("object") {
        Some(Value::Array(items)) if items.len() > 1 => Err(format!(
            "it has {} objects, and the origin's copy of one confirms none of the others",
            items.len()
        )),
        other => Ok(first(other)),
    }
}

fn first_type(document: &Value) -> Option<&str> {
    first(document.get("type")).and_then(Value::as_str)
}

/// Every `attributedTo` entry is the actor, and there is one.
fn attributed_to(object: &Value, actor: &Iri) -> bool {
    let authors = iris(object.get("attributedTo"));
    !authors.is_empty() && authors.iter().all(|a| *a == actor.as_str())
}

fn same_set(a: Option<&Value>, b: Option<&Value>) -> bool {
    let (mut a, mut b) = (iris(a), iris(b));
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addressing_compares_as_sets_of_iris() {
        let p = "https://www.w3.org/ns/activitystreams#Public";
        assert!(same_set(Some(&json!([p, "x"])), Some(&json!(["x", p]))));
        assert!(same_set(Some(&json!(p)), Some(&json!([p]))));
        assert!(same_set(None, Some(&json!([]))));
        assert!(!same_set(Some(&json!([p])), None));
    }

    #[test]
    fn attribution_needs_the_actor_alone() {
        let actor = Iri::new_unchecked("https://a.example/u/a");
        assert!(attributed_to(
            &json!({"attributedTo": "https://a.example/u/a"}),
            &actor
        ));
        assert!(!attributed_to(&json!({}), &actor));
        assert!(!attributed_to(
            &json!({"attributedTo": ["https://a.example/u/a", "https://a.example/u/b"]}),
            &actor
        ));
    }

    #[test]
    fn only_http_iris_on_the_actors_origin() {
        let actor = Iri::new_unchecked("https://a.example/u/a");
        assert!(on_origin("https://a.example/n/1", &actor).is_some());
        assert!(on_origin("https://b.example/n/1", &actor).is_none());
        assert!(on_origin("http://a.example/n/1", &actor).is_none());
    }
}
