//! `cargo xtask`: the project's two commands, plus the pieces they are made of.
//!
//! - `cargo xtask run`  — installs what is missing, builds the web app, starts the
//!   relay with the demo camera on http://127.0.0.1:8080.
//! - `cargo xtask test` — installs what is missing, then fmt, clippy (host and
//!   wasm32), the web app build, every host test (the browser end-to-end suite
//!   included) and the player's tests inside headless Chromium.
//! - `cargo xtask bench [PART…]` — benchmarks (decoders, the page's CPU with 16
//!   tiles, download sizes, the relay's fan-out against a floor: `fanout.rs`,
//!   RTSP ingest: `ingest.rs`, side by side with the npm peer rtsp-relay),
//!   printed as markdown tables and written to target/bench/results.md (not
//!   part of `test`: figures are not pass/fail).
//! - `cargo xtask setup` — only the installing; `cargo xtask web` — only the build.
//!
//! Every tool comes from a registry this project may use (rustup, crates.io, npm,
//! Debian); trunk itself never downloads anything (Trunk.toml: offline).

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};

mod fanout;
mod fuzz;
mod ingest;
mod procs;

const TRUNK_VERSION: &str = "0.21.14";
const BINARYEN_VERSION: &str = "132";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// What the wasm32 OpenH264 build needs, and the Debian package that brings it.
const C_TOOLCHAIN: &[(&str, &str)] = &[
    ("/usr/bin/clang++-14", "clang-14"),
    ("/usr/bin/llvm-ar-14", "llvm-14"),
    ("/usr/include/wasm32-wasi/stdlib.h", "wasi-libc"),
    // OpenH264's x86 assembly (the relay's demo encoder and motion decoder):
    // without nasm the openh264 crate quietly builds plain C, about 10 %
    // slower to decode and slower still to encode.
    ("/usr/bin/nasm", "nasm"),
];
/// Debian packages of GStreamer's RTSP server and the elements the test server uses.
const GST_PACKAGES: &[&str] = &[
    "python3-gi",
    "python3-gst-1.0",
    "gir1.2-gst-rtsp-server-1.0",
    "gstreamer1.0-rtsp",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-ugly",
    "gstreamer1.0-plugins-bad",
];
/// Exits 0 when the test RTSP server can run.
const GST_PROBE: &str = "import gi; gi.require_version('Gst', '1.0'); \
gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer; \
Gst.init(None); import sys; \
sys.exit(0 if all(Gst.ElementFactory.find(e) for e in ('x264enc', 'rtph264pay', 'h264parse', 'x265enc', 'rtph265pay', 'videotestsrc', 'qtdemux', 'audiotestsrc', 'alawenc', 'rtppcmapay', 'voaacenc', 'rtpmp4gpay')) else 1)";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = workspace_root();
    env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("run") => {
            setup(&root, false)?;
            build_web(&root)?;
            run_relay(&root, &args[1..])
        }
        Some("test") => {
            setup(&root, true)?;
            test(&root)
        }
        Some("setup") => setup(&root, true),
        Some("bench") => {
            setup(&root, true)?;
            bench(&root, &args[1..])
        }
        Some("web") => {
            setup(&root, false)?;
            build_web(&root)
        }
        Some("fuzz") => {
            let seconds = match args.get(1) {
                Some(s) => s
                    .parse()
                    .with_context(|| format!("fuzz {s:?}: give the seconds per target"))?,
                None => 60,
            };
            let table = fuzz::fuzz(&root, seconds)?;
            let out = root.join("target/fuzz-results.md");
            std::fs::write(&out, &table)?;
            println!("\n{table}\n(also in {})", out.display());
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <run [relay args…] | test | setup | web | bench [part…] | fuzz [SECONDS]>\n\
                 \n  run    install what is missing, build the web app, start the relay + demo camera\
                 \n  test   install what is missing, then every check and test (what CI runs)\
                 \n  bench  benchmarks [decoders|player|page|sizes|fanout|ingest|peer|auth|alerts|ptz|cluster …]: decoders, one player\
                 \n         and the 16-tile page in headless Chromium, download sizes, relay fan-out against the floor, RTSP ingest,\
                 \n         side by side with rtsp-relay (npm), the NATS hop between relays; not part of test\
                 \n  fuzz   [SECONDS] every cargo-fuzz target in fuzz/ for SECONDS each (default 60)\
                 \n  setup  only install what is missing\
                 \n  web    only build the web app into target/www"
            );
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn say(msg: &str) {
    eprintln!("\x1b[1mxtask:\x1b[0m {msg}");
}

