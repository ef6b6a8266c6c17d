//! [`Collection`]: `Collection`, `OrderedCollection` and their pages.

use super::object::Refs;
use super::props::props;
use super::{Object, Reference};

props! {
    /// A `Collection`, `OrderedCollection`, `CollectionPage` or
    /// `OrderedCollectionPage` (AS2 Vocabulary §2; ActivityPub §5).
    ///
    /// Items may be inline (`items` / `orderedItems`) or paged through
    /// `first` / `next`.
    pub struct Collection {
        /// The object properties.
        pub base: Box<Object>,
        ;
        /// `totalItems`.
        total_items: u64 = "totalItems",
        /// `current`: the most recently updated page.
        current: Reference = "current",
        /// `first`: the first page (IRI or embedded page).
        first: Reference = "first",
        /// `last`: the last page.
        last: Reference = "last",
        /// `items` (unordered collections).
        items: Refs = "items",
        /// `orderedItems` (ordered collections), newest first in ActivityPub.
        ordered_items: Refs = "orderedItems",
        /// `partOf` (pages): the collection this page belongs to.
        part_of: Reference = "partOf",
        /// `next` (pages).
        next: Reference = "next",
        /// `prev` (pages).
        prev: Reference = "prev",
        /// `startIndex` (ordered pages).
        start_index: u64 = "startIndex",
    }
}

impl Collection {
    /// The inline items, from `orderedItems` or `items`.
    pub fn all_items(&self) -> &[Reference] {
        self.ordered_items
            .as_ref()
            .or(self.items.as_ref())
            .map_or(&[], |r| r.as_slice())
    }
}
