//! Compiles OpenH264's decoder (C++) for wasm32-unknown-unknown.
//!
//! The sources are the ones shipped inside the `openh264-sys2` package (pinned to
//! the version in Cargo.toml), found in cargo's registry. `openh264-sys2`'s own
//! build script cannot target wasm32 (its source list, flags and target
//! detection are for native builds), so this one owns the wasm build:
//!
//! - clang (Debian's clang-14; `cargo xtask` installs it with lld, wasi-libc and
//!   the wasm32 compiler-rt builtins) with `--target=wasm32-wasi`: wasi-libc
//!   supplies the C headers. Nothing of wasi-libc is linked: the few libc
//!   functions the decoder calls come from `src/shim.rs`, so the module imports
//!   nothing from a WASI host.
//! - `-fno-exceptions -fno-rtti`: OpenH264 uses neither, and wasm32 has no
//!   unwinder here.
//! - No `-msimd128`: wasm SIMD would make the decoder ~25 % faster, but the
//!   browsers that need this fallback most (Safari before 16.4 on older iPads:
//!   no WebCodecs) have no wasm SIMD either, and could not even load it.
//! - `shim/include`: `pthread.h`, `semaphore.h`, `signal.h` stand-ins. The
//!   decoder runs single-threaded (thread count 0) and the thread library's
//!   functions are no-ops in `src/shim.rs`; the thread *implementation* files
//!   (`WelsThread*.cpp`, `WelsTaskThread.cpp`) are left out.
//! - No assembly: OpenH264's asm is x86/ARM only.
//!
//! On any other target this script does nothing.

use std::path::{Path, PathBuf};

const OPENH264_SYS2: &str = "openh264-sys2-0.9.9";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=shim/include");
    println!("cargo:rerun-if-env-changed=OPENH264_SOURCE_DIR");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        return;
    }
    let codec = source_dir().join("upstream/codec");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut build = cc::Build::new();
    build
        .cpp(true)
        // No C++ standard library: OpenH264 needs only `new`/`delete`, in src/shim.rs.
        .cpp_link_stdlib(None)
        .compiler(find_clang())
        .archiver(find_tool(&["llvm-ar-14", "llvm-ar"]))
        .target("wasm32-wasi")
        .opt_level(3)
        .flag("--target=wasm32-wasi")
        .flag("-fno-exceptions")
        .flag("-fno-rtti")
        // Third-party code: its warnings are upstream's business.
        .warnings(false)
        .flag("-w")
        .define("NDEBUG", None)
        .include(manifest.join("shim/include"))
        .include("/usr/include/wasm32-wasi")
        .include(codec.join("api/wels"))
        .include(codec.join("common/inc"))
        .include(codec.join("decoder/core/inc"))
        .include(codec.join("decoder/plus/inc"));
    for dir in ["common/src", "decoder/core/src", "decoder/plus/src"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(codec.join(dir))
            .unwrap_or_else(|e| panic!("reading {}: {e}", codec.join(dir).display()))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cpp"))
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                !name.starts_with("WelsThread") && !name.starts_with("WelsTaskThread")
            })
            .collect();
        files.sort();
        build.files(files);
    }
    build.compile("openh264_decoder");
}

/// `openh264-sys2`'s package: `OPENH264_SOURCE_DIR`, or cargo's registry.
fn source_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OPENH264_SOURCE_DIR") {
        return dir.into();
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let registry = cargo_home.join("registry/src");
    let found = std::fs::read_dir(&registry)
        .into_iter()
        .flatten()
        .filter_map(|index| index.ok())
        .map(|index| index.path().join(OPENH264_SYS2))
        .find(|dir| dir.join("upstream/codec").is_dir());
    found.unwrap_or_else(|| {
        panic!(
            "{OPENH264_SYS2} is not in {} — run `cargo fetch` (cargo xtask does), \
             or set OPENH264_SOURCE_DIR to its unpacked package",
            registry.display()
        )
    })
}

fn find_clang() -> PathBuf {
    find_tool(&["clang++-14", "clang++"])
}

fn find_tool(names: &[&str]) -> PathBuf {
    for name in names {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let path = dir.join(name);
            if path.is_file() {
                return path;
            }
        }
    }
    panic!(
        "none of {names:?} found: the wasm32 OpenH264 build needs Debian's clang-14 and lld-14 \
         (cargo xtask installs them)"
    )
}