/// Runs a command, failing with its command line if it fails.
fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let line = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {line}"))?;
    if !status.success() {
        bail!("{line} failed ({status})");
    }
    Ok(())
}

/// Runs a command and returns its stdout, or None if it cannot run or fails.
fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Where npm puts binaryen's wasm-opt.
fn tools_bin(root: &Path) -> PathBuf {
    root.join("target/tools/node_modules/.bin")
}

/// PATH with the project's tools and cargo's install directory first.
fn tool_path(root: &Path) -> anyhow::Result<OsString> {
    let mut dirs = vec![tools_bin(root)];
    if let Some(home) = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    {
        dirs.push(home.join("bin"));
    }
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    Ok(env::join_paths(dirs)?)
}

fn tool(root: &Path, name: &str) -> anyhow::Result<Command> {
    let mut cmd = Command::new(name);
    cmd.env("PATH", tool_path(root)?);
    Ok(cmd)
}

/// The wasm-bindgen version Cargo.lock pins (the CLI must match it exactly).
fn locked_wasm_bindgen(root: &Path) -> anyhow::Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_owned());
            }
        }
    }
    bail!("Cargo.lock has no wasm-bindgen entry")
}

/// Installs whatever is missing; says what it does.
fn setup(root: &Path, for_tests: bool) -> anyhow::Result<()> {
    // 1. The wasm32 target.
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        say(&format!("{WASM_TARGET} target: present"));
    } else {
        say(&format!(
            "{WASM_TARGET} target: missing — installing with rustup"
        ));
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }

    // 2. Dependencies, so trunk's offline cargo build finds them all.
    run(cargo().args(["fetch", "--quiet"]))?;

    // 3. wasm-bindgen CLI at exactly the lockfile's version.
    let wanted = locked_wasm_bindgen(root)?;
    let have = output(tool(root, "wasm-bindgen")?.arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(wanted.as_str()) {
        say(&format!("wasm-bindgen-cli {wanted}: present"));
    } else {
        say(&format!(
            "wasm-bindgen-cli {wanted}: missing (found {:?}) — installing from crates.io (a few minutes)",
            have.trim()
        ));
        // Not --locked: one of its locked dependencies is missing from the index.
        run(cargo().args(["install", "wasm-bindgen-cli", "--version", &wanted]))?;
    }

    // 4. trunk.
    let have = output(tool(root, "trunk")?.arg("--version")).unwrap_or_default();
    if have.trim() == format!("trunk {TRUNK_VERSION}") {
        say(&format!("trunk {TRUNK_VERSION}: present"));
    } else {
        say(&format!(
            "trunk {TRUNK_VERSION}: missing (found {:?}) — installing from crates.io (about 10 minutes)",
            have.trim()
        ));
        // 0.22 needs a newer rustc than this project's toolchain.
        run(cargo().args(["install", "trunk", "--locked", "--version", TRUNK_VERSION]))?;
    }

    // 5. wasm-opt from binaryen on npm (Debian's 108 corrupts wasm-bindgen's output).
    let have =
        output(Command::new(tools_bin(root).join("wasm-opt")).arg("--version")).unwrap_or_default();
    if have.contains(&format!("version {BINARYEN_VERSION}")) {
        say(&format!("wasm-opt {BINARYEN_VERSION}: present"));
    } else {
        if output(Command::new("npm").arg("--version")).is_none() {
            apt_install(&["npm"])?;
        }
        say(&format!(
            "wasm-opt {BINARYEN_VERSION}: missing — installing binaryen@{BINARYEN_VERSION} from npm into target/tools"
        ));
        std::fs::create_dir_all(root.join("target/tools"))?;
        run(Command::new("npm").args([
            "install",
            "--prefix",
            "target/tools",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            &format!("binaryen@{BINARYEN_VERSION}"),
        ]))?;
    }

    // 6. clang, llvm-ar and wasi-libc's headers: OpenH264's decoder compiled to
    //    wasm32 (crates/openh264-wasm), the player's fallback where WebCodecs is
    //    missing; nasm for the native OpenH264's assembly. Before anything is built.
    ensure_packages(
        C_TOOLCHAIN,
        "clang-14, llvm-ar-14, wasi-libc (OpenH264 for wasm32) and nasm",
    )?;

    // 7. For the tests: Debian's Chromium and its WebDriver.
    if for_tests {
        // certutil: the TLS tests make Chromium trust the relay's local CA
        // through an NSS database of their own.
        ensure_packages(
            &[
                ("/usr/bin/chromium", "chromium"),
                ("/usr/bin/chromedriver", "chromium-driver"),
                ("/usr/bin/certutil", "libnss3-tools"),
            ],
            "chromium, chromedriver and certutil",
        )?;

        // 8. GStreamer's RTSP server (a real camera stand-in for the ingest tests),
        //    driven from Debian's python3 with its GObject bindings.
        let gst_ready = Command::new("/usr/bin/python3")
            .args(["-c", GST_PROBE])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if gst_ready {
            say("GStreamer RTSP server (python3-gst, x264enc, rtph264pay): present");
        } else {
            apt_install(GST_PACKAGES)?;
        }

        // 9. Mosquitto, the MQTT broker the alerts' MQTT tests publish to, and
        //    its mosquitto_sub (an MQTT client that is not the relay's).
        ensure_packages(
            &[
                ("/usr/sbin/mosquitto", "mosquitto"),
                ("/usr/bin/mosquitto_sub", "mosquitto-clients"),
            ],
            "Mosquitto broker and clients (MQTT tests)",
        )?;

        // 10. nats-server, the messaging server relays cooperate through
        //     (`[cluster]`); the cluster tests start their own, JetStream on.
        ensure_packages(
            &[("/usr/sbin/nats-server", "nats-server")],
            "nats-server (cluster tests)",
        )?;
    }
    Ok(())
}

