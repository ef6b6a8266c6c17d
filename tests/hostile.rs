//! The hostile-peer suite: one module per attack, each tried for real
//! against servers on 127.0.0.1, each refused with its documented status or
//! typed error, with nothing of the attack stored or delivered.
#![cfg(feature = "client")]

mod support;

mod hostile {
    pub mod inbox_peers;

    mod announce_of_fabricated_object_is_not_trusted;
    mod delete_or_update_of_another_actor_is_refused;
    mod embedded_object_claiming_another_author_is_not_trusted;
    mod oversized_activity_id_is_refused;
    mod update_of_another_actors_object_is_not_trusted;
}
