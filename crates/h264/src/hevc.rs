//! H.265 (HEVC) beside H.264: what VPS, SPS and PPS say that a player needs
//! (the picture size after the conformance window, the RFC 6381 codec string
//! `hvc1.…` WebCodecs wants), and the HEVCDecoderConfigurationRecord ("hvcC",
//! ISO/IEC 14496-15 §8.3.3.1) that WebCodecs takes as `description`.
//!
//! Written by hand like the avcC record: building the record and reading the
//! dozen SPS fields before the size is about 150 lines over `h264-reader`'s
//! bit reader, which handles emulation prevention and Exp-Golomb codes; the
//! HEVC crates that parse whole parameter sets bring their own bit readers
//! and byte utilities for fields nothing here uses. Checked against ffmpeg's
//! own records and retina's codec strings on x265 streams (tests/fixtures.rs).

use h264_reader::rbsp::{decode_nal, BitRead, BitReader};

use crate::H264Error;

/// HEVC NAL unit types this module cares about (ISO/IEC 23008-2 Table 7-1).
pub mod types {
    pub const VPS: u8 = 32;
    pub const SPS: u8 = 33;
    pub const PPS: u8 = 34;
    /// Clean random access: a keyframe whose leading (RASL) pictures may
    /// reference the GOP before it.
    pub const CRA: u8 = 21;
    /// IRAP pictures (BLA, IDR, CRA and reserved IRAP types): decoding can start here.
    pub const IRAP: std::ops::RangeInclusive<u8> = 16..=23;
}

/// The type of an HEVC NAL unit (from its two-byte header).
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| (b >> 1) & 0x3f)
}

/// The general profile, tier and level: the 12 bytes the SPS and the hvcC
/// record share (the first 96 bits of `profile_tier_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileTierLevel(pub [u8; 12]);

impl ProfileTierLevel {
    pub fn profile_space(&self) -> u8 {
        self.0[0] >> 6
    }
    /// High tier.
    pub fn tier(&self) -> bool {
        self.0[0] & 0x20 != 0
    }
    pub fn profile_idc(&self) -> u8 {
        self.0[0] & 0x1f
    }
    pub fn compatibility_flags(&self) -> u32 {
        u32::from_be_bytes([self.0[1], self.0[2], self.0[3], self.0[4]])
    }
    /// The 48 constraint indicator flags (progressive, interlaced, …).
    pub fn constraint_flags(&self) -> &[u8] {
        &self.0[5..11]
    }
    pub fn level_idc(&self) -> u8 {
        self.0[11]
    }

    /// The codec string of ISO/IEC 14496-15 Annex E.3: `hvc1.` profile (with
    /// `A`–`C` for a non-zero profile space), the compatibility flags in
    /// reverse bit order as hex, tier `L`/`H` and level, then the constraint
    /// bytes in hex, trailing zero bytes left out. E.g. `hvc1.1.6.L93.B0`.
    pub fn codec_string(&self) -> String {
        let space = match self.profile_space() {
            0 => "",
            1 => "A",
            2 => "B",
            _ => "C",
        };
        let mut out = format!(
            "hvc1.{space}{}.{:X}.{}{}",
            self.profile_idc(),
            self.compatibility_flags().reverse_bits(),
            if self.tier() { 'H' } else { 'L' },
            self.level_idc()
        );
        let constraints = self.constraint_flags();
        let used = constraints
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |last| last + 1);
        for b in &constraints[..used] {
            out.push_str(&format!(".{b:X}"));
        }
        out
    }
}

/// The facts taken from one HEVC SPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcSpsInfo {
    pub ptl: ProfileTierLevel,
    /// `sps_max_sub_layers_minus1 + 1`.
    pub sub_layers: u8,
    pub temporal_id_nesting: bool,
    /// 0 = monochrome, 1 = 4:2:0, 2 = 4:2:2, 3 = 4:4:4.
    pub chroma_format_idc: u8,
    /// Picture size after the conformance window.
    pub width: u32,
    pub height: u32,
    pub bit_depth_luma_minus8: u8,
    pub bit_depth_chroma_minus8: u8,
}

fn bad(what: impl std::fmt::Display) -> H264Error {
    H264Error::BadSps(format!("HEVC: {what}"))
}

