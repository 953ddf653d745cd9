//! The CPUs this process may run on, for `--threads`' default and pinning.

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
