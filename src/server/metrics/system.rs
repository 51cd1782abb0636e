//! CPU and memory of the gateway process and its host, sampled with sysinfo.

use crate::views::SystemStats;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Samples this process and the host; CPU figures are averages since the previous sample.
pub struct SystemSampler {
    system: System,
    pid: Option<Pid>,
}

impl Default for SystemSampler {
    fn default() -> Self {
        Self {
            system: System::new(),
            pid: sysinfo::get_current_pid().ok(),
        }
    }
}

impl SystemSampler {
    /// Takes a sample (a few system calls and /proc reads: call it off the request path).
    pub fn sample(&mut self) -> SystemStats {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        let mut stats = SystemStats {
            host_cpu_percent: self.system.global_cpu_usage(),
            host_memory_used_bytes: self.system.used_memory(),
            host_memory_total_bytes: self.system.total_memory(),
            cpu_cores: self.system.cpus().len(),
            ..SystemStats::default()
        };
        if let Some(pid) = self.pid {
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                true,
                ProcessRefreshKind::nothing().with_cpu().with_memory(),
            );
            if let Some(process) = self.system.process(pid) {
                stats.process_cpu_percent = process.cpu_usage();
                stats.process_memory_bytes = process.memory();
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_this_process_and_the_host() {
        let mut sampler = SystemSampler::default();
        let stats = sampler.sample();
        assert!(stats.process_memory_bytes > 1_000_000, "{stats:?}");
        assert!(stats.host_memory_total_bytes >= stats.host_memory_used_bytes);
        assert!(stats.cpu_cores >= 1);
    }
}
