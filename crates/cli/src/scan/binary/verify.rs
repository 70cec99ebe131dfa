//! Verifying a QScanner binary: its SHA-256 (of a file, of a `.sha256` file's first word, of
//! what is unpacked), gunzipping it into a new private file, and the ELF check that it runs
//! on this host's CPU.

use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Copies `src` into a new executable file `dst` (create_new, mode 0700), returning the SHA-256 of the bytes.
pub(super) fn copy_hashing(src: &mut impl Read, dst: &Path) -> io::Result<String> {
    let file = fs::OpenOptions::new().write(true).create_new(true).mode(0o700).open(dst)?;
    let mut out = BufWriter::new(file);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    out.flush()?;
    Ok(hex::encode(h.finalize()))
}

/// The first whitespace-separated word of a `.sha256` file, when it is 64 hex digits.
pub(super) fn parse_sha256_file(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?.to_ascii_lowercase();
    (word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit())).then_some(word)
}

pub(super) fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Gunzips `src` into a new executable file `dst`, or copies it when it is not gzip; returns the
/// SHA-256 of what was written.
pub(super) fn unpack(src: &Path, dst: &Path) -> io::Result<String> {
    let mut magic = [0u8; 2];
    let mut f = fs::File::open(src)?;
    let n = f.read(&mut magic)?;
    drop(f);
    if n == 2 && magic == [0x1f, 0x8b] {
        let input = io::BufReader::new(fs::File::open(src)?);
        let mut decoder = flate2::read::MultiGzDecoder::new(input);
        copy_hashing(&mut decoder, dst).map_err(|e| io::Error::new(e.kind(), format!("not a valid gzip file: {e}")))
    } else {
        copy_hashing(&mut fs::File::open(src)?, dst)
    }
}

/// ELF `e_machine` values of the architectures QScanner (and this runner) builds for.
const MACHINES: [(u16, &str); 8] = [
    (3, "x86 (i386)"),
    (62, "x86_64 (amd64)"),
    (40, "arm (32-bit)"),
    (183, "aarch64 (arm64)"),
    (21, "ppc64/ppc64le"),
    (22, "s390x"),
    (243, "riscv64"),
    (8, "mips"),
];

pub(super) fn machine_name(m: u16) -> String {
    MACHINES.iter().find(|(id, _)| *id == m).map_or_else(|| format!("machine {m}"), |(_, n)| n.to_string())
}

/// This host's ELF machine and class (1 = 32-bit, 2 = 64-bit), when known.
pub(super) fn host_machine() -> Option<(u16, u8)> {
    match std::env::consts::ARCH {
        "x86_64" => Some((62, 2)),
        "x86" => Some((3, 1)),
        "aarch64" => Some((183, 2)),
        "arm" => Some((40, 1)),
        "powerpc64" => Some((21, 2)),
        "s390x" => Some((22, 2)),
        "riscv64" => Some((243, 2)),
        _ => None,
    }
}

/// Checks that the header is a Linux-runnable ELF executable for `host` (machine, class).
pub(super) fn check_elf(header: &[u8], host: (u16, u8)) -> Result<(), String> {
    if header.len() >= 2 && header.starts_with(b"#!") {
        // A wrapper script: the interpreter decides; nothing to check.
        return Ok(());
    }
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return Err("it is not an ELF executable (no \\x7fELF header); expected a Linux QScanner binary".to_string());
    }
    let class = header[4];
    let machine = match header[5] {
        1 => u16::from_le_bytes([header[18], header[19]]),
        2 => u16::from_be_bytes([header[18], header[19]]),
        other => return Err(format!("its ELF header has an unknown byte order ({other})")),
    };
    if machine != host.0 || class != host.1 {
        return Err(format!(
            "it is built for {} ({}-bit) but this host is {} ({}-bit); download the QScanner build for this \
             platform (for example qscanner-linux-{}.gz)",
            machine_name(machine),
            if class == 1 { 32 } else { 64 },
            machine_name(host.0),
            if host.1 == 1 { 32 } else { 64 },
            if host.0 == 183 { "arm64" } else { "amd64" },
        ));
    }
    Ok(())
}

pub(super) fn check_platform_file(path: &Path) -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let Some(host) = host_machine() else {
        return Ok(());
    };
    let mut header = [0u8; 64];
    let mut f = fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let mut n = 0;
    while n < header.len() {
        match f.read(&mut header[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("cannot read it: {e}")),
        }
    }
    check_elf(&header[..n], host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(machine: u16, class: u8) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = 1;
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn elf_machine_check() {
        let amd64 = (62, 2);
        assert!(check_elf(&elf(62, 2), amd64).is_ok());
        let e = check_elf(&elf(183, 2), amd64).expect_err("arm64 on amd64");
        assert!(e.contains("aarch64") && e.contains("x86_64"), "{e}");
        assert!(check_elf(&elf(62, 1), amd64).is_err());
        assert!(check_elf(b"MZ\x90\x00", amd64).expect_err("PE").contains("not an ELF"));
        assert!(check_elf(b"", amd64).is_err());
        assert!(check_elf(b"#!/bin/sh\n", amd64).is_ok());
        let mut be = elf(62, 2);
        be[5] = 2;
        be[18..20].copy_from_slice(&62u16.to_be_bytes());
        assert!(check_elf(&be, amd64).is_ok());
        be[5] = 9;
        assert!(check_elf(&be, amd64).is_err());
    }

    #[test]
    fn sha256_files() {
        let s = "A".repeat(64);
        assert_eq!(parse_sha256_file(&format!("{s}  qscanner.gz\n")), Some(s.to_ascii_lowercase()));
        assert_eq!(parse_sha256_file("nope"), None);
        assert_eq!(parse_sha256_file(""), None);
    }
}
