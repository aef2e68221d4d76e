//! The two deadlines of a wait: idle (the peer owes nothing) and message
//! (a message has begun, or is owed).

use std::time::{Duration, Instant};

use super::Session;
use crate::error::Error;
use crate::layout::Role;

impl Session {
    /// The timeout now in force: the message timeout while a message is
    /// under way or owed, else the idle timeout (`None`: wait as long as it
    /// takes). Counted from the message's first byte, or from entering the
    /// state or the last complete message, never from the last byte, so a
    /// peer dripping bytes cannot hold the connection open.
    pub fn current_timeout(&self) -> Option<Duration> {
        let message = self
            .timeout_override
            .unwrap_or(self.spec.states[self.state].timeout);
        if self.began.is_some()
            || self.timeout_override.is_some()
            || (self.role == Role::Client && !self.pending.is_empty())
            || self.spec.peer_owes(self.state, self.role)
        {
            return Some(message);
        }
        self.spec.states[self.state].idle_timeout
    }

    /// The message timeout of the state (or the override).
    pub fn timeout(&self) -> Duration {
        self.timeout_override
            .unwrap_or(self.spec.states[self.state].timeout)
    }

    /// When the next message must have arrived whole (`None`: no limit, the
    /// peer may stay silent).
    pub fn deadline(&self) -> Option<Instant> {
        let from = self.began.unwrap_or(self.entered);
        self.current_timeout().map(|t| from + t)
    }

    /// The error for a passed deadline.
    pub fn timeout_error(&self) -> Error {
        Error::Timeout {
            state: self.state_name().to_string(),
            after: self.current_timeout().unwrap_or_else(|| self.timeout()),
            waiting_for: self.describe_expected(),
        }
    }
}
