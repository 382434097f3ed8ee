//! An archive is parsed only once its signature verifies over the object's raw bytes: whoever can
//! write to the bucket can encrypt anything to DR's recipient (age does not say who encrypted),
//! and must not get to feed gzip, tar or the manifest's parser in the 512Mi import pod. Each
//! hostile archive below sits under a signed snapshot's name, with that snapshot's signature (or
//! none), and `latest.json` repointed at it: refused on one line, with exit 4, in bounded memory,
//! and nothing written.

use std::io::Write;

use tar::EntryType;

use super::support::sealed::{
    Exported, assert_refused, fill, pad, plant, replicator_peak, tar_header,
};
use super::support::{Bao, env_for, file_store};

/// Far below the import pod's 512Mi limit; what a refused import of a small snapshot peaks at is
/// a few tens of MiB.
const MAX_PEAK_KIB: u64 = 128 << 10;

/// A GNU long-name header whose name is 640 MiB long: the tar reader holds a name whole.
fn long_name(out: &mut dyn Write) -> std::io::Result<()> {
    let n = 640 << 20;
    out.write_all(&tar_header(EntryType::GNULongName, "././@LongLink", n))?;
    fill(out, n, b'a')?;
    pad(out, n)
}

/// A manifest of 240 MiB, under the 256 MiB limit, that is one long list of small objects: each
/// becomes an allocation of its own once parsed.
fn huge_manifest(out: &mut dyn Write) -> std::io::Result<()> {
    let item = br#"{"kind":"kv_secret","path":"p","reason":"r"},"#;
    let (head, tail) = (&br#"{"not_copied":["#[..], &br#"{}]}"#[..]);
    let items = (240u64 << 20) / item.len() as u64;
    let n = head.len() as u64 + items * item.len() as u64 + tail.len() as u64;
    out.write_all(&tar_header(EntryType::Regular, "manifest.json", n))?;
    out.write_all(head)?;
    let block: Vec<u8> = item.repeat(1 << 14);
    for _ in 0..items >> 14 {
        out.write_all(&block)?;
    }
    out.write_all(&item.repeat((items & ((1 << 14) - 1)) as usize))?;
    out.write_all(tail)?;
    pad(out, n)
}

/// A gzip bomb: 250 MiB of JSON white space in the manifest, from a few hundred KiB of gzip.
fn gzip_bomb(out: &mut dyn Write) -> std::io::Result<()> {
    let n = 250 << 20;
    out.write_all(&tar_header(EntryType::Regular, "manifest.json", n + 2))?;
    fill(out, n, b' ')?;
    out.write_all(b"{}")?;
    pad(out, n + 2)
}

// #25 (8): the archive was decrypted, inflated and parsed while its signature was still being
// checked over the same stream.
#[test]
fn a_hostile_archive_under_a_signed_name_is_refused_unparsed_in_bounded_memory() {
    let (src, dst) = (Bao::start(), Bao::start());
    let exp = Exported::new(&src);
    type Archive = fn(&mut dyn Write) -> std::io::Result<()>;
    let cases: [(&str, Archive); 3] = [
        ("a 640 MiB tar long name", long_name),
        ("a 240 MiB manifest", huge_manifest),
        ("a gzip bomb", gzip_bomb),
    ];
    let mut peaks = Vec::new();
    for (case, archive) in cases {
        let d = exp.copy();
        plant(d.path(), &exp.key, archive);
        let env = env_for(&dst, &file_store(d.path()), &[]);
        let (run, peak) = replicator_peak(&["import"], &env);
        eprintln!("{case}: exit {}, peak RSS {} MiB", run.code, peak >> 10);
        assert_refused(&run, &dst, "does not verify");
        peaks.push((case, peak));

        // Unsigned: refused before a byte of it is read.
        std::fs::remove_file(d.path().join(format!("{}.minisig", exp.key))).unwrap();
        let (run, peak) = replicator_peak(&["import"], &env);
        assert_refused(&run, &dst, "not signed");
        peaks.push((case, peak));
    }
    for (case, peak) in peaks {
        assert!(
            peak < MAX_PEAK_KIB,
            "{case}: the refused import peaked at {} MiB",
            peak >> 10
        );
    }
}
