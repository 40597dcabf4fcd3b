//! Certificates made with Debian's `openssl` for the tests that need a PKI: a SIEM's TLS
//! receiver, a timestamp authority.

use std::path::Path;
use std::process::Command;

/// Runs `openssl ARGS` in `dir`; panics with its error output when it fails.
pub fn run(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl (Debian's openssl package) cannot run: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A self-signed CA `NAME.pem` with its key `NAME.key` (RSA 2048), in `dir`.
pub fn ca(dir: &Path, name: &str) {
    run(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=pitcrew test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A certificate `NAME.pem` (key `NAME.key`, `key_type` as `-newkey` takes it) for `subject`,
/// signed by the CA `ca` in `dir`, with the X.509 extensions `extensions` (openssl's syntax,
/// one per line).
pub fn issue(dir: &Path, ca: &str, name: &str, key_type: &[&str], subject: &str, extensions: &str) {
    let mut req = vec!["req", "-newkey"];
    req.extend_from_slice(key_type);
    let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
    req.extend_from_slice(&["-nodes", "-keyout", &key, "-out", &csr, "-subj", subject]);
    run(dir, &req);
    let ext = format!("{name}.ext");
    std::fs::write(dir.join(&ext), extensions).expect("write the extensions");
    let (ca_pem, ca_key, pem) = (
        format!("{ca}.pem"),
        format!("{ca}.key"),
        format!("{name}.pem"),
    );
    run(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}
