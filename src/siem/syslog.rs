//! One audit event as an RFC 5424 syslog message, framed by octet counting (RFC 6587 3.4.1:
//! `LENGTH SP MESSAGE`), as rsyslog's `imtcp` and every SIEM's syslog input read it.
//!
//! The header says when, where and what (`MSGID` is the phase); the structured data carries the
//! event's id, hash and the chain link (`[pitcrew@32473 id="42" hash="…" prev="…" …]`), so a
//! receiver de-duplicates by id and can check the chain; the message body is the whole event as
//! JSON. Text typed by people reaches the message only inside JSON strings and escaped SD
//! parameter values; control characters never pass. Audit events hold no secrets.

use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::audit::Record;
use crate::config::SyslogConfig;

/// How long after a write the connection must still be open for the batch to count: a
/// receiver that stopped closes it, and what it had not read yet is lost with it.
const SETTLE: Duration = Duration::from_millis(300);

/// A connection, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

/// RFC 5424 over TCP (or TLS, RFC 5425) to `[audit.syslog]`, one connection kept open.
pub struct SyslogSink {
    cfg: SyslogConfig,
    hostname: String,
    conn: Option<Box<dyn Io>>,
}

/// The TLS client for `cfg`: its `ca_file`'s certificates as the only roots, or the system's.
fn tls_connector(cfg: &SyslogConfig) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls_pki_types::pem::PemObject;
    crate::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    match &cfg.ca_file {
        Some(file) => {
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(file)
                .map_err(|e| format!("reading {}: {e}", file.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("reading {}: {e}", file.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("a certificate in {}: {e}", file.display()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system certificate rustls cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

impl SyslogSink {
    pub fn new(cfg: SyslogConfig) -> SyslogSink {
        let hostname = cfg
            .hostname
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "pitcrew".into());
        SyslogSink {
            cfg,
            hostname,
            conn: None,
        }
    }

    async fn connect(&self) -> Result<Box<dyn Io>, String> {
        let address = &self.cfg.address;
        let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(address))
            .await
            .map_err(|_| format!("connecting to {address} timed out"))?
            .map_err(|e| format!("cannot connect to {address}: {e}"))?;
        if !self.cfg.tls {
            return Ok(Box::new(tcp));
        }
        let host = address
            .rsplit_once(':')
            .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
            .unwrap_or(address);
        let name = rustls_pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| format!("{host} is not a TLS server name: {e}"))?;
        let tls = tokio::time::timeout(
            Duration::from_secs(5),
            tls_connector(&self.cfg)?.connect(name, tcp),
        )
        .await
        .map_err(|_| format!("the TLS handshake with {address} timed out"))?
        .map_err(|e| format!("TLS with {address}: {e}"))?;
        Ok(Box::new(tls))
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let address = self.cfg.address.clone();
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
        }
        let Some(stream) = self.conn.as_mut() else {
            return Err(format!("no connection to {address}"));
        };
        stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("writing to {address}: {e}"))?;
        stream
            .flush()
            .await
            .map_err(|e| format!("writing to {address}: {e}"))?;
        // A receiver sends nothing back; a closed connection reads as end of file.
        let mut probe = [0u8; 1];
        match tokio::time::timeout(SETTLE, stream.read(&mut probe)).await {
            Err(_) | Ok(Ok(1..)) => Ok(()),
            Ok(Ok(0)) => Err(format!("{address} closed the connection")),
            Ok(Err(e)) => Err(format!("{address}: {e}")),
        }
    }
}

impl super::Sink for SyslogSink {
    fn name(&self) -> &'static str {
        "syslog"
    }

    fn send<'a>(&'a mut self, events: &'a [Record]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut bytes = Vec::new();
            for e in events {
                bytes.extend(frame(e, &self.cfg, &self.hostname));
            }
            let sent = self.write(&bytes).await;
            if sent.is_err() {
                // Reconnect next time; the batch is sent again from the cursor.
                self.conn = None;
            }
            sent
        })
    }
}

/// The private enterprise number in the SD-ID (`pitcrew@32473`: 32473 is IANA's number
/// reserved for documentation and examples, RFC 5612).
const SD_ID: &str = "pitcrew@32473";

/// RFC 5424 severities: 4 warning for refusals and failures, 5 notice for the rest.
fn severity(phase: &str) -> u8 {
    match phase {
        "denied" | "failed" | "interrupted" => 4,
        _ => 5,
    }
}

/// An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 6.3.3), control characters replaced.
fn param(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A header field: printable ASCII without spaces (RFC 5424's PRINTUSASCII), `-` when empty.
fn header(value: &str, max: usize) -> String {
    let v: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() { "-".into() } else { v }
}

/// The framed message for `r`.
pub fn frame(r: &Record, cfg: &SyslogConfig, hostname: &str) -> Vec<u8> {
    let pri = u16::from(cfg.facility) * 8 + u16::from(severity(&r.phase));
    let mut sd = format!(
        "[{SD_ID} id=\"{}\" hash=\"{}\" prev=\"{}\" correlation=\"{}\" actor=\"{}\"",
        r.id,
        param(&r.hash),
        param(&r.prev_hash),
        param(&r.correlation),
        param(&r.actor_id)
    );
    for (k, v) in [
        ("action", &r.action),
        ("env", &r.env),
        ("reason", &r.reason),
    ] {
        if let Some(v) = v {
            sd.push_str(&format!(" {k}=\"{}\"", param(v)));
        }
    }
    sd.push(']');
    // serde_json escapes every control character in strings; the body is one line.
    let body = serde_json::to_string(r).unwrap_or_default();
    let message = format!(
        "<{pri}>1 {} {} {} - {} {sd} {body}",
        header(&r.at, 64),
        header(hostname, 255),
        header(&cfg.app_name, 48),
        header(&r.phase, 32),
    );
    let mut framed = format!("{} ", message.len()).into_bytes();
    framed.extend_from_slice(message.as_bytes());
    framed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            id: 7,
            at: "2026-12-05T09:00:00.123Z".into(),
            correlation: "c-1".into(),
            phase: "denied".into(),
            actor_id: "U01ALICE".into(),
            command_text: "restart x --break-glass \"a]b\\c\nd\"".into(),
            env: Some("prod".into()),
            reason: Some("x\"]".into()),
            hash: "h".into(),
            prev_hash: "p".into(),
            actor_name: None,
            team: None,
            channel: None,
            action: None,
            cluster: None,
            namespace: None,
            kind: None,
            name: None,
            detail: "{}".into(),
        }
    }

    #[test]
    fn a_message_is_framed_escaped_and_one_line() {
        let cfg = SyslogConfig {
            address: "127.0.0.1:514".into(),
            app_name: "pitcrew".into(),
            hostname: None,
            facility: 13,
            tls: false,
            ca_file: None,
        };
        let framed = String::from_utf8(frame(&record(), &cfg, "host 1")).unwrap();
        let (len, message) = framed.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), message.len());
        // facility 13, warning: 13 * 8 + 4.
        assert!(
            message.starts_with(
                "<108>1 2026-12-05T09:00:00.123Z host1 pitcrew - denied [pitcrew@32473 id=\"7\""
            ),
            "{message}"
        );
        assert!(message.contains(r#"reason="x\"\]""#), "{message}");
        assert!(!message.contains('\n'), "one line: {message}");
    }
}
