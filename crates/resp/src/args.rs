//! `Args`: the arguments of one request, stored contiguously so that a request
//! costs two allocations however many arguments it has, and can be moved to
//! another shard's thread as it is.

/// The arguments of one request (the command name is argument 0).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Args {
    data: Vec<u8>,
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

    /// Reserves room for `bytes` more argument bytes.
    pub fn reserve(&mut self, bytes: usize) {
        self.data.reserve(bytes);
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Argument `i`. Panics if `i >= len()`: callers check arity first.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    /// Iterates over all arguments.
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
