//! Reads a snapshot archive and refuses anything but a well-formed one: the manifest first, only
//! regular entries with safe names, no duplicates, every size within limits, every sha256 as the
//! manifest says, every object allowed by the format and stored under its own name.
//!
//! `scan` is synchronous and streams: it holds one entry at a time, plus the manifest. Entries
//! must follow in the manifest's order.

use std::collections::HashMap;
use std::io::Read;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use super::format::{FORMAT_VERSION, MANIFEST_NAME, entry_name, kind_of, validate};
use super::manifest::Manifest;
use crate::hashing::Hashing;
use crate::objects::Object;

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
    let mut input = Hashing::new(std::io::BufReader::new(entry.take(size)));
    let mut manifest = serde_json::from_reader::<_, Manifest>(&mut input)
        .map_err(|e| format!("{MANIFEST_NAME} is not valid: {e}"))?;
    // The list grew by doubling; up to half of it would be slack for the rest of the import.
    manifest.entries.shrink_to_fit();
    std::io::copy(&mut input, &mut std::io::sink()).map_err(corrupt)?;
    let (_, sha256, len) = input.finish();
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
    let manifest;
    let manifest_sha256;
    {
        let mut archive = tar::Archive::new(&mut gz);
        let mut entries = archive.entries().map_err(corrupt)?;

        let mut first = entries.next().ok_or("archive is empty")?.map_err(corrupt)?;
        if entry_path(&first)? != MANIFEST_NAME {
            return Err(format!("first entry is not {MANIFEST_NAME}"));
        }
        let manifest_size;
        (manifest, manifest_sha256, manifest_size) =
            read_manifest(&mut first, limits.max_manifest_bytes)?;
        if signed_manifest.is_some_and(|signed| signed != manifest_sha256) {
            return Err("its manifest is not the one that was signed".into());
        }
        if manifest.format_version != FORMAT_VERSION {
            return Err(format!(
                "format version {} is not supported (this build reads {FORMAT_VERSION})",
                manifest.format_version
            ));
        }
        if let Some(name) = listed_twice(&manifest) {
            return Err(format!("{MANIFEST_NAME} lists entry {name} twice"));
        }
        // The entries follow in the manifest's order (docs/format.md), so each is checked against
        // the next one listed, with no index of names.
        let mut next = 0;

        let mut namespaces = Vec::new();
        let mut total = manifest_size;
        let mut counts: HashMap<&'static str, u64> = HashMap::new();
        for entry in entries {
            let mut entry = entry.map_err(corrupt)?;
            let name = entry_path(&entry)?;
            let i = next;
            if manifest.entries.get(i).is_none_or(|e| e.name != name) {
                return Err(misplaced(&manifest, i, &name));
            }
            next += 1;
            let exp = &manifest.entries[i];
            if entry.size() != exp.size {
                return Err(format!(
                    "entry {name} has {} bytes, {MANIFEST_NAME} says {}",
                    entry.size(),
                    exp.size
                ));
            }
            let data = read_entry(&mut entry, &name, limits.max_entry_bytes)?;
            total += data.len() as u64;
            if total > limits.max_total_bytes {
                return Err(format!(
                    "archive expands past the limit of {} bytes",
                    limits.max_total_bytes
                ));
            }
            let sha256: [u8; 32] = Sha256::digest(&data).into();
            if sha256 != exp.sha256 {
                return Err(format!("entry {name} does not match its sha256"));
            }
            let obj: Object = serde_json::from_slice(&data)
                .map_err(|e| format!("entry {name} is not a valid object: {e}"))?;
            validate(&obj).map_err(|r| format!("entry {name}: {r}"))?;
            if entry_name(&obj) != name || kind_of(&name) != Some(obj.kind()) {
                return Err(format!(
                    "entry {name} holds {} {}, which belongs at {}",
                    obj.kind(),
                    obj.path(),
                    entry_name(&obj)
                ));
            }
            *counts.entry(obj.kind().as_str()).or_default() += 1;
            if let Object::Namespace(n) = &obj {
                namespaces.push(n.path.clone());
            }
            let scanned = Scanned {
                object: obj,
                entry: name,
                sha256,
            };
            if !on_object(scanned) {
                return Err("import stopped".into());
            }
        }
        if let Some(missing) = manifest.entries.get(next) {
            let name = &missing.name;
            return Err(format!(
                "entry {name} is in {MANIFEST_NAME} but not in the archive"
            ));
        }
        namespaces.sort();
        if namespaces != manifest.namespaces {
            return Err(format!(
                "{MANIFEST_NAME} lists namespaces {:?}, the archive holds {:?}",
                manifest.namespaces, namespaces
            ));
        }
        for (kind, n) in &manifest.counts {
            let actual = counts.get(kind.as_str()).copied().unwrap_or(0);
            if actual != *n {
                return Err(format!(
                    "{MANIFEST_NAME} counts {n} {kind} objects, the archive holds {actual}"
                ));
            }
        }
    }
    // Read to the end so that gzip checks its trailer (CRC and length).
    std::io::copy(&mut gz, &mut std::io::sink()).map_err(corrupt)?;
    Ok(ScanEnd {
        manifest,
        manifest_sha256,
    })
}

/// A name the manifest lists more than once.
fn listed_twice(manifest: &Manifest) -> Option<String> {
    let mut names: Vec<&str> = manifest.entries.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    names
        .windows(2)
        .find(|w| w[0] == w[1])
        .map(|w| w[0].to_string())
}

/// Why entry `name` cannot be the manifest's entry `i`.
fn misplaced(manifest: &Manifest, i: usize, name: &str) -> Refusal {
    let at = manifest.entries.iter().position(|e| e.name == name);
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
