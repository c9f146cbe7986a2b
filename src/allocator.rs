//! The global allocator of the binary and the benches: mimalloc, asked the plain way
//! whenever the alignment allows.
//!
//! The `mimalloc` crate hands every request to `mi_malloc_aligned`. In mimalloc 3 that
//! call is fast only while the size's page has a free block at hand; otherwise, unless the
//! block size is a power of two, it over-allocates into a larger block by a slow path (a
//! record's 2,240-byte member list took it every time: 192,000 of the 241,000 allocations
//! reading the bench files). Every mimalloc block is aligned to the machine word, which
//! mimalloc's own `mi_realloc_aligned` relies on to go the plain way at or below it; so
//! does this.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// mimalloc as the global allocator: `#[global_allocator] static A: Mimalloc = Mimalloc;`
pub struct Mimalloc;

/// Alignments up to this are met by every mimalloc block.
const WORD: usize = std::mem::size_of::<usize>();

// SAFETY: every call hands mimalloc a layout's size (never zero: `GlobalAlloc` callers
// may not ask for zero bytes) and, above a word, its alignment, a power of two; blocks at
// or below a word's alignment come from the plain calls, whose blocks are word-aligned.
// Blocks are freed and resized only through mimalloc, which finds their size itself.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe {
            if layout.align() <= WORD {
                mi::mi_malloc(layout.size())
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align())
            }
        };
        p.cast()
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe {
            if layout.align() <= WORD {
                mi::mi_zalloc(layout.size())
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align())
            }
        };
        p.cast()
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let ptr = ptr.cast::<c_void>();
        let p = unsafe {
            if layout.align() <= WORD {
                mi::mi_realloc(ptr, new_size)
            } else {
                mi::mi_realloc_aligned(ptr, new_size, layout.align())
            }
        };
        p.cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of every size class up to a few pages, at every alignment up to a page, meet
    /// their alignment, hold what is written to them and keep it when they grow or shrink;
    /// zeroed blocks are zero.
    #[test]
    fn blocks_meet_their_alignment_and_keep_their_bytes() {
        let sizes = (1..=64)
            .chain((65..=20_000).step_by(37))
            .chain([2_240, 65_536]);
        for size in sizes {
            let pattern = |i: usize| (i * 7 + size) as u8;
            for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                for new_size in [size * 3, size.div_ceil(2)] {
                    unsafe {
                        let p = Mimalloc.alloc(layout);
                        assert_eq!(p as usize % align, 0, "size {size}, align {align}");
                        (0..size).for_each(|i| p.add(i).write(pattern(i)));
                        let q = Mimalloc.realloc(p, layout, new_size);
                        assert_eq!(q as usize % align, 0, "{size} -> {new_size}, {align}");
                        let kept = size.min(new_size);
                        assert!((0..kept).all(|i| q.add(i).read() == pattern(i)));
                        Mimalloc.dealloc(q, Layout::from_size_align(new_size, align).unwrap());
                    }
                }
                unsafe {
                    let z = Mimalloc.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0, "zeroed {size}, align {align}");
                    assert!((0..size).all(|i| z.add(i).read() == 0));
                    Mimalloc.dealloc(z, layout);
                }
            }
        }
    }
}