/// Installs the Debian packages whose marker file is missing; says so either way.
fn ensure_packages(files: &[(&str, &str)], what: &str) -> anyhow::Result<()> {
    let missing: Vec<&str> = files
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|&(_, package)| package)
        .collect();
    if missing.is_empty() {
        say(&format!("{what}: present"));
        Ok(())
    } else {
        apt_install(&missing)
    }
}

/// Installs Debian packages (as root, or through sudo).
fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    say(&format!(
        "{}: missing — installing Debian packages",
        packages.join(", ")
    ));
    let root = output(Command::new("id").arg("-u")).is_some_and(|id| id.trim() == "0");
    let apt = |args: &[&str]| {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(packages);
    run(&mut install)
}

/// Builds the web app into target/www with trunk (release: optimised Wasm).
fn build_web(root: &Path) -> anyhow::Result<()> {
    say("building the web app with trunk → target/www");
    run(tool(root, "trunk")?.args(["build", "--release"]))
}

/// The top of a benchmark relay's config file: its own data directory, and
/// no accounts — these benchmarks measure video; sign-in happens once per
/// socket, never per frame.
pub fn bench_relay_toml(root: &Path) -> String {
    format!(
        "data = {:?}\n[auth]\nenabled = false\n\n",
        root.join("target/bench/data").display().to_string()
    )
}

