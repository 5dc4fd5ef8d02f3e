//! Every write to the Secrets of a namespace, from a watch: the resourceVersions each Secret went
//! through and how often it was deleted. A Secret written once has one resourceVersion; an apply
//! that changes nothing leaves it as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt as _};

/// What the watch saw of one Secret.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub versions: BTreeSet<String>,
    pub deleted: usize,
}

/// Records the Secrets of one namespace whose names start with a prefix, while it lives.
pub struct Writes {
    seen: Arc<Mutex<BTreeMap<String, Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Writes {
    /// Starts watching (the watch resumes by itself across apiserver restarts).
    pub fn watch(client: &Client, namespace: &str, prefix: &str) -> Writes {
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let seen: Arc<Mutex<BTreeMap<String, Seen>>> = Arc::default();
        let record = seen.clone();
        let prefix = prefix.to_owned();
        let task = tokio::spawn(async move {
            let stream = watcher::watcher(api, watcher::Config::default());
            futures::pin_mut!(stream);
            while let Some(ev) = stream.next().await {
                let Ok(ev) = ev else { continue };
                let mut map = match record.lock() {
                    Ok(m) => m,
                    Err(e) => e.into_inner(),
                };
                match ev {
                    Event::Apply(s) | Event::InitApply(s) => {
                        let name = s.name_any();
                        if name.starts_with(&prefix)
                            && let Some(rv) = s.resource_version()
                        {
                            map.entry(name).or_default().versions.insert(rv);
                        }
                    }
                    Event::Delete(s) => {
                        let name = s.name_any();
                        if name.starts_with(&prefix) {
                            map.entry(name).or_default().deleted += 1;
                        }
                    }
                    Event::Init | Event::InitDone => {}
                }
            }
        });
        Writes { seen, task }
    }

    /// A copy of what was seen so far.
    pub fn snapshot(&self) -> BTreeMap<String, Seen> {
        match self.seen.lock() {
            Ok(m) => m.clone(),
            Err(e) => e.into_inner().clone(),
        }
    }

    /// Deletions seen in all.
    pub fn deleted(&self) -> usize {
        self.snapshot().values().map(|s| s.deleted).sum()
    }

    /// Writes per Secret since `before` (a snapshot): new resourceVersions.
    pub fn since(&self, before: &BTreeMap<String, Seen>) -> BTreeMap<String, usize> {
        self.snapshot()
            .into_iter()
            .map(|(name, now)| {
                let old = before.get(&name).map(|s| s.versions.len()).unwrap_or(0);
                (name, now.versions.len().saturating_sub(old))
            })
            .collect()
    }
}

impl Drop for Writes {
    fn drop(&mut self) {
        self.task.abort();
    }
}
