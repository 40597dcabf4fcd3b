//! `pitcrew serve`: the long-running process. Start-up reconciliation, the policy watcher
//! (file changes and SIGHUP), outbox delivery (write-back, announcements), Slack (the HTTP
//! endpoints with `SLACK_SIGNING_SECRET`, or Socket Mode with `mode = "socket"`), a periodic
//! look at Slack's Web API, and `/healthz`, `/readyz`, `/metrics`. Nothing here needs the
//! network to start: an unreachable Slack shows in `/readyz` and is retried.

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
/// After the grace period (or once the work drained): how long cancelled work gets to record
/// its outcome, and the background loops to stop.
pub const FINAL_WAIT: Duration = Duration::from_secs(10);
/// How long `/readyz` waits for each cluster's API server.
pub const CLUSTER_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// How often Slack's Web API is asked `auth.test` (besides what every call shows).
const SLACK_PROBE_EVERY: Duration = Duration::from_secs(30);

/// Held for as long as this `serve` runs on an SQLite file (see [`preflight`]).
#[must_use = "the SQLite replica lock is released when this is dropped"]
pub struct ReplicaLock(#[allow(dead_code)] Option<std::fs::File>);

/// What `serve` refuses to start without, checked before anything is opened or connected.
/// On SQLite it also takes the file's replica lock: SQLite serves one replica, and a second
/// `serve` on the same file would keep its own in-memory state (locks, Socket Mode
/// connections) beside the first. One-shot commands (`exec`, `audit`, `approve`) do not take
/// it. Several replicas need PostgreSQL.
pub fn preflight(config: &crate::config::Config) -> crate::Result<ReplicaLock> {
    if config.server.mode == crate::config::Mode::Socket && config.secrets.slack_app_token.is_none()
    {
        return Err(crate::Error::Usage(
            "[server].mode = \"socket\" needs SLACK_APP_TOKEN (an app-level token with the connections:write scope, from your app's Basic Information page); set it, or use mode = \"http\"".into(),
        ));
    }
    if config.slack.allowed_teams.is_empty() && !config.slack.any_team {
        return Err(crate::Error::Usage(
            "[slack].allowed_teams is empty, so every Slack workspace holding your signing secret could send commands: list your workspace's team id (T…, in your workspace's URL or `auth.test`), e.g. allowed_teams = [\"T01EXAMPLE\"], or write allowed_teams = [\"*\"] to accept every workspace explicitly".into(),
        ));
    }
    let crate::config::DatabaseConfig::Sqlite { path } = &config.database else {
        return Ok(ReplicaLock(None));
    };
    let mut lock_path = path.clone().into_os_string();
    lock_path.push(".serve.lock");
    let lock_path = std::path::PathBuf::from(lock_path);
    let cannot = |e: std::io::Error| {
        crate::Error::Usage(format!(
            "cannot open {} to make sure only one pitcrew serve uses this SQLite database: {e}",
            lock_path.display()
        ))
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(cannot)?;
    match file.try_lock() {
        Ok(()) => {
            use std::io::{Seek, Write};
            // Who holds it, for the message a second replica prints.
            let _ = file.set_len(0);
            let _ = file.seek(std::io::SeekFrom::Start(0));
            let _ = writeln!(file, "{}", std::process::id());
            Ok(ReplicaLock(Some(file)))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            Err(crate::Error::Usage(format!(
                "another pitcrew serve (pid {}) already uses the SQLite database {}; SQLite serves one replica. Stop the other one, or run several replicas on PostgreSQL (DATABASE_URL=postgres://...)",
                holder.trim(),
                path.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(cannot(e)),
    }
}

/// Serves until SIGTERM. The caller holds the [`ReplicaLock`] from [`preflight`].
pub async fn serve(ctx: Arc<Context>, listen: SocketAddr) -> crate::Result<()> {
    let socket_mode = ctx.config.server.mode == crate::config::Mode::Socket;
    if let Err(e) = reconcile_and_log(&ctx).await {
        return Err(crate::Error::AuditWrite(format!(
            "cannot reconcile interrupted commands: {e}"
        )));
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
    // Set on SIGTERM: stop taking requests, let what was taken finish.
    let (draining_tx, draining_rx) = tokio::sync::watch::channel(false);
    let bot = Arc::new(crate::chat::SlackBot::from_config(
        &ctx.config,
        &ctx.metrics.outside,
    )?);
    bot.attach(&ctx);
    let outbox = tokio::spawn(deliver_outbox(ctx.clone()));
    let probe = tokio::spawn(probe_slack(bot.clone()));
    let reconciler = tokio::spawn(keep_reconciling(ctx.clone()));
    // The chain head stamped by a timestamp authority, when one is configured.
    let anchoring = tokio::spawn(crate::workflow::keep_anchoring(ctx.clone()));
    // The trail streamed to the SIEM, when one is configured (from where it has it).
    let siem = siem_streams(&ctx)?;
    let mut app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(Arc::new(Served {
            ctx: ctx.clone(),
            bot: bot.clone(),
        }));
    let slack = ctx.db.as_ref().map(|db| {
        use secrecy::ExposeSecret;
        Arc::new(crate::chat::commands::SlackApp {
            ctx: ctx.clone(),
            bot: bot.clone(),
            secret: ctx
                .config
                .secrets
                .slack_signing_secret
                .as_ref()
                .map(|s| crate::chat::verify::signing_secret(s.expose_secret())),
            dedup: crate::chat::dedup::Dedup::new(db.clone()),
            http: crate::http_client_builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        })
    });
    let mut socket = None;
    match (&slack, &ctx.config.secrets.slack_app_token) {
        (Some(slack), Some(token)) if socket_mode => {
            // Socket Mode stops taking envelopes when draining starts, like the HTTP listener.
            let mut draining = draining_rx.clone();
            let stop = async move {
                let _ = draining.wait_for(|d| *d).await;
            };
            let (slack, token) = (slack.clone(), token.clone());
            socket = Some(tokio::spawn(async move {
                if let Err(e) = crate::chat::socket::serve(slack, &token, stop).await {
                    tracing::error!(error = %e, "Socket Mode cannot start; Slack commands are off");
                }
            }));
        }
        (None, _) => tracing::warn!("no database: the Slack endpoints are off"),
        _ => {}
    }
    match &slack {
        Some(slack) if slack.secret.is_some() => {
            let slack = slack.clone();
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
                    .with_state(slack)
                    // Reads the whole body, within the read timeout and at most `limit` bytes,
                    // before any handler runs (so no extractor limit is needed as well).
                    .layer(axum::middleware::from_fn_with_state(
                        (ctx.config.server.read_timeout, limit),
                        crate::listener::body_within,
                    )),
            );
        }
        _ if socket_mode => {}
        _ => tracing::warn!("SLACK_SIGNING_SECRET is not set: the Slack endpoints are off"),
    }
    let stop = {
        let ctx = ctx.clone();
        async move {
            shutdown_signal().await;
            tracing::info!(
                in_flight = ctx.work.len(),
                grace = %humantime::format_duration(ctx.config.server.shutdown_grace),
                "SIGTERM: no new requests; letting the work in flight finish"
            );
            draining_tx.send_replace(true);
        }
    };
    // Returns once the listener is closed and every request being answered was answered (the
    // work those requests started may still run).
    let limits = crate::listener::Limits {
        read_timeout: ctx.config.server.read_timeout,
        max_connections: ctx.config.server.max_connections,
    };
    crate::listener::serve(listener, app, limits, stop).await;
    if let Some(socket) = socket {
        let _ = socket.await;
    }
    drain(&ctx).await;
    // Background loops stop last, so that write-back queued by the drained work is delivered.
    ctx.cancel.send_replace(true);
    let _ = tokio::time::timeout(FINAL_WAIT, async {
        let _ = watcher.await;
        let _ = outbox.await;
        for s in siem {
            let _ = s.await;
        }
        let _ = anchoring.await;
    })
    .await;
    probe.abort();
    reconciler.abort();
    Ok(())
}

/// Waits for the work in flight (commands following their rollouts, clicks being carried out)
/// up to `[server].shutdown_grace`. What is still running then stops following its rollout,
/// which goes on in the cluster, and is recorded as `interrupted` with what was seen: an
/// action is never cut off between its `started` event and its outcome by the exit itself.
async fn drain(ctx: &Context) {
    ctx.work.close();
    let grace = ctx.config.server.shutdown_grace;
    let in_flight = ctx.work.len();
    if tokio::time::timeout(grace, ctx.work.wait()).await.is_ok() {
        if in_flight > 0 {
            tracing::info!(in_flight, "the work in flight finished; exiting");
        }
        return;
    }
    tracing::warn!(
        still_running = ctx.work.len(),
        grace = %humantime::format_duration(grace),
        "the grace period ran out: recording what is still running as interrupted"
    );
    ctx.cancel.send_replace(true);
    if tokio::time::timeout(FINAL_WAIT, ctx.work.wait())
        .await
        .is_err()
    {
        tracing::error!(
            still_running = ctx.work.len(),
            "work did not stop within {} s of being cancelled; the next start-up reconciliation closes it",
            FINAL_WAIT.as_secs()
        );
    }
}

/// Reconciles, logging each command it closed.
async fn reconcile_and_log(ctx: &Context) -> Result<(), crate::workflow::ReconcileError> {
    for r in crate::workflow::reconcile(ctx).await? {
        tracing::warn!(correlation = %r.correlation, command = %r.command_text, found = %r.found, "closed an interrupted command as interrupted");
    }
    Ok(())
}

/// Closes commands a crashed replica left behind once their workload lease has run out (at
/// start-up they may still be leased, and another replica's in-flight ones always are).
async fn keep_reconciling(ctx: Arc<Context>) {
    let mut tick = tokio::time::interval(crate::workflow::locks::LEASE);
    tick.tick().await;
    // Retention verifies the whole chain: hourly, not every lease period.
    let mut retention_due = std::time::Instant::now();
    loop {
        tick.tick().await;
        if std::time::Instant::now() >= retention_due {
            retention_due = std::time::Instant::now() + std::time::Duration::from_secs(3600);
            match crate::workflow::keep_retention(&ctx, chrono::Utc::now()).await {
                Ok((archived, removed)) => {
                    if let Some(a) = archived {
                        tracing::info!(file = %a.file.display(), events = a.events, through = a.through_id, "archived audit events past retain_online");
                    }
                    for f in removed {
                        tracing::info!(file = %f.display(), "removed an archive past retain_total");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "audit retention could not run; retrying in an hour")
                }
            }
        }
        if let Err(e) = reconcile_and_log(&ctx).await {
            tracing::warn!(error = %e, "cannot reconcile interrupted commands; retrying");
        }
        // GitOps suspensions whose deadline passed are resumed, once each.
        if let Err(e) = crate::workflow::resume_due(&ctx).await {
            tracing::warn!(error = %e, "cannot look for GitOps suspensions due; retrying");
        }
        // Break-glass commands nobody reviewed are brought up, once each.
        if let Err(e) = crate::workflow::remind_unreviewed(&ctx).await {
            tracing::warn!(error = %e, "cannot look for unreviewed break-glass commands; retrying");
        }
        // Requests nobody answered in time are closed in the trail (see `workflow::expiry`).
        match crate::workflow::close_expired(&ctx).await {
            Ok(closed) => {
                for e in closed {
                    tracing::info!(request = %e.request, command = %e.command_text, "closed an expired request");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot close expired requests; retrying"),
        }
        // Tables that grow with traffic are kept bounded (see `housekeeping`).
        if let Some(db) = &ctx.db {
            match crate::housekeeping::prune(db).await {
                Ok(p) if p != crate::housekeeping::Pruned::default() => {
                    tracing::info!(
                        slack_requests = p.slack_requests,
                        outbox = p.outbox,
                        approvals = p.approvals,
                        "pruned rows past keeping"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot prune; retrying next time"),
            }
        }
    }
}

/// Asks Slack's Web API `auth.test` now and then, so `/readyz` shows an outage even when
/// nobody is typing commands.
async fn probe_slack(bot: Arc<crate::chat::SlackBot>) {
    let Some(slack) = bot.web.clone() else {
        return;
    };
    let mut tick = tokio::time::interval(SLACK_PROBE_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = slack.auth_test().await {
            tracing::warn!(error = %e, "Slack's Web API does not answer auth.test");
        }
    }
}

/// What `/readyz` and `/metrics` read: the context and what this replica saw of Slack.
struct Served {
    ctx: Arc<Context>,
    bot: Arc<crate::chat::SlackBot>,
}

async fn metrics(State(served): State<Arc<Served>>) -> impl axum::response::IntoResponse {
    let ctx = &served.ctx;
    // Gauges of state that lives elsewhere, read when scraped.
    let m = &ctx.metrics;
    let policy = ctx.policy.status();
    m.policy_rules
        .set(i64::try_from(policy.rules).unwrap_or(i64::MAX));
    m.policy_reload_failures
        .set(i64::try_from(policy.failures).unwrap_or(i64::MAX));
    m.policy_reload_ok
        .set(i64::from(policy.last_error.is_none()));
    if let Some(outbox) = ctx.outbox()
        && let Ok(depth) = outbox.depth().await
    {
        m.outbox_depth.set(depth);
    }
    if let Some(db) = &ctx.db
        && let Ok(rows) = crate::housekeeping::table_rows(db).await
    {
        for (table, n) in rows {
            m.table_rows
                .get_or_create(&crate::metrics::TableLabels { table })
                .set(n);
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ctx.metrics.render(),
    )
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

/// Ready when the database answers, a policy is in force and at least one configured cluster's
/// API server answers. Details say what is degraded (a refused policy reload, one of several
/// clusters unreachable, Slack unreachable) without making the replica unready: it still
/// decides correctly with the policy in force and acts on the clusters it reaches. A replica
/// that reaches no cluster at all is unready: its network path is the likely fault, and the
/// Service should send commands to a replica that can carry them out.
async fn ready(State(served): State<Arc<Served>>) -> (StatusCode, Json<serde_json::Value>) {
    let (ctx, bot) = (&served.ctx, &served.bot);
    let policy = ctx.policy.status();
    let reach = ctx.clusters.reachability(CLUSTER_PROBE_TIMEOUT).await;
    let clusters_reached = reach.values().filter(|r| r.is_ok()).count();
    let clusters: serde_json::Map<String, serde_json::Value> = reach
        .into_iter()
        .map(|(name, r)| {
            let v = match r {
                Ok(version) => json!({"ok": true, "version": version}),
                Err(error) => json!({"ok": false, "error": error.to_string()}),
            };
            (name, v)
        })
        .collect();
    let (database, outbox_depth) = match ctx.outbox() {
        Some(outbox) => match outbox.depth().await {
            Ok(depth) => (json!({"ok": true}), Some(depth)),
            Err(e) => (json!({"ok": false, "error": e.to_string()}), None),
        },
        None => (json!({"ok": false, "error": "no database"}), None),
    };
    let clusters_ok = clusters.is_empty() || clusters_reached > 0;
    let ok = database["ok"] == true && clusters_ok;
    let socket_mode = ctx.config.server.mode == crate::config::Mode::Socket;
    let slack = if bot.web.is_some() || socket_mode {
        bot.health.report(socket_mode)
    } else {
        json!({"web_api": {"ok": null, "error": "SLACK_BOT_TOKEN is not set: pitcrew cannot post"}})
    };
    let mut degraded = Vec::new();
    if bot.health.degraded() {
        degraded.push("slack");
    }
    if policy.last_error.is_some() {
        degraded.push("policy");
    }
    if clusters_reached < clusters.len() {
        degraded.push("clusters");
    }
    let anchoring =
        ctx.config
            .audit
            .timestamp
            .as_ref()
            .map(|_| match ctx.metrics.anchoring.failure() {
                Some(f) => {
                    degraded.push("anchoring");
                    json!({"ok": false, "error": f.error, "failing_since": f.since})
                }
                None => json!({"ok": true, "anchored_event": ctx.metrics.anchored_event.get()}),
            });
    let body = json!({
        "ready": ok,
        "degraded": degraded,
        "database": database,
        "clusters": clusters,
        "policy": policy,
        "slack": slack,
        "outbox_depth": outbox_depth,
        "anchoring": anchoring,
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

/// The SIEM streams the configuration asks for, each a background task until shutdown.
fn siem_streams(ctx: &Arc<Context>) -> crate::Result<Vec<tokio::task::JoinHandle<()>>> {
    let Some(db) = &ctx.db else {
        return Ok(Vec::new());
    };
    let gauges = |name: &str| crate::siem::Gauges {
        backlog: ctx
            .metrics
            .siem_backlog
            .get_or_create(&crate::metrics::DestinationLabels {
                destination: name.to_string(),
            })
            .clone(),
        sent: ctx.metrics.siem_sent.clone(),
    };
    let mut streams = Vec::new();
    if let Some(cfg) = &ctx.config.audit.syslog {
        streams.push(tokio::spawn(crate::siem::stream(
            db.clone(),
            crate::siem::SyslogSink::new(cfg.clone()),
            gauges("syslog"),
            ctx.cancelled(),
        )));
    }
    if let Some(url) = &ctx.config.audit.https {
        let sink = crate::siem::HttpsSink::new(url.clone(), ctx.config.secrets.siem_token.clone())
            .map_err(|e| {
                crate::Error::Usage(format!("cannot build the SIEM's HTTPS client: {e}"))
            })?;
        streams.push(tokio::spawn(crate::siem::stream(
            db.clone(),
            sink,
            gauges("https"),
            ctx.cancelled(),
        )));
    }
    Ok(streams)
}
