//! Off-chain submissions on SQLite: per attester the last accepted nonce, the accepted batches, and
//! the actions, all written in one transaction (`docs/PROTOCOL.md`, "Off-chain submissions").

use rusqlite::{params, OptionalExtension, Transaction};

use super::{hash, now, SqliteStore};
use crate::{ActionRow, Address, Hash, ImportStats, OffchainBatch, OffchainImport, Result, StoreError};

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
            if let Some(last) = last_nonce(tx, &batch.attester)? {
                if batch.nonce <= last {
                    return Ok(OffchainImport::Stale { last_nonce: last });
                }
            }
            let stats = insert_actions(tx, batch.source, actions)?;
            let at = now();
            tx.execute(
                "INSERT INTO offchain_attesters (attester, last_nonce, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (attester) DO UPDATE SET last_nonce = ?2, updated_at = ?3",
                params![&batch.attester.0[..], &batch.nonce.to_be_bytes()[..], at],
            )?;
            tx.execute(
                "INSERT INTO offchain_batches (attester, nonce, digest, actions, via, accepted_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    &batch.attester.0[..],
                    &batch.nonce.to_be_bytes()[..],
                    &batch.digest[..],
                    actions.len() as i64,
                    batch.via,
                    at
                ],
            )?;
            Ok(OffchainImport::Accepted(stats))
        })
    }

    pub(super) fn offchain_last_nonce(&self, attester: &Address) -> Result<Option<u64>> {
        self.read(|c| last_nonce(c, attester))
    }

    pub(super) fn offchain_batch_digest(&self, attester: &Address, nonce: u64) -> Result<Option<Hash>> {
        self.read(|c| {
            let b: Option<Vec<u8>> = c
                .prepare_cached("SELECT digest FROM offchain_batches WHERE attester = ?1 AND nonce = ?2")?
                .query_row(params![&attester.0[..], &nonce.to_be_bytes()[..]], |r| r.get(0))
                .optional()?;
            b.map(|b| hash(&b, "offchain_batches.digest")).transpose()
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
        }
    }

    #[test]
    fn nonces_only_grow_and_a_rejected_batch_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("k.db")).unwrap();
        assert_eq!(s.offchain_nonce(&Address([0xa7; 20])).unwrap(), None);
        let r = s
            .import_offchain(&batch(5, 1), &[post("p1", 10), post("p2", 20)])
            .unwrap();
        assert!(matches!(r, OffchainImport::Accepted(st) if st.actions_new == 2));
        assert_eq!(s.offchain_nonce(&Address([0xa7; 20])).unwrap(), Some(5));
        assert_eq!(s.offchain_batch(&Address([0xa7; 20]), 5).unwrap(), Some([1; 32]));
        // The same nonce, or a lower one: stale, nothing written.
        for n in [5, 4] {
            let r = s.import_offchain(&batch(n, 2), &[post("p3", 30)]).unwrap();
            assert_eq!(r, OffchainImport::Stale { last_nonce: 5 });
        }
        assert_eq!(s.input_counts().unwrap().1, 2);
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
        assert_eq!(s.input_counts().unwrap().1, 2);
        // A higher nonce with a known action (same content) and a new one.
        let r = s
            .import_offchain(&batch(u64::MAX, 4), &[post("p2", 20), post("p5", 50)])
            .unwrap();
        assert!(matches!(r, OffchainImport::Accepted(st) if st.actions_new == 1 && st.actions_known == 1));
        assert_eq!(s.offchain_nonce(&Address([0xa7; 20])).unwrap(), Some(u64::MAX));
        // Another attester has its own sequence.
        let mut other = batch(1, 5);
        other.attester = Address([0xb8; 20]);
        assert!(matches!(
            s.import_offchain(&other, &[]).unwrap(),
            OffchainImport::Accepted(_)
        ));
    }
}
