//! Off-chain submissions on SQLite: per attester the batches accepted, keyed by nonce (the set of
//! nonces used), each with its digest and its signed envelope, the attester's highest nonce, and
//! the actions, all written in one transaction (`docs/PROTOCOL.md`, "Off-chain submissions").

use rusqlite::{params, OptionalExtension, Transaction};

use super::{addr, hash, now, SqliteStore};
use crate::{
    ActionRow, Address, ArchivedBatch, Hash, ImportStats, OffchainBatch, OffchainImport, Result, StoreError,
};

fn nonce_from(b: &[u8], what: &'static str) -> Result<u64> {
    <[u8; 8]>::try_from(b)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt { what })
}

fn last_nonce(c: &rusqlite::Connection, attester: &Address) -> Result<Option<u64>> {
    let b: Option<Vec<u8>> = c
        .prepare_cached("SELECT last_nonce FROM offchain_attesters WHERE attester = ?1")?
        .query_row([&attester.0[..]], |r| r.get(0))
        .optional()?;
    b.map(|b| nonce_from(&b, "offchain_attesters.last_nonce"))
        .transpose()
}

fn batch_digest(c: &rusqlite::Connection, attester: &Address, nonce: u64) -> Result<Option<Hash>> {
    let b: Option<Vec<u8>> = c
        .prepare_cached("SELECT digest FROM offchain_batches WHERE attester = ?1 AND nonce = ?2")?
        .query_row(params![&attester.0[..], &nonce.to_be_bytes()[..]], |r| r.get(0))
        .optional()?;
    b.map(|b| hash(&b, "offchain_batches.digest")).transpose()
}

/// Inserts actions like `Store::import` does (idempotent by `action_id`, a conflict is an error).
fn insert_actions(tx: &Transaction<'_>, source: &str, actions: &[ActionRow]) -> Result<ImportStats> {
    let batch = super::bulk::batch_of(&[], actions)?;
    let mut imp = super::bulk::Importer::new(tx, source)?;
    imp.batch(&batch)?;
    Ok(imp.stats)
}

