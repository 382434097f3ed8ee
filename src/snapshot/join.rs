//! What a new snapshot's entries come to against the last export's index, walked together in the
//! archive's order: the new set's digest and index, and for a delta the entries that go in (new,
//! or with another sha256 than the base's, and every namespace and mount, which are few and which
//! an import decides the rest by) and what it removes and replaces of the base.

use super::entries::sha_key;
use super::index::{self, BaseIndex, IndexWriter};
use super::manifest::{Base, Delta, Was};
use super::runs::{Merge, Record, Sorted};
use super::set::SetDigest;
use crate::error::{Error, Result};
use crate::objects::Stage;

/// What the join found.
pub struct Joined {
    pub set: SetDigest,
    pub index: IndexWriter,
    /// For a delta: the records of the entries that go in, and what makes it a delta.
    pub delta: Option<(Vec<Record>, Delta)>,
    /// How many entries are new or differ from the base's.
    pub differing: u64,
}

fn broken_index(reason: String) -> Error {
    Error::io(
        "read the last export's index",
        std::io::Error::other(reason),
    )
}

/// The base's entries, one ahead.
struct Ahead<'a> {
    entries: Option<index::Entries<'a>>,
    next: Option<index::Entry>,
}

impl Ahead<'_> {
    fn advance(&mut self) -> Result<Option<index::Entry>> {
        let following = match &mut self.entries {
            Some(e) => e.next_entry().map_err(broken_index)?,
            None => None,
        };
        Ok(std::mem::replace(&mut self.next, following))
    }
}

/// Walks the sorted records with the base's index (when there is one).
pub fn join(sorted: &mut Sorted, base: Option<&BaseIndex>) -> Result<Joined> {
    let mut merge = sorted.merge()?;
    let mut old = Ahead {
        entries: base.map(BaseIndex::entries),
        next: None,
    };
    old.advance()?;
    let (mut set, mut index) = (SetDigest::default(), IndexWriter::default());
    let (mut held, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    let mut differing = 0;
    let write = |e: std::io::Error| Error::io("write the export's index", e);
    while let Some(r) = merge.next()? {
        while let Some(gone) = old.next.as_ref().filter(|p| p.key() < r.key()) {
            removed.push(was(gone));
            old.advance()?;
        }
        let prev = match &old.next {
            Some(p) if p.key() == r.key() => old.advance()?,
            _ => None,
        };
        let sha = match (r.carried, &prev) {
            (false, _) => sha_key(&r.sha256),
            (true, Some(p)) => p.sha,
            (true, None) => {
                return Err(broken_index(format!(
                    "{} was carried but is not in it",
                    r.name
                )));
            }
        };
        set.add(&r.name, &sha);
        index.push(r.kind, &r.name, &r.mark, &sha).map_err(write)?;
        let differs = !r.carried && prev.as_ref().is_none_or(|p| p.sha != sha);
        differing += u64::from(differs);
        let container = !r.carried && r.kind.stage() == Stage::Containers;
        if base.is_some() && (differs || container) {
            if let Some(p) = &prev {
                changed.push(was(p));
            }
            held.push(r);
        }
    }
    while let Some(gone) = old.advance()? {
        removed.push(was(&gone));
    }
    let delta = base.map(|b| {
        let base = Base {
            key: b.snapshot.clone(),
            set: b.set,
        };
        let delta = Delta {
            base,
            removed,
            changed,
        };
        (held, delta)
    });
    Ok(Joined {
        set,
        index,
        delta,
        differing,
    })
}

fn was(e: &index::Entry) -> Was {
    Was {
        name: e.name.clone(),
        was: e.sha,
    }
}

/// An entry as the manifest lists it and the archive holds it.
pub struct Listed {
    pub name: String,
    pub size: u64,
    pub sha256: [u8; 32],
    pub offset: u64,
}

/// The entries that go into the archive, in order: every record, or a delta's own.
pub enum Listing<'a> {
    Merge(Merge<'a>),
    Held(std::slice::Iter<'a, Record>),
}

impl Listing<'_> {
    pub fn next(&mut self) -> Result<Option<Listed>> {
        let listed = |r: &Record| Listed {
            name: r.name.clone(),
            size: r.size,
            sha256: r.sha256,
            offset: r.offset,
        };
        Ok(match self {
            Listing::Merge(m) => m.next()?.map(|r| listed(&r)),
            Listing::Held(h) => h.next().map(listed),
        })
    }
}

/// A fresh listing: `held` when the snapshot is a delta, else every record of `sorted`.
pub fn listing<'a>(held: Option<&'a [Record]>, sorted: &'a mut Sorted) -> Result<Listing<'a>> {
    match held {
        Some(h) => Ok(Listing::Held(h.iter())),
        None => sorted.merge().map(Listing::Merge),
    }
}
