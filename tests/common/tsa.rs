//! A real RFC 3161 timestamp authority for tests: `openssl ts -reply` (Debian's openssl) behind
//! a local HTTP endpoint speaking RFC 3161 §3.4 (POST application/timestamp-query, answer
//! application/timestamp-reply), with its own root CA and a TSA certificate made by the test
//! (critical extendedKeyUsage timeStamping, as RFC 3161 §2.3 requires).
//!
//! The endpoint can be told to be down (503), or to stamp another hash than the one asked for,
//! as a broken or hostile TSA would.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::openssl;

/// What the endpoint does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Stamp = 0,
    Down = 1,
    /// Answers with a token over SHA-256("another hash") instead.
    OtherHash = 2,
}

pub struct TestTsa {
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT/tsr`
    pub url: String,
    /// The root the TSA's certificate chains to (PEM).
    pub root: PathBuf,
    mode: Arc<AtomicU8>,
    requests: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestTsa {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestTsa {
    /// A new root `NAME-root`, a TSA certificate under it (`key_type` as `openssl req -newkey`
    /// takes it: RSA or EC), and the endpoint, listening.
    pub async fn start(name: &str, key_type: &[&str]) -> TestTsa {
        let dir = tempfile::tempdir().expect("tempdir");
        let root_name = format!("{name}-root");
        openssl::ca(dir.path(), &root_name);
        openssl::issue(
            dir.path(),
            &root_name,
            "tsa",
            key_type,
            &format!("/CN=pitcrew test TSA {name}"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
        );
        std::fs::write(dir.path().join("serial"), "01\n").expect("serial");
        std::fs::write(dir.path().join("tsa.cnf"), config(dir.path())).expect("tsa.cnf");

        let mode = Arc::new(AtomicU8::new(Mode::Stamp as u8));
        let requests = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/tsr", listener.local_addr().expect("addr"));
        let state = Endpoint {
            dir: dir.path().to_path_buf(),
            mode: mode.clone(),
            requests: requests.clone(),
            // openssl ts keeps its serial in a file: one reply at a time.
            one_at_a_time: Arc::new(tokio::sync::Mutex::new(())),
        };
        let app = axum::Router::new()
            .route("/tsr", axum::routing::post(reply))
            .with_state(state);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestTsa {
            root: dir.path().join(format!("{root_name}.pem")),
            dir,
            url,
            mode,
            requests,
            server,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Requests received so far (answered or not).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// `openssl ts -verify` of a stored token (DER) over `digest_hex` against this TSA's root:
    /// the independent check an auditor runs without pitcrew. True when openssl says OK.
    pub fn openssl_verifies(&self, token: &[u8], digest_hex: &str, root: &Path) -> bool {
        let file = self
            .dir
            .path()
            .join(format!("check-{}.tst", super::unique_suffix()));
        std::fs::write(&file, token).expect("write the token");
        let out = std::process::Command::new("openssl")
            .args(["ts", "-verify", "-token_in", "-digest", digest_hex, "-in"])
            .arg(&file)
            .arg("-CAfile")
            .arg(root)
            .output()
            .expect("openssl");
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verification: OK")
    }
}

/// openssl's TSA configuration (`openssl ts -reply -config`).
fn config(dir: &Path) -> String {
    format!(
        "[ tsa ]\ndefault_tsa = tsa_config1\n\n[ tsa_config1 ]\ndir = {}\nserial = $dir/serial\n\
         crypto_device = builtin\nsigner_cert = $dir/tsa.pem\nsigner_key = $dir/tsa.key\n\
         signer_digest = sha256\ndefault_policy = 1.3.6.1.4.1.59999.1\ndigests = sha256, sha384, sha512\n\
         accuracy = secs:1\nordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n",
        dir.display()
    )
}

#[derive(Clone)]
struct Endpoint {
    dir: PathBuf,
    mode: Arc<AtomicU8>,
    requests: Arc<AtomicUsize>,
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

async fn reply(
    axum::extract::State(e): axum::extract::State<Endpoint>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    e.requests.fetch_add(1, Ordering::SeqCst);
    let mode = e.mode.load(Ordering::SeqCst);
    if mode == Mode::Down as u8 {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "down for the test",
        )
            .into_response();
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok())
        != Some("application/timestamp-query")
    {
        return (
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not a timestamp query",
        )
            .into_response();
    }
    let _one = e.one_at_a_time.lock().await;
    let dir = e.dir.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let query = dir.join("query.tsq");
        if mode == Mode::OtherHash as u8 {
            // A request of its own, over another hash, with a nonce and the certificate.
            std::fs::write(dir.join("other.txt"), "another hash").expect("write");
            openssl::run(
                &dir,
                &[
                    "ts",
                    "-query",
                    "-data",
                    "other.txt",
                    "-sha256",
                    "-cert",
                    "-out",
                    "query.tsq",
                ],
            );
        } else {
            std::fs::write(&query, &body).expect("write the query");
        }
        openssl::run(
            &dir,
            &[
                "ts",
                "-reply",
                "-config",
                "tsa.cnf",
                "-queryfile",
                "query.tsq",
                "-out",
                "reply.tsr",
            ],
        );
        std::fs::read(dir.join("reply.tsr")).expect("read the reply")
    })
    .await
    .expect("openssl ts");
    ([("content-type", "application/timestamp-reply")], answer).into_response()
}
