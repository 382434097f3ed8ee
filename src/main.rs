//! The binary: parse the command line, set up logging, run, and map the outcome to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use vault_replicator::cli::Cli;
use vault_replicator::config::{LogFormat, Settings, log_colour};
use vault_replicator::error::one_line;
use vault_replicator::exit;

/// Logging on stderr; text logs are coloured only on a terminal and without `NO_COLOR`.
fn init_tracing(format: LogFormat, stderr_is_terminal: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_color = std::env::var_os("NO_COLOR");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(log_colour(stderr_is_terminal, no_color.as_deref()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.with_target(false).init(),
    }
}

/// glibc gives each thread that allocates a heap arena of its own, and what one thread frees into
/// another's arena is not reused by the first: with the archive-reading thread beside the runtime
/// thread that held 2–8 MiB more at 100,000 secrets, varying from run to run. One arena does for
/// two busy threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena() {
    // SAFETY: mallopt only tunes the allocator; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena() {}

/// musl's own malloc cost the static build 8-17 % more CPU than glibc's: it allocates through
/// mimalloc instead (docs/performance.md, "The binary we ship").
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3 keeps freed memory for a second and commits whole arenas up front: twice glibc's
/// peak RSS here. Returning memory at once and committing on demand brings it back to glibc's
/// with the CPU saved kept. Its option numbers (mimalloc.h, `mi_option_e`), which the sys crate
/// does not name, are set only when their defaults prove them to be these options.
#[cfg(target_env = "musl")]
fn tune_allocator() {
    use libmimalloc_sys::{mi_option_get, mi_option_set};
    const ARENA_EAGER_COMMIT: i32 = 4;
    const PURGE_DELAY: i32 = 15;
    // SAFETY: reading and setting options is mimalloc's documented API, valid at any time.
    unsafe {
        if mi_option_get(ARENA_EAGER_COMMIT) == 2 && mi_option_get(PURGE_DELAY) == 1000 {
            mi_option_set(ARENA_EAGER_COMMIT, 0);
            mi_option_set(PURGE_DELAY, 0);
        }
    }
}

#[cfg(not(target_env = "musl"))]
fn tune_allocator() {}

fn main() -> ExitCode {
    one_malloc_arena();
    tune_allocator();
    // A bug must still end in one line, never a stack trace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error (please report it): {info}");
    }));
    let cli = Cli::parse();
    let settings = match Settings::load(cli.global.into()) {
        Ok(s) => s,
        Err(e) => return fail(None, &e),
    };
    let terminal = std::io::stderr().is_terminal();
    let format = match settings.log_format(terminal) {
        Ok(f) => f,
        Err(e) => return fail(None, &e),
    };
    init_tracing(format, terminal);
    for u in settings.unknown_vars() {
        match &u.closest {
            Some(c) => {
                tracing::warn!(variable = %u.name, did_you_mean = %c, "unknown variable ignored; did you mean {c}?")
            }
            None => tracing::warn!(variable = %u.name, "unknown variable ignored"),
        }
    }
    // One thread drives every Vault and S3 request: the work is waiting on servers, and the
    // archive work (compression, encryption, parsing) runs on blocking threads beside it. On a
    // small pod this costs a third less CPU than a worker pool and its cross-thread wake-ups.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    match runtime.block_on(vault_replicator::run(cli.command, &settings)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(Some(format), &e),
    }
}

/// Reports an error on one line (a JSON log line under JSON logging) and returns its exit code.
fn fail(format: Option<LogFormat>, err: &vault_replicator::Error) -> ExitCode {
    let line = one_line(err);
    let code = err.exit_code();
    match format {
        Some(LogFormat::Json) => tracing::error!(exit_code = code, error = %line, "failed"),
        _ => eprintln!("error: {line}"),
    }
    ExitCode::from(code)
}
