//! The C runtime OpenH264's decoder needs on wasm32-unknown-unknown, where there
//! is no libc. Linking wasi-libc instead would make the module import WASI
//! functions no browser provides; the decoder references only these (listed by
//! linking it with `--allow-undefined` and reading the imports), so they are
//! written here. `memcpy`, `memmove`, `memset` and `memcmp` come from Rust's
//! compiler-builtins.
//!
//! Every function is `extern "C"` with the symbol name the C/C++ code uses.
//! Variadic C functions (`fprintf`) and `va_list` (`vsnprintf`) are, in the
//! wasm32 C ABI, one pointer to the packed arguments, which is how they are
//! declared here; the arguments are never read.

use std::alloc::{alloc, dealloc, Layout};
use std::ffi::{c_char, c_int, c_void};

/// Every allocation is 16-byte aligned (what OpenH264 assumes of `malloc`) and
/// carries its size in a 16-byte header, so `free` can rebuild the layout.
const HEADER: usize = 16;

#[no_mangle]
unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    let Some(total) = size.checked_add(HEADER) else {
        return std::ptr::null_mut();
    };
    let Ok(layout) = Layout::from_size_align(total, HEADER) else {
        return std::ptr::null_mut();
    };
    // SAFETY: the layout is non-zero in size (it includes the header).
    let base = unsafe { alloc(layout) };
    if base.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: `base` has room for the header, aligned for usize.
    unsafe {
        base.cast::<usize>().write(total);
        base.add(HEADER).cast()
    }
}

#[no_mangle]
unsafe extern "C" fn free(ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from `malloc` above, so the header precedes it.
    unsafe {
        let base = ptr.cast::<u8>().sub(HEADER);
        let total = base.cast::<usize>().read();
        dealloc(base, Layout::from_size_align_unchecked(total, HEADER));
    }
}

// C++ `new`, `new[]`, `delete`, `delete[]` (Itanium ABI names). OpenH264 is
// built without exceptions, so a failed `new` returns null like `malloc`.
#[no_mangle]
unsafe extern "C" fn _Znwm(size: usize) -> *mut c_void {
    unsafe { malloc(size) }
}
#[no_mangle]
unsafe extern "C" fn _Znam(size: usize) -> *mut c_void {
    unsafe { malloc(size) }
}
#[no_mangle]
unsafe extern "C" fn _ZdlPv(ptr: *mut c_void) {
    unsafe { free(ptr) }
}
#[no_mangle]
unsafe extern "C" fn _ZdaPv(ptr: *mut c_void) {
    unsafe { free(ptr) }
}

#[no_mangle]
unsafe extern "C" fn strlen(s: *const c_char) -> usize {
    let mut n = 0;
    // SAFETY: C strings are NUL-terminated.
    unsafe {
        while *s.add(n) != 0 {
            n += 1;
        }
    }
    n
}

#[no_mangle]
unsafe extern "C" fn strncpy(dst: *mut c_char, src: *const c_char, n: usize) -> *mut c_char {
    let mut i = 0;
    // SAFETY: as C's strncpy: `dst` has room for `n` bytes, `src` is NUL-terminated.
    unsafe {
        while i < n && *src.add(i) != 0 {
            *dst.add(i) = *src.add(i);
            i += 1;
        }
        while i < n {
            *dst.add(i) = 0;
            i += 1;
        }
    }
    dst
}

/// OpenH264 formats trace messages with this; they are not shown anywhere, so
/// the result is an empty string.
#[no_mangle]
unsafe extern "C" fn vsnprintf(
    buf: *mut c_char,
    size: usize,
    _format: *const c_char,
    _args: *mut c_void,
) -> c_int {
    if size > 0 && !buf.is_null() {
        // SAFETY: `buf` has room for `size` ≥ 1 bytes.
        unsafe { *buf = 0 };
    }
    0
}

/// Trace output to a `FILE*`: dropped.
#[no_mangle]
unsafe extern "C" fn fprintf(
    _stream: *mut c_void,
    _format: *const c_char,
    _args: *mut c_void,
) -> c_int {
    0
}

#[repr(C)]
struct Timeval {
    tv_sec: i64,
    tv_usec: i64,
}

/// Used only for the decoder's own timing statistics: a clock at zero is fine.
#[no_mangle]
unsafe extern "C" fn gettimeofday(tv: *mut Timeval, _tz: *mut c_void) -> c_int {
    if !tv.is_null() {
        // SAFETY: `tv` points to a timeval.
        unsafe {
            tv.write(Timeval {
                tv_sec: 0,
                tv_usec: 0,
            })
        };
    }
    0
}

#[no_mangle]
extern "C" fn log(x: f64) -> f64 {
    libm::log(x)
}

// OpenH264's thread library (WelsThreadLib.h, `extern "C"`): the decoder is
// created with a thread count of 0, so locks have nothing to exclude and no
// thread is ever started. Creating one reports failure.
const OK: i32 = 0;
const FAILED: i32 = -1;

#[no_mangle]
extern "C" fn WelsMutexInit(_m: *mut c_void) -> i32 {
    OK
}
#[no_mangle]
extern "C" fn WelsMutexLock(_m: *mut c_void) -> i32 {
    OK
}
#[no_mangle]
extern "C" fn WelsMutexUnlock(_m: *mut c_void) -> i32 {
    OK
}
#[no_mangle]
extern "C" fn WelsMutexDestroy(_m: *mut c_void) -> i32 {
    OK
}
#[no_mangle]
extern "C" fn WelsEventOpen(_e: *mut c_void, _name: *const c_char) -> i32 {
    OK
}
#[no_mangle]
extern "C" fn WelsEventClose(_e: *mut c_void, _name: *const c_char) -> i32 {
    OK
}
#[no_mangle]
extern "C" fn WelsThreadCreate(
    _thread: *mut c_void,
    _routine: *mut c_void,
    _arg: *mut c_void,
    _attr: i32,
) -> i32 {
    FAILED
}
#[no_mangle]
extern "C" fn WelsThreadJoin(_thread: usize) -> i32 {
    OK
}

#[repr(C)]
struct LogicalProcessorInfo {
    processor_count: i32,
}

#[no_mangle]
unsafe extern "C" fn WelsQueryLogicalProcessInfo(info: *mut LogicalProcessorInfo) -> i32 {
    if !info.is_null() {
        // SAFETY: `info` points to the struct.
        unsafe { (*info).processor_count = 1 };
    }
    OK
}