impl HevcSpsInfo {
    /// Parses an SPS NAL unit (its two-byte header included, emulation
    /// prevention bytes present), up to the bit depths (§7.3.2.2.1).
    pub fn parse(sps_nal: &[u8]) -> Result<HevcSpsInfo, H264Error> {
        match nal_type(sps_nal) {
            None => return Err(H264Error::EmptyNal),
            Some(types::SPS) => {}
            Some(got) => {
                return Err(H264Error::WrongNalType {
                    expected: types::SPS,
                    got,
                })
            }
        }
        if sps_nal.len() < 3 {
            return Err(bad("SPS too short"));
        }
        // `decode_nal` drops one header byte (H.264's); HEVC has two.
        let rbsp = decode_nal(&sps_nal[1..]).map_err(bad)?;
        let e = |e| bad(format!("{e:?}"));
        let mut r = BitReader::new(&rbsp[..]);
        r.skip(4, "sps_video_parameter_set_id").map_err(e)?;
        let max_sub_layers_minus1: u8 = r.read::<3, u8>("sps_max_sub_layers_minus1").map_err(e)?;
        let temporal_id_nesting = r.read_bit("sps_temporal_id_nesting_flag").map_err(e)?;
        let mut ptl = [0u8; 12];
        for b in &mut ptl {
            *b = r.read::<8, u8>("general_profile_tier_level").map_err(e)?;
        }
        // Sub-layers: which carry a profile and a level, then those (§7.3.3).
        let mut present = Vec::with_capacity(usize::from(max_sub_layers_minus1));
        for _ in 0..max_sub_layers_minus1 {
            let profile = r.read_bit("sub_layer_profile_present_flag").map_err(e)?;
            let level = r.read_bit("sub_layer_level_present_flag").map_err(e)?;
            present.push((profile, level));
        }
        if max_sub_layers_minus1 > 0 {
            for _ in max_sub_layers_minus1..8 {
                r.skip(2, "reserved_zero_2bits").map_err(e)?;
            }
        }
        for (profile, level) in present {
            if profile {
                r.skip(88, "sub_layer_profile").map_err(e)?;
            }
            if level {
                r.skip(8, "sub_layer_level_idc").map_err(e)?;
            }
        }
        r.read_ue("sps_seq_parameter_set_id").map_err(e)?;
        let chroma_format_idc = r.read_ue("chroma_format_idc").map_err(e)?;
        if chroma_format_idc > 3 {
            return Err(bad(format!("chroma_format_idc {chroma_format_idc}")));
        }
        let separate_planes =
            chroma_format_idc == 3 && r.read_bit("separate_colour_plane_flag").map_err(e)?;
        let coded_width = r.read_ue("pic_width_in_luma_samples").map_err(e)?;
        let coded_height = r.read_ue("pic_height_in_luma_samples").map_err(e)?;
        let (mut width, mut height) = (coded_width, coded_height);
        if r.read_bit("conformance_window_flag").map_err(e)? {
            let mut offsets = [0u32; 4];
            for o in &mut offsets {
                *o = r.read_ue("conf_win_offset").map_err(e)?;
            }
            // Offsets count chroma samples (Table 6-1).
            let (sub_w, sub_h) = match (chroma_format_idc, separate_planes) {
                (1, false) => (2, 2),
                (2, false) => (2, 1),
                _ => (1, 1),
            };
            let crop_w = sub_w * (u64::from(offsets[0]) + u64::from(offsets[1]));
            let crop_h = sub_h * (u64::from(offsets[2]) + u64::from(offsets[3]));
            if crop_w >= u64::from(coded_width) || crop_h >= u64::from(coded_height) {
                return Err(bad("the conformance window crops the whole picture"));
            }
            width = coded_width - crop_w as u32;
            height = coded_height - crop_h as u32;
        }
        if width == 0 || height == 0 || width > 16_384 || height > 16_384 {
            return Err(bad(format!("picture size {width}x{height}")));
        }
        let bit_depth_luma_minus8 = r.read_ue("bit_depth_luma_minus8").map_err(e)?;
        let bit_depth_chroma_minus8 = r.read_ue("bit_depth_chroma_minus8").map_err(e)?;
        if bit_depth_luma_minus8 > 8 || bit_depth_chroma_minus8 > 8 {
            return Err(bad("bit depth over 16"));
        }
        Ok(HevcSpsInfo {
            ptl: ProfileTierLevel(ptl),
            sub_layers: max_sub_layers_minus1 + 1,
            temporal_id_nesting,
            chroma_format_idc: chroma_format_idc as u8,
            width,
            height,
            bit_depth_luma_minus8: bit_depth_luma_minus8 as u8,
            bit_depth_chroma_minus8: bit_depth_chroma_minus8 as u8,
        })
    }

