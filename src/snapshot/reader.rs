//! Reads a snapshot archive and refuses anything but a well-formed one: the manifest first, only
//! regular entries with safe names, no duplicates, every size within limits, every sha256 as the
//! manifest says, every object allowed by the format and stored under its own name.
//!
//! `scan` is synchronous and streams: it holds one entry at a time, plus the manifest with 24 bytes
//! an entry (`Entries`). Entries must follow in the manifest's order.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use super::entries::{name_key, sha_key};
use super::format::{FORMAT_VERSION, MANIFEST_NAME, entry_name, kind_of, validate};
use super::manifest::Manifest;
use crate::hashing::Hashing;
use crate::objects::{Object, Parent};

/// Size limits that keep a hostile archive (a gzip or tar bomb) from exhausting the importer.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
    pub max_manifest_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entry_bytes: 32 << 20,
            max_total_bytes: 8 << 30,
            max_manifest_bytes: 256 << 20,
        }
    }
}

/// Why a snapshot was refused. Displayed after "snapshot X refused: ".
pub type Refusal = String;

/// One verified object, with the name and sha256 of the entry it came from.
pub struct Scanned {
    pub object: Object,
    pub entry: String,
    pub sha256: [u8; 32],
}

/// Parses the manifest as it streams by (it is the largest entry), with its sha256 (hex).
fn read_manifest<R: Read>(
    entry: &mut tar::Entry<R>,
    max: u64,
) -> Result<(Manifest, String, u64), Refusal> {
    let size = entry.size();
    if size > max {
        return Err(format!(
            "entry {MANIFEST_NAME} has {size} bytes, over the limit of {max}"
        ));
    }
    // Buffered outside the hash: the parser reads a byte at a time.
    let mut input = std::io::BufReader::with_capacity(1 << 16, Hashing::new(entry.take(size)));
    let manifest = serde_json::from_reader::<_, Manifest>(&mut input)
        .map_err(|e| format!("{MANIFEST_NAME} is not valid: {e}"))?;
    std::io::copy(&mut input, &mut std::io::sink()).map_err(corrupt)?;
    let (_, sha256, len) = input.into_inner().finish();
    if len != size {
        return Err(format!("entry {MANIFEST_NAME} is truncated"));
    }
    Ok((manifest, sha256, size))
}

/// What a complete scan found: the manifest and the sha256 (hex) of its bytes.
pub struct ScanEnd {
    pub manifest: Manifest,
    pub manifest_sha256: String,
}

/// Verifies the whole tar.gz read from `input`, handing each object to `on_object` after its entry
/// has been checked. `on_object` returns `false` to stop early (the caller went away).
///
/// With `signed_manifest` (the sha256 a signature vouches for), the manifest is checked before any
/// entry is handed out, so every object handed out matches a digest the signature covers.
pub fn scan(
    input: impl Read,
    limits: Limits,
    signed_manifest: Option<&str>,
    mut on_object: impl FnMut(Scanned) -> bool,
) -> Result<ScanEnd, Refusal> {
    let mut gz = GzDecoder::new(input);
    let end = {
        let mut archive = tar::Archive::new(&mut gz);
        let mut entries = archive.entries().map_err(corrupt)?;
        let mut first = entries.next().ok_or("archive is empty")?.map_err(corrupt)?;
        if entry_path(&first)? != MANIFEST_NAME {
            return Err(format!("first entry is not {MANIFEST_NAME}"));
        }
        let (manifest, manifest_sha256, manifest_size) =
            read_manifest(&mut first, limits.max_manifest_bytes)?;
        check_manifest(&manifest, &manifest_sha256, signed_manifest)?;
        let mut tally = Tally::new(manifest_size, manifest.entries.listed_twice());
        for entry in entries {
            let scanned = tally.check(&manifest, &mut entry.map_err(corrupt)?, limits)?;
            if !on_object(scanned) {
                return Err("import stopped".into());
            }
        }
        tally.finish(&manifest)?;
        ScanEnd {
            manifest,
            manifest_sha256,
        }
    };
    // Read to the end so that gzip checks its trailer (CRC and length).
    std::io::copy(&mut gz, &mut std::io::sink()).map_err(corrupt)?;
    Ok(end)
}

