//! The crash-restart policy of stream bots, beyond the spec: IntelMQ's PID mode
//! leaves a crashed bot dead until someone notices; here a bot is restarted
//! after an exponentially growing delay, until it has started `burst` times
//! within `interval`, and then it is marked failed and left alone until an
//! operator acts (as systemd's `Restart=` with `StartLimitBurst=`). Pure: the
//! time is passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::process::Termination;

/// When a bot that ended by itself is started again (the bot's `restart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartMode {
    /// Unless it exited with 0 or by SIGHUP, SIGINT, SIGTERM or SIGPIPE: an
    /// end someone asked for.
    #[default]
    OnFailure,
    Always,
    Never,
}

impl RestartMode {
    pub fn parse(text: &str) -> Option<RestartMode> {
        match text {
            "on-failure" => Some(RestartMode::OnFailure),
            "always" => Some(RestartMode::Always),
            "never" | "no" => Some(RestartMode::Never),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub mode: RestartMode,
    /// At most this many starts within `interval`, or the bot is failed.
    pub burst: u32,
    pub interval: Duration,
    /// The first delay; it doubles with each failure in a row.
    pub delay: Duration,
    pub delay_max: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            mode: RestartMode::OnFailure,
            burst: 5,
            interval: Duration::from_secs(60),
            delay: Duration::from_secs(1),
            delay_max: Duration::from_secs(30),
        }
    }
}

/// What to do about a bot that ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Leave it stopped: the policy does not restart this end.
    Stay,
    RestartIn(Duration),
    /// It started `starts` times within the interval: mark it failed.
    GiveUp {
        starts: usize,
    },
}

/// The starts of one bot since an operator last started it.
#[derive(Debug, Clone)]
pub struct Restarts {
    pub policy: RestartPolicy,
    starts: VecDeque<Instant>,
    failures_in_a_row: u32,
    /// Automatic restarts so far, for `status`.
    pub count: u64,
}

impl Restarts {
    pub fn new(policy: RestartPolicy, started: Instant) -> Restarts {
        Restarts {
            policy,
            starts: VecDeque::from([started]),
            failures_in_a_row: 0,
            count: 0,
        }
    }

    /// Records an automatic restart.
    pub fn restarted(&mut self, at: Instant) {
        self.starts.push_back(at);
        self.count += 1;
    }

    pub fn decide(&mut self, end: Termination, now: Instant) -> Decision {
        let wanted = match self.policy.mode {
            RestartMode::Never => false,
            RestartMode::Always => true,
            RestartMode::OnFailure => !is_clean(end),
        };
        if !wanted {
            return Decision::Stay;
        }
        // A bot that ran longer than the interval starts its count afresh.
        if self
            .starts
            .back()
            .is_some_and(|last| now.saturating_duration_since(*last) > self.policy.interval)
        {
            self.failures_in_a_row = 0;
        }
        while self
            .starts
            .front()
            .is_some_and(|first| now.saturating_duration_since(*first) > self.policy.interval)
        {
            self.starts.pop_front();
        }
        if self.starts.len() >= self.policy.burst as usize {
            return Decision::GiveUp {
                starts: self.starts.len(),
            };
        }
        let factor = 2u32.saturating_pow(self.failures_in_a_row.min(16));
        let delay = self
            .policy
            .delay
            .saturating_mul(factor)
            .min(self.policy.delay_max);
        self.failures_in_a_row += 1;
        Decision::RestartIn(delay)
    }
}

/// An end someone asked for, as systemd counts them for `on-failure`.
fn is_clean(end: Termination) -> bool {
    match end {
        Termination::Exited(code) => code == 0,
        Termination::Signaled(signal) => [
            Signal::SIGHUP,
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGPIPE,
        ]
        .iter()
        .any(|clean| *clean as i32 == signal),
        Termination::Unknown => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mode: RestartMode) -> RestartPolicy {
        RestartPolicy {
            mode,
            ..RestartPolicy::default()
        }
    }

    #[test]
    fn on_failure_restarts_failures_only() {
        let now = Instant::now();
        let mut restarts = Restarts::new(policy(RestartMode::OnFailure), now);
        assert_eq!(restarts.decide(Termination::Exited(0), now), Decision::Stay);
        assert_eq!(
            restarts.decide(Termination::Signaled(15), now),
            Decision::Stay
        );
        assert!(matches!(
            restarts.decide(Termination::Exited(3), now),
            Decision::RestartIn(_)
        ));
        assert!(matches!(
            restarts.decide(Termination::Signaled(6), now),
            Decision::RestartIn(_)
        ));
    }

    #[test]
    fn always_and_never() {
        let now = Instant::now();
        let mut always = Restarts::new(policy(RestartMode::Always), now);
        assert!(matches!(
            always.decide(Termination::Exited(0), now),
            Decision::RestartIn(_)
        ));
        let mut never = Restarts::new(policy(RestartMode::Never), now);
        assert_eq!(never.decide(Termination::Exited(1), now), Decision::Stay);
    }

    #[test]
    fn the_delay_doubles_up_to_the_maximum_and_the_burst_gives_up() {
        let start = Instant::now();
        let mut restarts = Restarts::new(
            RestartPolicy {
                burst: 5,
                interval: Duration::from_secs(600),
                delay: Duration::from_secs(1),
                delay_max: Duration::from_secs(4),
                mode: RestartMode::OnFailure,
            },
            start,
        );
        let mut delays = Vec::new();
        let mut now = start;
        loop {
            match restarts.decide(Termination::Exited(1), now) {
                Decision::RestartIn(delay) => {
                    delays.push(delay.as_secs());
                    now += delay;
                    restarts.restarted(now);
                }
                Decision::GiveUp { starts } => {
                    assert_eq!(starts, 5);
                    break;
                }
                Decision::Stay => panic!("a failure is restarted"),
            }
        }
        assert_eq!(delays, [1, 2, 4, 4]);
        assert_eq!(restarts.count, 4);
    }

    #[test]
    fn a_bot_that_ran_long_starts_afresh() {
        let start = Instant::now();
        let mut restarts = Restarts::new(policy(RestartMode::OnFailure), start);
        for _ in 0..3 {
            let _ = restarts.decide(Termination::Exited(1), start);
            restarts.restarted(start);
        }
        let much_later = start + Duration::from_secs(3600);
        assert_eq!(
            restarts.decide(Termination::Exited(1), much_later),
            Decision::RestartIn(Duration::from_secs(1))
        );
    }
}
