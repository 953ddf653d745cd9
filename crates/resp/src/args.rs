//! `Args`: the arguments of one request, stored contiguously so that a request
//! costs two allocations however many arguments it has, and can be moved to
//! another shard's thread as it is.

/// The arguments of one request (the command name is argument 0).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Args {
    pub(crate) data: Vec<u8>,
    ends: Vec<usize>,
}

impl Args {
    /// An empty argument list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds an argument list from slices (tests, internal commands).
    pub fn from_slices<S: AsRef<[u8]>>(parts: &[S]) -> Self {
        let mut args = Self::new();
        for p in parts {
            args.push(p.as_ref());
        }
        args
    }

    /// Appends one whole argument.
    #[inline]
    pub fn push(&mut self, arg: &[u8]) {
        self.data.extend_from_slice(arg);
        self.ends.push(self.data.len());
    }

    /// Appends bytes to the argument being built (see [`Args::finish_arg`]).
    pub fn extend_current(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    /// Closes the argument built with [`Args::extend_current`].
    pub fn finish_arg(&mut self) {
        self.ends.push(self.data.len());
    }

    /// Bytes of the argument being built (0 between arguments).
    pub(crate) fn current_len(&self) -> usize {
        self.data.len() - self.ends.last().copied().unwrap_or(0)
    }

    /// Reserves room for `bytes` more argument bytes.
    pub fn reserve(&mut self, bytes: usize) {
        self.data.reserve(bytes);
    }

    /// Reserves room for `count` more arguments.
    pub(crate) fn reserve_args(&mut self, count: usize) {
        self.ends.reserve(count);
    }

    /// Bytes of argument data the allocation can hold without growing.
    pub(crate) fn data_capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Arguments the allocation can hold without growing.
    #[cfg(test)]
    pub(crate) fn args_capacity(&self) -> usize {
        self.ends.capacity()
    }

    /// Number of arguments.
    #[inline]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are no arguments.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Argument `i`. Panics if `i >= len()`: callers check arity first.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    /// Iterates over all arguments.
    #[inline]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Removes all arguments, keeping the allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Total bytes of argument data.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|a| String::from_utf8_lossy(a).into_owned()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_get() {
        let mut args = Args::new();
        assert!(args.is_empty());
        args.push(b"SET");
        args.push(b"");
        args.push(b"v\r\n\0");
        assert_eq!(args.len(), 3);
        assert!(!args.is_empty());
        assert_eq!(args.get(0), b"SET");
        assert_eq!(args.get(1), b"");
        assert_eq!(args.get(2), b"v\r\n\0");
        assert_eq!(args.data_len(), 7);
        assert_eq!(args.iter().len(), 3);
        assert_eq!(
            args.iter().collect::<Vec<_>>(),
            vec![&b"SET"[..], b"", b"v\r\n\0"]
        );
    }

    #[test]
    fn argument_built_in_pieces() {
        let mut args = Args::from_slices(&["APPEND"]);
        args.reserve(10);
        args.extend_current(b"ab");
        args.extend_current(b"");
        assert_eq!(args.current_len(), 2);
        args.extend_current(b"c");
        args.finish_arg();
        assert_eq!(args.current_len(), 0);
        args.finish_arg();
        assert_eq!(args, Args::from_slices(&["APPEND", "abc", ""]));
    }

    #[test]
    fn clear_and_debug() {
        let mut args = Args::from_slices(&[&b"GET"[..], b"k\xff"]);
        assert_eq!(format!("{args:?}"), "[\"GET\", \"k\u{fffd}\"]");
        args.clear();
        assert!(args.is_empty());
        assert_eq!(args.data_len(), 0);
        assert_eq!(args, Args::new());
    }
}