fn run_relay(root: &Path, args: &[String]) -> anyhow::Result<()> {
    say("building and starting the relay with the demo camera (the first build takes a few minutes; Ctrl-C stops it)");
    let www = root.join("target/www");
    let mut relay = cargo();
    relay
        .args(["run", "--release", "-p", "sightline-relay", "--", "--www"])
        .arg(&www);
    // The demo keeps its accounts under target/, away from a real installation's.
    let data_given = args
        .iter()
        .any(|a| a == "--data" || a.starts_with("--data="))
        || std::env::var_os("SIGHTLINE_DATA").is_some();
    if !data_given {
        let data = root.join("target/sightline-data");
        say(&format!(
            "data directory (accounts, sessions): {} — on the first start the relay prints a one-time sign-in link",
            data.display()
        ));
        relay.arg("--data").arg(data);
    }
    run(relay.args(args))
}

fn test(root: &Path) -> anyhow::Result<()> {
    say("cargo fmt --check");
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    say("clippy (host)");
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    say("clippy (wasm32)");
    // The player with its in-browser tests; the libraries it uses without their
    // host-only tests (proptest does not build for wasm32).
    for args in [
        &[
            "-p",
            "sightline-player",
            "-p",
            "sightline-openh264-wasm",
            "-p",
            "sightline-decoder-worker",
            "-p",
            "sightline-hevc",
            "-p",
            "sightline-hevc-worker",
            "-p",
            "sightline-aac",
            "-p",
            "sightline-aac-worker",
            "--all-targets",
        ][..],
        &[
            "-p",
            "sightline-wire",
            "-p",
            "sightline-h264",
            "-p",
            "sightline-backoff",
            "--lib",
        ][..],
    ] {
        run(cargo()
            .args(["clippy", "--target", WASM_TARGET])
            .args(args)
            .args(["--", "-D", "warnings"]))?;
    }
    build_web(root)?;
    say("host tests: unit, property, fixtures, relay, browser end-to-end");
    run(cargo()
        .args(["test", "--workspace"])
        .env("SIGHTLINE_WWW", root.join("target/www")))?;
    // Not in the workspace build: the oxvif crate's own HTTP client pulls in
    // aws-lc (C), which nothing of Sightline uses. The ONVIF client must not
    // be tested only against a simulator of our own making.
    say("ONVIF client against an ONVIF device written by someone else (oxvif's mock server)");
    run(cargo().args([
        "test",
        "-p",
        "sightline-onvif",
        "--features",
        "interop-oxvif",
        "--test",
        "oxvif",
    ]))?;
    say("player and wasm decoder tests inside headless Chromium (wasm-bindgen-test)");
    run(cargo()
        .args([
            "test",
            "-p",
            "sightline-player",
            "-p",
            "sightline-openh264-wasm",
            "-p",
            "sightline-hevc",
        ])
        .args(["--target", WASM_TARGET])
        .env("PATH", tool_path(root)?)
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120"))?;
    say("all checks and tests passed");
    Ok(())
}

/// The benchmark streams: (file stem, size, profile, bitrate), made with ffmpeg.
const BENCH_STREAMS: &[(&str, &str, &str, &str)] = &[
    ("640x360_baseline", "640x360", "baseline", "1M"),
    ("640x360_high", "640x360", "high", "1M"),
    ("1280x720_baseline", "1280x720", "baseline", "2M"),
    ("1280x720_high", "1280x720", "high", "2M"),
    ("1920x1080_baseline", "1920x1080", "baseline", "4M"),
    ("1920x1080_high", "1920x1080", "high", "4M"),
];

/// Runs a benchmark and returns what it printed; on failure, shows all it said.
fn bench_output(cmd: &mut Command, what: &str) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        bail!("{what} failed");
    }
    Ok(stdout)
}

/// The benchmark's parts; `cargo xtask bench PART…` runs only those.
const BENCH_PARTS: &[&str] = &[
    "decoders", "player", "audio", "page", "sizes", "fanout", "ingest", "peer", "auth", "alerts",
    "ptz", "cluster",
];

