//! [`Config`]: a pool's fixed settings, read by the engine and by whoever
//! starts a worker.

use std::time::Duration;

use mp_process::StartMethod;
use mp_wire::Message;

use crate::func::EntryParts;
use crate::worker_state::WorkerStateType;

/// The pool's fixed settings.
pub(crate) struct Config {
    pub(crate) processes: usize,
    pub(crate) maxtasks: Option<u64>,
    pub(crate) method: StartMethod,
    pub(crate) init: Option<(EntryParts, Message)>,
    pub(crate) retries: u32,
    /// The default per-task timeout.
    pub(crate) task_timeout: Option<Duration>,
    /// What makes each worker's state, and the state's type.
    pub(crate) state: Option<(EntryParts, Message, WorkerStateType)>,
    /// A worker whose resident memory exceeds this after a chunk retires.
    pub(crate) max_memory: Option<u64>,
}
