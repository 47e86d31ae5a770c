//! The audit log: append-only security events, hash-chained per workspace so that an edited,
//! removed or reordered row is detected by walking the chain.
//!
//! `hash = SHA-256(prev_hash || canonical(row))`, where the canonical encoding is the fields in a
//! fixed order, integers big-endian, strings and optional values length-prefixed. A new encoding
//! would get a new domain-separation tag, never a silent change.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{AuditEventId, Timestamp, WorkspaceId};

const DOMAIN_TAG: &[u8] = b"crier.audit.v1";
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor(pub String);

impl Actor {
    pub fn api_key(id: crate::ApiKeyId) -> Self {
        Self(format!("api_key:{id}"))
    }

    pub fn cli() -> Self {
        Self("cli".to_owned())
    }
}

/// What is recorded, before the store numbers and chains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub id: AuditEventId,
    pub at: Timestamp,
    pub actor: Actor,
    /// Dotted verb, e.g. `api_key.created`.
    pub action: String,
    /// The object acted on, as its prefixed id.
    pub target: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl NewAuditEvent {
    pub const MAX_USER_AGENT_CHARS: usize = 256;

    pub fn new(at: Timestamp, actor: Actor, action: &str, target: String, origin: &RequestOrigin) -> Self {
        Self {
            id: AuditEventId::generate(),
            at,
            actor,
            action: action.to_owned(),
            target,
            ip: origin.ip.clone(),
            user_agent: origin
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(Self::MAX_USER_AGENT_CHARS).collect()),
        }
    }
}

/// A stored, chained audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub workspace_id: WorkspaceId,
    /// 1, 2, 3… per workspace, without gaps.
    pub seq: i64,
    pub id: AuditEventId,
    pub at: Timestamp,
    pub actor: Actor,
    pub action: String,
    pub target: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

/// The hash of a row given its predecessor's hash.
pub fn chain_hash(workspace: WorkspaceId, seq: i64, event: &NewAuditEvent, prev_hash: &[u8; 32]) -> [u8; 32] {
    let mut canonical = Vec::with_capacity(256);
    put_str(&mut canonical, std::str::from_utf8(DOMAIN_TAG).unwrap_or_default());
    canonical.extend_from_slice(workspace.as_uuid().as_bytes());
    canonical.extend_from_slice(&seq.to_be_bytes());
    canonical.extend_from_slice(event.id.as_uuid().as_bytes());
    canonical.extend_from_slice(&event.at.timestamp_micros().to_be_bytes());
    put_str(&mut canonical, &event.actor.0);
    put_str(&mut canonical, &event.action);
    put_str(&mut canonical, &event.target);
    put_opt(&mut canonical, event.ip.as_deref());
    put_opt(&mut canonical, event.user_agent.as_deref());
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(&canonical);
    hasher.finalize().into()
}

impl AuditEvent {
    /// Numbers and chains `event` after a row with `prev_seq` and `prev_hash`.
    pub fn chain(workspace: WorkspaceId, prev_seq: i64, prev_hash: [u8; 32], event: NewAuditEvent) -> Self {
        let seq = prev_seq + 1;
        let hash = chain_hash(workspace, seq, &event, &prev_hash);
        Self {
            workspace_id: workspace,
            seq,
            id: event.id,
            at: event.at,
            actor: event.actor,
            action: event.action,
            target: event.target,
            ip: event.ip,
            user_agent: event.user_agent,
            prev_hash,
            hash,
        }
    }

    fn as_new(&self) -> NewAuditEvent {
        NewAuditEvent {
            id: self.id,
            at: self.at,
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// The first link of a chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain of {workspace} broken at row {seq} ({id}): {reason}")]
pub struct BrokenLink {
    pub workspace: WorkspaceId,
    pub seq: i64,
    pub id: AuditEventId,
    pub reason: &'static str,
}

/// Walks a workspace's chain page by page. Feed it rows in `seq` order.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    workspace: WorkspaceId,
    last_seq: i64,
    last_hash: [u8; 32],
}

impl ChainVerifier {
    pub fn new(workspace: WorkspaceId) -> Self {
        Self { workspace, last_seq: 0, last_hash: GENESIS_HASH }
    }

    pub fn rows_checked(&self) -> i64 {
        self.last_seq
    }

    pub fn head(&self) -> [u8; 32] {
        self.last_hash
    }

    pub fn check(&mut self, row: &AuditEvent) -> Result<(), BrokenLink> {
        let broken = |reason| BrokenLink { workspace: self.workspace, seq: row.seq, id: row.id, reason };
        if row.workspace_id != self.workspace {
            return Err(broken("row belongs to another workspace"));
        }
        if row.seq != self.last_seq + 1 {
            return Err(broken("sequence gap: a row before it is missing"));
        }
        if row.prev_hash != self.last_hash {
            return Err(broken("prev_hash does not match the previous row's hash"));
        }
        if chain_hash(self.workspace, row.seq, &row.as_new(), &row.prev_hash) != row.hash {
            return Err(broken("hash does not match the row's contents (edited?)"));
        }
        self.last_seq = row.seq;
        self.last_hash = row.hash;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiKeyId, Clock, SystemClock};

    fn event(action: &str) -> NewAuditEvent {
        NewAuditEvent::new(
            SystemClock.now(),
            Actor::api_key(ApiKeyId::generate()),
            action,
            "key_x".into(),
            &RequestOrigin::default(),
        )
    }

    fn chain(ws: WorkspaceId, n: usize) -> Vec<AuditEvent> {
        let mut rows: Vec<AuditEvent> = Vec::new();
        for i in 0..n {
            let (seq, hash) = rows.last().map_or((0, GENESIS_HASH), |r| (r.seq, r.hash));
            rows.push(AuditEvent::chain(ws, seq, hash, event(&format!("a{i}"))));
        }
        rows
    }

    fn verify(ws: WorkspaceId, rows: &[AuditEvent]) -> Result<(), BrokenLink> {
        let mut verifier = ChainVerifier::new(ws);
        rows.iter().try_for_each(|row| verifier.check(row))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let ws = WorkspaceId::generate();
        assert_eq!(verify(ws, &chain(ws, 5)), Ok(()));
    }

    #[test]
    fn edits_removals_and_swaps_are_caught_at_the_right_row() {
        let ws = WorkspaceId::generate();
        let rows = chain(ws, 5);

        let mut edited = rows.clone();
        edited[2].action = "api_key.nothing_happened".into();
        assert_eq!(verify(ws, &edited).unwrap_err().seq, 3);

        let mut removed = rows.clone();
        removed.remove(1);
        assert_eq!(verify(ws, &removed).unwrap_err().seq, 3);

        let mut swapped = rows.clone();
        swapped.swap(3, 4);
        assert_eq!(verify(ws, &swapped).unwrap_err().seq, 5);

        let mut rehashed = rows;
        rehashed[1].ip = Some("10.0.0.1".into());
        rehashed[1].hash = chain_hash(ws, 2, &rehashed[1].as_new(), &rehashed[1].prev_hash);
        assert_eq!(verify(ws, &rehashed).unwrap_err().seq, 3, "a recomputed hash breaks the next link");
    }
}
