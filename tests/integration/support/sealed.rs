//! Helpers of the sealing tests: a sealed export in a file store, and the stock `age` /
//! `minisign` tools to open, alter and re-seal its archive as an attacker with the keys would.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use vault_replicator::snapshot::SetDigest;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Bao, Keys, Run, env_for, file_store, keys, replicator};

pub const VALUE: &str = "sealed-value-0451";

/// A source cluster exported into a file store.
pub struct Exported {
    pub dir: tempfile::TempDir,
    pub key: String,
}

impl Exported {
    pub fn new(src: &Bao) -> Exported {
        src.kv_put("secret", "app", json!({"pw": VALUE}));
        let dir = tempfile::tempdir().unwrap();
        replicator(&["export"], &env_for(src, &file_store(dir.path()), &[])).assert_code(0);
        let key = latest(dir.path())["key"].as_str().unwrap().to_string();
        Exported { dir, key }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join(&self.key)
    }

    /// A copy of the store, to tamper with.
    pub fn copy(&self) -> tempfile::TempDir {
        let copy = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(self.dir.path()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), copy.path().join(e.file_name())).unwrap();
        }
        copy
    }
}

pub fn latest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("latest.json")).unwrap()).unwrap()
}

/// Points `latest.json` at `key`, with that object's true digest, as a bucket writer could.
pub fn repoint(dir: &Path, key: &str) {
    let bytes = std::fs::read(dir.join(key)).unwrap();
    let mut p = latest(dir);
    p["key"] = json!(key);
    p["sha256"] = json!(hex::encode(Sha256::digest(&bytes)));
    p["size"] = json!(bytes.len());
    std::fs::write(dir.join("latest.json"), serde_json::to_vec(&p).unwrap()).unwrap();
}

pub fn import(dst: &Bao, dir: &Path, extra: &[(&str, &str)]) -> Run {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    replicator(&["import"], &env_for(dst, &file_store(dir), &extra))
}

/// Exit 4, the reason on the last line, and not one write on the target.
pub fn assert_refused(run: &Run, dst: &Bao, reason: &str) {
    run.assert_code(4);
    let line = run.last_error_line();
    assert!(
        line.contains("refused") && line.contains(reason),
        "want `{reason}`: {line}"
    );
    assert!(dst.kv_keys("secret").is_empty(), "a secret was written");
    let mounts = dst.read("sys/mounts").unwrap();
    assert!(
        mounts["data"].get("vault-replicator/").is_none(),
        "state was written"
    );
}

pub fn tool(cmd: &mut Command, stdin: &[u8]) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tool");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // Fed from a thread: a tool that writes as it reads would otherwise fill its stdout pipe.
    let feeder = std::thread::spawn(move || input.write_all(&data));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn age_decrypt(path: &Path, keys: &Keys) -> Vec<u8> {
    let id = keys.dir.join("age.key");
    tool(
        Command::new("age").args(["-d", "-i"]).arg(&id).arg(path),
        b"",
    )
}

pub fn entries(targz: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(targz));
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push((name, data));
    }
    out
}

