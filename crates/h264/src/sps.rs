//! What a sequence parameter set says that a player needs: the displayed picture
//! size (after cropping) and the RFC 6381 codec string WebCodecs wants.

use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::rbsp::{decode_nal, BitReader};

use crate::{nal, H264Error};

/// The facts taken from one SPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpsInfo {
    pub profile_idc: u8,
    /// The `constraint_set*_flag` byte.
    pub constraint_flags: u8,
    pub level_idc: u8,
    /// Picture size after the SPS's frame cropping.
    pub width: u32,
    pub height: u32,
    /// 0 = monochrome, 1 = 4:2:0, 2 = 4:2:2, 3 = 4:4:4.
    pub chroma_format_idc: u8,
    pub bit_depth_luma_minus8: u8,
    pub bit_depth_chroma_minus8: u8,
}

impl SpsInfo {
    /// Parses an SPS NAL unit (header byte included, emulation prevention bytes present).
    pub fn parse(sps_nal: &[u8]) -> Result<SpsInfo, H264Error> {
        match nal::nal_type(sps_nal) {
            None => return Err(H264Error::EmptyNal),
            Some(nal::types::SPS) => {}
            Some(got) => {
                return Err(H264Error::WrongNalType {
                    expected: nal::types::SPS,
                    got,
                })
            }
        }
        let rbsp = decode_nal(sps_nal).map_err(|e| H264Error::BadSps(e.to_string()))?;
        let sps = SeqParameterSet::from_bits(BitReader::new(&rbsp[..]))
            .map_err(|e| H264Error::BadSps(format!("{e:?}")))?;
        let (width, height) = sps
            .pixel_dimensions()
            .map_err(|e| H264Error::BadSps(format!("{e:?}")))?;
        Ok(SpsInfo {
            profile_idc: sps.profile_idc.into(),
            constraint_flags: sps.constraint_flags.into(),
            level_idc: sps.level_idc,
            width,
            height,
            chroma_format_idc: sps.chroma_info.chroma_format.to_u32() as u8,
            bit_depth_luma_minus8: sps.chroma_info.bit_depth_luma_minus8,
            bit_depth_chroma_minus8: sps.chroma_info.bit_depth_chroma_minus8,
        })
    }

    /// The RFC 6381 codec string, `avc1.PPCCLL` in upper-case hex.
    pub fn codec_string(&self) -> String {
        format!(
            "avc1.{:02X}{:02X}{:02X}",
            self.profile_idc, self.constraint_flags, self.level_idc
        )
    }
}