/// The manifest alone, from the head of the archive: gunzips only until its first entry is read,
/// and checks nothing but its shape. What it says is unverified (`list` shows it as such).
pub fn read_head(input: impl Read, limits: Limits) -> Result<Manifest, Refusal> {
    let mut archive = tar::Archive::new(GzDecoder::new(input));
    let mut entries = archive.entries().map_err(corrupt)?;
    let mut first = entries.next().ok_or("archive is empty")?.map_err(corrupt)?;
    if entry_path(&first)? != MANIFEST_NAME {
        return Err(format!("first entry is not {MANIFEST_NAME}"));
    }
    let (manifest, _, _) = read_manifest(&mut first, limits.max_manifest_bytes)?;
    Ok(manifest)
}

/// Refuses a manifest that is not the signed one, or of another format version. (A name listed
/// twice is refused where the archive holds it the second time: the manifest keeps no names.)
fn check_manifest(
    manifest: &Manifest,
    sha256: &str,
    signed_manifest: Option<&str>,
) -> Result<(), Refusal> {
    if signed_manifest.is_some_and(|signed| signed != sha256) {
        return Err("its manifest is not the one that was signed".into());
    }
    if !(1..=FORMAT_VERSION).contains(&manifest.format_version) {
        return Err(format!(
            "format version {} is not supported (this build reads 1 to {FORMAT_VERSION})",
            manifest.format_version
        ));
    }
    if manifest.format_version < 2 && (manifest.set.is_some() || manifest.delta.is_some()) {
        return Err("a format 1 manifest cannot hold a set digest or a delta".into());
    }
    manifest.check_set()
}

/// What the entries read so far add up to, checked against the manifest at the end.
struct Tally {
    /// The manifest's entry the next one must be: entries follow in the manifest's order
    /// (docs/format.md), so each is checked against the next one listed, with no index of names.
    next: usize,
    namespaces: Vec<String>,
    total: u64,
    counts: HashMap<&'static str, u64>,
    /// Name hashes the manifest lists more than once, and the names met so far that have one.
    twice: (Vec<u64>, HashSet<String>),
}

impl Tally {
    fn new(manifest_size: u64, twice: Vec<u64>) -> Self {
        Tally {
            next: 0,
            namespaces: Vec::new(),
            total: manifest_size,
            counts: HashMap::new(),
            twice: (twice, HashSet::new()),
        }
    }

    /// Checks one entry against the manifest's next one and the limits; returns its object.
    fn check<R: Read>(
        &mut self,
        manifest: &Manifest,
        entry: &mut tar::Entry<R>,
        limits: Limits,
    ) -> Result<Scanned, Refusal> {
        let name = entry_path(entry)?;
        let i = self.next;
        let key = name_key(&name);
        let Some(exp) = manifest.entries.get(i).filter(|e| e.name == key) else {
            return Err(misplaced(manifest, i, &name));
        };
        self.next += 1;
        let (twice, met) = &mut self.twice;
        if twice.binary_search(&key).is_ok() && !met.insert(name.clone()) {
            return Err(format!("{MANIFEST_NAME} lists entry {name} twice"));
        }
        let data = read_entry(entry, &name, limits.max_entry_bytes)?;
        self.total += data.len() as u64;
        if self.total > limits.max_total_bytes {
            return Err(format!(
                "archive expands past the limit of {} bytes",
                limits.max_total_bytes
            ));
        }
        let sha256: [u8; 32] = Sha256::digest(&data).into();
        if sha_key(&sha256) != exp.sha {
            return Err(format!("entry {name} does not match its sha256"));
        }
        let object = parse_object(&name, &data)?;
        *self.counts.entry(object.kind().as_str()).or_default() += 1;
        if let Some(Parent::Namespace(path)) = object.as_parent() {
            self.namespaces.push(path);
        }
        Ok(Scanned {
            object,
            entry: name,
            sha256,
        })
    }

