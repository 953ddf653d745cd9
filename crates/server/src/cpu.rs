//! The CPUs this process may run on, for `--threads`' default and pinning,
//! and the CPU time it and its threads used, for INFO and /metrics.

/// CPU ids in the process's affinity mask, ascending; `[0]` if it cannot be read.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    // SAFETY: sched_getaffinity fills the zeroed set we own; CPU_ISSET reads it.
    let cpus: Vec<usize> = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return vec![0];
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    };
    if cpus.is_empty() {
        vec![0]
    } else {
        cpus
    }
}

/// How many CPUs this process may run on.
pub fn available() -> usize {
    allowed_cpus().len()
}

/// Whose CPU time [`usage`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Who {
    /// The whole process.
    Process,
    /// Its terminated, waited-for children.
    Children,
    /// The calling thread.
    Thread,
}

/// CPU time used by `who`, from `getrusage(2)`; zero if it fails.
pub(crate) fn usage(who: Who) -> commands::CpuTime {
    let which = match who {
        Who::Process => libc::RUSAGE_SELF,
        Who::Children => libc::RUSAGE_CHILDREN,
        Who::Thread => libc::RUSAGE_THREAD,
    };
    // SAFETY: getrusage fills the zeroed struct we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(which, &mut usage) != 0 {
            return commands::CpuTime::default();
        }
        usage
    };
    let time = |t: libc::timeval| {
        std::time::Duration::from_secs(t.tv_sec.max(0) as u64)
            + std::time::Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    commands::CpuTime {
        system: time(usage.ru_stime),
        user: time(usage.ru_utime),
    }
}
