//! Running a call that may panic inside a dependency (a GPU backend that finds no adapter
//! panics on its own server thread) and turning the panic into a message, without the default
//! hook printing a backtrace first.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set while [`quietly`] runs: panics on any thread are recorded instead of printed. The
/// start-up probe uses it before training starts any thread of its own, and `serve` around
/// each forward pass of its one inference thread (its only caller while serving).
static QUIET: AtomicBool = AtomicBool::new(false);
static FIRST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Installs the process's panic hook: the default one, except while [`quietly`] runs.
/// Call once, first thing in `main`.
pub fn install_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if QUIET.load(Ordering::SeqCst) {
            let mut first = FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
            first.get_or_insert_with(|| message(info.payload()));
        } else {
            default(info);
        }
    }));
}

/// Runs `f`; a panic becomes `Err(message)`, printed by nobody. Where the first panic happened
/// on another thread (the root cause; this thread then fails on a closed channel), its message
/// is the one returned.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    *FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = None;
    QUIET.store(true, Ordering::SeqCst);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.store(false, Ordering::SeqCst);
    let first = FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
    result.map_err(|panic| first.unwrap_or_else(|| message(&*panic)))
}

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "it failed".into())
}
