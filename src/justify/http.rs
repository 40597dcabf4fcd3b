//! One careful HTTP exchange with PagerDuty or Jira: a deadline over everything (retries
//! included), 429 honoured within it, a size limit on bodies, and no redirects (a redirect
//! could carry our credentials to another host; the user is told instead).

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use tokio::time::Instant;

/// Bodies bigger than this are not from the API we expect: refused, not buffered.
pub const MAX_BODY: usize = 1024 * 1024;

/// What went wrong talking to an outside service. The variants carry what the operator's
/// log needs; [`FetchError::for_user`] says what the user should do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("rate-limited (429) beyond the time allowed")]
    RateLimited,
    #[error("server error {0}")]
    Server(u16),
    #[error("credentials refused ({0})")]
    Unauthorized(u16),
    #[error("not found (404)")]
    NotFound,
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("redirect to {0} not followed")]
    Redirect(String),
    #[error("answer larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("answer is not the JSON expected: {0}")]
    Malformed(String),
    #[error("cannot connect: {0}")]
    Network(String),
}

impl FetchError {
    /// The outcome label of `/metrics` (`pitcrew_outside_request_seconds`).
    pub fn metric_label(&self) -> &'static str {
        match self {
            FetchError::Timeout(_) => "timeout",
            FetchError::RateLimited => "rate_limited",
            FetchError::Server(_) => "server_error",
            FetchError::Unauthorized(_) => "unauthorized",
            FetchError::NotFound => "not_found",
            FetchError::Status(_) => "unexpected_status",
            FetchError::Redirect(_) => "redirect",
            FetchError::TooLarge => "too_large",
            FetchError::Malformed(_) => "malformed",
            FetchError::Network(_) => "network",
        }
    }

    /// A refusal a user can act on. `service` is "PagerDuty" or "Jira"; `what` names the
    /// reference ("incident Q1ABC").
    pub fn for_user(&self, service: &str, what: &str) -> String {
        let fallback = "retry, or use --break-glass \"why\" if you hold that right";
        match self {
            FetchError::Timeout(t) => format!(
                "{service} did not answer in {}; {fallback}",
                humantime::format_duration(*t)
            ),
            FetchError::RateLimited => {
                format!("{service} is rate-limiting pitcrew right now; {fallback}")
            }
            FetchError::Server(code) => {
                format!("{service} answered with an error ({code}); {fallback}")
            }
            FetchError::Unauthorized(_) => format!(
                "pitcrew's {service} credentials were refused, so {what} cannot be checked; tell the platform team (the token may have expired), or use --break-glass \"why\" if you hold that right"
            ),
            FetchError::NotFound => {
                format!("{service} has no {what}; check the reference (or pitcrew's access to it)")
            }
            FetchError::Network(_) => format!("{service} cannot be reached; {fallback}"),
            FetchError::Status(_)
            | FetchError::Redirect(_)
            | FetchError::TooLarge
            | FetchError::Malformed(_) => format!(
                "{service} gave an answer pitcrew does not understand, so {what} is not accepted; tell the platform team, or use --break-glass \"why\" if you hold that right"
            ),
        }
    }

    /// Whether an earlier attempt may have had its effect although it failed (for
    /// write-back: look before posting again).
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            FetchError::Timeout(_)
                | FetchError::Server(_)
                | FetchError::Network(_)
                | FetchError::Malformed(_)
        )
    }
}

/// A service's base URL, made to end with `/` so that relative paths join below it (not
/// beside its last segment, as `Url::join` does otherwise).
pub fn base(url: &Url) -> Url {
    let mut base = url.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base
}

/// `path` below `base`.
pub fn join(base: &Url, path: &str) -> Result<Url, FetchError> {
    base.join(path)
        .map_err(|e| FetchError::Malformed(format!("bad URL: {e}")))
}

/// An HTTP client for one outside service.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    timeout: Duration,
    /// Where each exchange is timed, and the service's name there.
    observed: Option<(crate::metrics::Outside, &'static str)>,
}

impl Http {
    pub fn new(timeout: Duration) -> Http {
        let client = crate::http_client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pitcrew/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout)
            .build()
            .unwrap_or_default();
        Http {
            client,
            timeout,
            observed: None,
        }
    }

    /// Times every exchange (retries included) in `/metrics` as `service`.
    pub fn observed(mut self, outside: crate::metrics::Outside, service: &'static str) -> Http {
        self.observed = Some((outside, service));
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends the request built by `build` (again, on a retry) and returns the JSON body.
    /// One retry on 502/503/504 and as many as 429's Retry-After allows, all within the
    /// timeout.
    pub async fn json(
        &self,
        method: Method,
        url: Url,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, FetchError> {
        let started = Instant::now();
        let result = self.exchange(method, url, build).await;
        if let Some((outside, service)) = &self.observed {
            let outcome = result
                .as_ref()
                .map_or_else(FetchError::metric_label, |_| "ok");
            outside.observe(service, outcome, started.elapsed());
        }
        result
    }

    async fn exchange(
        &self,
        method: Method,
        url: Url,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, FetchError> {
        let deadline = Instant::now() + self.timeout;
        let attempt = async {
            let mut server_retries = 1;
            loop {
                let request = build(self.client.request(method.clone(), url.clone()));
                let response = request
                    .send()
                    .await
                    .map_err(|e| FetchError::Network(without_url(&e)))?;
                let status = response.status();
                if status == StatusCode::TOO_MANY_REQUESTS {
                    let wait = retry_after(&response).unwrap_or(Duration::from_secs(1));
                    if Instant::now() + wait >= deadline {
                        return Err(FetchError::RateLimited);
                    }
                    tokio::time::sleep(wait).await;
                    continue;
                }
                if matches!(status.as_u16(), 502..=504)
                    && server_retries > 0
                    && Instant::now() + Duration::from_millis(300) < deadline
                {
                    server_retries -= 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                return read(response).await;
            }
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(self.timeout)),
        }
    }
}

async fn read(mut response: reqwest::Response) -> Result<serde_json::Value, FetchError> {
    let status = response.status();
    if status.is_redirection() {
        let to = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| response.url().join(l).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "elsewhere".into());
        return Err(FetchError::Redirect(to));
    }
    match status.as_u16() {
        200..=299 => {}
        401 | 403 => return Err(FetchError::Unauthorized(status.as_u16())),
        404 => return Err(FetchError::NotFound),
        500..=599 => return Err(FetchError::Server(status.as_u16())),
        other => return Err(FetchError::Status(other)),
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::Network(without_url(&e)))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| FetchError::Malformed(e.to_string()))
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let seconds: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// reqwest's errors print the URL; ours never carry query strings with secrets, but the
/// message is for logs and stays short anyway.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.without_url_ref_string();
    if e.is_connect() {
        text = format!("connection failed ({text})");
    }
    text
}

trait WithoutUrl {
    fn without_url_ref_string(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref_string(&self) -> String {
        use std::error::Error as _;
        let mut out = String::new();
        let mut source = self.source();
        while let Some(s) = source {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&s.to_string());
            source = s.source();
        }
        if out.is_empty() {
            out = "request failed".into();
        }
        out
    }
}
