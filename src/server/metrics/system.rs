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

/// The host's cores and memory, before the first sample (what a snapshot taken in the gateway's
/// first second shows instead of zeros).
pub fn host() -> SystemStats {
    use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind};
    let system = System::new_with_specifics(
        RefreshKind::nothing()
            .with_memory(MemoryRefreshKind::nothing().with_ram())
            .with_cpu(CpuRefreshKind::nothing()),
    );
    SystemStats {
        host_memory_used_bytes: system.used_memory(),
        host_memory_total_bytes: system.total_memory(),
        cpu_cores: system.cpus().len(),
        ..SystemStats::default()
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
        let host = host();
        assert!(host.host_memory_total_bytes > 0);
        assert!(host.cpu_cores >= 1);
        let mut sampler = SystemSampler::default();
        let stats = sampler.sample();
        assert!(stats.process_memory_bytes > 1_000_000, "{stats:?}");
        assert!(stats.host_memory_total_bytes >= stats.host_memory_used_bytes);
        assert!(stats.cpu_cores >= 1);
    }
}
