//! The helpers against real streams made by ffmpeg/x264 (see fixtures/README.md),
//! with ffmpeg's own avcC record (from the MP4 it muxed) as the reference.

use sightline_h264::nal::{self, types};
use sightline_h264::{SpsInfo, StreamParams};

const BASELINE: &[u8] = include_bytes!("fixtures/baseline_320x180.h264");
const BASELINE_MP4: &[u8] = include_bytes!("fixtures/baseline_320x180.mp4");
const HIGH: &[u8] = include_bytes!("fixtures/high_640x360.h264");
const HIGH_MP4: &[u8] = include_bytes!("fixtures/high_640x360.mp4");

fn first_of(stream: &[u8], ty: u8) -> &[u8] {
    nal::annex_b_units(stream)
        .find(|u| nal::nal_type(u) == Some(ty))
        .unwrap_or_else(|| panic!("no NAL unit of type {ty}"))
}

/// The payload of the first `avcC` box in an MP4 file.
fn avcc_box(mp4: &[u8]) -> &[u8] {
    let at = mp4
        .windows(4)
        .position(|w| w == b"avcC")
        .expect("an avcC box");
    let size = u32::from_be_bytes(mp4[at - 4..at].try_into().unwrap()) as usize;
    &mp4[at + 4..at - 4 + size]
}

#[test]
fn baseline_sps_gives_cropped_size_and_codec() {
    let info = SpsInfo::parse(first_of(BASELINE, types::SPS)).unwrap();
    assert_eq!((info.width, info.height), (320, 180));
    assert_eq!(info.profile_idc, 66);
    assert_eq!(
        info.codec_string(),
        format!("avc1.42{:02X}{:02X}", info.constraint_flags, info.level_idc)
    );
    assert_eq!(info.chroma_format_idc, 1);
}

#[test]
fn high_sps_gives_size_and_codec() {
    let info = SpsInfo::parse(first_of(HIGH, types::SPS)).unwrap();
    assert_eq!((info.width, info.height), (640, 360));
    assert_eq!(info.profile_idc, 100);
    assert!(
        info.codec_string().starts_with("avc1.64"),
        "{}",
        info.codec_string()
    );
}

#[test]
fn avcc_matches_ffmpegs_record() {
    for (stream, mp4) in [(BASELINE, BASELINE_MP4), (HIGH, HIGH_MP4)] {
        let params =
            StreamParams::new(first_of(stream, types::SPS), first_of(stream, types::PPS)).unwrap();
        assert_eq!(params.avcc, avcc_box(mp4));
    }
}

#[test]
fn ffmpegs_avcc_gives_back_the_streams_parameters() {
    for (stream, mp4) in [(BASELINE, BASELINE_MP4), (HIGH, HIGH_MP4)] {
        let params = StreamParams::from_avcc(avcc_box(mp4)).unwrap();
        assert_eq!(params.sps, first_of(stream, types::SPS));
        assert_eq!(params.pps, first_of(stream, types::PPS));
        assert_eq!(params.avcc, avcc_box(mp4));
        let built = StreamParams::new(&params.sps, &params.pps).unwrap();
        assert_eq!(params.info, built.info);
    }
}

