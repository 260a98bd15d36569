//! Clips of the committed x264 fixture, muxed by us (shiguredo_mp4) and read
//! back by an independent demuxer (the `mp4` crate), plus ffprobe when the
//! machine has it.

use std::io::{Cursor, Seek};
use std::path::Path;
use std::process::Command;

use sightline_h264::clip::access_units;
use sightline_h264::nal::{self, types};
use sightline_h264::StreamParams;
use sightline_media::clip::{ClipFrame, ClipOptions, ClipSummary, ClipWriter, Pushed, TIMESCALE};

const FIXTURE: &[u8] = include_bytes!("../../h264/tests/fixtures/high_640x360.h264");

/// One access unit as the relay's feeds carry it.
struct Au {
    data: Vec<u8>,
    keyframe: bool,
    timestamp_us: i64,
}

fn params() -> StreamParams {
    let find = |t| {
        nal::annex_b_units(FIXTURE)
            .find(|u| nal::nal_type(u) == Some(t))
            .expect("fixture has it")
    };
    StreamParams::new(find(types::SPS), find(types::PPS)).expect("fixture parses")
}

/// The fixture's pictures, `loops` times over, length-prefixed without
/// parameter sets, at 10 fps with a little jitter (as an RTP clock gives).
fn fixture_aus(loops: usize) -> Vec<Au> {
    let pictures = access_units(FIXTURE);
    assert_eq!(pictures.len(), 10);
    let mut out = Vec::new();
    for n in 0..loops * pictures.len() {
        let p = &pictures[n % pictures.len()];
        let mut data = Vec::new();
        for unit in nal::annex_b_units(&p.annex_b) {
            if !matches!(nal::nal_type(unit), Some(types::SPS | types::PPS)) {
                nal::push_length_prefixed(&mut data, unit);
            }
        }
        let jitter = [0, 300, -200, 100][n % 4];
        out.push(Au {
            data,
            keyframe: p.keyframe,
            timestamp_us: 5_000_000 + n as i64 * 100_000 + jitter,
        });
    }
    out
}

fn mux<W: std::io::Write + Seek>(out: W, avcc: &[u8], aus: &[Au]) -> (W, ClipSummary) {
    let mut clip = ClipWriter::new(out, avcc, ClipOptions::default()).expect("writer");
    for au in aus {
        let pushed = clip
            .push(ClipFrame {
                record: avcc,
                data: &au.data,
                timestamp_us: au.timestamp_us,
                keyframe: au.keyframe,
            })
            .expect("push");
        assert_eq!(pushed, Pushed::Written);
    }
    clip.finish().expect("finish")
}

/// The payload of the first `avcC` box in a file.
fn avcc_box(mp4: &[u8]) -> &[u8] {
    let at = mp4
        .windows(4)
        .position(|w| w == b"avcC")
        .expect("an avcC box");
    let size = u32::from_be_bytes(mp4[at - 4..at].try_into().expect("4 bytes")) as usize;
    &mp4[at + 4..at - 4 + size]
}

/// Reads `file` with the `mp4` crate and checks it against what was muxed.
fn check(file: &[u8], params: &StreamParams, aus: &[Au], summary: &ClipSummary) {
    let mut reader =
        mp4::Mp4Reader::read_header(Cursor::new(file), file.len() as u64).expect("mp4 parses");
    assert!(!reader.is_fragmented());
    assert_eq!(reader.tracks().len(), 1);
    let (&id, track) = reader.tracks().iter().next().expect("a track");
    assert_eq!(track.box_type().expect("type").to_string(), "avc1");
    assert_eq!((track.width(), track.height()), (640, 360));
    assert_eq!(track.timescale(), TIMESCALE);
    assert_eq!(track.sequence_parameter_set().expect("sps"), params.sps);
    assert_eq!(track.picture_parameter_set().expect("pps"), params.pps);
    assert_eq!(avcc_box(file), params.avcc, "avcC carried byte for byte");
    let track_duration = track.duration();
    let count = reader.sample_count(id).expect("count");
    assert_eq!(count as usize, aus.len());
    assert_eq!(count, summary.samples);

    let mut sum = 0u64;
    let mut keys = Vec::new();
    for (i, au) in aus.iter().enumerate() {
        let sample = reader
            .read_sample(id, i as u32 + 1)
            .expect("read")
            .expect("sample");
        assert_eq!(
            sample.bytes.as_ref(),
            au.data.as_slice(),
            "sample {i} bytes"
        );
        assert_eq!(
            sample.start_time, sum,
            "sample {i} starts where the last ended"
        );
        assert_eq!(sample.rendering_offset, 0);
        // Durations are the timestamp steps (the last repeats the previous).
        let expected = match aus.get(i + 1) {
            Some(next) => next.timestamp_us * 9 / 100 - au.timestamp_us * 9 / 100,
            None => au.timestamp_us * 9 / 100 - aus[i - 1].timestamp_us * 9 / 100,
        };
        assert_eq!(i64::from(sample.duration), expected, "sample {i} duration");
        sum += u64::from(sample.duration);
        if sample.is_sync {
            keys.push(i);
        }
    }
    let expected_keys: Vec<usize> = (0..aus.len()).filter(|&i| aus[i].keyframe).collect();
    assert_eq!(keys, expected_keys, "sync samples exactly at the keyframes");
    assert_eq!(
        track_duration.as_micros() as u64,
        sum * 1_000_000 / u64::from(TIMESCALE),
        "durations add up to the track's duration"
    );
    assert_eq!(summary.duration_us, sum * 1_000_000 / u64::from(TIMESCALE));
    assert_eq!(summary.bytes, file.len() as u64);
}

