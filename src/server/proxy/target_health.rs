//! Health of one target, as a pure state machine: it turns unhealthy after
//! `unhealthy_threshold` consecutive failed checks (active probes, or real requests that could not
//! connect or timed out) and healthy again after `healthy_threshold` consecutive good probes.
//! Targets start healthy so traffic flows before the first probe.

use crate::server::config::HealthCheckConfig;

/// Consecutive check outcomes of one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthTracker {
    healthy: bool,
    consecutive_successes: u32,
    consecutive_failures: u32,
}

impl Default for HealthTracker {
    fn default() -> Self {
        Self {
            healthy: true,
            consecutive_successes: 0,
            consecutive_failures: 0,
        }
    }
}

impl HealthTracker {
    /// Whether the target is in rotation.
    pub fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// Consecutive failures so far (0 after any success).
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Records a good check; returns `Some(true)` if the target just became healthy.
    pub fn on_success(&mut self, config: &HealthCheckConfig) -> Option<bool> {
        self.consecutive_failures = 0;
        self.consecutive_successes = self.consecutive_successes.saturating_add(1);
        if !self.healthy && self.consecutive_successes >= config.healthy_threshold {
            self.healthy = true;
            return Some(true);
        }
        None
    }

    /// Records a failed check; returns `Some(false)` if the target just became unhealthy.
    pub fn on_failure(&mut self, config: &HealthCheckConfig) -> Option<bool> {
        self.consecutive_successes = 0;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.healthy && self.consecutive_failures >= config.unhealthy_threshold {
            self.healthy = false;
            return Some(false);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> HealthCheckConfig {
        HealthCheckConfig {
            path: "/health".into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            healthy_threshold: 2,
            unhealthy_threshold: 3,
        }
    }

    #[test]
    fn leaves_and_rejoins_rotation_at_the_thresholds() {
        let config = config();
        let mut health = HealthTracker::default();
        assert!(health.is_healthy());
        assert_eq!(health.on_failure(&config), None);
        assert_eq!(health.on_failure(&config), None);
        assert_eq!(health.on_failure(&config), Some(false));
        assert!(!health.is_healthy());
        assert_eq!(health.on_failure(&config), None, "no repeated transition");
        assert_eq!(health.on_success(&config), None);
        assert_eq!(
            health.on_failure(&config),
            None,
            "a failure resets the successes"
        );
        assert_eq!(health.on_success(&config), None);
        assert_eq!(health.on_success(&config), Some(true));
        assert!(health.is_healthy());
        assert_eq!(health.consecutive_failures(), 0);
    }
}
