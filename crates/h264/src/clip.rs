//! Recorded clips: an H.264 elementary stream in Annex B (what
//! `ffmpeg … -f h264 clip.h264` writes) split into access units, for the
//! relay's replay cameras and the benchmark tools, which must cut a clip the
//! same way.

use crate::nal::{self, types};

/// One access unit of the clip: its NAL units in Annex B, and whether it is an IDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipFrame {
    pub annex_b: Vec<u8>,
    pub keyframe: bool,
}

/// What splitting a stream into access units needs to know of a NAL unit.
struct Unit {
    /// A slice (of a picture).
    picture: bool,
    /// The first slice of a picture.
    first_slice: bool,
    /// An access unit delimiter.
    delimiter: bool,
    /// Parameter sets or SEI: after a picture, they open the next unit.
    opens_unit: bool,
    /// A picture decoding can start at.
    key: bool,
}

/// Splits an Annex B stream into access units by `classify`, starting at
/// the first keyframe: a new one begins at an access unit delimiter, at a
/// unit that opens one following a picture, or at a picture's first slice
/// following a picture.
fn split(stream: &[u8], classify: impl Fn(&[u8]) -> Option<Unit>) -> Vec<ClipFrame> {
    let mut frames = Vec::new();
    let mut current = ClipFrame {
        annex_b: Vec::new(),
        keyframe: false,
    };
    let mut has_picture = false;
    for nal in nal::annex_b_units(stream) {
        let Some(unit) = classify(nal) else {
            continue;
        };
        let starts_unit = unit.delimiter || (has_picture && (unit.first_slice || unit.opens_unit));
        if starts_unit && !current.annex_b.is_empty() {
            frames.push(std::mem::replace(
                &mut current,
                ClipFrame {
                    annex_b: Vec::new(),
                    keyframe: false,
                },
            ));
            has_picture = false;
        }
        current.annex_b.extend_from_slice(&[0, 0, 0, 1]);
        current.annex_b.extend_from_slice(nal);
        current.keyframe |= unit.key;
        has_picture |= unit.picture;
    }
    if has_picture {
        frames.push(current);
    }
    let first_key = frames.iter().position(|f| f.keyframe).unwrap_or(0);
    frames.split_off(first_key)
}

/// Splits an Annex B stream into access units, starting at its first IDR (a
/// decoder can start there, and the loop can wrap there). A new access unit
/// begins at an access unit delimiter, at parameter sets or SEI following a
/// picture, or at a slice whose `first_mb_in_slice` is 0 (its first header bit
/// is 1, the Exp-Golomb code of 0) following a picture.
pub fn access_units(stream: &[u8]) -> Vec<ClipFrame> {
    let mut frames = split(stream, |unit| {
        let kind = nal::nal_type(unit)?;
        let picture = matches!(kind, types::SLICE | types::IDR);
        Some(Unit {
            picture,
            first_slice: picture && unit.get(1).is_some_and(|b| b & 0x80 != 0),
            delimiter: kind == types::AUD,
            opens_unit: matches!(kind, types::SPS | types::PPS | types::SEI),
            key: kind == types::IDR,
        })
    });
    // Parameter sets before the first IDR belong with it.
    if let (Some(first), Some(params)) = (frames.first_mut(), parameter_sets(stream)) {
        if !contains(&first.annex_b, types::SPS) {
            let mut with = params;
            with.extend_from_slice(&first.annex_b);
            first.annex_b = with;
        }
    }
    frames
}

/// Splits an H.265 Annex B stream into access units, starting at its first
/// IRAP picture (IDR, CRA, BLA: where decoding can start), by the same rules
/// as [`access_units`]: a new one begins at an access unit delimiter, at a
/// VPS, SPS, PPS or prefix SEI following a picture, or at a slice whose
/// `first_slice_segment_in_pic_flag` is set following a picture.
pub fn hevc_access_units(stream: &[u8]) -> Vec<ClipFrame> {
    use crate::hevc::{nal_type, types as t};
    const AUD: u8 = 35;
    const PREFIX_SEI: u8 = 39;
    split(stream, |unit| {
        let kind = nal_type(unit)?;
        let picture = kind < 32;
        Some(Unit {
            picture,
            first_slice: picture && unit.get(2).is_some_and(|b| b & 0x80 != 0),
            delimiter: kind == AUD,
            opens_unit: matches!(kind, t::VPS | t::SPS | t::PPS | PREFIX_SEI),
            key: t::IRAP.contains(&kind),
        })
    })
}

/// The stream's first SPS and PPS, in Annex B.
fn parameter_sets(stream: &[u8]) -> Option<Vec<u8>> {
    let find = |kind| nal::annex_b_units(stream).find(|u| nal::nal_type(u) == Some(kind));
    let (sps, pps) = (find(types::SPS)?, find(types::PPS)?);
    let mut out = Vec::new();
    for unit in [sps, pps] {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(unit);
    }
    Some(out)
}

fn contains(annex_b: &[u8], kind: u8) -> bool {
    nal::annex_b_units(annex_b).any(|u| nal::nal_type(u) == Some(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &[u8] = include_bytes!("../tests/fixtures/high_640x360.h264");

    #[test]
    fn the_fixture_splits_into_its_ten_pictures() {
        let frames = access_units(FIXTURE);
        assert_eq!(frames.len(), 10, "the fixture has 10 pictures");
        // Made with `-g 5` (see the fixtures' README): IDRs at 0 and 5.
        let keys: Vec<usize> = (0..10).filter(|&i| frames[i].keyframe).collect();
        assert_eq!(keys, [0, 5]);
        assert!(contains(&frames[0].annex_b, types::SPS));
        // Every picture's slices, nothing lost or repeated.
        let slices = |data: &[u8]| {
            nal::annex_b_units(data)
                .filter(|u| matches!(nal::nal_type(u), Some(types::SLICE | types::IDR)))
                .count()
        };
        assert_eq!(
            frames.iter().map(|f| slices(&f.annex_b)).sum::<usize>(),
            slices(FIXTURE)
        );
    }

    #[test]
    fn the_h265_fixture_splits_into_its_ten_pictures() {
        use crate::hevc::nal_type;
        let stream = include_bytes!("../tests/fixtures/main_640x360.h265");
        let frames = hevc_access_units(stream);
        assert_eq!(frames.len(), 10);
        // x265 with keyint=5 (see the fixtures' README).
        let keys: Vec<usize> = (0..10).filter(|&i| frames[i].keyframe).collect();
        assert_eq!(keys, [0, 5]);
        // The first carries the VPS, SPS and PPS; each has one picture.
        let kinds: Vec<u8> = nal::annex_b_units(&frames[0].annex_b)
            .filter_map(nal_type)
            .collect();
        assert!(kinds.starts_with(&[32, 33, 34]), "{kinds:?}");
        for f in &frames {
            let firsts = nal::annex_b_units(&f.annex_b)
                .filter(|u| nal_type(u).is_some_and(|k| k < 32) && u[2] & 0x80 != 0)
                .count();
            assert_eq!(firsts, 1);
        }
    }
}
