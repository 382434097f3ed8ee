//! Command-line flags (clap). The global flags override the environment contract: they reach
//! `config` as plain values (`config::Flags`). Shell completions and the man page are generated
//! from the same definitions.

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config;

#[derive(Debug, Parser)]
#[command(
    name = "vault-replicator",
    version,
    about = "Replicate a Vault/OpenBao cluster to a DR cluster through snapshots on S3",
    long_about = "Replicate a Vault/OpenBao cluster to a disaster-recovery cluster.\n\n\
        `export` (on the primary) writes a snapshot to the store and moves `latest`;\n\
        `import` (on DR) verifies a snapshot and replays it idempotently.\n\n\
        Settings come from the environment (VAULT_ADDR, VAULT_TOKEN, REPLICATOR_STORE, ...);\n\
        flags override them. Exit codes: 0 ok, 1 failed, 2 usage or config error,\n\
        3 partial (some objects failed), 4 refused (snapshot failed verification),\n\
        5 stale (`status`: data older than REPLICATOR_MAX_AGE)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Default)]
pub struct GlobalArgs {
    /// Vault address [env: VAULT_ADDR, BAO_ADDR]
    #[arg(long, global = true, value_name = "URL")]
    pub address: Option<String>,
    /// Vault namespace [env: VAULT_NAMESPACE, BAO_NAMESPACE]
    #[arg(long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
    /// Snapshot store: s3://BUCKET/PREFIX or file:///DIR [env: REPLICATOR_STORE]
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
    /// Maximum Vault requests in flight [env: REPLICATOR_CONCURRENCY] [default: 32]
    #[arg(long, global = true, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Log format on stderr [env: REPLICATOR_LOG_FORMAT] [default: json, or text on a terminal]
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

impl From<GlobalArgs> for config::Flags {
    fn from(args: GlobalArgs) -> Self {
        config::Flags {
            address: args.address,
            namespace: args.namespace,
            store: args.store,
            concurrency: args.concurrency,
            log_format: args.log_format.map(|f| match f {
                LogFormat::Json => config::LogFormat::Json,
                LogFormat::Text => config::LogFormat::Text,
            }),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Export the cluster at VAULT_ADDR into a new snapshot and move `latest` to it
    Export(OutputArg),
    /// Verify a snapshot, then replay it into the cluster at VAULT_ADDR
    Import(ImportArgs),
    /// List the snapshots in the store, newest first, with their object counts
    List(ListArgs),
    /// Download a snapshot and check it, without touching any Vault
    Verify(VerifyArgs),
    /// Show which objects differ between two snapshots, or a snapshot and the cluster at
    /// VAULT_ADDR (added, removed, and changed with the names of the fields; never values)
    Diff(DiffArgs),
    /// Show whether the cluster at VAULT_ADDR is fenced, what it last imported, and the store's latest
    Status(OutputArg),
    /// Mark the cluster at VAULT_ADDR as promoted: every import into it is refused from now on,
    /// and one already running stops; waits until it has stopped
    Promote(PromoteArgs),
    /// Lift the promotion fence, so that the cluster at VAULT_ADDR accepts imports again
    Demote(DemoteArgs),
    /// Delete snapshots beyond REPLICATOR_KEEP_LAST / REPLICATOR_KEEP_WITHIN; chains stay whole
    /// (never `latest`, its chain, or the base a kept delta needs)
    Prune(PruneArgs),
    /// Write a new age identity and minisign signing key pair (mode 0600) and print the public halves
    Keygen(KeygenArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to stdout: `vault-replicator man | man -l -`
    Man,
}

#[derive(Debug, Args)]
pub struct OutputArg {
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub snapshot: SnapshotArg,
    /// Then list the objects it holds: kind and path, and for KV secrets their versions and
    /// metadata (never a value)
    #[arg(long)]
    pub contents: bool,
    /// With --contents, list only the objects at these paths (GLOB[,GLOB...], as plans show them)
    #[arg(long, value_name = "GLOB", requires = "contents")]
    pub only: Option<String>,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Verify each snapshot fully (downloads all of them); exit code 4 if any is refused
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older side: a snapshot ID such as 20261120T214500Z, `latest`, or `cluster`
    #[arg(value_name = "A")]
    pub a: String,
    /// The newer side: a snapshot ID, `latest`, or `cluster` (the live cluster at VAULT_ADDR)
    #[arg(value_name = "B")]
    pub b: String,
    /// Compare only the objects at these paths (GLOB[,GLOB...], as plans show them)
    #[arg(long, value_name = "GLOB")]
    pub only: Option<String>,
    /// Compare a snapshot's objects where these rules put them, as `import --map` does (replaces
    /// REPLICATOR_MAP, which applies otherwise)
    #[command(flatten)]
    pub map: MapArgs,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Print what would be deleted and delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// How long to wait for a running import to stop, or for its lease to expire (90s, 5m)
    /// [default: REPLICATOR_LEASE_TTL plus 1m]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Fence only the imports from this source (its store prefix `dc1`, or the store URL
    /// `s3://BUCKET/dc1`, as `status` names the sources of a cluster that has several); the
    /// others go on
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoteArgs {
    /// Lift only the fence `promote --source SOURCE` set
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Directory to write age.key, age.pub, signing.key and signing.pub into
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: std::path::PathBuf,
    /// Overwrite existing key files
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotArg {
    /// Snapshot to use: an ID such as 20261120T214500Z, or `latest`
    #[arg(long, value_name = "ID|latest", default_value = "latest")]
    pub snapshot: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub snapshot: SnapshotArg,
    /// Print what would change and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Compare every object with the target, even those the last import already applied
    /// (otherwise done every REPLICATOR_FULL_CHECK_EVERY imports)
    #[arg(long)]
    pub full_check: bool,
    /// Output format of the plan and summary
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
    /// Restore only the objects at these paths, as plans show them: `secret/payments/*`,
    /// `team-a/secret/x`, `sys/policies/acl/app-*`, `auth/approle/role/ci` (comma-separated
    /// globs; `*` crosses `/`; `FOLDER/` takes everything below it). Compares every selected
    /// object, writes over drift, prunes (when enabled) inside the selection only, and leaves
    /// the record of the last full import as it was
    #[arg(long, value_name = "GLOB[,GLOB...]")]
    pub only: Option<String>,
    /// With `--only FOLDER/*`: restore its KV secrets under this folder of the same mount
    /// instead (`secret/app-restored/`), for inspection without overwriting
    #[arg(long, value_name = "FOLDER", requires = "only")]
    pub to_prefix: Option<String>,
    /// With `--only`: restore into a promoted (fenced) cluster, e.g. to undo a deletion on the
    /// cluster now in charge. Said loudly in the output and the log
    #[arg(long, requires = "only")]
    pub allow_fenced: bool,
    #[command(flatten)]
    pub map: MapArgs,
}

/// Where an import puts what it reads, and where `diff` looks for it.
#[derive(Debug, Args, Default)]
pub struct MapArgs {
    /// Put what the snapshot holds under FROM (a namespace `team1/`, a mount `secret/`, an auth
    /// mount `auth/ldap/`, as plans show them) under TO instead; repeatable. Policies' paths and
    /// aliases' auth mounts follow. Replaces REPLICATOR_MAP
    #[arg(long = "map", value_name = "FROM=TO")]
    pub rules: Vec<String>,
    /// Leave out what no --map rule moves (replaces REPLICATOR_MAP_ONLY)
    #[arg(long, requires = "rules")]
    pub map_only: bool,
}

impl MapArgs {
    /// The map the flags give, or `None` when they give none (REPLICATOR_MAP holds).
    pub fn map(&self) -> crate::Result<Option<crate::map::PathMap>> {
        if self.rules.is_empty() {
            return Ok(None);
        }
        crate::map::PathMap::parse("--map", &self.rules, self.map_only).map(Some)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "vault-replicator", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The manual page, in roff.
pub fn man_page() -> String {
    let mut out = Vec::new();
    // Writing into memory cannot fail.
    let _ = clap_mangen::Man::new(Cli::command()).render(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent_and_documents_itself() {
        Cli::command().debug_assert();
        let bash = completions(clap_complete::Shell::Bash);
        assert!(
            bash.contains("--output") && bash.contains("completions"),
            "{bash}"
        );
        let man = man_page();
        assert!(
            man.starts_with(".ie") || man.contains(".TH vault-replicator"),
            "{man}"
        );
        assert!(man.contains("VAULT_ADDR"), "{man}");
    }
}
