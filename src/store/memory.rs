//! A store in memory: the items and the run state behind the same [`Store`] trait as
//! DynamoDB, with the same conditional-write rule. The simulator runs on it, and the
//! handlers are tested on it without an emulator.

use std::sync::{Arc, Mutex};

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::{Change, Items, SideItems, StateKey, Store, StoreError, Versioned, Written, assemble};
use crate::fleet::Direction;
use crate::schedule::{Catalog, ExceptionItem};
use scheduler_core::history::Entry;

/// Items and state in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    items: Items,
    /// The state's parts as stored: version and JSON, as in DynamoDB.
    state: BTreeMap<StateKey, (u64, String)>,
    /// The catalog built from `items`, until they change: the simulator loads the
    /// catalog every run, and rebuilding (or copying) it would dominate a long
    /// simulation.
    catalog: Option<(chrono_tz::Tz, Arc<Catalog>)>,
    /// The state as the last run of this process left it, decoded: the next run
    /// takes it and decodes only the parts written since.
    decoded: Option<Versioned>,
    /// The history of what ran, when kept ([`MemoryStore::with_history`]).
    history: Option<Vec<Entry>>,
    /// Side items beside the state (see [`super::SideItems`]).
    side: SideItems,
}

impl MemoryStore {
    /// A store holding `items` and no run state.
    pub fn new(items: Items) -> MemoryStore {
        MemoryStore {
            inner: Mutex::new(Inner {
                items,
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain data: a panic elsewhere cannot leave it half-written.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The same, keeping a history of what ran (the simulator's report and picture).
    pub fn with_history(self) -> MemoryStore {
        self.lock().history.get_or_insert_with(Vec::new);
        self
    }

    /// The history kept so far, in the order it was written.
    pub fn history(&self) -> Vec<Entry> {
        self.lock().history.clone().unwrap_or_default()
    }

    /// The items as they are now.
    pub fn items(&self) -> Items {
        self.lock().items.clone()
    }
}

impl Store for MemoryStore {
    async fn load(&self) -> Result<Items, StoreError> {
        Ok(self.lock().items.clone())
    }

    async fn load_catalog(&self, default_tz: chrono_tz::Tz) -> Result<Catalog, StoreError> {
        Ok(self.load_catalog_shared(default_tz).await?.as_ref().clone())
    }

    async fn load_catalog_shared(
        &self,
        default_tz: chrono_tz::Tz,
    ) -> Result<Arc<Catalog>, StoreError> {
        let mut inner = self.lock();
        if let Some((tz, catalog)) = &inner.catalog
            && *tz == default_tz
        {
            return Ok(Arc::clone(catalog));
        }
        let catalog = Arc::new(inner.items.catalog(default_tz));
        inner.catalog = Some((default_tz, Arc::clone(&catalog)));
        Ok(catalog)
    }

    async fn checkout_state(&self) -> Result<Versioned, StoreError> {
        let kept = self.lock().decoded.take();
        let Some(mut kept) = kept else {
            return self.load_state().await;
        };
        let inner = self.lock();
        // Bring it up to date part by part: only what another run wrote since is
        // decoded again. Both maps are sorted by key: one walk beside the other finds
        // the parts gone and the parts written since.
        let mut stale: Vec<StateKey> = Vec::new();
        let mut fresh: Vec<&StateKey> = Vec::new();
        let mut mine = kept.versions.iter().peekable();
        for (key, (version, _)) in &inner.state {
            while let Some((k, _)) = mine.next_if(|(k, _)| *k < key) {
                stale.push(k.clone());
            }
            match mine.next_if(|(k, _)| *k == key) {
                Some((_, v)) if v == version => {}
                _ => fresh.push(key),
            }
        }
        stale.extend(mine.map(|(k, _)| k.clone()));
        for key in stale {
            kept.versions.remove(&key);
            if let StateKey::Schedule(name) = &key {
                kept.state.schedules.remove(name);
            }
        }
        for key in fresh {
            let Some((version, json)) = inner.state.get(key) else {
                continue;
            };
            let part = assemble(vec![(key.clone(), *version, json.clone())]);
            match key {
                StateKey::Run => kept.state.run = part.state.run,
                StateKey::Schedule(name) => {
                    let decoded = part
                        .state
                        .schedules
                        .into_values()
                        .next()
                        .unwrap_or_default();
                    kept.state.schedules.insert(name.clone(), decoded);
                }
            }
            kept.versions.insert(key.clone(), *version);
        }
        Ok(kept)
    }

    fn checkin_state(&self, state: Versioned) {
        self.lock().decoded = Some(state);
    }

    async fn load_state(&self) -> Result<Versioned, StoreError> {
        let parts = self
            .lock()
            .state
            .iter()
            .map(|(k, (v, json))| (k.clone(), *v, json.clone()))
            .collect();
        Ok(assemble(parts))
    }

    async fn write_state(&self, changes: &[Change]) -> Result<Written, StoreError> {
        let mut inner = self.lock();
        let mut written = Written::default();
        for c in changes {
            let current = inner.state.get(&c.key).map_or(0, |(v, _)| *v);
            if current != c.version {
                written.conflicts.insert(c.key.clone());
                continue;
            }
            match &c.json {
                Some(json) => {
                    inner
                        .state
                        .insert(c.key.clone(), (c.version + 1, json.clone()));
                    written.versions.insert(c.key.clone(), c.version + 1);
                }
                None => {
                    inner.state.remove(&c.key);
                    written.versions.insert(c.key.clone(), 0);
                }
            }
        }
        Ok(written)
    }

    async fn clear_force_start(&self, schedule: &str) -> Result<(), StoreError> {
        self.set_flag(schedule, false)
    }

    async fn delete_exception(
        &self,
        schedule: &str,
        date: NaiveDate,
        direction: Direction,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner
            .items
            .exceptions
            .retain(|e| !e.is(schedule, date, direction));
        inner.catalog = None;
        Ok(())
    }

    async fn set_exception(
        &self,
        schedule: &str,
        date: NaiveDate,
        direction: Direction,
        value: Option<NaiveTime>,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if !inner
            .items
            .schedules
            .iter()
            .any(|s| s.schedule_name == schedule)
        {
            return Err(StoreError::UnknownSchedule(schedule.to_string()));
        }
        inner
            .items
            .exceptions
            .retain(|e| !e.is(schedule, date, direction));
        inner
            .items
            .exceptions
            .push(ExceptionItem::new(schedule, date, direction, value));
        inner.catalog = None;
        Ok(())
    }

    fn keeps_history(&self) -> bool {
        self.lock().history.is_some()
    }

    fn side_items(&self) -> SideItems {
        self.lock().side.clone()
    }

    async fn record(&self, entries: &[Entry], side: &[(String, String)]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some(history) = inner.history.as_mut() {
            history.extend(entries.iter().cloned());
        }
        inner.side.extend(side.iter().cloned());
        Ok(())
    }

    async fn read_history(
        &self,
        schedule: &str,
        from: DateTime<Utc>,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut out: Vec<Entry> = self
            .lock()
            .history
            .iter()
            .flatten()
            .filter(|e| e.schedule == schedule && e.at >= from)
            .cloned()
            .collect();
        out.sort_by_key(|e| e.at);
        Ok(out)
    }

    async fn claim(&self, id: &str, value: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.side.get(id).is_some_and(|v| v.as_str() >= value) {
            return Ok(false);
        }
        inner.side.insert(id.to_string(), value.to_string());
        Ok(true)
    }
}

impl MemoryStore {
    /// Sets the schedule's `ForceStart`, as an operator editing the table does (the
    /// scheduler itself only clears it).
    pub async fn set_force_start(&self, schedule: &str) -> Result<(), StoreError> {
        self.set_flag(schedule, true)
    }

    fn set_flag(&self, schedule: &str, on: bool) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let item = inner
            .items
            .schedules
            .iter_mut()
            .find(|s| s.schedule_name == schedule)
            .ok_or_else(|| StoreError::UnknownSchedule(schedule.to_string()))?;
        item.force_start = on;
        // The flag is the only difference: mend the kept catalog rather than rebuild it.
        if let Some((_, catalog)) = &mut inner.catalog {
            let catalog = Arc::make_mut(catalog);
            for s in &mut catalog.schedules {
                if s.name == schedule {
                    s.force_start = on;
                    s.digest = s.fingerprint();
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::files::parse_into;

    #[test]
    fn an_exception_written_again_replaces_a_hand_edited_one() {
        let mut items = Items::default();
        parse_into(
            r#"{"ScheduleName":"Dev","Exceptions":[
                {"ExceptionDate":" 2026-12-24 ","ExceptionType":"STOP","ExceptionValue":"20:00"}]}"#,
            &mut items,
        )
        .unwrap();
        let store = MemoryStore::new(items);
        let date = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let later = NaiveTime::from_hms_opt(23, 0, 0);
        futures::executor::block_on(store.set_exception("Dev", date, Direction::Stop, later))
            .unwrap();
        let exceptions = store.items().exceptions;
        assert_eq!(exceptions.len(), 1, "{exceptions:?}");
        assert_eq!(exceptions[0].value_text(), "23:00");
        futures::executor::block_on(store.delete_exception("Dev", date, Direction::Stop)).unwrap();
        assert!(store.items().exceptions.is_empty());
    }
}
