//! The hostile-peer suite: real servers on 127.0.0.1 play the victim and
//! the attacker, one submodule per attack; each attack is refused with its
//! documented status or typed error, and nothing of it is stored, handed to
//! the application or delivered.

mod support;

#[cfg(feature = "client")]
#[path = "hostile/announce_of_fabricated_object_is_not_trusted.rs"]
mod announce_of_fabricated_object_is_not_trusted;
#[cfg(feature = "client")]
#[path = "hostile/delete_or_update_of_another_actor_is_refused.rs"]
mod delete_or_update_of_another_actor_is_refused;
#[cfg(all(feature = "delivery", feature = "client"))]
#[path = "hostile/delivery_peer.rs"]
mod delivery_peer;
#[cfg(all(feature = "delivery", feature = "client"))]
#[path = "hostile/delivery_redirects_are_not_followed.rs"]
mod delivery_redirects_are_not_followed;
#[cfg(feature = "client")]
#[path = "hostile/embedded_object_claiming_another_author_is_not_trusted.rs"]
mod embedded_object_claiming_another_author_is_not_trusted;
#[cfg(all(feature = "axum", feature = "client", feature = "rfc9421"))]
#[path = "hostile/fetch_refuses_foreign_documents.rs"]
mod fetch_refuses_foreign_documents;
#[cfg(all(feature = "axum", feature = "client", feature = "rfc9421"))]
#[path = "hostile/host_replay_is_refused.rs"]
mod host_replay_is_refused;
#[cfg(feature = "client")]
#[path = "hostile/inbox_peers.rs"]
mod inbox_peers;
#[cfg(all(feature = "axum", feature = "client", feature = "rfc9421"))]
#[path = "hostile/key_fetches_are_bounded.rs"]
mod key_fetches_are_bounded;
#[cfg(all(feature = "axum", feature = "client", feature = "rfc9421"))]
#[path = "hostile/key_fixture.rs"]
mod key_fixture;
#[cfg(all(feature = "axum", feature = "client", feature = "rfc9421"))]
#[path = "hostile/key_in_text_upload_is_refused.rs"]
mod key_in_text_upload_is_refused;
#[cfg(all(feature = "axum", feature = "client", feature = "rfc9421"))]
#[path = "hostile/key_via_open_redirect_is_refused.rs"]
mod key_via_open_redirect_is_refused;
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "rfc9421",
    feature = "ed25519"
))]
#[path = "hostile/multikey_key_is_read_from_assertion_method.rs"]
mod multikey_key_is_read_from_assertion_method;
#[cfg(all(feature = "delivery", feature = "client"))]
#[path = "hostile/nested_bcc_never_reaches_the_wire.rs"]
mod nested_bcc_never_reaches_the_wire;
#[cfg(feature = "client")]
#[path = "hostile/oversized_activity_id_is_refused.rs"]
mod oversized_activity_id_is_refused;
#[cfg(all(feature = "axum", feature = "client", feature = "rfc9421"))]
#[path = "hostile/standalone_key_needs_its_owner.rs"]
mod standalone_key_needs_its_owner;
#[cfg(feature = "client")]
#[path = "hostile/update_of_another_actors_object_is_not_trusted.rs"]
mod update_of_another_actors_object_is_not_trusted;
