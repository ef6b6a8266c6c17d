//! What the server does with each activity the library verified and
//! authorized (the dispatcher's rules run first: only authors create,
//! update and delete; Accepts answer Follows we sent; the follow graph is
//! kept by the library). The application logic left: consent for locked
//! accounts, keeping received notes, counting likes and announces of local
//! posts, and filing what arrives in the users' inboxes.

use std::sync::Arc;

use archipel::federation::dispatch::{
    Cx, Delete, Dispatcher, Follow, HandlerResult, Undo, WithObject, with_state,
};
use archipel::federation::store::Owners;
use archipel::vocab::{Activity, Kind};

use crate::app::App;
use crate::app::quotes;

/// The dispatcher with this server's handlers.
pub fn dispatcher(app: &Arc<App>) -> Dispatcher {
    app.fed
        .dispatcher()
        // Who owns a note we keep (received, or posted here), so that on a
        // multi-user origin one user cannot update or delete another's.
        .with_owner_lookup(Arc::new(Owners(vec![
            Arc::new(app.store.received.clone()),
            Arc::new(app.store.posts.clone()),
        ])))
        // Every activity that passed the rules is logged and filed first.
        .on_every(with_state(app, |app, cx, activity: Activity| async move {
            record(&app, &cx, &activity).await;
            Ok(())
        }))
        .on_follow(with_state(app, |app, cx, follow: Follow| async move {
            let me = app.fed.local(&follow.name).ok_or("no such user")?;
            if me.is_locked() {
                app.store.requests.hold(&follow)?;
                eprintln!(
                    "follow request from {} to {} is pending",
                    cx.actor(),
                    me.name()
                );
            } else {
                app.fed.accept(&me, &follow).await?;
                eprintln!("{} accepted follow from {}", me.name(), cx.actor());
            }
            Ok(())
        }))
        .on_undo(with_state(app, |app, cx, undo: Undo| async move {
            match (&undo.kind, &undo.object) {
                (Some(k @ (Kind::Like | Kind::Announce)), Some(o)) => {
                    app.store.reactions.remove(*k, o, cx.actor())?;
                }
                // A Follow (the library removed the follower), or an Undo
                // naming its activity by IRI only: drop the sender's follow
                // and pending request everywhere.
                (kind, _) => {
                    for me in app.users.iter().filter_map(|n| app.fed.local(n)) {
                        app.store.requests.forget(me.id(), cx.actor())?;
                        if kind.is_none() {
                            app.fed.graph().remove_follower(me.id(), cx.actor()).await?;
                        }
                    }
                }
            }
            Ok(())
        }))
        .on_create(with_state(app, |app, cx, create: WithObject| async move {
            app.store.received.put(cx.actor(), &create.object)?;
            quotes::check_received(&app, &create.object).await;
            Ok(())
        }))
        .on_update(with_state(app, |app, cx, update: WithObject| async move {
            // Only a note we keep is replaced; the dispatcher already refused
            // an Update from anyone but its stored owner (`OwnerLookup`).
            app.store.received.replace(cx.actor(), &update.object)?;
            quotes::check_received(&app, &update.object).await;
            Ok(())
        }))
        .on_delete(with_state(app, |app, cx, delete: Delete| async move {
            // The revocation of one of our quotes' authorizations?
            quotes::on_delete(&app, &cx, &delete.object).await?;
            // The dispatcher already refused a Delete from anyone but the
            // stored owner (`OwnerLookup`).
            app.store.received.remove(&delete.object)?;
            Ok(())
        }))
        .on_like(with_state(app, |app, cx, like: Activity| {
            react(app, cx, like, Kind::Like)
        }))
        .on_announce(with_state(app, |app, cx, a: Activity| {
            react(app, cx, a, Kind::Announce)
        }))
        // A Move: the library checks both accounts, then moves the follows.
        .on_move(with_state(app, crate::app::migration::on_move))
        // Quote posts: the library decides and checks (crate::app::quotes).
        .on_quote_request(with_state(app, quotes::on_quote_request))
        .on_quote_reply(with_state(app, quotes::on_quote_reply))
        .on_block(with_state(app, |app, cx, block: Activity| async move {
            if let Some(me) = block.object_id().and_then(|o| app.fed.local_by_id(o)) {
                app.store.requests.forget(me.id(), cx.actor())?;
            }
            Ok(())
        }))
}

/// Counts a Like or Announce of a post this server keeps (others' objects,
/// and local IRIs naming nothing, are not ours to count: they would let any
/// peer fill the table and push the genuine reactions out past its cap).
async fn react(app: Arc<App>, cx: Cx, activity: Activity, kind: Kind) -> HandlerResult {
    if let Some(object) = activity.object_id()
        && app.store.post(object).await.is_some()
    {
        app.store.reactions.add(kind, object, cx.actor())?;
    }
    Ok(())
}

/// Logs the activity, and files it in the inboxes of the local users it is
/// for with how it was verified (the library decides who: those it names,
/// and the sender's followers unless it is addressed only to local users).
async fn record(app: &App, cx: &Cx, activity: &Activity) {
    let kind = activity.type_name().unwrap_or("?");
    let (id, from, key) = (cx.activity_id(), cx.actor(), &cx.verified().key_id);
    eprintln!("inbox: {kind} {id} from {from} verified ({key})");
    let users: Vec<_> = app.users.iter().filter_map(|n| app.fed.local(n)).collect();
    if let Err(e) = app.store.log.record(&app.fed, cx, activity, &users).await {
        eprintln!("cannot file {id}: {e}");
    }
}
