//! What the server does with each activity the library verified and
//! authorized (the dispatcher's rules run first: only authors create,
//! update and delete; Accepts answer Follows we sent; the follow graph is
//! kept by the library). The application logic left: accept every
//! follower, keep the statuses about books and learn the books' titles,
//! mirror followed readers' shelves, and log what arrived.

use std::sync::Arc;

use archipel::federation::dispatch::{
    Cx, Delete, Dispatcher, Follow, FollowReply, HandlerResult, Undo, WithObject, with_state,
};
use archipel::vocab::{Activity, AnyObject, Kind};

use super::books::{BookObject, BookStatus, Edition};
use super::server::App;

/// The largest status or activity kept (serialized); bigger ones are
/// handled but not stored, so the caps in rows also bound the bytes.
pub const MAX_KEPT_BYTES: usize = 64 * 1024;

/// The dispatcher with this server's handlers.
pub fn dispatcher(app: &Arc<App>) -> Dispatcher {
    app.fed
        .dispatcher()
        .with_owner_lookup(Arc::new(app.store.clone()))
        // Every activity that passed the rules is logged before its handler.
        .on_every(with_state(app, |app, cx, _: Activity| async move {
            log(&app, &cx);
            Ok(())
        }))
        .on_follow(with_state(app, |app, cx, follow: Follow| async move {
            let me = app.fed.local(&follow.name).ok_or("no such reader")?;
            // Learn what the follower's server speaks before posting to it.
            app.learn_peer(cx.actor()).await;
            app.fed.accept(&me, &follow).await?;
            Ok(())
        }))
        // Logged only: the library keeps the follow graph.
        .on_accept(|_, _: FollowReply| async { Ok(()) })
        .on_undo(|_, _: Undo| async { Ok(()) })
        .on_create(with_state(app, |app, cx, create: WithObject| async move {
            keep_status(&app, &cx, create.object).await
        }))
        .on_update(with_state(app, |app, cx, update: WithObject| async move {
            keep_status(&app, &cx, update.object).await
        }))
        .on_delete(with_state(app, |app, _, delete: Delete| async move {
            // Only its owner gets here (the store is the owner lookup).
            app.store.remove_received(&delete.object)?;
            Ok(())
        }))
        .on_other(with_state(app, |app, cx, activity: AnyObject| async move {
            mirror_shelf(&app, &cx, &activity)?;
            Ok(())
        }))
}

/// Logs an accepted activity, as it arrived, with the key that signed it.
fn log(app: &App, cx: &Cx) {
    eprintln!(
        "inbox: {} from {} (key {})",
        cx.activity_id(),
        cx.actor(),
        cx.key_id()
    );
    if cx.body().len() > MAX_KEPT_BYTES {
        return;
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(cx.body()) else {
        return;
    };
    if let Err(e) = app.store.log(&doc, cx.key_id()) {
        eprintln!("cannot log {}: {e}", cx.activity_id());
    }
}

/// Keeps a status about a book (its author is the sender: the dispatcher
/// checked), and learns the book's title from the book's own server.
async fn keep_status(app: &App, cx: &Cx, object: AnyObject) -> HandlerResult {
    let kept = object.clone();
    let Some(status) = BookStatus::from_any(object) else {
        return Ok(());
    };
    let Some(book) = status.book().cloned() else {
        return Ok(());
    };
    if serde_json::to_vec(&kept).map_or(0, |b| b.len()) <= MAX_KEPT_BYTES {
        app.store.put_received(cx.actor(), Some(&book), &kept)?;
    }
    if app.store.title(book.as_str()).is_none()
        && let Ok(url) = book.to_url()
        && let Ok(edition) = app.fed.fetcher().fetch::<Edition>(&url).await
        && edition.id.as_ref() == Some(&book)
        && let Some(title) = &edition.ext.title
    {
        app.store.put_remote_book(&book, title)?;
    }
    Ok(())
}

/// A followed reader's shelf changed (`Add`/`Remove` of a `ShelfItem`):
/// keep a copy, trusting only shelves under the sender's own actor IRI.
fn mirror_shelf(app: &App, cx: &Cx, activity: &AnyObject) -> HandlerResult {
    let on = match activity.kind() {
        Some(Kind::Add) => true,
        Some(Kind::Remove) => false,
        _ => return Ok(()),
    };
    let Some(activity) = activity.as_activity() else {
        return Ok(());
    };
    let shelf = activity
        .target
        .as_ref()
        .and_then(|t| t.first())
        .and_then(|t| t.id());
    let item = activity
        .embedded_object()
        .cloned()
        .map(BookObject::from_any);
    if let (Some(shelf), Some(BookObject::ShelfItem(item))) = (shelf, item)
        && shelf
            .as_str()
            .starts_with(&format!("{}/shelf/", cx.actor()))
        && item.attributed_to_id().is_none_or(|a| a == cx.actor())
        && let Some(book) = &item.ext.book
    {
        app.store.remote_shelve(shelf, book, on)?;
    }
    Ok(())
}
