//! What the ProviderClass workers should do next, per class name: the latest object the watch
//! delivered (or that it was deleted), and the attempt in flight with the trigger that abandons
//! it when a newer spec or a deletion arrives. Pure bookkeeping, no I/O: the watch loop feeds it,
//! the workers of the keyed queue read it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kube::ResourceExt;
use tokio::sync::oneshot;

use crate::crd::{ProviderClass, ProviderClassSpec};

/// The latest known state of one class.
#[derive(Debug, Clone)]
enum Wanted {
    /// The object and its spec (what decides whether it must be bound again).
    Present(Arc<ProviderClass>),
    /// Deleted: the provider key it served, to fall back to the embedded component.
    Deleted(String),
}

/// What a worker does with a class it took from the queue.
#[derive(Debug)]
pub enum Work {
    /// Bind this object; `superseded` fires when a newer spec or a deletion arrives meanwhile.
    Apply {
        class: Arc<ProviderClass>,
        superseded: oneshot::Receiver<()>,
    },
    /// The class is gone: give its provider key back to the embedded component.
    Remove { provider: String },
}

#[derive(Debug, Default)]
pub struct Desired {
    classes: HashMap<String, Wanted>,
    /// Attempts in flight: the spec being applied and the sender that abandons it.
    in_flight: HashMap<String, (ProviderClassSpec, oneshot::Sender<()>)>,
    /// Names delivered since the watch (re)started listing; `None` outside a relist.
    relisted: Option<HashSet<String>>,
}

impl Desired {
    /// An applied object. Returns whether the class must be queued: a new class, a new spec or
    /// a re-created object; a status-only change (this controller's own status patch among them)
    /// is recorded but queues nothing, so it does not cut a retry's backoff short.
    pub fn applied(&mut self, pc: ProviderClass) -> bool {
        let name = pc.name_any();
        if let Some(seen) = self.relisted.as_mut() {
            seen.insert(name.clone());
        }
        let changed = match self.classes.get(&name) {
            Some(Wanted::Present(old)) => {
                old.spec != pc.spec || old.metadata.uid != pc.metadata.uid
            }
            Some(Wanted::Deleted(_)) | None => true,
        };
        if changed {
            self.supersede(&name, Some(&pc.spec));
        }
        self.classes.insert(name, Wanted::Present(Arc::new(pc)));
        changed
    }

    /// A deleted object. Returns whether the class must be queued (always: its key falls back).
    pub fn deleted(&mut self, pc: &ProviderClass) -> bool {
        let name = pc.name_any();
        self.supersede(&name, None);
        self.classes
            .insert(name, Wanted::Deleted(pc.spec.provider.clone()));
        true
    }

    /// The watch starts listing every object again (after a restart or a desync).
    pub fn relist_started(&mut self) {
        self.relisted = Some(HashSet::new());
    }

    /// The relist is complete: the classes it did not deliver were deleted while the watch was
    /// down. Returns their names, to be queued.
    pub fn relist_done(&mut self) -> Vec<String> {
        let Some(seen) = self.relisted.take() else {
            return Vec::new();
        };
        let gone: Vec<String> = self
            .classes
            .iter()
            .filter(|(name, w)| matches!(w, Wanted::Present(..)) && !seen.contains(*name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &gone {
            self.supersede(name, None);
            if let Some(Wanted::Present(pc)) = self.classes.get(name) {
                let provider = pc.spec.provider.clone();
                self.classes.insert(name.clone(), Wanted::Deleted(provider));
            }
        }
        gone
    }

    /// Abandons the attempt in flight for `name` unless it applies `spec` already.
    fn supersede(&mut self, name: &str, spec: Option<&ProviderClassSpec>) {
        let current = self.in_flight.get(name).map(|(s, _)| s);
        if current.is_some()
            && current != spec
            && let Some((_, abandon)) = self.in_flight.remove(name)
        {
            let _ = abandon.send(());
        }
    }

    /// What to do for `name`, taken from the queue. A deletion is consumed (forgotten once
    /// handed out); an apply is marked in flight until [`Desired::finished`].
    pub fn take(&mut self, name: &str) -> Option<Work> {
        match self.classes.get(name)?.clone() {
            Wanted::Present(class) => {
                let (abandon, superseded) = oneshot::channel();
                self.in_flight
                    .insert(name.to_owned(), (class.spec.clone(), abandon));
                Some(Work::Apply { class, superseded })
            }
            Wanted::Deleted(provider) => {
                self.classes.remove(name);
                Some(Work::Remove { provider })
            }
        }
    }

    /// The attempt for `name` ended (bound, failed or abandoned).
    pub fn finished(&mut self, name: &str) {
        self.in_flight.remove(name);
    }
}
