//! Group commit: every durable write on the hot path (a Slack request id, a workload lease,
//! an approval, an outbox item, an audit event) goes through one [`GroupCommit`] per
//! database. Concurrent writes queue up; whoever takes the writer first runs everything
//! queued in one transaction and commits once, so N concurrent writes cost one commit (one
//! fsync on SQLite) instead of N. Each caller gets its own result, and only after the commit:
//! a write reported `Ok` is durable.
//!
//! A write that fails inside a batch must not take the others with it (on PostgreSQL a failed
//! statement aborts the whole transaction): the batch is rolled back and each of its writes
//! run again alone, each in its own transaction. A failed commit fails every write of the
//! batch, each with the commit's error: never a partial, silent success.
//!
//! Because a write may run twice (in its batch, then alone), a [`Write`] is a `Fn` over a
//! connection with no effect outside the transaction. It must never call [`GroupCommit::write`]
//! itself (it runs under the writer and would wait for itself).

use std::any::Any;

use futures::future::BoxFuture;
use sqlx::{AnyConnection, AnyPool};

/// The most writes one transaction carries; more wait for the next batch.
const MAX_BATCH: usize = 256;

type Output = Box<dyn Any + Send>;
type Run = Box<
    dyn for<'c> Fn(&'c mut AnyConnection) -> BoxFuture<'c, Result<Output, sqlx::Error>>
        + Send
        + Sync,
>;

struct Queued {
    run: Run,
    reply: tokio::sync::oneshot::Sender<Result<Output, sqlx::Error>>,
}

/// Batches concurrent writes into shared transactions (see the module's comment).
#[derive(Default)]
pub struct GroupCommit {
    writer: tokio::sync::Mutex<()>,
    queue: std::sync::Mutex<Vec<Queued>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

impl GroupCommit {
    /// Runs `write` in a transaction shared with whatever else is queued, and returns its
    /// output once that transaction committed.
    pub async fn write<T, F>(&self, pool: &AnyPool, write: F) -> Result<T, sqlx::Error>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, sqlx::Error>>
            + Send
            + Sync
            + 'static,
    {
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        let run: Run = Box::new(move |conn| {
            let running = write(conn);
            Box::pin(async move { running.await.map(|out| Box::new(out) as Output) })
        });
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Queued { run, reply });
        let writer = self.writer.lock().await;
        // The writer before may have carried this write along with its own.
        let result = match answer.try_recv() {
            Ok(result) => result,
            Err(_) => {
                loop {
                    let batch = {
                        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                        let n = queue.len().min(MAX_BATCH);
                        queue.drain(..n).collect::<Vec<_>>()
                    };
                    if batch.is_empty() {
                        break;
                    }
                    run_batch(pool, batch).await;
                    if let Ok(result) = answer.try_recv() {
                        drop(writer);
                        return downcast(result);
                    }
                }
                drop(writer);
                answer.await.unwrap_or_else(|_| Err(stopped()))
            }
        };
        downcast(result)
    }
}

fn downcast<T: 'static>(result: Result<Output, sqlx::Error>) -> Result<T, sqlx::Error> {
    result.and_then(|out| {
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| sqlx::Error::Decode("a write's output had another type".into()))
    })
}

fn stopped() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(
        "the database writer stopped before answering",
    ))
}

/// Each caller's own copy of an error that failed the whole batch.
fn shared(e: &sqlx::Error) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(e.to_string()))
}

/// One transaction for the batch; see the module's comment for what happens on failures.
async fn run_batch(pool: &AnyPool, batch: Vec<Queued>) {
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            for q in batch {
                let _ = q.reply.send(Err(shared(&e)));
            }
            return;
        }
    };
    let mut outputs = Vec::with_capacity(batch.len());
    let mut failed = false;
    for q in &batch {
        match (q.run)(&mut tx).await {
            Ok(out) => outputs.push(out),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    if failed {
        drop(tx); // rolled back
        for q in batch {
            let result = alone(pool, &q.run).await;
            let _ = q.reply.send(result);
        }
        return;
    }
    match tx.commit().await {
        Ok(()) => {
            for (q, out) in batch.into_iter().zip(outputs) {
                let _ = q.reply.send(Ok(out));
            }
        }
        Err(e) => {
            for q in batch {
                let _ = q.reply.send(Err(shared(&e)));
            }
        }
    }
}

/// One write in its own transaction.
async fn alone(pool: &AnyPool, run: &Run) -> Result<Output, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let out = run(&mut tx).await?;
    tx.commit().await?;
    Ok(out)
}