#[test]
fn the_fixture_round_trips_through_an_independent_demuxer() {
    let params = params();
    let aus = fixture_aus(1);
    let (out, summary) = mux(Cursor::new(Vec::new()), &params.avcc, &aus);
    let file = out.into_inner();
    assert!(summary.fast_start);
    assert_eq!(summary.keyframes, 2);
    check(&file, &params, &aus, &summary);
    // Fast start: the moov comes before the mdat.
    let moov = file.windows(4).position(|w| w == b"moov").expect("moov");
    let mdat = file.windows(4).position(|w| w == b"mdat").expect("mdat");
    assert!(moov < mdat);
    ffprobe(&file, aus.len(), 2);
}

#[test]
fn a_minute_long_clip_into_a_file() {
    // 60 s at 10 fps; written to a real file, moov at the front still.
    let params = params();
    let aus = fixture_aus(60);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clip.mp4");
    let file = std::fs::File::create(&path).expect("create");
    let (_, summary) = mux(std::io::BufWriter::new(file), &params.avcc, &aus);
    let bytes = std::fs::read(&path).expect("read");
    assert!(summary.fast_start);
    assert_eq!(summary.keyframes, 120);
    check(&bytes, &params, &aus, &summary);
    ffprobe(&bytes, aus.len(), 120);
}

#[test]
fn moov_at_the_end_reads_back_too() {
    let params = params();
    let aus = fixture_aus(3);
    let options = ClipOptions {
        reserve_moov_bytes: 0,
        ..ClipOptions::default()
    };
    let mut clip = ClipWriter::new(Cursor::new(Vec::new()), &params.avcc, options).expect("w");
    for au in &aus {
        clip.push(ClipFrame {
            record: &params.avcc,
            data: &au.data,
            timestamp_us: au.timestamp_us,
            keyframe: au.keyframe,
        })
        .expect("push");
    }
    let (out, summary) = clip.finish().expect("finish");
    assert!(!summary.fast_start);
    let file = out.into_inner();
    check(&file, &params, &aus, &summary);
    ffprobe(&file, aus.len(), 6);
}

/// ffprobe decodes every frame when it is installed; skipped (said so) when not.
fn ffprobe(file: &[u8], frames: usize, keyframes: usize) {
    if Command::new("ffprobe").arg("-version").output().is_err() {
        eprintln!("ffprobe not installed: independent decode check skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clip.mp4");
    std::fs::write(&path, file).expect("write");
    let out = probe(&path);
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), frames, "ffprobe decoded every frame: {out}");
    let keys = lines.iter().filter(|l| l.starts_with("1")).count();
    assert_eq!(keys, keyframes, "{out}");
}

