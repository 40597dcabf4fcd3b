//! `pitcrew serve`: the long-running process. Today it runs what every replica needs besides
//! Slack: start-up reconciliation, the policy watcher (file changes and SIGHUP), outbox
//! delivery (write-back, announcements), and `/healthz` + `/readyz`. The Slack endpoints and
//! Socket Mode come with issue #7, metrics with issue #8.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;

use crate::workflow::Context;

/// How often the outbox is looked at.
const OUTBOX_EVERY: Duration = Duration::from_secs(5);
/// How often the policy files are looked at.
const POLICY_EVERY: Duration = Duration::from_secs(2);

pub async fn serve(ctx: Arc<Context>, listen: SocketAddr) -> crate::Result<()> {
    if ctx.config.server.mode == crate::config::Mode::Socket {
        return Err(crate::Error::NotBuiltYet {
            command: "serve with [server].mode = \"socket\" (Socket Mode)",
            issue: 7,
        });
    }
    match crate::workflow::reconcile(&ctx).await {
        Ok(closed) => {
            for r in closed {
                tracing::warn!(correlation = %r.correlation, command = %r.command_text, found = %r.found, "closed an interrupted command as interrupted");
            }
        }
        Err(e) => {
            return Err(crate::Error::AuditWrite(format!(
                "cannot reconcile interrupted commands: {e}"
            )));
        }
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| crate::Error::Usage(format!("cannot listen on {listen}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| crate::Error::Usage(format!("cannot read the listening address: {e}")))?;
    // Tests and scripts read this line to find a port chosen by the system (`:0`).
    println!("listening on http://{bound}");
    tracing::info!(%bound, "pitcrew serving");

    let watcher = ctx.policy.clone().watch(POLICY_EVERY, ctx.cancelled());
    let outbox = tokio::spawn(deliver_outbox(ctx.clone()));
    let mut app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(ctx.clone());
    match (&ctx.config.secrets.slack_signing_secret, &ctx.db) {
        (Some(secret), Some(db)) => {
            use secrecy::ExposeSecret;
            let slack = Arc::new(crate::chat::commands::SlackApp {
                ctx: ctx.clone(),
                secret: slack_morphism::prelude::SlackSigningSecret::new(
                    secret.expose_secret().to_string(),
                ),
                dedup: crate::chat::dedup::Dedup::new(db.clone()),
                http: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap_or_default(),
            });
            // One byte over the limit is enough to know a body is too big.
            let limit = ctx.config.server.max_body_bytes + 1;
            app = app.merge(
                axum::Router::new()
                    .route(
                        "/slack/commands",
                        axum::routing::post(crate::chat::commands::commands),
                    )
                    .route(
                        "/slack/events",
                        axum::routing::post(crate::chat::events::events),
                    )
                    .route(
                        "/slack/interactions",
                        axum::routing::post(crate::chat::interactions::interactions),
                    )
                    .layer(axum::extract::DefaultBodyLimit::max(limit))
                    .with_state(slack),
            );
        }
        _ => tracing::warn!("SLACK_SIGNING_SECRET is not set: the Slack endpoints are off"),
    }
    let stop = {
        let ctx = ctx.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            ctx.cancel.send_replace(true);
        }
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await;
    ctx.cancel.send_replace(true);
    let grace = ctx.config.server.shutdown_grace;
    let _ = tokio::time::timeout(grace, async {
        let _ = watcher.await;
        let _ = outbox.await;
    })
    .await;
    served.map_err(|e| crate::Error::Usage(format!("the HTTP server failed: {e}")))
}

async fn deliver_outbox(ctx: Arc<Context>) {
    let mut tick = tokio::time::interval(OUTBOX_EVERY);
    let cancelled = ctx.cancelled();
    tokio::pin!(cancelled);
    loop {
        tokio::select! {
            _ = &mut cancelled => return,
            _ = tick.tick() => {}
        }
        if let Some(Err(e)) = ctx.deliver_outbox().await {
            tracing::warn!(error = %e, "cannot read the outbox; retrying");
        }
    }
}

/// Ready when the database answers and a policy is in force. Details say what is degraded
/// (a refused policy reload, an outbox backlog) without making the replica unready: it still
/// decides correctly with the policy in force.
async fn ready(State(ctx): State<Arc<Context>>) -> (StatusCode, Json<serde_json::Value>) {
    let policy = ctx.policy.status();
    let (database, outbox_depth) = match ctx.outbox() {
        Some(outbox) => match outbox.depth().await {
            Ok(depth) => (json!({"ok": true}), Some(depth)),
            Err(e) => (json!({"ok": false, "error": e.to_string()}), None),
        },
        None => (json!({"ok": false, "error": "no database"}), None),
    };
    let ok = database["ok"] == true;
    let body = json!({
        "ready": ok,
        "database": database,
        "policy": policy,
        "outbox_depth": outbox_depth,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