impl SqliteStore {
    pub(super) fn offchain_import(
        &self,
        batch: &OffchainBatch<'_>,
        actions: &[ActionRow],
    ) -> Result<OffchainImport> {
        self.write(|tx| {
            // Checked inside the write transaction: two submissions of one nonce cannot both pass.
            if let Some(digest) = batch_digest(tx, &batch.attester, batch.nonce)? {
                return Ok(OffchainImport::Seen { digest });
            }
            let stats = insert_actions(tx, batch.source, actions)?;
            let at = now();
            // The highest nonce (8-byte big-endian blobs compare as the numbers do).
            tx.execute(
                "INSERT INTO offchain_attesters (attester, last_nonce, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (attester) DO UPDATE SET last_nonce = max(last_nonce, ?2), updated_at = ?3",
                params![&batch.attester.0[..], &batch.nonce.to_be_bytes()[..], at],
            )?;
            tx.execute(
                "INSERT INTO offchain_batches (attester, nonce, digest, actions, via, accepted_at, envelope) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    &batch.attester.0[..],
                    &batch.nonce.to_be_bytes()[..],
                    &batch.digest[..],
                    actions.len() as i64,
                    batch.via,
                    at,
                    batch.envelope
                ],
            )?;
            Ok(OffchainImport::Accepted(stats))
        })
    }

    pub(super) fn offchain_last_nonce(&self, attester: &Address) -> Result<Option<u64>> {
        self.read(|c| last_nonce(c, attester))
    }

    pub(super) fn offchain_batch_digest(&self, attester: &Address, nonce: u64) -> Result<Option<Hash>> {
        self.read(|c| batch_digest(c, attester, nonce))
    }

    pub(super) fn offchain_batches(
        &self,
        visit: &mut dyn FnMut(ArchivedBatch) -> std::result::Result<(), String>,
    ) -> Result<()> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT attester, nonce, digest, envelope, via, accepted_at FROM offchain_batches \
                 ORDER BY attester, nonce",
            )?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let a: Vec<u8> = r.get(0)?;
                let n: Vec<u8> = r.get(1)?;
                let d: Vec<u8> = r.get(2)?;
                let batch = ArchivedBatch {
                    attester: addr(&a, "offchain_batches.attester")?,
                    nonce: nonce_from(&n, "offchain_batches.nonce")?,
                    digest: hash(&d, "offchain_batches.digest")?,
                    envelope: r.get(3)?,
                    via: r.get(4)?,
                    accepted_at: r.get(5)?,
                };
                visit(batch).map_err(|reason| StoreError::Aborted {
                    source_name: "the off-chain archive".into(),
                    reason,
                })?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{ActionRow, Address, OffchainBatch, OffchainImport, SqliteStore, Store, StoreError};

    fn post(id: &str, ts: i64) -> ActionRow {
        ActionRow {
            action_id: id.into(),
            wallet: Address([7; 20]),
            kind: "post".into(),
            side: "offchain".into(),
            timestamp: ts,
        }
    }

    fn batch(nonce: u64, digest: u8) -> OffchainBatch<'static> {
        OffchainBatch {
            attester: Address([0xa7; 20]),
            nonce,
            digest: [digest; 32],
            source: "offchain test",
            via: "test",
            envelope: "{}",
        }
    }

    #[test]
    fn nonces_are_a_set_and_a_rejected_batch_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("k.db")).unwrap();
        assert_eq!(s.offchain_nonce(&Address([0xa7; 20])).unwrap(), None);
        let r = s
            .import_offchain(&batch(5, 1), &[post("p1", 10), post("p2", 20)])
            .unwrap();
        assert!(matches!(r, OffchainImport::Accepted(st) if st.actions_new == 2));
        assert_eq!(s.offchain_nonce(&Address([0xa7; 20])).unwrap(), Some(5));
        assert_eq!(s.offchain_batch(&Address([0xa7; 20]), 5).unwrap(), Some([1; 32]));
        // The same nonce again (another batch or the same): seen, nothing written.
        for d in [2, 1] {
            let r = s.import_offchain(&batch(5, d), &[post("p3", 30)]).unwrap();
            assert_eq!(r, OffchainImport::Seen { digest: [1; 32] });
        }
        assert_eq!(s.input_counts().unwrap().1, 2);
        // A lower unused nonce is accepted (delivery order does not matter); the highest stays.
        let r = s.import_offchain(&batch(4, 6), &[post("p6", 60)]).unwrap();
        assert!(matches!(r, OffchainImport::Accepted(st) if st.actions_new == 1));
        assert_eq!(s.offchain_nonce(&Address([0xa7; 20])).unwrap(), Some(5));
        // A conflicting action rolls the whole batch back: no nonce, no batch, no action.
        let mut bad = post("p1", 10);
        bad.kind = "like".into();
        let e = s
            .import_offchain(&batch(6, 3), &[post("p4", 40), bad])
            .unwrap_err();
        assert!(
            matches!(e, StoreError::ActionConflict { field: "kind", .. }),
            "{e}"
        );
        assert_eq!(s.offchain_nonce(&Address([0xa7; 20])).unwrap(), Some(5));
        assert_eq!(s.offchain_batch(&Address([0xa7; 20]), 6).unwrap(), None);
        assert_eq!(s.input_counts().unwrap().1, 3);
        // A higher nonce with a known action (same content) and a new one.
        let r = s
            .import_offchain(&batch(u64::MAX, 4), &[post("p2", 20), post("p5", 50)])
            .unwrap();
        assert!(matches!(r, OffchainImport::Accepted(st) if st.actions_new == 1 && st.actions_known == 1));
        assert_eq!(s.offchain_nonce(&Address([0xa7; 20])).unwrap(), Some(u64::MAX));
        // Another attester has its own set.
        let mut other = batch(5, 5);
        other.attester = Address([0xb8; 20]);
        assert!(matches!(
            s.import_offchain(&other, &[]).unwrap(),
            OffchainImport::Accepted(_)
        ));
        // The archive: every accepted batch with its envelope, by attester then nonce.
        let mut archive = Vec::new();
        s.offchain_archive(&mut |b| {
            archive.push(b);
            Ok(())
        })
        .unwrap();
        let keys: Vec<(u8, u64, u8)> = archive
            .iter()
            .map(|b| (b.attester.0[0], b.nonce, b.digest[0]))
            .collect();
        assert_eq!(
            keys,
            [(0xa7, 4, 6), (0xa7, 5, 1), (0xa7, u64::MAX, 4), (0xb8, 5, 5)]
        );
        assert!(archive.iter().all(|b| b.envelope.as_deref() == Some("{}")));
        // A visitor that fails stops the walk.
        let mut seen = 0;
        let e = s
            .offchain_archive(&mut |_| {
                seen += 1;
                Err("disk full".into())
            })
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Aborted { .. }) && e.to_string().contains("disk full"),
            "{e}"
        );
        assert_eq!(seen, 1);
    }
}
