//! What a planning pass takes in: the verified objects as the reading side sends them (or as the
//! verifying pass kept them), with the namespaces, which come first in entry-name order, held
//! until the last one is in and then handed out in path order, parents before children.

use std::collections::VecDeque;

use tokio::sync::mpsc;

use crate::objects::Parent;
use crate::snapshot::reader::Scanned;

pub(super) struct Input {
    rx: mpsc::Receiver<Scanned>,
    open: bool,
    namespaces: Vec<Scanned>,
    queue: VecDeque<Scanned>,
}

impl Input {
    pub fn new(rx: mpsc::Receiver<Scanned>) -> Self {
        Input {
            rx,
            open: true,
            namespaces: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    /// The next object to plan; `None` once the reading side is done (or the input closed).
    pub async fn next(&mut self) -> Option<Scanned> {
        loop {
            if let Some(s) = self.queue.pop_front() {
                return Some(s);
            }
            if !self.open {
                return None;
            }
            let next = self.rx.recv().await;
            if let Some(s) = next.as_ref()
                && matches!(s.object.as_parent(), Some(Parent::Namespace(_)))
            {
                self.namespaces.extend(next);
                continue;
            }
            self.namespaces.sort_by_key(|a| a.object.path());
            self.queue.extend(self.namespaces.drain(..));
            self.open = next.is_some();
            self.queue.extend(next);
        }
    }

    /// Stops the reading side; nothing more is handed out.
    pub fn close(&mut self) {
        self.rx.close();
        self.open = false;
        self.queue.clear();
        self.namespaces.clear();
    }

    /// Everything was handed out, or the input closed.
    pub fn is_done(&self) -> bool {
        !self.open && self.queue.is_empty()
    }
}

/// Hands the verified objects `heads` to `feed` in their order, as a pass over the snapshot `key`
/// would.
pub(super) async fn replay(
    key: &str,
    heads: Vec<Scanned>,
    mut feed: impl FnMut(Scanned) -> bool + Send + 'static,
) -> crate::Result<()> {
    let fed = tokio::task::spawn_blocking(move || heads.into_iter().all(&mut feed)).await;
    match fed {
        Ok(true) => Ok(()),
        Ok(false) => Err(crate::Error::refused(key, "import stopped")),
        Err(e) => Err(crate::Error::refused(key, format!("reader crashed: {e}"))),
    }
}
