//! Port of PyMOTW's `multiprocessing_import_worker.py`: the worker function
//! used by `multiprocessing_import_main`, defined in a module of its own.

/// worker function
pub(crate) fn worker() {
    println!("Worker");
}
