//! The AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1, "avcC"), which
//! WebCodecs takes as `description` for length-prefixed H.264, and the bundle of
//! parameters a stream is decoded with.
//!
//! Written by hand: building the record is 30 lines, and the crates that can
//! (mp4 muxers) pull in far more than this.

use crate::{nal, H264Error, SpsInfo};

/// Everything a decoder needs to start on a stream: SPS, PPS, what they say, and
/// the avcC record built from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamParams {
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
    pub info: SpsInfo,
    pub avcc: Vec<u8>,
}

impl StreamParams {
    /// Builds the parameters from one SPS and one PPS NAL unit (headers included).
    pub fn new(sps: &[u8], pps: &[u8]) -> Result<StreamParams, H264Error> {
        let info = SpsInfo::parse(sps)?;
        match nal::nal_type(pps) {
            Some(nal::types::PPS) => {}
            Some(got) => {
                return Err(H264Error::WrongNalType {
                    expected: nal::types::PPS,
                    got,
                })
            }
            None => return Err(H264Error::EmptyNal),
        }
        let avcc = build_avcc(&info, sps, pps)?;
        Ok(StreamParams {
            sps: sps.to_vec(),
            pps: pps.to_vec(),
            info,
            avcc,
        })
    }

    /// The RFC 6381 codec string.
    pub fn codec_string(&self) -> String {
        self.info.codec_string()
    }
}

/// Builds an avcC record for one SPS and one PPS with 4-byte NAL lengths.
pub fn build_avcc(info: &SpsInfo, sps: &[u8], pps: &[u8]) -> Result<Vec<u8>, H264Error> {
    for set in [sps, pps] {
        if set.len() > u16::MAX as usize {
            return Err(H264Error::TooLarge(set.len()));
        }
    }
    let mut out = Vec::with_capacity(11 + sps.len() + pps.len() + 4);
    out.push(1); // configurationVersion
    out.push(info.profile_idc); // AVCProfileIndication
    out.push(info.constraint_flags); // profile_compatibility
    out.push(info.level_idc); // AVCLevelIndication
    out.push(0xfc | 3); // reserved 6 bits + lengthSizeMinusOne = 3
    out.push(0xe0 | 1); // reserved 3 bits + numOfSequenceParameterSets = 1
    out.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    out.extend_from_slice(sps);
    out.push(1); // numOfPictureParameterSets
    out.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    out.extend_from_slice(pps);
    // The High profiles carry the chroma format and bit depths too (§5.3.3.1.2).
    if matches!(info.profile_idc, 100 | 110 | 122 | 144) {
        out.push(0xfc | (info.chroma_format_idc & 3));
        out.push(0xf8 | (info.bit_depth_luma_minus8 & 7));
        out.push(0xf8 | (info.bit_depth_chroma_minus8 & 7));
        out.push(0); // numOfSequenceParameterSetExt
    }
    Ok(out)
}
