//! The `props!` and `standalone!` macros declaring vocabulary structs:
//! one list of `field: Type = "jsonKey"` drives the struct, its lenient
//! decoding and its serialization, so the three never drift apart.

/// Declares a vocabulary struct: verbatim head fields followed by optional
/// properties, each bound to its JSON key, with the decoding and
/// serialization helpers the map visitors use.
macro_rules! props {
    (
        $(#[$sm:meta])*
        pub struct $name:ident {
            $( $(#[$hm:meta])* pub $hf:ident : $ht:ty, )*
            ;
            $( $(#[$fm:meta])* $f:ident : $t:ty = $k:literal, )*
        }
    ) => {
        $(#[$sm])*
        #[derive(Debug, Clone, Default, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$hm])* pub $hf: $ht, )*
            $( $(#[$fm])* pub $f: Option<$t>, )*
        }

        #[allow(dead_code)]
        impl $name {
            /// Whether `key` is one of this struct's own properties.
            pub(crate) fn owns(key: &str) -> bool {
                matches!(key, $($k)|*)
            }

            /// Decode the value of `key` if it is one of this struct's own
            /// properties; returns whether it was.
            pub(crate) fn decode_field<'de, A: serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
                cx: $crate::vocab::decode::Cx,
                extra: &mut serde_json::Map<String, serde_json::Value>,
            ) -> Result<bool, A::Error> {
                match key {
                    $( $k => {
                        let d = map.next_value_seed($crate::vocab::decode::Seed::<$t>::new(cx))?;
                        $crate::vocab::decode::store(&mut self.$f, key, d, extra);
                        Ok(true)
                    } )*
                    _ => Ok(false),
                }
            }

            /// Write this struct's own set properties.
            pub(crate) fn serialize_fields<M: serde::ser::SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
                $( if let Some(v) = &self.$f { m.serialize_entry($k, v)?; } )*
                Ok(())
            }

            /// Whether `key` is one of this struct's own properties and set.
            pub(crate) fn has_field(&self, key: &str) -> bool {
                match key {
                    $( $k => self.$f.is_some(), )*
                    _ => false,
                }
            }

            /// Move every own property into `extra` as JSON.
            pub(crate) fn drain_fields(&mut self, extra: &mut serde_json::Map<String, serde_json::Value>) {
                $( $crate::vocab::decode::drain(&mut self.$f, $k, extra); )*
            }

            /// Whether no own property is set.
            pub(crate) fn fields_empty(&self) -> bool {
                true $( && self.$f.is_none() )*
            }
        }
    };
}
pub(crate) use props;

/// Implements `Decode`, `Serialize` and `Deserialize` for a [`props!`]
/// struct that stands alone (has its own `extra` map, no `type` dispatch).
macro_rules! standalone {
    ($name:ident, $what:literal) => {
        impl $crate::vocab::decode::Decode for $name {
            type Visitor = $crate::vocab::decode::StandaloneVisitor<$name>;
            fn visitor(cx: $crate::vocab::decode::Cx) -> Self::Visitor {
                $crate::vocab::decode::StandaloneVisitor(cx, std::marker::PhantomData)
            }
        }

        impl $crate::vocab::decode::Standalone for $name {
            const WHAT: &'static str = $what;
            fn decode_own<'de, A: serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
                cx: $crate::vocab::decode::Cx,
            ) -> Result<bool, A::Error> {
                let mut extra = std::mem::take(&mut self.extra);
                let r = self.decode_field(key, map, cx, &mut extra);
                self.extra = extra;
                r
            }
            fn extra_mut(&mut self) -> &mut serde_json::Map<String, serde_json::Value> {
                &mut self.extra
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                self.serialize_fields(&mut m)?;
                for (k, v) in &self.extra {
                    if !self.has_field(k) {
                        m.serialize_entry(k, v)?;
                    }
                }
                m.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::vocab::decode::deserialize_strict(d)
            }
        }
    };
}
pub(crate) use standalone;
