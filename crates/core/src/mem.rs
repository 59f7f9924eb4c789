//! Hints to the C allocator for long-running processes (glibc's; elsewhere nothing).
//!
//! glibc gives each thread that contends its own malloc arena (up to 8 per core) and
//! keeps the memory a burst freed: the host reads every session each pass, and would
//! otherwise hold the peak of its busiest pass for good.

/// One malloc arena for the whole process. Call it before any thread starts.
pub fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: a tuning call, made before the caller starts its threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Gives the pages freed since the last call back to the system.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is safe at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
