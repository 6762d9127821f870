//! What the admin API shows of the queue: figures and a listing.

use serde::{Deserialize, Serialize};

use super::Queue;
use crate::spool::{RcptState, Stage};

/// One row of `segl ctl queue list`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub id: String,
    pub parent: Option<String>,
    pub stage: String,
    pub arrived: i64,
    pub sender: String,
    pub size: u64,
    pub recipients: Vec<QueueRecipient>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueRecipient {
    pub address: String,
    pub state: String,
    pub attempts: u32,
    pub next_attempt: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct QueueStats {
    pub messages: usize,
    pub incoming: usize,
    pub recipients_pending: usize,
    pub deferred: usize,
    pub held: usize,
}

impl Queue {
    pub fn stats(&self) -> QueueStats {
        let map = self.lock();
        let mut s = QueueStats {
            messages: map.len(),
            held: self.spool.held().len(),
            ..Default::default()
        };
        for e in map.values() {
            if e.env.stage == Stage::Process {
                s.incoming += 1;
            }
            for r in e.env.pending() {
                s.recipients_pending += 1;
                if r.attempts > 0 {
                    s.deferred += 1;
                }
            }
        }
        s
    }

    pub fn list(&self) -> Vec<QueueItem> {
        let map = self.lock();
        let mut items: Vec<QueueItem> = map
            .values()
            .map(|e| QueueItem {
                id: e.env.id.clone(),
                parent: e.env.parent.clone(),
                stage: match e.env.stage {
                    Stage::Process => "incoming".into(),
                    Stage::Deliver => "outgoing".into(),
                },
                arrived: e.env.arrived,
                sender: e.env.mail_from.clone(),
                size: e.env.size,
                recipients: e
                    .env
                    .recipients
                    .iter()
                    .map(|r| QueueRecipient {
                        address: r.address.clone(),
                        state: match &r.state {
                            RcptState::Pending if r.attempts > 0 => "deferred".into(),
                            RcptState::Pending => "pending".into(),
                            RcptState::Delivered { .. } => "delivered".into(),
                            RcptState::Failed { .. } => "failed".into(),
                        },
                        attempts: r.attempts,
                        next_attempt: r.next_attempt,
                        last_error: r.last_error.clone(),
                    })
                    .collect(),
            })
            .collect();
        items.sort_by(|a, b| a.id.cmp(&b.id));
        items
    }
}