#[test]
fn damaged_avcc_records_are_refused() {
    let good = avcc_box(HIGH_MP4);
    for cut in [0, 5, 8, 12, good.len() - 6] {
        assert!(
            StreamParams::from_avcc(&good[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut two_byte_lengths = good.to_vec();
    two_byte_lengths[4] = 0xfc | 1;
    assert!(StreamParams::from_avcc(&two_byte_lengths).is_err());
    let mut bad_version = good.to_vec();
    bad_version[0] = 2;
    assert!(StreamParams::from_avcc(&bad_version).is_err());
}

#[test]
fn length_prefixed_round_trip_keeps_every_unit() {
    for stream in [BASELINE, HIGH] {
        let units: Vec<&[u8]> = nal::annex_b_units(stream).collect();
        assert!(
            units
                .iter()
                .filter(|u| nal::nal_type(u) == Some(types::IDR))
                .count()
                >= 2
        );
        let lp = nal::annex_b_to_length_prefixed(stream);
        let back: Vec<&[u8]> = nal::length_prefixed_units(&lp)
            .map(Result::unwrap)
            .collect();
        assert_eq!(back, units);
        let annex_b = nal::length_prefixed_to_annex_b(&lp).unwrap();
        assert_eq!(nal::annex_b_units(&annex_b).collect::<Vec<_>>(), units);
    }
}

#[test]
fn wrong_units_are_rejected() {
    let pps = first_of(HIGH, types::PPS);
    assert!(SpsInfo::parse(pps).is_err());
    assert!(SpsInfo::parse(&[]).is_err());
    assert!(SpsInfo::parse(&[0x67, 0xff]).is_err());
    let sps = first_of(HIGH, types::SPS);
    assert!(StreamParams::new(sps, sps).is_err());
}

// H.265, made with ffmpeg/x265 (see fixtures/README.md); ffmpeg's hvcC
// record (from the MP4 it muxed) and retina's own SPS reading are the references.

mod hevc {
    use sightline_h264::hevc::{self, types, HevcParams, HevcSpsInfo};

    const MAIN: &[u8] = include_bytes!("fixtures/main_640x360.h265");
    const MAIN_MP4: &[u8] = include_bytes!("fixtures/main_640x360.mp4");
    const CROPPED: &[u8] = include_bytes!("fixtures/main_426x240_bframes.h265");
    const CROPPED_MP4: &[u8] = include_bytes!("fixtures/main_426x240_bframes.mp4");

    fn first_of(stream: &[u8], ty: u8) -> &[u8] {
        sightline_h264::nal::annex_b_units(stream)
            .find(|u| hevc::nal_type(u) == Some(ty))
            .unwrap_or_else(|| panic!("no NAL unit of type {ty}"))
    }

    fn hvcc_box(mp4: &[u8]) -> &[u8] {
        let at = mp4
            .windows(4)
            .position(|w| w == b"hvcC")
            .expect("an hvcC box");
        let size = u32::from_be_bytes(mp4[at - 4..at].try_into().unwrap()) as usize;
        &mp4[at + 4..at - 4 + size]
    }

    fn params(stream: &[u8]) -> HevcParams {
        HevcParams::new(
            first_of(stream, types::VPS),
            first_of(stream, types::SPS),
            first_of(stream, types::PPS),
        )
        .unwrap()
    }

    #[test]
    fn sps_gives_the_size_after_the_conformance_window() {
        let main = HevcSpsInfo::parse(first_of(MAIN, types::SPS)).unwrap();
        assert_eq!((main.width, main.height), (640, 360));
        // 426 is not a multiple of x265's 8-pixel coding blocks: cropped from 432.
        let cropped = HevcSpsInfo::parse(first_of(CROPPED, types::SPS)).unwrap();
        assert_eq!((cropped.width, cropped.height), (426, 240));
        assert_eq!(main.chroma_format_idc, 1);
        assert_eq!(main.ptl.profile_idc(), 1, "Main");
    }

    #[test]
    fn hvcc_matches_ffmpegs_record() {
        for (stream, mp4) in [(MAIN, MAIN_MP4), (CROPPED, CROPPED_MP4)] {
            assert_eq!(params(stream).hvcc, hvcc_box(mp4));
        }
    }

    #[test]
    fn ffmpegs_hvcc_gives_back_the_streams_parameters() {
        for (stream, mp4) in [(MAIN, MAIN_MP4), (CROPPED, CROPPED_MP4)] {
            let from_record = HevcParams::from_hvcc(hvcc_box(mp4)).unwrap();
            let built = params(stream);
            assert_eq!(
                (&from_record.vps, &from_record.sps),
                (&built.vps, &built.sps)
            );
            assert_eq!(from_record.pps, built.pps);
            assert_eq!(from_record.info, built.info);
        }
    }

    /// retina's own SPS parser (what the relay's RTSP ingest runs) reads the
    /// same codec string and size.
    #[test]
    fn codec_string_and_size_agree_with_retina() {
        for stream in [MAIN, CROPPED] {
            let sps = first_of(stream, types::SPS);
            let ours = HevcSpsInfo::parse(sps).unwrap();
            let (_, bits) = retina::codec::h265::nal::split(sps).unwrap();
            let theirs = retina::codec::h265::nal::Sps::from_bits(bits).unwrap();
            assert_eq!(ours.codec_string(), theirs.rfc6381_codec());
            let dims = theirs.all_pixel_dimensions().unwrap();
            let (w, h) = dims.display;
            assert_eq!((ours.width, ours.height), (u32::from(w), u32::from(h)));
        }
        assert_eq!(
            HevcSpsInfo::parse(first_of(MAIN, types::SPS))
                .unwrap()
                .codec_string(),
            "hvc1.1.6.L63.90"
        );
    }

    #[test]
    fn damaged_hvcc_records_are_refused() {
        let good = hvcc_box(MAIN_MP4);
        for cut in [0, 5, 22, 23, 30, good.len() - 3] {
            assert!(HevcParams::from_hvcc(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut two_byte_lengths = good.to_vec();
        two_byte_lengths[21] = 0xf1;
        assert!(HevcParams::from_hvcc(&two_byte_lengths).is_err());
    }

    #[test]
    fn idr_and_rasl_pictures_are_told_apart() {
        let units: Vec<&[u8]> = sightline_h264::nal::annex_b_units(CROPPED).collect();
        let idr = units.iter().filter(|u| hevc::is_idr([**u])).count();
        let rasl = units.iter().filter(|u| hevc::is_rasl([**u])).count();
        let cra = units
            .iter()
            .filter(|u| hevc::nal_type(u) == Some(types::CRA))
            .count();
        // x265's open GOP: an IDR first, then CRAs with leading pictures.
        assert_eq!((idr, cra), (1, 1));
        assert!(rasl > 0, "RASL pictures after the CRA");
        assert!(!hevc::is_idr(
            units
                .iter()
                .filter(|u| hevc::nal_type(u) == Some(types::CRA))
        ));
    }

    #[test]
    fn irap_pictures_are_found() {
        let units: Vec<&[u8]> = sightline_h264::nal::annex_b_units(MAIN).collect();
        assert!(hevc::is_irap(&units[..5]), "the stream starts with an IDR");
        let slices: Vec<u8> = units.iter().filter_map(|u| hevc::nal_type(u)).collect();
        assert!(slices.contains(&1), "non-IRAP slices too: {slices:?}");
        assert!(!hevc::is_irap(
            units.iter().filter(|u| hevc::nal_type(u) == Some(1))
        ));
    }
}