fn probe(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=key_frame",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An H.265 camera's clip: x265's fixture, keyframes with their VPS/SPS/PPS
/// in band as cameras send them. The file has one `hvc1` track whose
/// `hvcC` is the camera's record; the `mp4` crate reads the samples back
/// (without the parameter sets, which `hvc1` keeps in the sample entry);
/// and rust_h265 (`sightline-hevc`), given the record found in the file,
/// decodes every sample to a 640x360 picture.
#[test]
fn an_h265_clip_is_hvc1_with_the_cameras_record_and_decodes() {
    use sightline_h264::hevc;
    const H265: &[u8] = include_bytes!("../../h264/tests/fixtures/main_640x360.h265");
    let units: Vec<&[u8]> = nal::annex_b_units(H265).collect();
    let find = |t| {
        *units
            .iter()
            .find(|u| hevc::nal_type(u) == Some(t))
            .expect("fixture has it")
    };
    let params = hevc::HevcParams::new(
        find(hevc::types::VPS),
        find(hevc::types::SPS),
        find(hevc::types::PPS),
    )
    .expect("fixture parses");
    let aus: Vec<(Vec<u8>, bool)> = sightline_h264::clip::hevc_access_units(H265)
        .into_iter()
        .map(|f| {
            let mut data = Vec::new();
            for unit in nal::annex_b_units(&f.annex_b) {
                nal::push_length_prefixed(&mut data, unit);
            }
            (data, f.keyframe)
        })
        .collect();
    assert_eq!(aus.len(), 10);
    assert!(aus[0].1 && aus[5].1, "keyframes every 5");
    let with_sets = |data: &[u8]| {
        nal::length_prefixed_units(data)
            .flatten()
            .filter(|u| matches!(hevc::nal_type(u), Some(32..=34)))
            .count()
    };
    assert!(
        with_sets(&aus[0].0) == 3,
        "the fixture's keyframe carries its parameter sets"
    );

    let mut clip = ClipWriter::new_hevc(
        Cursor::new(Vec::new()),
        &params.hvcc,
        ClipOptions::default(),
    )
    .expect("writer");
    for (n, (data, keyframe)) in aus.iter().enumerate() {
        let pushed = clip
            .push(ClipFrame {
                record: &params.hvcc,
                data,
                timestamp_us: n as i64 * 100_000,
                keyframe: *keyframe,
            })
            .expect("push");
        assert_eq!(pushed, Pushed::Written);
    }
    let (out, summary) = clip.finish().expect("finish");
    assert_eq!((summary.samples, summary.keyframes), (10, 2));
    assert_eq!((summary.width, summary.height), (640, 360));
    let file = out.into_inner();

    // The sample entry: hvc1 with the camera's record.
    assert!(
        file.windows(4).any(|w| w == b"hvc1"),
        "an hvc1 sample entry"
    );
    let at = file
        .windows(4)
        .position(|w| w == b"hvcC")
        .expect("an hvcC box");
    let size = u32::from_be_bytes(file[at - 4..at].try_into().expect("4 bytes")) as usize;
    let record = &file[at + 4..at - 4 + size];
    assert_eq!(record, params.hvcc.as_slice(), "hvcC carried byte for byte");

    let mut reader =
        mp4::Mp4Reader::read_header(Cursor::new(&file[..]), file.len() as u64).expect("mp4 parses");
    let (&id, track) = reader.tracks().iter().next().expect("a track");
    assert_eq!(track.timescale(), TIMESCALE);
    assert_eq!(reader.sample_count(id).expect("count"), 10);
    let mut decoder = sightline_hevc::HevcDecoder::new(record).expect("the file's record");
    let mut pictures = 0;
    for (i, (data, keyframe)) in aus.iter().enumerate() {
        let sample = reader
            .read_sample(id, i as u32 + 1)
            .expect("read")
            .expect("sample");
        assert_eq!(sample.is_sync, *keyframe, "sample {i}");
        assert_eq!(
            with_sets(&sample.bytes),
            0,
            "sample {i}: parameter sets left out"
        );
        let without: usize = nal::length_prefixed_units(data)
            .flatten()
            .filter(|u| !matches!(hevc::nal_type(u), Some(32..=34)))
            .map(|u| u.len() + 4)
            .sum();
        assert_eq!(
            sample.bytes.len(),
            without,
            "sample {i}: the rest as it came"
        );
        for p in decoder.decode(&sample.bytes, i as i64).expect("decodes") {
            assert_eq!((p.width, p.height), (640, 360));
            pictures += 1;
        }
    }
    pictures += decoder.flush().map(|p| p.len()).unwrap_or(0);
    assert_eq!(pictures, 10, "every sample is a picture");
}
