//! PKI issuers as an object kind: where they sit in a snapshot and on a target, and the export of
//! each PKI mount. Applied with the contents; the configs and roles that name an issuer come later
//! (`Stage::Dependents`). Never pruned: a CA on DR is never deleted by the importer.

use super::{IssuerOps, PkiIssuer, apply, diff, export};
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::engine_item::in_secret_mount;
use crate::objects::kind::{
    ObjectKind, Scope, Sink, Source, Stage, check_in_mount, entry_in_mount,
};
use crate::objects::mounts::Mount;
use crate::objects::pki::{Issuers, cert_key, is_pki};
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;

impl ObjectKind for PkiIssuer {
    const FOLDERS: &'static [&'static str] = &["pki/issuers"];
    const STAGE: Stage = Stage::Contents;
    type Current = Issuers;
    type Ops = IssuerOps;

    in_secret_mount!();

    fn entry(&self) -> String {
        entry_in_mount("pki/issuers", &self.mount, self.key())
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_in_mount("pki issuer", &self.mount, self.key())?;
        if cert_key(&self.certificate).is_empty() {
            return Err(format!("pki issuer `{}` has no certificate", self.key()));
        }
        self.escrowed.only(&[super::BUNDLE])
    }

    fn delete_target(&self) -> Option<(String, String)> {
        None
    }

    async fn current(&self, target: &Target) -> Result<Issuers> {
        Issuers::read(&target.client(&self.namespace), &self.mount).await
    }

    fn diff(&self, _: &Target, cur: &Issuers) -> Decision<IssuerOps> {
        diff(self, cur)
    }

    fn under_new_parent(&self, _: &Target) -> Decision<IssuerOps> {
        diff(self, &Issuers::default())
    }

    async fn apply(&self, target: &Target, _: Action, ops: &IssuerOps) -> Result<()> {
        apply(&target.client(&self.namespace), self, ops).await
    }

    fn lives_in(mount: &Mount) -> bool {
        is_pki(mount)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let escrow = source.escrow.as_ref();
        let (issuers, not_copied) = export(source.client, escrow, ns, &mount.path).await?;
        for i in issuers {
            sink.add(Object::PkiIssuer(i))?;
        }
        for (path, reason) in not_copied {
            sink.not_copied(Kind::PkiIssuer, path, reason);
        }
        Ok(())
    }
}