    /// The RFC 6381 codec string.
    pub fn codec_string(&self) -> String {
        self.ptl.codec_string()
    }
}

/// Everything a decoder needs to start on an HEVC stream: VPS, SPS, PPS,
/// what the SPS says, and the hvcC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcParams {
    pub vps: Vec<u8>,
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
    pub info: HevcSpsInfo,
    pub hvcc: Vec<u8>,
}

impl HevcParams {
    /// Builds the parameters from one VPS, SPS and PPS NAL unit (headers included).
    pub fn new(vps: &[u8], sps: &[u8], pps: &[u8]) -> Result<HevcParams, H264Error> {
        for (nal, expected) in [(vps, types::VPS), (pps, types::PPS)] {
            match nal_type(nal) {
                Some(got) if got == expected => {}
                Some(got) => return Err(H264Error::WrongNalType { expected, got }),
                None => return Err(H264Error::EmptyNal),
            }
        }
        let info = HevcSpsInfo::parse(sps)?;
        let hvcc = build_hvcc(&info, vps, sps, pps)?;
        Ok(HevcParams {
            vps: vps.to_vec(),
            sps: sps.to_vec(),
            pps: pps.to_vec(),
            info,
            hvcc,
        })
    }

    /// Takes the parameters from an hvcC record as a camera source delivers it
    /// (retina's `extra_data`), keeping the record itself as the `description`.
    /// The stream must use 4-byte NAL lengths, which is what the relay sends.
    pub fn from_hvcc(record: &[u8]) -> Result<HevcParams, H264Error> {
        let [vps, sps, pps] = parse_hvcc(record)?;
        let info = HevcSpsInfo::parse(sps)?;
        Ok(HevcParams {
            vps: vps.to_vec(),
            sps: sps.to_vec(),
            pps: pps.to_vec(),
            info,
            hvcc: record.to_vec(),
        })
    }

    /// The RFC 6381 codec string.
    pub fn codec_string(&self) -> String {
        self.info.codec_string()
    }
}

/// Builds an hvcC record with one VPS, SPS and PPS and 4-byte NAL lengths.
/// Fields the record only hints at (spatial segmentation, parallelism,
/// frame rate) are "unknown", as ffmpeg writes them for such streams.
pub fn build_hvcc(
    info: &HevcSpsInfo,
    vps: &[u8],
    sps: &[u8],
    pps: &[u8],
) -> Result<Vec<u8>, H264Error> {
    let mut out = Vec::with_capacity(23 + 3 * 5 + vps.len() + sps.len() + pps.len());
    out.push(1); // configurationVersion
    out.extend_from_slice(&info.ptl.0);
    out.extend_from_slice(&[0xf0, 0x00]); // reserved + min_spatial_segmentation_idc = 0
    out.push(0xfc); // reserved + parallelismType = 0 (unknown)
    out.push(0xfc | info.chroma_format_idc);
    // 3-bit fields: depths over 15 bits (RExt's 16) do not fit; 7 says "15+".
    out.push(0xf8 | info.bit_depth_luma_minus8.min(7));
    out.push(0xf8 | info.bit_depth_chroma_minus8.min(7));
    out.extend_from_slice(&[0, 0]); // avgFrameRate: unspecified
                                    // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3.
                                    // numTemporalLayers is 3 bits: 8 sub-layers are written as 7 ("7 or more").
    let layers = info.sub_layers.min(7);
    out.push((layers << 3) | (u8::from(info.temporal_id_nesting) << 2) | 3);
    out.push(3); // numOfArrays
    for (ty, nal) in [(types::VPS, vps), (types::SPS, sps), (types::PPS, pps)] {
        let len = u16::try_from(nal.len()).map_err(|_| H264Error::TooLarge(nal.len()))?;
        out.push(0x80 | ty); // array_completeness: these are all there are
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(nal);
    }
    Ok(out)
}

