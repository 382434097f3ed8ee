//! A kubernetes secrets engine's config (`<mount>config`) as an object kind: the fields its read
//! returns, and `service_account_jwt` through the escrow (nothing else: an entry with another
//! field is not taken). The write sets only the fields it is sent (the plugin keeps the rest), so
//! an update never clears the JWT DR holds.

use crate::objects::body::{BodySpec, Found, body_kind};
use crate::objects::engine_item::EngineItem;
use crate::objects::fields::{Rule, Rules};

body_kind!(KubernetesConfig, engine "kubernetes", singleton "config", "kubernetes config", folder "kubernetes/config");

const JWT: &str = "service_account_jwt";

impl BodySpec for Spec {
    /// The only field an escrow entry may hold (the others are readable and cross as read;
    /// `kubernetes_host` from an escrow would differ from it forever).
    const RULES: &'static Rules = &[(JWT, Rule::WriteOnly(None))];

    fn taken(found: Found<'_>, report: &mut dyn FnMut(String)) -> Option<EngineItem> {
        let Found {
            mut item, entry, ..
        } = found;
        let refused = entry.only(&[JWT]).err();
        if refused.is_none() {
            item.escrowed = entry;
        }
        if !item.escrowed.has(JWT) {
            let why = "`service_account_jwt` is write-only and not escrowed: copied without it \
                       (DR uses its own, or its local service account token)";
            report(match refused {
                Some(r) => format!("escrow entry not taken: {r}; {why}"),
                None => why.to_string(),
            });
        }
        Some(item)
    }
}