    /// Refuses an archive that lacks an entry, or whose namespaces or counts are not the
    /// manifest's.
    fn finish(mut self, manifest: &Manifest) -> Result<(), Refusal> {
        if self.next < manifest.entries.len() {
            return Err(format!(
                "{MANIFEST_NAME} lists {} entries, the archive holds {}",
                manifest.entries.len(),
                self.next
            ));
        }
        self.namespaces.sort();
        // A delta holds the namespaces that changed; its manifest lists all of them.
        let listed = match manifest.is_delta() {
            true => self
                .namespaces
                .iter()
                .all(|n| manifest.namespaces.binary_search(n).is_ok()),
            false => self.namespaces == manifest.namespaces,
        };
        if !listed {
            return Err(format!(
                "{MANIFEST_NAME} lists namespaces {:?}, the archive holds {:?}",
                manifest.namespaces, self.namespaces
            ));
        }
        for (kind, n) in &manifest.counts {
            let actual = self.counts.get(kind.as_str()).copied().unwrap_or(0);
            if actual != *n {
                return Err(format!(
                    "{MANIFEST_NAME} counts {n} {kind} objects, the archive holds {actual}"
                ));
            }
        }
        Ok(())
    }
}

/// The object entry `name` holds, if the format allows it and it is stored under its own name.
fn parse_object(name: &str, data: &[u8]) -> Result<Object, Refusal> {
    let obj: Object = serde_json::from_slice(data)
        .map_err(|e| format!("entry {name} is not a valid object: {e}"))?;
    validate(&obj).map_err(|r| format!("entry {name}: {r}"))?;
    if entry_name(&obj) != name || kind_of(name) != Some(obj.kind()) {
        return Err(format!(
            "entry {name} holds {} {}, which belongs at {}",
            obj.kind(),
            obj.path(),
            entry_name(&obj)
        ));
    }
    Ok(obj)
}

/// Why entry `name` cannot be the manifest's entry `i`.
fn misplaced(manifest: &Manifest, i: usize, name: &str) -> Refusal {
    let at = manifest.entries.position(name);
    match at {
        Some(j) if j < i => format!("entry {name} appears twice"),
        Some(_) => format!("entry {name} is not where {MANIFEST_NAME} lists it"),
        None => format!("entry {name} is not in {MANIFEST_NAME}"),
    }
}

fn corrupt(e: std::io::Error) -> Refusal {
    format!("archive is corrupt or truncated: {e}")
}

/// The entry's name, if it is a regular file with a safe relative UTF-8 name.
fn entry_path<R: Read>(entry: &tar::Entry<R>) -> Result<String, Refusal> {
    let raw = entry.path_bytes();
    let name = std::str::from_utf8(&raw)
        .map_err(|_| "an entry name is not UTF-8".to_string())?
        .to_string();
    if !matches!(
        entry.header().entry_type(),
        tar::EntryType::Regular | tar::EntryType::Continuous
    ) {
        return Err(format!("entry {name} is not a regular file"));
    }
    if name.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(format!("entry name {name:?} is not allowed"));
    }
    Ok(name)
}

fn read_entry<R: Read>(
    entry: &mut tar::Entry<R>,
    name: &str,
    max: u64,
) -> Result<Vec<u8>, Refusal> {
    if entry.size() > max {
        return Err(format!(
            "entry {name} has {} bytes, over the limit of {max}",
            entry.size()
        ));
    }
    let mut data = Vec::with_capacity(entry.size() as usize);
    entry
        .take(max + 1)
        .read_to_end(&mut data)
        .map_err(corrupt)?;
    if data.len() as u64 != entry.size() {
        return Err(format!("entry {name} is truncated"));
    }
    Ok(data)
}
