//! `redacted_debug!`: the `Debug` of an object that may hold secret values, written as the list
//! of fields it shows. A field marked `as count` shows only how many fields it holds (a body's
//! `data`), and a closing `..` says that fields are left out; no value left out is ever printed.

/// `redacted_debug!(Type { shown, data as count, .. })` implements `Debug` for `Type`, showing
/// the named fields in order (`data as count` as `<N fields>`), then `..` when the list closes
/// with it.
macro_rules! redacted_debug {
    (@value $e:expr) => {
        &$e
    };
    (@value $e:expr, count) => {
        &format_args!("<{} fields>", $e.len())
    };
    (@impl $ty:ident $finish:ident { $($field:ident $(as $how:ident)?),* }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct(stringify!($ty));
                $(d.field(
                    stringify!($field),
                    $crate::objects::redacted::redacted_debug!(@value self.$field $(, $how)?),
                );)*
                d.$finish()
            }
        }
    };
    ($ty:ident { $($field:ident $(as $how:ident)?),* , .. }) => {
        $crate::objects::redacted::redacted_debug!(
            @impl $ty finish_non_exhaustive { $($field $(as $how)?),* }
        );
    };
    ($ty:ident { $($field:ident $(as $how:ident)?),* }) => {
        $crate::objects::redacted::redacted_debug!(@impl $ty finish { $($field $(as $how)?),* });
    };
}
pub(crate) use redacted_debug;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::objects::engine_item::EngineItem;
    use crate::objects::escrow::Escrowed;
    use crate::objects::transit::TransitKey;

    // The Debug output each object had when it was written by hand: every field shown, or `..`.
    #[test]
    fn shows_the_named_fields_a_body_as_a_count_and_no_value() {
        let data = json!({"a": "s3cret", "b": [1]})
            .as_object()
            .cloned()
            .unwrap();
        let mut item = EngineItem::new("", "db/", "r", data);
        item.escrowed = Escrowed(json!({"password": "p4ss"}).as_object().cloned().unwrap());
        assert_eq!(
            format!("{item:?}"),
            r#"EngineItem { namespace: "", mount: "db/", name: "r", data: <2 fields>, escrowed: {"password"} }"#
        );
        let key = TransitKey {
            namespace: String::new(),
            mount: "transit/".into(),
            name: "k".into(),
            key_type: "aes256-gcm96".into(),
            latest_version: 3,
            backup: "s3cret".into(),
        };
        assert_eq!(
            format!("{key:?}"),
            r#"TransitKey { mount: "transit/", name: "k", latest_version: 3, .. }"#
        );
    }
}