/// The first VPS, SPS and PPS of an hvcC record with 4-byte NAL lengths.
pub fn parse_hvcc(record: &[u8]) -> Result<[&[u8]; 3], H264Error> {
    let bad = |why: &str| H264Error::BadAvcc(format!("hvcC: {why}"));
    if record.len() < 23 {
        return Err(bad("shorter than its 23-byte header"));
    }
    if record[0] != 1 {
        return Err(bad("configurationVersion is not 1"));
    }
    if record[21] & 3 != 3 {
        return Err(bad("NAL lengths are not 4 bytes"));
    }
    let mut found: [Option<&[u8]>; 3] = [None; 3];
    let mut at = 23;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], H264Error> {
        let end = at.checked_add(n).filter(|&end| end <= record.len());
        let Some(end) = end else {
            return Err(bad("truncated"));
        };
        let bytes = &record[*at..end];
        *at = end;
        Ok(bytes)
    };
    for _ in 0..record[22] {
        let ty = take(&mut at, 1)?[0] & 0x3f;
        let count = u16::from_be_bytes(take(&mut at, 2)?.try_into().unwrap_or([0; 2]));
        for _ in 0..count {
            let len = u16::from_be_bytes(take(&mut at, 2)?.try_into().unwrap_or([0; 2]));
            let nal = take(&mut at, usize::from(len))?;
            if nal_type(nal) != Some(ty) {
                return Err(bad("a NAL unit in the wrong array"));
            }
            let slot = match ty {
                types::VPS => &mut found[0],
                types::SPS => &mut found[1],
                types::PPS => &mut found[2],
                _ => continue, // SEI and the like: not needed to decode
            };
            slot.get_or_insert(nal);
        }
    }
    match found {
        [Some(vps), Some(sps), Some(pps)] => Ok([vps, sps, pps]),
        _ => Err(bad("a VPS, an SPS and a PPS are needed")),
    }
}

/// Whether an HEVC access unit's NAL units make an IDR picture (decoding
/// starts there with nothing before it).
pub fn is_idr(nals: impl IntoIterator<Item = impl AsRef<[u8]>>) -> bool {
    nals.into_iter()
        .any(|n| matches!(nal_type(n.as_ref()), Some(19 | 20)))
}

/// Whether an HEVC access unit's NAL units make a RASL picture: a leading
/// picture of a CRA that references the GOP before it, undecodable when
/// decoding (re)starts at that CRA.
pub fn is_rasl(nals: impl IntoIterator<Item = impl AsRef<[u8]>>) -> bool {
    nals.into_iter()
        .any(|n| matches!(nal_type(n.as_ref()), Some(8 | 9)))
}

/// Whether a length-prefixed HEVC access unit holds an IRAP picture.
pub fn is_irap(nals: impl IntoIterator<Item = impl AsRef<[u8]>>) -> bool {
    nals.into_iter()
        .any(|n| nal_type(n.as_ref()).is_some_and(|t| types::IRAP.contains(&t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_string_follows_annex_e() {
        // Main profile, level 3.1, progressive + frame-only constraints.
        let mut ptl = [0u8; 12];
        ptl[0] = 1;
        ptl[1..5].copy_from_slice(&0x6000_0000u32.to_be_bytes());
        ptl[5] = 0xb0;
        ptl[11] = 93;
        assert_eq!(ProfileTierLevel(ptl).codec_string(), "hvc1.1.6.L93.B0");
        // Main 10, high tier, profile space 1, constraint bytes with a gap.
        ptl[0] = 0x40 | 0x20 | 2;
        ptl[1..5].copy_from_slice(&0x2000_0000u32.to_be_bytes());
        ptl[5] = 0x90;
        ptl[7] = 0x01;
        ptl[11] = 120;
        assert_eq!(
            ProfileTierLevel(ptl).codec_string(),
            "hvc1.A2.4.H120.90.0.1"
        );
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        for record in [&[][..], &[1; 22], &[2; 40], &[1; 23]] {
            assert!(parse_hvcc(record).is_err(), "{record:?}");
        }
        assert!(HevcSpsInfo::parse(&[0x42, 0x01]).is_err());
        assert!(HevcSpsInfo::parse(&[0x40, 0x01, 0xff]).is_err(), "a VPS");
    }
}
