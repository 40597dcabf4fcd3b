//! The policy in force, and its replacement when the files change or on SIGHUP.
//!
//! A new policy is read and built completely (model checked, every line parsed, roles
//! resolved) before it replaces the old one in a single pointer swap; a decision holds an
//! `Arc` to the policy it started with, so it never sees half of one and half of another, and
//! building a large policy never blocks decisions. A broken file leaves the old policy in force,
//! logs every problem with its line, and shows in [`ReloadStatus`] (health and metrics).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Files, Policy, PolicyError};

/// What health checks and metrics show about the policy.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReloadStatus {
    /// The fingerprint of the policy in force.
    pub fingerprint: String,
    pub rules: usize,
    pub loaded_at: DateTime<Utc>,
    /// Successful reloads since start.
    pub reloads: u64,
    /// Refused reloads since start.
    pub failures: u64,
    /// Why the files on disk are not in force, if they are not.
    pub last_error: Option<String>,
}

#[derive(Debug)]
pub struct PolicyHandle {
    current: RwLock<Arc<Policy>>,
    status: Mutex<ReloadStatus>,
    /// The fingerprint of the files last tried, so unchanged broken files are not retried.
    last_tried: Mutex<String>,
    model: PathBuf,
    policy: PathBuf,
}

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reloaded {
    Unchanged,
    Replaced { rules: usize },
}

impl PolicyHandle {
    /// Loads the policy; at start-up a broken policy is an error (pitcrew does not start
    /// without one: fail closed).
    pub fn load(model: PathBuf, policy: PathBuf) -> Result<PolicyHandle, PolicyError> {
        let loaded = Policy::load(&model, &policy)?;
        let status = ReloadStatus {
            fingerprint: loaded.fingerprint.clone(),
            rules: loaded.enforcer.rules().len(),
            loaded_at: Utc::now(),
            reloads: 0,
            failures: 0,
            last_error: None,
        };
        Ok(PolicyHandle {
            last_tried: Mutex::new(loaded.fingerprint.clone()),
            current: RwLock::new(Arc::new(loaded)),
            status: Mutex::new(status),
            model,
            policy,
        })
    }

    /// The policy in force now. Hold the `Arc` for the whole decision.
    pub fn current(&self) -> Arc<Policy> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn status(&self) -> ReloadStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the files; replaces the policy if they changed and are valid. With `force`,
    /// retries even files that failed before unchanged (SIGHUP).
    pub fn reload(&self, force: bool) -> Result<Reloaded, PolicyError> {
        let files = match Files::read(&self.model, &self.policy) {
            Ok(f) => f,
            Err(e) => return Err(self.refused(e)),
        };
        let fingerprint = files.fingerprint();
        {
            let mut tried = self.last_tried.lock().unwrap_or_else(|p| p.into_inner());
            if !force && *tried == fingerprint {
                return Ok(Reloaded::Unchanged);
            }
            *tried = fingerprint.clone();
        }
        // Built outside any lock: decisions go on with the old policy meanwhile.
        let built =
            Policy::build(&files, &self.model, &self.policy).map_err(|e| self.refused(e))?;
        let rules = built.enforcer.rules().len();
        let previous = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(|p| p.into_inner()),
            Arc::new(built),
        );
        // Freeing a large policy takes milliseconds: never while holding the lock.
        drop(previous);
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.fingerprint = fingerprint;
        status.rules = rules;
        status.loaded_at = Utc::now();
        status.reloads += 1;
        status.last_error = None;
        tracing::info!(rules, policy = %self.policy.display(), "policy reloaded");
        Ok(Reloaded::Replaced { rules })
    }

    fn refused(&self, e: PolicyError) -> PolicyError {
        tracing::error!(error = %e, "policy reload refused; the previous policy stays in force");
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.failures += 1;
        status.last_error = Some(e.to_string());
        e
    }

    /// Watches the files (polling every `interval`, which also sees Kubernetes ConfigMap
    /// updates, made by swapping a symlink) and reloads on change and on SIGHUP, until
    /// `stop` resolves.
    pub fn watch(
        self: Arc<Self>,
        interval: Duration,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        // Installed before returning, so a SIGHUP sent once `watch` returned is never the
        // default action (which would end the process).
        let mut hangup = hangup_signal();
        tokio::spawn(async move {
            // The policy was just loaded: the first look is one interval from now.
            let mut tick =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tokio::pin!(stop);
            loop {
                let force = tokio::select! {
                    _ = &mut stop => return,
                    _ = tick.tick() => false,
                    _ = next_hangup(&mut hangup) => {
                        tracing::info!("SIGHUP: reloading the policy");
                        true
                    }
                };
                let handle = self.clone();
                // Reading and building may take a while for a large policy: off the runtime.
                let _ = tokio::task::spawn_blocking(move || handle.reload(force)).await;
            }
        })
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

fn hangup_signal() -> Hangup {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

async fn next_hangup(h: &mut Hangup) {
    #[cfg(unix)]
    if let Some(s) = h {
        s.recv().await;
        return;
    }
    let _ = h;
    std::future::pending::<()>().await
}
