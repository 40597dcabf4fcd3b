//! The shared `Context` every command and handler gets: configuration, database, clusters,
//! policy, justification, locks, metrics, and the work a shutdown waits for.

use super::*;

/// What a [`Context`] is built from, besides the configuration.
pub struct Parts {
    pub clusters: Arc<dyn Workloads>,
    pub audit: Box<dyn AuditSink>,
    pub justifier: Arc<dyn Justifier>,
    /// The outbox's delivering sides known at start (PagerDuty/Jira write-back).
    pub deliverers: Vec<Arc<dyn crate::outbox::Deliver>>,
    /// Without one: no confirmations or approvals stored, no outbox, in-process locks only.
    pub db: Option<crate::db::Database>,
}

/// Everything a command may use, built once and shared.
pub struct Context {
    pub config: Config,
    /// Kubernetes (`cluster::Clusters`; an in-memory fake in the workflow's unit tests).
    pub clusters: Arc<dyn Workloads>,
    /// The policy in force (reloaded as its files change); `authorizer` decides with it.
    pub policy: Arc<crate::policy::PolicyHandle>,
    pub authorizer: Box<dyn Authorizer>,
    /// Live PagerDuty/Jira checks (`LiveJustifier`; a fake in the workflow's unit tests).
    pub justifier: Arc<dyn Justifier>,
    /// The sides the outbox delivers with: PagerDuty/Jira write-back from the start, Slack
    /// announcements once the chat side adds its client ([`Context::add_deliverer`]).
    deliverers: std::sync::Mutex<Vec<Arc<dyn crate::outbox::Deliver>>>,
    /// Where people's e-mails come from for `[identity].from_slack_email` (the chat side sets
    /// Slack's `users.info`), and the e-mails already looked up.
    directory: std::sync::Mutex<Option<Arc<dyn identity::Directory>>>,
    pub emails: identity::EmailCache,
    /// The database (none in some tests): request de-duplication, confirmations and
    /// approvals, and the write-back outbox live there.
    pub db: Option<crate::db::Database>,
    pub audit: Box<dyn AuditSink>,
    pub locks: Locks,
    /// Set to `true` to stop following rollouts (Ctrl-C in a terminal, shutdown of a server).
    /// The actions themselves are already done by then; only the waiting stops.
    pub cancel: tokio::sync::watch::Sender<bool>,
    /// Counters and histograms served at `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// The work that requests started (a command, a button click, a mention) and that runs
    /// after their acknowledgement. `serve` waits for it on SIGTERM (see [`Context::spawn_work`]).
    pub work: tokio_util::task::TaskTracker,
}

impl Context {
    /// The context for serving: policy loaded, clusters connected, the database opened and
    /// migrated, the audit trail in it.
    pub async fn new(config: Config) -> crate::Result<Arc<Context>> {
        let metrics = crate::metrics::Metrics::new();
        let clusters = cluster::Clusters::connect(&config, Some(&metrics.outside)).await?;
        let db = crate::db::Database::connect(&config.database).await?;
        db.migrate().await?;
        let audit = Box::new(crate::audit::AuditStore::new(db.clone()));
        Context::live(config, Arc::new(clusters), audit, Some(db), metrics)
    }

    /// The context over clusters and an audit sink made elsewhere (no database; live
    /// justification as configured); loads the policy the configuration names.
    pub fn with_parts(
        config: Config,
        clusters: Arc<dyn Workloads>,
        audit: Box<dyn AuditSink>,
    ) -> crate::Result<Arc<Context>> {
        let metrics = crate::metrics::Metrics::new();
        Context::live(config, clusters, audit, None, metrics)
    }

    /// With the configured PagerDuty/Jira clients as the justifier and the write-back side.
    fn live(
        config: Config,
        clusters: Arc<dyn Workloads>,
        audit: Box<dyn AuditSink>,
        db: Option<crate::db::Database>,
        metrics: crate::metrics::Metrics,
    ) -> crate::Result<Arc<Context>> {
        let live = Arc::new(crate::justify::LiveJustifier::from_config(
            &config,
            &metrics.outside,
        ));
        let parts = Parts {
            clusters,
            audit,
            justifier: live.clone(),
            deliverers: vec![live],
            db,
        };
        Context::build(config, parts, metrics)
    }

    /// The context from every part (the workflow's unit tests hand it fakes). Loads the
    /// policy the configuration names: a broken policy is an error, nothing runs without one.
    pub fn build(
        config: Config,
        parts: Parts,
        metrics: crate::metrics::Metrics,
    ) -> crate::Result<Arc<Context>> {
        let policy = Arc::new(crate::policy::PolicyHandle::load(
            config.policy.model.clone(),
            config.policy.policy.clone(),
        )?);
        Ok(Arc::new(Context {
            config,
            clusters: parts.clusters,
            authorizer: Box::new(gates::PolicyAuthorizer {
                policy: policy.clone(),
            }),
            policy,
            justifier: parts.justifier,
            deliverers: std::sync::Mutex::new(parts.deliverers),
            directory: std::sync::Mutex::default(),
            emails: identity::EmailCache::default(),
            locks: Locks::new(parts.db.clone()),
            db: parts.db,
            audit: parts.audit,
            cancel: tokio::sync::watch::Sender::new(false),
            metrics,
            work: tokio_util::task::TaskTracker::new(),
        }))
    }

    /// Counts an audit phase of an action in `/metrics`; every path that records a phase
    /// (a run, the Cancel button, reconciliation) calls it.
    pub fn count_phase(&self, action: Action, phase: Phase) {
        self.metrics
            .actions
            .get_or_create(&crate::metrics::PhaseLabels {
                action: action.as_str(),
                phase: phase.as_str(),
            })
            .inc();
    }

    /// The write-back outbox, in the database (none without one).
    pub fn outbox(&self) -> Option<crate::outbox::Outbox> {
        self.db.clone().map(crate::outbox::Outbox::new)
    }

    /// Sets where people's e-mails are looked up (`[identity].from_slack_email`).
    pub fn set_directory(&self, directory: Arc<dyn identity::Directory>) {
        *self.directory.lock().unwrap_or_else(|p| p.into_inner()) = Some(directory);
    }

    /// Where people's e-mails are looked up, if anywhere.
    pub fn directory(&self) -> Option<Arc<dyn identity::Directory>> {
        self.directory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds a side the outbox delivers with (the chat side adds Slack's Web API client).
    pub fn add_deliverer(&self, side: Arc<dyn crate::outbox::Deliver>) {
        self.deliverers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(side);
    }

    /// Delivers what is due in the outbox (write-back, announcements) with this process's
    /// clients; `None` when there is no outbox.
    pub async fn deliver_outbox(&self) -> Option<Result<crate::outbox::Round, sqlx::Error>> {
        let outbox = self.outbox()?;
        let sides = self
            .deliverers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let sides: Vec<&dyn crate::outbox::Deliver> = sides.iter().map(|s| s.as_ref()).collect();
        Some(outbox.deliver_due(&sides).await)
    }

    /// Runs work a request started in the background, tracked so that a shutting-down server
    /// lets it finish (within `[server].shutdown_grace`) instead of dropping it mid-action.
    /// Every transport spawns its commands through this, never with a bare `tokio::spawn`.
    pub fn spawn_work<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.work.spawn(work);
    }

    /// Resolves when [`Context::cancel`] is set.
    pub fn cancelled(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.cancel.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }
}
