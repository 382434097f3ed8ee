//! The export's walk of the source: what only the cluster has (its child namespaces), then each
//! namespace, each mount's kinds and each namespace's own, into a `Sink` (the snapshot writer, or
//! `diff`'s view of the live cluster). A delta export hands the kinds what the last export saw
//! (`Known`), so that they skip reads of what did not change.

use crate::config::{Filter, WalkConfig};
use crate::error::Result;
use crate::objects::escrow::Escrow;
use crate::objects::{Kind, Known, Scope, Sink, Source, mounts};
use crate::vault::{VaultClient, namespaces};

struct Options<'k> {
    concurrency: usize,
    history: bool,
    filter: Filter,
    /// The importer's own bookkeeping mount, which is never exported.
    state_mount: String,
    /// `REPLICATOR_ESCROW_MOUNT`, and the configured namespace's client to read it with.
    escrow: Option<(String, VaultClient)>,
    /// What the last export saw, for a delta.
    known: Option<&'k dyn Known>,
}

impl Options<'_> {
    /// What a kind's export reads from, in `client`'s namespace.
    fn source<'a>(
        &'a self,
        client: &'a VaultClient,
        filter: &'a (dyn Fn(&str) -> bool + Sync),
    ) -> Source<'a> {
        Source {
            client,
            concurrency: self.concurrency,
            kv_history: self.history,
            filter,
            state_mount: &self.state_mount,
            escrow: self
                .escrow
                .as_ref()
                .map(|(mount, client)| Escrow { client, mount }),
            known: self.known,
        }
    }
}

/// Walks the whole source into `sink` (the snapshot writer, or `diff`'s in-memory view of the
/// live cluster): what only the cluster has (its child namespaces), then each namespace, the
/// configured one first.
pub async fn walk(config: &WalkConfig, client: &VaultClient, sink: &mut dyn Sink) -> Result<()> {
    walk_knowing(config, client, sink, None).await
}

/// `walk`, skipping the reads `known` makes needless (a delta export).
pub(super) async fn walk_knowing(
    config: &WalkConfig,
    client: &VaultClient,
    sink: &mut dyn Sink,
    known: Option<&dyn Known>,
) -> Result<()> {
    let opts = Options {
        known,
        concurrency: client.concurrency(),
        history: config.kv_history,
        filter: config.filter.clone(),
        state_mount: config.state_mount.clone(),
        escrow: config.escrow_mount.clone().map(|m| (m, client.clone())),
    };
    let children = namespaces(client).await?;
    let everything = |_: &str| true;
    let scope = Scope::Cluster {
        namespaces: &children,
    };
    for kind in Kind::ALL {
        kind.export(&opts.source(client, &everything), &scope, sink)
            .await?;
    }
    for ns in std::iter::once(String::new()).chain(children) {
        export_namespace(&client.in_namespace(&ns), &ns, &opts, sink).await?;
    }
    Ok(())
}

/// Everything of one namespace: its mount tables, what lives in each mount (a mount no kind looks
/// into carries its settings only, and says so), then every kind that lives in the namespace
/// itself (the mounts, policies, identity).
async fn export_namespace(
    client: &VaultClient,
    ns: &str,
    opts: &Options<'_>,
    sink: &mut dyn Sink,
) -> Result<()> {
    let allows = |shown: &str| opts.filter.allows(shown);
    let source = opts.source(client, &allows);
    let mounts = mounts::listed(&source, ns, sink).await?;
    for mount in &mounts {
        let scope = Scope::Mount { ns, mount };
        for kind in Kind::ALL.iter().filter(|k| k.lives_in(mount)) {
            kind.export(&source, &scope, sink).await?;
        }
    }
    let scope = Scope::Namespace {
        ns,
        mounts: &mounts,
    };
    for kind in Kind::ALL {
        kind.export(&source, &scope, sink).await?;
    }
    Ok(())
}
