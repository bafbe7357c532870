//! Ctrl-C while training: the binary installs the handler once (it owns the process and its exit
//! code) and calls [`stop_run_in_hand`] on the first press; each training run makes its
//! interrupter the one that press stops, for as long as it runs. One handler for the process, so
//! the runs `tutorials` trains one after another are each stopped by the first press.

use std::sync::Mutex;

use burn::train::Interrupter;

use crate::console;

struct State {
    in_hand: Option<Interrupter>,
    /// Ctrl-C came before any run was in hand: the next one stops at once.
    pressed: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    in_hand: None,
    pressed: false,
});

const WHY: &str = "interrupted by Ctrl-C";

/// Stops the run in hand after the batch it is on, keeping its last complete checkpoint.
pub fn stop_run_in_hand() {
    let mut state = STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    state.pressed = true;
    console::note("stopping after this batch; press Ctrl-C again to quit now");
    if let Some(interrupter) = &state.in_hand {
        interrupter.stop(Some(WHY));
    }
}

/// Makes `interrupter` the one Ctrl-C stops, until the returned guard drops.
pub fn route_to(interrupter: &Interrupter) -> Route {
    let mut state = STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if state.pressed {
        interrupter.stop(Some(WHY));
    }
    state.in_hand = Some(interrupter.clone());
    Route(())
}

/// While alive, Ctrl-C stops the run that asked for it.
#[must_use = "Ctrl-C reaches the run only while the route is kept"]
pub struct Route(());

impl Drop for Route {
    fn drop(&mut self) {
        STATE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .in_hand = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the state is the process's.
    #[test]
    fn a_press_stops_the_run_in_hand_and_every_run_after_it() {
        let first = Interrupter::new();
        let route = route_to(&first);
        assert!(!first.should_stop());
        stop_run_in_hand();
        assert!(first.should_stop());
        drop(route);
        let next = Interrupter::new();
        let _route = route_to(&next);
        assert!(next.should_stop(), "a later run (tutorials) stops too");
    }
}
