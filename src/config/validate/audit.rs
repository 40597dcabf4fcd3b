//! `[audit.syslog]`: where the trail is streamed, checked for what RFC 5424 allows in its
//! header fields.

use super::*;
use crate::config::SyslogConfig;
use crate::config::file::SyslogSection;

/// RFC 5424's PRINTUSASCII, 1 to `max` characters.
fn header_field(value: &str, max: usize) -> bool {
    (1..=max).contains(&value.len()) && value.bytes().all(|b| (33..=126).contains(&b))
}

pub(super) fn syslog(
    loc: &Locator<'_>,
    base: &Path,
    s: &SyslogSection,
    problems: &mut Vec<Problem>,
) -> Option<SyslogConfig> {
    let key = |k: &'static str| ["audit", "syslog", k];
    let mut ok = true;
    let port = s.address.rsplit_once(':').and_then(|(host, port)| {
        (!host.is_empty()).then_some(())?;
        port.parse::<u16>().ok().filter(|p| *p > 0)
    });
    if port.is_none() {
        ok = false;
        problems.push(loc.problem(
            &key("address"),
            format!(
                "`{}` is not HOST:PORT; write it like \"siem.example.com:514\" (TCP, RFC 6587 octet counting)",
                s.address
            ),
        ));
    }
    let app_name = s.app_name.clone().unwrap_or_else(|| "pitcrew".into());
    if !header_field(&app_name, 48) {
        ok = false;
        problems.push(loc.problem(
            &key("app_name"),
            "1 to 48 printable ASCII characters without spaces (RFC 5424 APP-NAME)",
        ));
    }
    if let Some(h) = &s.hostname
        && !header_field(h, 255)
    {
        ok = false;
        problems.push(loc.problem(
            &key("hostname"),
            "1 to 255 printable ASCII characters without spaces (RFC 5424 HOSTNAME)",
        ));
    }
    let facility = s.facility.unwrap_or(13);
    if facility > 23 {
        ok = false;
        problems.push(loc.problem(
            &key("facility"),
            "a syslog facility number, 0 to 23 (13 is log audit, 10 authpriv)",
        ));
    }
    let ca_file = s.ca_file.as_ref().map(|f| resolve(base, f));
    if ca_file.is_some() && !s.tls {
        ok = false;
        problems.push(loc.problem(&key("ca_file"), "ca_file is for TLS: set `tls = true` too"));
    }
    ok.then(|| SyslogConfig {
        address: s.address.clone(),
        app_name,
        hostname: s.hostname.clone(),
        facility,
        tls: s.tls,
        ca_file,
    })
}

/// `retain_online` (at least a day) with `archive_dir`, and `retain_total` beyond it.
pub(super) fn retention(
    loc: &Locator<'_>,
    base: &Path,
    a: &crate::config::file::AuditSection,
    problems: &mut Vec<Problem>,
) -> Option<crate::config::Retention> {
    let key = |k: &'static str| ["audit", k];
    let Some(online) = a.retain_online else {
        if a.retain_total.is_some() || a.archive_dir.is_some() {
            problems.push(loc.problem(
                &key("retain_online"),
                "retain_total and archive_dir need retain_online (how long events stay in the database, e.g. \"90d\")",
            ));
        }
        return None;
    };
    let mut ok = true;
    if online < std::time::Duration::from_secs(24 * 3600) {
        ok = false;
        problems.push(loc.problem(
            &key("retain_online"),
            "at least a day (\"90d\" keeps three months online, as PCI DSS 10.5.1 asks)",
        ));
    }
    if let Some(total) = a.retain_total
        && total <= online
    {
        ok = false;
        problems.push(loc.problem(
            &key("retain_total"),
            "longer than retain_online: archives are kept beyond what stays online (\"400d\")",
        ));
    }
    let Some(dir) = &a.archive_dir else {
        problems.push(loc.problem(&key("archive_dir"), "where archive files go, e.g. \"/var/lib/pitcrew/archive\" (a volume that is backed up)"));
        return None;
    };
    ok.then(|| crate::config::Retention {
        online,
        total: a.retain_total,
        dir: resolve(base, dir),
    })
}

/// `[audit.https] url`: HTTPS (plain HTTP only to this machine, for a local receiver), taken
/// exactly as written.
pub(super) fn https_url(
    loc: &Locator<'_>,
    value: &str,
    problems: &mut Vec<Problem>,
) -> Option<reqwest::Url> {
    let key = ["audit", "https", "url"];
    match reqwest::Url::parse(value) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Some(u),
        Ok(u)
            if u.scheme() == "http"
                && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) =>
        {
            Some(u)
        }
        Ok(_) => {
            problems.push(loc.problem(
                &key,
                format!("`{value}` must be an https:// URL (events leave the cluster; plain http only to 127.0.0.1)"),
            ));
            None
        }
        Err(e) => {
            problems.push(loc.problem(&key, format!("`{value}` is not a URL: {e}")));
            None
        }
    }
}

/// `[audit.timestamp]`: the TSA's URL (http or https: tokens are checked against the root, not
/// the connection), the root it must chain to, and how often (at least a minute).
pub(super) fn timestamp(
    loc: &Locator<'_>,
    base: &Path,
    t: &crate::config::file::TimestampSection,
    problems: &mut Vec<Problem>,
) -> Option<crate::config::TimestampConfig> {
    let key = |k: &'static str| ["audit", "timestamp", k];
    let url = match reqwest::Url::parse(&t.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        _ => {
            problems.push(loc.problem(
                &key("url"),
                format!(
                    "`{}` is not an http(s) URL of an RFC 3161 timestamp authority, like \"https://freetsa.org/tsr\"",
                    t.url
                ),
            ));
            None
        }
    };
    let Some(ca_file) = &t.ca_file else {
        problems.push(loc.problem(
            &key("ca_file"),
            "the PEM root certificate(s) the timestamp authority's certificate must chain to (tokens from any other TSA are refused)",
        ));
        return None;
    };
    if t.every < std::time::Duration::from_secs(60) {
        problems.push(loc.problem(
            &key("every"),
            "at least \"1m\" (each stamp is a request to the authority; \"10m\" is the default)",
        ));
        return None;
    }
    Some(crate::config::TimestampConfig {
        url: url?,
        ca_file: resolve(base, ca_file),
        every: t.every,
    })
}

/// What only `serve` needs: the SIEM's and the timestamp authority's CA files, read when their
/// tasks start. A missing file refuses to serve, rather than a stream that never connects or
/// anchors that are never made.
pub(super) fn serving(config: &Config) -> Vec<Problem> {
    let files = [
        config
            .audit
            .syslog
            .as_ref()
            .and_then(|s| s.ca_file.as_ref())
            .map(|f| (f, "audit.syslog.ca_file", "the SIEM's certificate")),
        config.audit.timestamp.as_ref().map(|t| {
            (
                &t.ca_file,
                "audit.timestamp.ca_file",
                "the timestamp authority's certificate",
            )
        }),
    ];
    files
        .into_iter()
        .flatten()
        .filter(|(f, _, _)| !f.is_file())
        .map(|(f, key, whose)| Problem {
            place: Place::File {
                path: config.source.clone(),
                line: None,
                key: key.into(),
            },
            message: format!(
                "{} is not a file (the PEM certificate(s) {whose} must chain to)",
                f.display()
            ),
        })
        .collect()
}
