//! One vocabulary for the fields of a read-back that cannot be written back as they are: each
//! kind declares its fields as rows (`(field, Rule)`, each citing the server's behaviour that
//! makes the rule), and one family of functions turns a read into what a snapshot carries
//! (`carried`), a carried body into what is written (`written`, `encoded`, `to_clear`), and says
//! what an escrow may hold (`write_only`) or what an update leaves out (`create_only`).

use serde_json::{Map, Value};

use crate::objects::escrow::Escrowed;

/// A field's "unset" value, as the server reads it back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sentinel {
    Int(i64),
    Text(&'static str),
}

impl Sentinel {
    fn is(self, v: &Value) -> bool {
        match self {
            Sentinel::Int(i) => v.as_i64() == Some(i),
            Sentinel::Text(t) => v.as_str() == Some(t),
        }
    }
}

/// How one field is treated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Taken on write as read: a row only to say the field is known (where an unknown field is
    /// reported).
    AsRead,
    /// Reported by the server, never taken on write: not carried.
    ReadOnly,
    /// Not carried when it holds the server's "unset" value, which a write refuses.
    Unset(Sentinel),
    /// An older name the server echoes next to the newer field that holds the value in force,
    /// and ignores on write when both are given: not carried.
    Deprecated,
    /// Taken only when the object is created: left out of updates; a difference is reported.
    CreateOnly,
    /// Taken on write, never returned by a read: only the escrow carries it (and may carry only
    /// such fields). Reported as not copied when the source holds it: always, or only when this
    /// other (readable) field is set.
    WriteOnly(Option<&'static str>),
    /// Written only together with this write-only field, which no snapshot carries unless the
    /// escrow holds it: kept in the snapshot, never written or compared without it. The target
    /// keeps its own, set there by hand.
    WithSecret(&'static str),
    /// Reads as null (not carried) when unset, and a write clears it only when sent null.
    Nullable,
    /// Read as a JSON object, written as JSON text.
    AsText,
    /// Automated root rotation (Vault Enterprise 1.19): never carried, since a rotation on DR
    /// would change the credential the source uses too (see `ROTATION`).
    Rotation,
    /// A nested object of the plugin's own fields, which a write takes at the top level.
    Nested,
    /// Read under this name, written under another.
    WrittenAs(&'static str),
    /// Never copied, for this reason (reported at export whenever it holds a value).
    NotCopied(&'static str),
}

/// A kind's field rules: (field, rule).
pub type Rules = [(&'static str, Rule)];

/// The automated root rotation settings, on any config that has them.
pub const ROTATION: &Rules = &[
    ("rotation_period", Rule::Rotation),
    ("rotation_schedule", Rule::Rotation),
    ("rotation_window", Rule::Rotation),
    ("disable_automated_rotation", Rule::Rotation),
];

/// The rule for `field`, if any (the first row that names it).
pub fn rule(rules: &Rules, field: &str) -> Option<Rule> {
    rules.iter().find(|(f, _)| *f == field).map(|(_, r)| *r)
}

/// Whether a value is more than empty (`false`, `""`, `[]`, `{}` and null are not).
pub fn is_set(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// What of a read-back a snapshot carries: no nulls, no read-only fields, deprecated echoes,
/// "unset" values or rotation settings; nested plugin fields at the top level, renamed fields by
/// their write name. Applied on export, and to the target's read before comparing.
pub fn carried(rules: &Rules, read: Map<String, Value>) -> Map<String, Value> {
    let mut body = Map::new();
    for (k, v) in read {
        match (rule(rules, &k), v) {
            (_, Value::Null) => {}
            (Some(Rule::ReadOnly | Rule::Deprecated | Rule::Rotation | Rule::NotCopied(_)), _) => {}
            (Some(Rule::Unset(s)), v) if s.is(&v) => {}
            (Some(Rule::Nested), Value::Object(inner)) => {
                body.extend(inner.into_iter().filter(|(_, v)| !v.is_null()));
            }
            (Some(Rule::WrittenAs(name)), v) => {
                body.insert(name.into(), v);
            }
            (_, v) => {
                body.insert(k, v);
            }
        }
    }
    body
}

/// What of a carried body is written, and compared with the target: less the fields written only
/// with a secret the escrow does not hold.
pub fn written(
    rules: &Rules,
    mut data: Map<String, Value>,
    escrowed: &Escrowed,
) -> Map<String, Value> {
    for (field, rule) in rules {
        if matches!(rule, Rule::WithSecret(s) if !escrowed.has(s)) {
            data.remove(*field);
        }
    }
    data
}

/// The create-only fields, which an update must leave out.
pub fn create_only(rules: &Rules) -> impl Iterator<Item = &'static str> + '_ {
    rules
        .iter()
        .filter(|(_, r)| *r == Rule::CreateOnly)
        .map(|(f, _)| *f)
}

/// The fields written only together with the write-only `secret`.
pub fn with_secret<'a>(
    rules: &'a Rules,
    secret: &'a str,
) -> impl Iterator<Item = &'static str> + 'a {
    rules
        .iter()
        .filter(move |(_, r)| matches!(r, Rule::WithSecret(s) if *s == secret))
        .map(|(f, _)| *f)
}

/// Every write-only field, in the order of the rows: what an escrow entry may hold.
pub fn write_only_fields(rules: &Rules) -> Vec<&'static str> {
    rules
        .iter()
        .filter(|(_, r)| matches!(r, Rule::WriteOnly(_)))
        .map(|(f, _)| *f)
        .collect()
}

/// The write-only fields the source holds, judged from its read-back (`data`).
pub fn write_only(rules: &Rules, data: &Map<String, Value>) -> Vec<&'static str> {
    rules
        .iter()
        .filter_map(|(f, r)| match r {
            Rule::WriteOnly(only_if) => Some((*f, *only_if)),
            _ => None,
        })
        .filter(|(_, only_if)| only_if.is_none_or(|g| data.get(g).is_some_and(is_set)))
        .map(|(f, _)| f)
        .collect()
}

/// The nullable fields the target holds (`cur`) that the snapshot leaves unset (`want`): a write
/// clears them only when sent null.
pub fn to_clear(rules: &Rules, want: &Map<String, Value>, cur: &Map<String, Value>) -> Vec<String> {
    rules
        .iter()
        .filter(|(f, r)| *r == Rule::Nullable && !want.contains_key(*f))
        .filter(|(f, _)| cur.get(*f).is_some_and(is_set))
        .map(|(f, _)| f.to_string())
        .collect()
}

/// A carried body in the form a write takes: the `AsText` objects as JSON text. Fails naming the
/// field that cannot be encoded.
pub fn encoded(rules: &Rules, data: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut body = data.clone();
    for (field, _) in rules.iter().filter(|(_, r)| *r == Rule::AsText) {
        if let Some(v) = body.get_mut(*field).filter(|v| v.is_object()) {
            let text = serde_json::to_string(v)
                .map_err(|e| format!("its {field} cannot be encoded: {e}"))?;
            *v = Value::String(text);
        }
    }
    Ok(body)
}

/// Whether the source has automated root rotation on (a period or a schedule, not disabled).
pub fn rotation_on(read: &Map<String, Value>) -> bool {
    let on = ["rotation_period", "rotation_schedule"].iter().any(|f| {
        read.get(*f).is_some_and(|v| match v {
            Value::String(s) => !s.is_empty() && s != "0",
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => false,
        })
    });
    on && read.get("disable_automated_rotation") != Some(&Value::Bool(true))
}

/// The fields of `want` that the target does not hold as they are (a newer target may return
/// more fields, which are not compared).
pub fn differing(want: &Map<String, Value>, cur: &Map<String, Value>) -> Vec<String> {
    want.iter()
        .filter(|(k, v)| cur.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// What a diff says about the fields that differ (names only, never values).
pub fn differ_reason(fields: &[String]) -> String {
    format!("{} differ", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    const RULES: &Rules = &[
        ("name", Rule::ReadOnly),
        ("size", Rule::Unset(Sentinel::Int(0))),
        ("version", Rule::Unset(Sentinel::Text(""))),
        ("old", Rule::Deprecated),
        ("details", Rule::Nested),
        ("statements", Rule::WrittenAs("new_statements")),
        ("labels", Rule::Nullable),
        ("hosts", Rule::AsText),
        ("client_id", Rule::WithSecret("secret")),
        ("secret", Rule::WriteOnly(Some("client_id"))),
        ("password", Rule::WriteOnly(None)),
        ("local", Rule::CreateOnly),
        ("rotation_period", Rule::Rotation),
    ];

    #[test]
    fn a_read_becomes_what_a_snapshot_carries() {
        let read = map(
            json!({"name": "n", "size": 0, "version": "", "old": 1, "gone": null,
            "details": {"url": "u", "x": null}, "statements": ["s"], "rotation_period": 60,
            "client_id": "c", "local": true}),
        );
        assert_eq!(
            Value::Object(carried(RULES, read)),
            json!({"url": "u", "new_statements": ["s"], "client_id": "c", "local": true})
        );
        let tuned = map(json!({"size": 5, "version": "v1"}));
        assert_eq!(carried(RULES, tuned.clone()), tuned);
    }

    #[test]
    fn what_is_written_follows_the_rules() {
        let data = map(json!({"client_id": "c", "hosts": {"/": 1}}));
        let none = Escrowed::default();
        assert_eq!(
            Value::Object(written(RULES, data.clone(), &none)),
            json!({"hosts": {"/": 1}})
        );
        let with = Escrowed(map(json!({"secret": "s"})));
        assert_eq!(written(RULES, data.clone(), &with), data);
        assert_eq!(
            encoded(RULES, &data).ok(),
            Some(map(json!({"client_id": "c", "hosts": "{\"/\":1}"})))
        );
        assert_eq!(create_only(RULES).collect::<Vec<_>>(), ["local"]);
        assert_eq!(
            with_secret(RULES, "secret").collect::<Vec<_>>(),
            ["client_id"]
        );
        assert_eq!(write_only_fields(RULES), ["secret", "password"]);
        assert_eq!(
            write_only(RULES, &map(json!({"client_id": ""}))),
            ["password"]
        );
        let cur = map(json!({"labels": {"a": "b"}}));
        assert_eq!(to_clear(RULES, &Map::new(), &cur), ["labels"]);
        assert!(to_clear(RULES, &cur, &cur).is_empty());
    }

    #[test]
    fn automated_root_rotation_is_on_with_a_period_or_a_schedule() {
        assert!(rotation_on(&map(json!({"rotation_period": 3600}))));
        assert!(rotation_on(&map(json!({"rotation_schedule": "0 * * * *"}))));
        assert!(!rotation_on(&map(
            json!({"rotation_period": 0, "rotation_schedule": ""})
        )));
        let disabled = map(json!({"rotation_period": 60, "disable_automated_rotation": true}));
        assert!(!rotation_on(&disabled));
        assert!(!rotation_on(&Map::new()));
    }
}
