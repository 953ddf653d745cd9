//! `TimerWheel`: a hierarchical timer wheel of (deadline, key hash) entries.
// IMPLEMENTATION PENDING (helper)
