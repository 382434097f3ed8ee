//! vault-replicator: keeps a disaster-recovery Vault/OpenBao cluster in step with its primary
//! through signed, verifiable snapshots on S3-compatible storage.
//!
//! `run` is the whole program behind the thin `main`: it dispatches a parsed command line, prints
//! the command's output on stdout (as `render` spells it), and returns the exit code (see `exit`).

pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod exit;
pub mod export;
pub mod hashing;
pub mod import;
pub mod lease;
pub mod map;
pub mod metrics;
pub mod model;
pub mod objects;
pub mod progress;
pub mod render;
pub mod retention;
pub mod seal;
pub mod select;
pub mod snapshot;
pub mod state;
pub mod store;
pub mod vault;

use cli::Command;
use config::Settings;
pub use error::{Error, Result};
use render::emit;

/// Runs one command and returns its exit code. Each command's configuration is resolved from
/// `settings` here, once, and handed down as typed values. Scheduled runs (exports, whole imports
/// and prunes) push their metrics when `REPLICATOR_PUSHGATEWAY_URL` is set, whatever their outcome
/// (a configuration error included), grouped by command, instance and store prefix
/// (`metrics::push_url`).
pub async fn run(command: Command, settings: &Settings) -> Result<u8> {
    let name = pushed_as(&command);
    let run = settings.run(name.is_some())?;
    progress::set_interval(run.progress_interval);
    let started = std::time::Instant::now();
    let mut m = metrics::RunMetrics::default();
    let result = dispatch(command, settings, &mut m).await;
    if let (Some(push), Some(command)) = (run.metrics, name) {
        m.command = command;
        m.exit_code = match &result {
            Ok(code) => *code,
            Err(e) => e.exit_code(),
        };
        m.seconds = started.elapsed().as_secs_f64();
        let pushed = match push.grouping {
            Ok(grouping) => metrics::push(&push.url, &grouping, &m).await,
            Err(e) => Err(e),
        };
        if let Err(e) = pushed {
            tracing::warn!(error = %error::one_line(&e), "metrics were not pushed");
        }
    }
    result
}

/// The command name a run's metrics are pushed under, or `None` when it pushes none: only runs
/// that do the scheduled job do. A dry run writes nothing and an `--only` restore brings back a
/// part: pushing theirs would refresh "last success" (and clear a staleness alert) while DR is
/// not being kept up to date.
fn pushed_as(command: &Command) -> Option<&'static str> {
    match command {
        Command::Export(_) => Some("export"),
        Command::Import(a) if !a.dry_run && a.only.is_none() => Some("import"),
        Command::Prune(a) if !a.dry_run => Some("prune"),
        _ => None,
    }
}

async fn dispatch(
    command: Command,
    settings: &Settings,
    m: &mut metrics::RunMetrics,
) -> Result<u8> {
    let text = match command {
        Command::Export(o) => return export_command(settings, o.output, m).await,
        Command::Import(args) => return import_command(settings, &args, m).await,
        Command::Status(o) => return status_command(settings, o.output).await,
        Command::Promote(args) => {
            let config = settings.promote(args.timeout.as_deref())?;
            commands::promote(&config, args.source.as_deref()).await?
        }
        Command::Demote(args) => {
            commands::demote(&settings.state()?, args.source.as_deref()).await?
        }
        Command::List(args) => return list_command(settings, &args).await,
        Command::Prune(args) => commands::retention(&settings.prune()?, args.dry_run).await?,
        Command::Keygen(args) => commands::keygen(&args.dir, args.force)?,
        Command::Verify(arg) => {
            let only = arg.only.as_deref();
            let only = only
                .map(|s| select::Selection::parse("--only", s))
                .transpose()?;
            let (config, id) = (settings.verify()?, &arg.snapshot.snapshot);
            let verified = commands::verify(&config, id, arg.contents, only).await?;
            render::verify(&verified, arg.output.output)
        }
        Command::Diff(arg) => render::diff(&diff_command(settings, &arg).await?, arg.output.output),
        Command::Completions(arg) => cli::completions(arg.shell),
        Command::Man => cli::man_page(),
    };
    emit(&text);
    Ok(exit::OK)
}

/// `export`: one snapshot, then retention; prints where it went and what retention deleted.
async fn export_command(
    settings: &Settings,
    output: cli::Output,
    m: &mut metrics::RunMetrics,
) -> Result<u8> {
    let r = export::run(settings.export()?).await?;
    m.snapshot_bytes = Some(r.size);
    m.objects = r
        .counts
        .iter()
        .map(|(kind, n)| (kind.clone(), "exported".to_string(), *n))
        .collect();
    emit(&render::export(&r, output));
    Ok(exit::OK)
}

/// `import`: prints the plan (dry run) or the writes, then the summary, as text or JSON. The
/// flags are checked before the settings.
async fn import_command(
    settings: &Settings,
    args: &cli::ImportArgs,
    m: &mut metrics::RunMetrics,
) -> Result<u8> {
    let restore = import::Restore::new(
        args.only.as_deref(),
        args.to_prefix.as_deref(),
        args.allow_fenced,
    )?;
    let mut request = import::Request::new(
        args.snapshot.snapshot.clone(),
        args.dry_run,
        args.full_check,
        restore,
    )?;
    request.map = args.map.map()?;
    let out = import::run(settings.import()?, request).await?;
    m.snapshot_bytes = Some(out.snapshot_bytes);
    m.objects = out.summary.metrics();
    let partial = out.summary.is_partial();
    // The source time of what the target now holds: the stamp of the snapshot it applied in full.
    // Only a whole import's metrics are pushed (`pushed_as`), so a dry run's or a restore's is
    // never seen.
    if !partial {
        m.data_timestamp =
            snapshot::catalog::parse_snapshot_key(&out.snapshot).map(|t| t.timestamp());
    }
    emit(&render::import(&out, args.dry_run, args.output));
    Ok(if partial { exit::PARTIAL } else { exit::OK })
}

/// `diff`: the flags are checked before the settings, which each side reads as it needs.
async fn diff_command(settings: &Settings, arg: &cli::DiffArgs) -> Result<commands::Diff> {
    let mut request = commands::DiffRequest::new(&arg.a, &arg.b, arg.only.as_deref())?;
    // The import's map unless the flags give one: run with the import's environment, `diff
    // latest cluster` compares what the import would put where.
    request.map = match arg.map.map()? {
        Some(map) => map,
        None => settings.path_map()?,
    };
    let sides = settings.diff(request.cluster_sides())?;
    commands::diff(request, sides).await
}

/// `list`: prints the snapshots; with `--verify`, exit code 4 when any of them was refused.
async fn list_command(settings: &Settings, args: &cli::ListArgs) -> Result<u8> {
    let listing = commands::list(&settings.list(args.verify)?).await?;
    emit(&render::list(&listing, args.output.output));
    Ok(match listing.any_refused() {
        true => exit::REFUSED,
        false => exit::OK,
    })
}

/// `status`: prints it, then fails when the data is future-dated or older than allowed.
async fn status_command(settings: &Settings, output: cli::Output) -> Result<u8> {
    let status = commands::status(&settings.status()?).await?;
    emit(&render::status(&status, output));
    if let Some(e) = status.future {
        return Err(e);
    }
    match status.stale {
        Some(reason) => Err(Error::Stale(reason)),
        None => Ok(exit::OK),
    }
}
