//! The application layer (`archipel::federation`) between real servers on
//! loopback: servers built only on the library follow, accept and deliver
//! to each other with signed fetches required on both sides; private posts
//! reach only their audience and are served to no one else; the Fedify
//! peer (npm) federates with such a server in authorized-fetch mode.

#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

mod support;

#[path = "support/fed_node.rs"]
mod fed_node;

#[path = "federation/two_servers_authorized_fetch.rs"]
mod two_servers_authorized_fetch;

#[path = "federation/private_posts_reach_only_their_audience.rs"]
mod private_posts_reach_only_their_audience;

#[path = "federation/fedify_authorized_fetch.rs"]
mod fedify_authorized_fetch;

#[path = "federation/authorized_fetch_serving.rs"]
mod authorized_fetch_serving;

#[path = "federation/followers_paging.rs"]
mod followers_paging;

#[path = "federation/retry_after_our_failure.rs"]
mod retry_after_our_failure;
