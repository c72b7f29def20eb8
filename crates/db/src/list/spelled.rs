//! The `spelled!` macro: an allow-listed enum spelled as strings in the API, as the list
//! parameters' vocabularies (sort keys, visibility filters, time operators) are.

/// Declares an allow-listed, string-spelled enum with `ALL`, `as_str` and a `FromStr`
/// whose error ([`domain::status::UnknownValue`]) lists the accepted spellings, as the
/// domain's vocabularies do, so the gateway refuses both kinds with one message.
macro_rules! spelled {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling in the API.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = domain::status::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(domain::status::UnknownValue {
                        what: $what,
                        value: s.to_owned(),
                        allowed: &[$($text),+],
                    }),
                }
            }
        }
    };
}

pub(crate) use spelled;
