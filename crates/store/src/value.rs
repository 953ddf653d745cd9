//! Values stored under keys.

/// A value. Only strings exist so far; other types become variants here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string.
    String(Vec<u8>),
}

impl Value {
    /// Redis's type name, as TYPE replies.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
        }
    }

    /// Approximate heap bytes the value owns (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::String(s) => s.capacity(),
        }
    }
}
