//! The text of a panic payload: what `panic!("...")` carried, for the
//! reports and errors that turn a panic into a message.

use std::any::Any;

/// The message a panic payload carries (`panic!` with a literal or a
/// formatted message), or `None` for any other payload.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("bad item {}", 3)).unwrap_err();
/// assert_eq!(mp_process::panic_message(&*payload).as_deref(), Some("bad item 3"));
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}
