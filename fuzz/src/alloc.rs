//! A global allocator that counts the bytes live on the current thread, so a check can measure
//! what one call allocated (`resp_request`: a lying length header must cost nothing). Binaries
//! that want the figures register it with `#[global_allocator]`; without it every measure is 0.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // Constant-initialized and without destructors: reading them never allocates.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// [`System`], counting.
pub struct CountingAlloc;

fn grew(bytes: usize) {
    LIVE.with(|live| {
        let now = live.get().wrapping_add(bytes as isize);
        live.set(now);
        PEAK.with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(bytes: usize) {
    LIVE.with(|live| live.set(live.get().wrapping_sub(bytes as isize)));
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are plain thread-locals.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Counted as the worst case, both blocks live at once.
            grew(new_size);
            shrank(layout.size());
        }
        new
    }
}

/// Measures the most bytes the current thread held at once since [`Measure::start`], beyond
/// what it held then.
pub struct Measure {
    base: isize,
}

impl Measure {
    /// Starts measuring from what the thread holds now.
    pub fn start() -> Measure {
        let base = LIVE.with(Cell::get);
        PEAK.with(|peak| peak.set(base));
        Measure { base }
    }

    /// The largest growth seen since the start (0 when the counting allocator is not installed).
    pub fn peak_growth(&self) -> usize {
        PEAK.with(Cell::get).saturating_sub(self.base).max(0) as usize
    }
}
