//! Reading decisions out of the fuzz input: the targets that build structured values (frames,
//! command sequences) take one byte per choice, so libFuzzer's mutations map to small, local
//! changes of the value.

/// The unread part of a fuzz input.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Wraps `data`.
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, 0 once the input is used up (so every read has an answer).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&first, rest)) => {
                self.data = rest;
                first
            }
            None => 0,
        }
    }

    /// A choice among `n` (n > 0).
    pub fn choose(&mut self, n: usize) -> usize {
        self.byte() as usize % n.max(1)
    }

    /// The next `n` bytes, fewer at the end.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        taken
    }

    /// The next eight bytes as a little-endian number (zero-padded at the end).
    pub fn u64(&mut self) -> u64 {
        let mut raw = [0u8; 8];
        let taken = self.bytes(8);
        raw[..taken.len()].copy_from_slice(taken);
        u64::from_le_bytes(raw)
    }
}
