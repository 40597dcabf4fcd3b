//! `serve`'s listener against clients that drip bytes to hold connections open: a slow
//! header is cut off after `[server].read_timeout`, a slow body gets 408, and `/healthz`
//! answers at once all the while. Needs neither the cluster nor PostgreSQL.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::app::TestConfig;

const SLOW_CLIENTS: usize = 40;

/// Reads until the server closes the connection (or answers); what it sent, and when.
async fn until_closed(mut stream: TcpStream, within: Duration) -> Option<(String, Instant)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()?;
    Some((String::from_utf8_lossy(&got).into_owned(), Instant::now()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_health_checks_stay_fast() {
    let app = TestConfig::new("p, U01DEV, staging, *, *, *, *, *, allow\n")
        .set("server", "read_timeout", "1s")
        .any_team()
        .offline()
        .environment("staging", "shop")
        .start(&[("SLACK_SIGNING_SECRET", "secret-signing-value")]);
    let server = &app.server;
    let addr = server
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();

    // Clients that send half a request line, then one byte now and then, never finishing.
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..SLOW_CLIENTS {
        let mut s = TcpStream::connect(&addr).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: ")
            .await
            .expect("write");
        slow.push(s);
    }
    let drippers: Vec<_> = slow
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                for _ in 0..20 {
                    if s.write_all(b"a").await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                until_closed(s, Duration::from_secs(5)).await
            })
        })
        .collect();
    // A body that never arrives whole: headers promise 100 bytes, 10 come.
    let mut slow_body = TcpStream::connect(&addr).await.expect("connect");
    slow_body
        .write_all(
            b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken=abcd",
        )
        .await
        .expect("write");

    // Meanwhile health checks are answered at once, again and again.
    let client = crate::common::http();
    for _ in 0..10 {
        let t = Instant::now();
        let r = client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .expect("healthz");
        assert_eq!(r.status().as_u16(), 200);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "/healthz took {:?} beside {SLOW_CLIENTS} slow clients",
            t.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every slow header is cut off after the read timeout (1 s), not held for its 4 s.
    for d in drippers {
        let (_, closed_at) = d
            .await
            .expect("dripper")
            .expect("the server closed a slow connection within 5 s");
        let held = closed_at - started;
        assert!(
            held < Duration::from_secs(3),
            "a slow header was held {held:?}"
        );
    }
    let (answer, closed_at) = until_closed(slow_body, Duration::from_secs(5))
        .await
        .expect("the slow body was answered within 5 s");
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a slow body gets 408: {answer:?}"
    );
    assert!(closed_at - started < Duration::from_secs(3));
}