/// A tar.gz with the names exactly as given (the tar crate would refuse `..`).
pub fn raw_targz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, data) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append(&h, data.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// Adds (or corrects) an entry's line in the manifest, the first entry.
pub fn list_in_manifest(entries: &mut [(String, Vec<u8>)], name: &str, data: &[u8]) {
    let mut m: Value = serde_json::from_slice(&entries[0].1).unwrap();
    let sha = Sha256::digest(data);
    let list = m["entries"].as_array_mut().unwrap();
    let was = list.iter().find(|e| e["name"] == name).cloned();
    list.retain(|e| e["name"] != name);
    list.push(json!({"name": name, "size": data.len(), "sha256": hex::encode(sha)}));
    // The set's digest follows, as an exporter holding the signing key would make it: the
    // archive is refused for what it holds, not for a sum that does not add up.
    if let Some(set) = m["set"].as_str().and_then(SetDigest::from_hex) {
        let mut set = set;
        let sha16 =
            |hex_sha: &str| -> [u8; 16] { hex::decode(hex_sha).unwrap()[..16].try_into().unwrap() };
        if let Some(was) = was {
            set.remove(name, &sha16(was["sha256"].as_str().unwrap()));
        }
        set.add(name, &sha16(&hex::encode(sha)));
        m["set"] = json!(set.to_hex());
    }
    entries[0].1 = serde_json::to_vec_pretty(&m).unwrap();
}

/// Replaces the snapshot in `dir` with `entries`, encrypted with the stock `age` and signed with
/// the stock `minisign` using the trusted key: what a compromised exporter could produce.
pub fn reseal(dir: &Path, key: &str, entries: &[(String, Vec<u8>)]) {
    let k = keys();
    let targz = raw_targz(entries);
    let obj = dir.join(key);
    let sealed = tool(Command::new("age").args(["-r", &k.recipient]), &targz);
    std::fs::write(&obj, sealed).unwrap();
    // The export's own claims (source, time), with this store and the new digests.
    let sig = std::fs::read_to_string(dir.join(format!("{key}.minisig"))).unwrap();
    let kept: Vec<&str> = sig
        .lines()
        .find_map(|l| l.strip_prefix("trusted comment: "))
        .unwrap()
        .split('\t')
        .filter(|f| {
            !["archive_sha256:", "manifest_sha256:", "prefix:", "store:"]
                .iter()
                .any(|p| f.starts_with(p))
        })
        .collect();
    let comment = format!(
        "{}\tarchive_sha256:{}\tmanifest_sha256:{}\tprefix:{}\tstore:file://{}",
        kept.join("\t"),
        hex::encode(Sha256::digest(&targz)),
        hex::encode(Sha256::digest(&entries[0].1)),
        dir.display(),
        dir.display(),
    );
    sign_with(&k.dir.join("signing.key"), &obj, &comment);
    repoint(dir, key);
}

pub fn sign_with(secret_key: &Path, obj: &Path, comment: &str) {
    tool(
        Command::new("minisign")
            .args(["-S", "-s"])
            .arg(secret_key)
            .arg("-m")
            .arg(obj)
            .args(["-t", comment]),
        b"",
    );
}

/// Replaces the snapshot `key` in `dir` with the tar stream `tar` writes, gzipped by the stock
/// `gzip` and encrypted by the stock `age` to DR's recipient, as anyone who can write to the
/// bucket can (age does not say who encrypted). Its signature is left as it was; `latest.json`
/// is repointed at the new bytes.
pub fn plant(dir: &Path, key: &str, tar: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let obj = dir.join(key);
    let script = format!(
        "gzip -1 | age -r {} -o '{}'",
        keys().recipient,
        obj.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .expect("gzip | age");
    let mut input = child.stdin.take().unwrap();
    tar(&mut input).expect("write the hostile archive");
    drop(input);
    assert!(child.wait().unwrap().success(), "gzip | age failed");
    repoint(dir, key);
}

/// A 512-byte tar header: GNU format, `kind`, `name`, `size` bytes of content.
pub fn tar_header(kind: tar::EntryType, name: &str, size: u64) -> [u8; 512] {
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_size(size);
    h.set_mode(0o600);
    h.set_entry_type(kind);
    h.set_cksum();
    *h.as_bytes()
}

/// Writes `n` bytes of `fill`.
pub fn fill(out: &mut dyn Write, n: u64, fill: u8) -> std::io::Result<()> {
    let block = vec![fill; 1 << 20];
    let mut left = n;
    while left > 0 {
        let now = left.min(block.len() as u64) as usize;
        out.write_all(&block[..now])?;
        left -= now as u64;
    }
    Ok(())
}

/// The zeros that pad `n` bytes of content to a tar block.
pub fn pad(out: &mut dyn Write, n: u64) -> std::io::Result<()> {
    out.write_all(&vec![0u8; ((512 - n % 512) % 512) as usize])
}

/// Runs the real binary to the end, and its peak resident memory in KiB: the highest `VmHWM`
/// its own image showed while it ran, read every few milliseconds. Not the kernel's `ru_maxrss`:
/// that counts the test process's memory too, which the child shared between fork and exec.
pub fn replicator_peak(args: &[&str], env: &[(String, String)]) -> (Run, u64) {
    let child = super::command(args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vault-replicator");
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watching = done.clone();
    let watcher = std::thread::spawn(move || {
        let mut peak = 0;
        while !watching.load(std::sync::atomic::Ordering::SeqCst) {
            peak = peak.max(own_hwm_kib(pid).unwrap_or(0));
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        peak
    });
    let run = super::finish(child.wait_with_output().expect("run vault-replicator"));
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    (run, watcher.join().unwrap())
}

/// `VmHWM` of process `pid` once it runs the tool's own image (before exec it is a copy of the
/// test process).
fn own_hwm_kib(pid: u32) -> Option<u64> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    if !comm.starts_with("vault-replicat") {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
