//! Auth items as an object kind: where they sit in a snapshot and on a target, which items the
//! format allows for each method (nothing outside its layout), and the export of each auth mount.

use super::{AuthItem, NewUserPassword, current, diff, export, layout, needs_password};
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::kind::{
    Inventory, ObjectKind, Parent, Place, Scope, Sink, Source, Stage, check_dir_path, check_name,
    one, segments,
};
use crate::objects::mounts::Mount;
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;
use crate::vault::Table;

/// The items an auth method may carry: `config`, or `<collection>/<one name>`.
fn allowed(method: &str, mount: &str, item: &str) -> bool {
    let Some((singles, collections)) = layout(method) else {
        return false;
    };
    if (method == "token") != (mount == "token/") {
        return false;
    }
    if singles.contains(&item) {
        return true;
    }
    match item.split_once('/') {
        Some((coll, name)) => collections.contains(&coll) && check_name("item", name).is_ok(),
        None => false,
    }
}

const SKIPPED: &str = "new userpass user not created (REPLICATOR_USERPASS_PASSWORD=skip)";

impl ObjectKind for AuthItem {
    const FOLDERS: &'static [&'static str] = &["auth-items"];
    const STAGE: Stage = Stage::Contents;
    type Current = Option<serde_json::Map<String, serde_json::Value>>;
    type Ops = ();

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn path(&self) -> String {
        format!("{}{}", self.namespace, self.api_path())
    }

    fn place(&mut self) -> Place<'_> {
        Place::InMount(&mut self.namespace, Table::Auth, &mut self.mount)
    }

    fn entry(&self) -> String {
        format!("auth-items/{}/{}", one(&self.mount), segments(&self.item))
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_dir_path("auth mount path", &self.mount)?;
        if !allowed(&self.method, &self.mount, &self.item) {
            return Err(format!(
                "`{}` is not an item a `{}` auth method carries",
                self.item, self.method
            ));
        }
        super::escrowed::check(&self.method, &self.item, &self.escrowed)
    }

    /// Token roles live in the built-in token method, which every namespace has.
    fn parent(&self) -> Option<Parent> {
        match self.mount.as_str() {
            "token/" => Parent::of_namespace(&self.namespace),
            _ => Some(Parent::Mount(
                self.namespace.clone(),
                Table::Auth,
                self.mount.clone(),
            )),
        }
    }

    fn delete_target(&self) -> Option<(String, String)> {
        Some((self.namespace.clone(), self.api_path()))
    }

    async fn current(&self, target: &Target) -> Result<Self::Current> {
        let c = target.client(&self.namespace);
        current(&c, &self.mount, &self.method, &self.item).await
    }

    fn diff(&self, target: &Target, cur: &Self::Current) -> Decision<()> {
        match cur {
            None => self.under_new_parent(target),
            Some(cur) => Decision::from_pair(diff(self, Some(cur))),
        }
    }

    fn carries_write_only(&self) -> bool {
        !self.escrowed.is_empty()
    }

    /// Created, but for a new userpass user when so configured: its password cannot be carried.
    fn under_new_parent(&self, target: &Target) -> Decision<()> {
        match needs_password(self) && target.userpass == NewUserPassword::Skip {
            true => Decision::new(Action::Skipped, Some(SKIPPED.into())),
            false => Decision::new(Action::Create, None),
        }
    }

    async fn apply(&self, target: &Target, action: Action, _: &()) -> Result<()> {
        super::apply(&target.client(&self.namespace), self, action).await
    }

    fn lives_in(mount: &Mount) -> bool {
        mount.table == Table::Auth
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let at = (mount.path.as_str(), mount.kind.as_str());
        let found = export(source.client, source.escrow, ns, at).await?;
        for item in found.items {
            sink.add(Object::AuthItem(item))?;
        }
        for (path, reason) in found.not_copied {
            sink.not_copied(Kind::AuthItem, path, reason);
        }
        Ok(())
    }

    /// Its items by its method's layout: each set singleton, each listed collection member (no
    /// escrow is read). A method without a layout cannot be listed.
    async fn found(source: &Source<'_>, scope: &Scope<'_>, found: &mut Inventory) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let (c, at, method) = (source.client, &mount.path, mount.kind.as_str());
        let Some((singletons, collections)) = layout(method) else {
            found.unknown = Some(format!("the importer cannot list a `{method}` auth method"));
            return Ok(());
        };
        for item in singletons {
            if current(c, at, method, item).await?.is_some() {
                found.found(Kind::AuthItem, format!("{ns}auth/{at}{item}"), "item");
            }
        }
        for coll in collections {
            for name in c.list(&format!("auth/{at}{coll}")).await? {
                found.found(
                    Kind::AuthItem,
                    format!("{ns}auth/{at}{coll}/{name}"),
                    "item",
                );
            }
        }
        Ok(())
    }
}
