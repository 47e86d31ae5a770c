//! The sandbox's record of its publishes, written in groups: the deliveries of publishes that
//! run at the same time (a worker publishes to many channels at once) go to the store in one
//! statement per workspace, written by one task while the next group gathers. Each publish
//! still waits for its own delivery to be recorded before it answers, as a platform answers
//! only once it has the post. A group is recorded all or none: should one delivery be refused
//! (its channel deleted meanwhile), every publish of the group fails as a temporary error and
//! the worker publishes them again later, still once each.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crier_core::{SandboxDelivery, Store, WorkspaceId};
use tokio::sync::{mpsc, oneshot};

/// A delivery to record, and where to send the outcome (an error's text).
type Pending = (SandboxDelivery, oneshot::Sender<Result<(), String>>);

pub(crate) struct DeliveryRecorder {
    store: Arc<dyn Store>,
    /// Started on first use, inside the runtime; it ends when the sandbox is dropped.
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
}

impl DeliveryRecorder {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store, queue: OnceLock::new() }
    }

    /// Records `delivery`, with whatever else is waiting, and answers once it is stored.
    pub(crate) async fn record(&self, delivery: SandboxDelivery) -> Result<(), String> {
        let queue = self.queue.get_or_init(|| {
            let (queue, pending) = mpsc::unbounded_channel();
            tokio::spawn(write_groups(self.store.clone(), pending));
            queue
        });
        let (answer, answered) = oneshot::channel();
        queue.send((delivery, answer)).map_err(|_| "the sandbox's recorder stopped".to_owned())?;
        answered.await.map_err(|_| "the sandbox's recorder stopped".to_owned())?
    }
}

/// Writes what is waiting, one group at a time, until every sender is gone.
async fn write_groups(store: Arc<dyn Store>, mut pending: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = pending.recv().await {
        let mut by_workspace: HashMap<WorkspaceId, Vec<Pending>> = HashMap::new();
        by_workspace.entry(first.0.workspace_id).or_default().push(first);
        while let Ok(more) = pending.try_recv() {
            by_workspace.entry(more.0.workspace_id).or_default().push(more);
        }
        for group in by_workspace.into_values() {
            let (deliveries, answers): (Vec<SandboxDelivery>, Vec<_>) = group.into_iter().unzip();
            let outcome = store.record_sandbox_deliveries(&deliveries).await.map_err(|err| err.to_string());
            for answer in answers {
                // A publish that gave up waiting does not need its answer.
                let _ = answer.send(outcome.clone());
            }
        }
    }
}
