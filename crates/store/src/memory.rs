//! Memory accounting: a counting global allocator.
// IMPLEMENTATION PENDING (helper)
