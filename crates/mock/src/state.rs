//! The state one mock instance shares between its request handlers.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use super::data::DataSet;
use super::faults::Faults;
use super::options::{Eras, ResponseMode, ToolNaming};
use super::record::Recorder;
use super::sse::StreamStore;
use super::users::Directory;

/// Fixed settings chosen in the builder.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) eras: Eras,
    pub(crate) mode: ResponseMode,
    pub(crate) page_size: Option<usize>,
    pub(crate) sse_retry: Duration,
    pub(crate) max_body: usize,
    pub(crate) hang_for: Duration,
    pub(crate) naming: ToolNaming,
}

/// One session of the session era.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user_id: String,
    pub(crate) version: String,
    pub(crate) initialized: bool,
    /// The minimum level of `notifications/message` (from `logging/setLevel`).
    pub(crate) log_level: Option<String>,
    /// The stream number of the standalone GET stream, once opened.
    pub(crate) standalone: Option<u64>,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) directory: Directory,
    pub(crate) data: Mutex<DataSet>,
    pub(crate) tools: Vec<Value>,
    pub(crate) sessions: Mutex<HashMap<String, Session>>,
    pub(crate) streams: Mutex<StreamStore>,
    pub(crate) faults: Faults,
    pub(crate) recorder: Recorder,
    pub(crate) shutdown: watch::Receiver<bool>,
    random: RandomState,
    counter: AtomicU64,
}

/// Locks a mutex, ignoring poisoning (a panicking handler never leaves half-written state
/// behind that matters for a mock).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        directory: Directory,
        recorder: Recorder,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let tools = super::tools::catalogue(config.naming);
        Shared {
            config,
            directory,
            data: Mutex::new(DataSet::seed()),
            tools,
            sessions: Mutex::new(HashMap::new()),
            streams: Mutex::new(StreamStore::default()),
            faults: Faults::default(),
            recorder,
            shutdown,
            random: RandomState::new(),
            counter: AtomicU64::new(0),
        }
    }

    /// A fresh, unguessable session id: 32 lower-case hex digits.
    pub(crate) fn new_session_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut a = self.random.build_hasher();
        a.write_u64(n);
        a.write_u64(nanos);
        let mut b = RandomState::new().build_hasher();
        b.write_u64(a.finish());
        b.write_u64(n);
        format!("{:016x}{:016x}", a.finish(), b.finish())
    }

    /// Ends every live SSE reader of the sessions in `ids` and forgets their streams.
    pub(crate) fn forget_sessions(&self, ids: &[String]) {
        let mut streams = lock(&self.streams);
        for id in ids {
            streams.remove_session(id);
        }
    }
}
