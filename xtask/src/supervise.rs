//! `cargo xtask up` keeps every process of the stack running: one that
//! exits is started again after a pause that doubles with each exit in a
//! row (0.5 s up to 30 s; a process that ran a minute starts the count
//! over), while the rest of the stack serves on. A process that keeps
//! exiting is given up on after [`ATTEMPTS`] exits in a row, and said so;
//! the others go on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::stack::{Process, Stack};

const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(30);
/// Running this long makes the next exit the first of a new series.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);
/// Exits in a row (start failures included) before giving up.
pub const ATTEMPTS: u32 = 8;

#[derive(Default)]
pub struct Supervisor {
    watched: BTreeMap<Process, Watch>,
}

struct Watch {
    /// Exits (or failed starts) in a row.
    exits: u32,
    /// When it was last started (by the stack or here).
    started: Instant,
    /// When to start it again, while it is down.
    restart_at: Option<Instant>,
    given_up: bool,
}

/// The pause before the `exits`-th start in a row.
pub fn pause(exits: u32) -> Duration {
    FIRST_PAUSE
        .saturating_mul(1 << exits.saturating_sub(1).min(16))
        .min(LONGEST_PAUSE)
}

impl Supervisor {
    /// Notices what exited, starts again what is due; each exit, restart
    /// and surrender is one line of the stack's log. Never fails: a
    /// process that cannot start is counted as one more exit.
    pub fn tick(&mut self, stack: &mut Stack) {
        let now = Instant::now();
        for (process, how) in stack.exited() {
            let watch = self.watched.entry(process).or_insert(Watch {
                exits: 0,
                started: now,
                restart_at: None,
                given_up: false,
            });
            if watch.restart_at.is_some() || watch.given_up {
                continue;
            }
            if now.duration_since(watch.started) >= HEALTHY_AFTER {
                watch.exits = 0;
            }
            let line = watch.exited(now, &how);
            stack.log.line("up", &line);
        }
        let due: Vec<Process> = self
            .watched
            .iter()
            .filter(|(_, w)| w.restart_at.is_some_and(|at| at <= now))
            .map(|(process, _)| *process)
            .collect();
        for process in due {
            let started = Instant::now();
            let outcome = stack.restart(process);
            let Some(watch) = self.watched.get_mut(&process) else {
                continue;
            };
            watch.started = Instant::now();
            watch.restart_at = None;
            let line = match outcome {
                Ok(()) => format!("{process} restarted in {:.1?}", started.elapsed()),
                Err(why) => {
                    let why = format!("{why:#}");
                    let first = why.lines().next().unwrap_or_default();
                    watch.exited(
                        Instant::now(),
                        &format!("{process} could not start ({first})"),
                    )
                }
            };
            stack.log.line("up", &line);
        }
    }
}

impl Watch {
    /// Counts one more exit and decides: a restart after a pause, or
    /// giving up. Returns the line that says which.
    fn exited(&mut self, now: Instant, how: &str) -> String {
        self.exits += 1;
        if self.exits >= ATTEMPTS {
            self.given_up = true;
            return format!(
                "{how}: {} exits in a row, given up on; the rest of the stack runs on",
                self.exits
            );
        }
        let pause = pause(self.exits);
        self.restart_at = Some(now + pause);
        format!("{how}: restarting in {pause:.1?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_from_half_a_second_to_thirty() {
        let pauses: Vec<Duration> = (1..=9).map(pause).collect();
        assert_eq!(
            pauses,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000].map(Duration::from_millis)
        );
    }

    #[test]
    fn a_process_that_keeps_exiting_is_given_up_on() {
        let now = Instant::now();
        let mut watch = Watch {
            exits: 0,
            started: now,
            restart_at: None,
            given_up: false,
        };
        for _ in 1..ATTEMPTS {
            let line = watch.exited(now, "stock:8012 exited (signal: 9)");
            assert!(line.contains("restarting in"), "{line}");
            watch.restart_at = None;
        }
        let line = watch.exited(now, "stock:8012 exited (signal: 9)");
        assert!(watch.given_up && line.contains("given up on"), "{line}");
    }
}
