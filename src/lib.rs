//! vault-replicator: keeps a disaster-recovery Vault/OpenBao cluster in step with its primary
//! through signed, verifiable snapshots on S3-compatible storage.
//!
//! `run` is the whole program behind the thin `main`: it dispatches a parsed command line, prints
//! the command's output on stdout, and returns the exit code (see `exit`).

pub mod apply;
pub mod cli;
pub mod config;
pub mod error;
pub mod exit;
pub mod export;
pub mod import;
pub mod inspect;
pub mod objects;
pub mod plan;
pub mod snapshot;
pub mod state;
pub mod store;
pub mod summary;
pub mod vault;

use cli::Command;
use config::Settings;
pub use error::{Error, Result};

/// Runs one command and returns its exit code.
pub async fn run(command: Command, settings: &Settings) -> Result<u8> {
    match command {
        Command::Export => {
            let r = export::run(settings).await?;
            println!(
                "exported {} to {} ({} bytes, {} not copied); latest now points at it",
                r.key, r.location, r.size, r.not_copied
            );
            Ok(exit::OK)
        }
        Command::Import(args) => {
            let out = import::run(settings, &args.snapshot.snapshot, args.dry_run).await?;
            match args.output {
                cli::Output::Json => {
                    let doc = serde_json::json!({
                        "snapshot": out.snapshot, "dry_run": args.dry_run, "writes": out.writes,
                        "plan": out.plan, "summary": out.summary,
                    });
                    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
                }
                cli::Output::Text => {
                    if let Some(plan) = &out.plan {
                        println!("Dry run of {}: nothing was written.", out.snapshot);
                        print!("{}", plan.render());
                    } else {
                        println!("Imported {} ({} writes).", out.snapshot, out.writes);
                    }
                    print!("{}", out.summary.render());
                }
            }
            Ok(if out.summary.is_partial() {
                exit::PARTIAL
            } else {
                exit::OK
            })
        }
        Command::Status => {
            print!("{}", inspect::status(settings).await?);
            Ok(exit::OK)
        }
        Command::Promote => {
            print!("{}", inspect::promote(settings).await?);
            Ok(exit::OK)
        }
        Command::Demote => {
            print!("{}", inspect::demote(settings).await?);
            Ok(exit::OK)
        }
        Command::List => {
            print!("{}", inspect::list(settings).await?);
            Ok(exit::OK)
        }
        Command::Verify(arg) => {
            print!("{}", inspect::verify(settings, &arg.snapshot).await?);
            Ok(exit::OK)
        }
    }
}