/// The peer of `bench peer`, from npm: rtsp-relay as its README sets it up
/// (with express), and JSMpeg (its page would load JSMpeg from a CDN).
const PEER_PACKAGES: &[&str] = &[
    "rtsp-relay@1.9.0",
    "express@4.21.2",
    "@cycjimmy/jsmpeg-player@6.1.2",
];

/// Installs the peer into target/bench/peer/node_modules unless it is there.
/// `--ignore-scripts`: ffmpeg-static's install script downloads an ffmpeg
/// build from GitHub; the benchmark points it at Debian's ffmpeg instead
/// (FFMPEG_BIN), which the bench installs.
fn peer_modules(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join("target/bench/peer");
    let marker = dir.join("node_modules/rtsp-relay/package.json");
    let have = std::fs::read_to_string(&marker).unwrap_or_default();
    let complete = ["express", "@cycjimmy/jsmpeg-player"].iter().all(|m| {
        dir.join("node_modules")
            .join(m)
            .join("package.json")
            .is_file()
    });
    if have.contains("\"version\": \"1.9.0\"") && complete {
        say("rtsp-relay 1.9.0 (the peer): present");
    } else {
        if output(Command::new("npm").arg("--version")).is_none() {
            apt_install(&["nodejs", "npm"])?;
        }
        say("rtsp-relay 1.9.0, express and JSMpeg (the peer): missing — installing from npm into target/bench/peer");
        std::fs::create_dir_all(&dir)?;
        run(Command::new("npm")
            .args(["install", "--prefix"])
            .arg(&dir)
            .args([
                "--no-save",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .args(PEER_PACKAGES))?;
    }
    Ok(dir.join("node_modules"))
}

fn bench(root: &Path, parts: &[String]) -> anyhow::Result<()> {
    if let Some(unknown) = parts.iter().find(|p| !BENCH_PARTS.contains(&p.as_str())) {
        bail!(
            "no benchmark part {unknown:?}; the parts: {}",
            BENCH_PARTS.join(", ")
        );
    }
    let want = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    if output(Command::new("ffmpeg").arg("-version")).is_none() {
        apt_install(&["ffmpeg"])?;
    }
    let dir = root.join("target/bench");
    let streams = dir.join("streams");
    std::fs::create_dir_all(&streams)?;
    for (stem, size, profile, bitrate) in BENCH_STREAMS {
        let file = streams.join(format!("{stem}.h264"));
        if file.is_file() {
            continue;
        }
        say(&format!("making the {stem} benchmark stream with ffmpeg"));
        // 90 frames of a moving test picture; no B-frames (live cameras send none).
        run(Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size={size}:rate=30"))
            .args(["-frames:v", "90", "-c:v", "libx264", "-profile:v", profile])
            .args([
                "-bf", "0", "-g", "60", "-b:v", bitrate, "-pix_fmt", "yuv420p",
            ])
            .arg(&file))?;
    }
    if want("decoders") {
        for (size, bitrate) in [("1280x720", "2M"), ("1920x1080", "4M")] {
            let file = streams.join(format!("{size}_main.h265"));
            if file.is_file() {
                continue;
            }
            say(&format!(
                "making the {size} H.265 benchmark stream with ffmpeg"
            ));
            run(Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg(format!("testsrc2=size={size}:rate=30"))
                .args(["-frames:v", "90", "-c:v", "libx265", "-x265-params"])
                .arg("keyint=60:bframes=0:log-level=error")
                .args(["-b:v", bitrate, "-pix_fmt", "yuv420p"])
                .arg(&file))?;
        }
    }
    if want("player") {
        for gop in [2, 10] {
            let file = streams.join(format!("1920x1080_gop{gop}.h264"));
            if file.is_file() {
                continue;
            }
            say(&format!(
                "making the 1080p stream with a {gop} s GOP with ffmpeg"
            ));
            // 20 s, a keyframe every `gop` seconds and none in between
            // (no scene-cut keyframes), as a camera's "smart codec" sends.
            run(Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg("testsrc2=size=1920x1080:rate=30")
                .args(["-frames:v", "600", "-c:v", "libx264", "-profile:v", "high"])
                .args([
                    "-bf",
                    "0",
                    "-g",
                    &(gop * 30).to_string(),
                    "-sc_threshold",
                    "0",
                ])
                .args(["-b:v", "4M", "-pix_fmt", "yuv420p"])
                .arg(&file))?;
        }
    }
    if want("alerts") {
        for (size, bitrate) in [
            ("640x360", "600k"),
            ("1280x720", "1500k"),
            ("1920x1080", "3M"),
        ] {
            let file = streams.join(format!("scene_{size}.h264"));
            if file.is_file() {
                continue;
            }
            say(&format!("making the {size} camera-like scene with ffmpeg"));
            // What a camera sees: a still, detailed picture (testsrc2's first
            // frame), light sensor noise, one object walking across.
            let (w, _) = size.split_once('x').unwrap_or((size, ""));
            run(Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg(format!(
                    "testsrc2=size={size}:rate=30,trim=end_frame=1,loop=loop=-1:size=1,setpts=N/30/TB"
                ))
                .args(["-f", "lavfi", "-i"])
                .arg(format!("color=c=white:s={}x{}:r=30", w.parse::<u32>().unwrap_or(640) / 12, w.parse::<u32>().unwrap_or(640) / 6))
                .arg("-filter_complex")
                .arg(format!(
                    "[0][1]overlay=x='mod(t*{w}/4,{w})':y=main_h/3:shortest=1,noise=alls=2:allf=t,format=yuv420p"
                ))
                .args(["-frames:v", "90", "-c:v", "libx264", "-profile:v", "high"])
                .args(["-bf", "0", "-g", "60", "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate])
                .arg(&file))?;
        }
    }
    build_web(root)?;
    let mut table =
        String::from("| what | decoder | median | min | max |\n| --- | --- | --- | --- | --- |\n");
    if want("decoders") {
        say("decoders in headless Chromium (5 runs each)");
        // A separate target dir: the extra cfg would otherwise rebuild the test tree.
        let stdout = bench_output(
            cargo()
                .args([
                    "test",
                    "--release",
                    "-p",
                    "sightline-player",
                    "--target",
                    WASM_TARGET,
                ])
                .args(["--test", "decode_bench", "--", "--nocapture"])
                .env("PATH", tool_path(root)?)
                .env(
                    "RUSTFLAGS",
                    "--cfg=web_sys_unstable_apis --cfg=sightline_bench",
                )
                .env("CARGO_TARGET_DIR", root.join("target/bench-build"))
                .env("SIGHTLINE_BENCH_DIR", &streams)
                .env(
                    "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                    "wasm-bindgen-test-runner",
                )
                .env("CHROMEDRIVER", "/usr/bin/chromedriver")
                .env("WASM_BINDGEN_TEST_TIMEOUT", "600"),
            "the decoder benchmark",
        )?;
        for line in stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("BENCH|"))
        {
            let f: Vec<&str> = line.split('|').collect();
            if let [stream, decoder, median, min, max] = f[..] {
                let unit = if median.parse::<f64>().is_ok() {
                    " fps"
                } else {
                    ""
                };
                table.push_str(&format!(
                    "| decode {} | {decoder} | {median}{unit} | {min} | {max} |\n",
                    stream.replace('_', " ")
                ));
            }
        }
    }
    for (part, bench, what) in [
        (
            "player",
            "player_latency",
            "time to first frame, player latency and time to live (long GOPs) in headless Chromium (5 runs each)",
        ),
        (
            "audio",
            "audio",
            "camera audio in headless Chromium: latency, offset to the video, jitter buffer (5 runs each)",
        ),
        (
            "page",
            "page_cpu",
            "page CPU with 16 tiles in headless Chromium (3 windows of 10 s each)",
        ),
        (
            "peer",
            "peer",
            "side by side with rtsp-relay on one RTSP camera (CPU, time to first frame, latency)",
        ),
        (
            "auth",
            "auth",
            "accounts: sign-in time, 1000 sockets connecting with tickets (5 runs each)",
        ),
        (
            "alerts",
            "alerts",
            "alerts: scene change → alert painted, motion detection CPU, fan-out to 100 sockets (3 runs each)",
        ),
        (
            "ptz",
            "ptz",
            "PTZ: key → camera, key → moved picture, killed and frozen operators → Stop (3 runs)",
        ),
        (
            "cluster",
            "cluster",
            "cluster: latency and CPU of the NATS hop, failover (3 runs)",
        ),
    ] {
        if !want(part) {
            continue;
        }
        let mut cmd = cargo();
        if part == "peer" {
            cmd.env("SIGHTLINE_PEER_MODULES", peer_modules(root)?);
            ingest::clip(&streams)?;
        }
        say(what);
        let stdout = bench_output(
            cmd.args(["bench", "-p", "sightline-e2e", "--bench", bench])
                .env("SIGHTLINE_WWW", root.join("target/www"))
                .env("SIGHTLINE_BENCH_DIR", &streams),
            what,
        )?;
        for row in stdout.lines().filter_map(|l| l.trim().strip_prefix("ROW|")) {
            table.push_str(&format!("|{row}\n"));
        }
    }
    if want("sizes") {
        say("download sizes (gzip -9)");
        let www = root.join("target/www");
        for (what, files) in [
            (
                "core player (always downloaded)",
                &[
                    "sightline-player_bg.wasm",
                    "sightline-player.js",
                    "cam-player.js",
                ][..],
            ),
            (
                "fallback decoder (only without WebCodecs)",
                &[
                    "sightline-decoder-worker_bg.wasm",
                    "sightline-decoder-worker.js",
                ][..],
            ),
            (
                "H.265 fallback decoder (only for H.265 where WebCodecs cannot)",
                &["sightline-hevc-worker_bg.wasm", "sightline-hevc-worker.js"][..],
            ),
            (
                "AAC fallback decoder (only for AAC audio without WebCodecs' AudioDecoder)",
                &["sightline-aac-worker_bg.wasm", "sightline-aac-worker.js"][..],
            ),
        ] {
            let mut total = 0usize;
            for file in files {
                let gzip = Command::new("gzip")
                    .arg("-9c")
                    .arg(www.join(file))
                    .output()
                    .with_context(|| format!("gzip {file}"))?;
                total += gzip.stdout.len();
            }
            table.push_str(&format!(
                "| download: {what} | — | {:.1} KB gzip | | |\n",
                total as f64 / 1024.0
            ));
        }
    }
    if want("fanout") || want("ingest") || want("cluster") {
        say("building the relay and the load tools (release)");
        run(cargo().args([
            "build",
            "--release",
            "-p",
            "sightline-relay",
            "-p",
            "sightline-bench",
        ]))?;
    }
    if want("fanout") {
        say("relay fan-out against the floor (1 to 1000 viewers, 3 runs each)");
        table.push('\n');
        table.push_str(&fanout::table(root, &fanout::clip(&streams))?);
    }
    if want("cluster") {
        say("fan-out from an edge relay of a cluster (100, 500, 1000 viewers, 3 runs each)");
        table.push('\n');
        table.push_str(&fanout::edge_table(root, &fanout::clip(&streams))?);
    }
    if want("ingest") {
        say("relay ingest from GStreamer's RTSP server (1, 10, 50 cameras, 3 runs each)");
        let clip = ingest::clip(&streams)?;
        table.push('\n');
        table.push_str(&ingest::table(root, &clip)?);
    }
    std::fs::write(dir.join("results.md"), &table)?;
    println!("{table}");
    say(&format!("written to {}", dir.join("results.md").display()));
    Ok(())
}
