//! The small storage trait the keystore is written against, and its sled implementation.
//!
//! sled calls itself beta, so the keystore depends only on this trait: named trees of
//! byte keys to byte values, single-record writes (each atomic), and an explicit `flush` that
//! the keystore calls before it reports success. Every keystore object is one record, so a
//! crash leaves either the whole object or nothing. Swapping sled for another engine means
//! implementing these five methods.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use super::error::{KeystoreError, Result};

/// Named trees of records. Implementations must make each `put`/`delete` atomic and make
/// everything written before `flush` returns durable.
pub trait KvStore: Send + Sync {
    /// One record.
    fn get(&self, tree: &str, key: &str) -> Result<Option<Vec<u8>>>;
    /// Writes one record (atomically replacing an old one).
    fn put(&self, tree: &str, key: &str, value: &[u8]) -> Result<()>;
    /// Removes one record (no error when it is absent).
    fn delete(&self, tree: &str, key: &str) -> Result<()>;
    /// All records of a tree, in key order.
    fn list(&self, tree: &str) -> Result<Vec<(String, Vec<u8>)>>;
    /// Makes all writes so far durable.
    fn flush(&self) -> Result<()>;
}

/// sled, one sled tree per keystore tree.
pub struct SledStore {
    db: sled::Db,
}

impl SledStore {
    /// Opens (or creates) the sled database in `dir`.
    pub fn open(dir: &Path) -> Result<SledStore> {
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|source| KeystoreError::Open {
                path: dir.display().to_string(),
                source,
            })?;
        Ok(SledStore { db })
    }
}

impl KvStore for SledStore {
    fn get(&self, tree: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.open_tree(tree)?.get(key)?.map(|v| v.to_vec()))
    }

    fn put(&self, tree: &str, key: &str, value: &[u8]) -> Result<()> {
        self.db.open_tree(tree)?.insert(key, value)?;
        Ok(())
    }

    fn delete(&self, tree: &str, key: &str) -> Result<()> {
        self.db.open_tree(tree)?.remove(key)?;
        Ok(())
    }

    fn list(&self, tree: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for kv in self.db.open_tree(tree)?.iter() {
            let (k, v) = kv?;
            out.push((String::from_utf8_lossy(&k).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

/// An in-memory store for unit tests and for building a restore before it replaces the
/// real store.
#[derive(Default)]
pub struct MemStore {
    trees: Mutex<BTreeMap<String, BTreeMap<String, Vec<u8>>>>,
}

impl MemStore {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, BTreeMap<String, Vec<u8>>>) -> T) -> T {
        let mut g = match self.trees.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }
}

impl KvStore for MemStore {
    fn get(&self, tree: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.with(|t| t.get(tree).and_then(|m| m.get(key)).cloned()))
    }
    fn put(&self, tree: &str, key: &str, value: &[u8]) -> Result<()> {
        self.with(|t| {
            t.entry(tree.to_string())
                .or_default()
                .insert(key.to_string(), value.to_vec())
        });
        Ok(())
    }
    fn delete(&self, tree: &str, key: &str) -> Result<()> {
        self.with(|t| t.get_mut(tree).map(|m| m.remove(key)));
        Ok(())
    }
    fn list(&self, tree: &str) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(self.with(|t| {
            t.get(tree)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        }))
    }
    fn flush(&self) -> Result<()> {
        Ok(())
    }
}
