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

    /// Takes the parameters from an avcC record as a camera source delivers it
    /// (retina's `extra_data`), keeping the record itself as the `description`.
    /// The stream must use 4-byte NAL lengths, which is what the relay sends.
    pub fn from_avcc(record: &[u8]) -> Result<StreamParams, H264Error> {
        let (sps, pps) = parse_avcc(record)?;
        let info = SpsInfo::parse(sps)?;
        Ok(StreamParams {
            sps: sps.to_vec(),
            pps: pps.to_vec(),
            info,
            avcc: record.to_vec(),
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

/// Reads the first SPS and the first PPS out of an avcC record, checking that its
/// NAL units are 4-byte length-prefixed.
pub fn parse_avcc(record: &[u8]) -> Result<(&[u8], &[u8]), H264Error> {
    let mut r = Reader(record);
    let fixed = r.take(6)?;
    if fixed[0] != 1 {
        return Err(bad_avcc("configurationVersion is not 1"));
    }
    if fixed[4] & 3 != 3 {
        return Err(bad_avcc("NAL lengths are not 4 bytes"));
    }
    let sps = r.first_of((fixed[5] & 0x1f) as usize, nal::types::SPS)?;
    let pps_count = r.take(1)?[0] as usize;
    let pps = r.first_of(pps_count, nal::types::PPS)?;
    Ok((sps, pps))
}

fn bad_avcc(why: &str) -> H264Error {
    H264Error::BadAvcc(why.to_owned())
}

/// A cursor over the record.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], H264Error> {
        if self.0.len() < n {
            return Err(bad_avcc("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// Reads `count` 16-bit-length-prefixed parameter sets of type `want`; returns the first.
    fn first_of(&mut self, count: usize, want: u8) -> Result<&'a [u8], H264Error> {
        let mut found = None;
        for _ in 0..count {
            let len = self.take(2)?;
            let unit = self.take(u16::from_be_bytes([len[0], len[1]]) as usize)?;
            if nal::nal_type(unit) != Some(want) {
                return Err(bad_avcc("parameter set of the wrong type"));
            }
            found.get_or_insert(unit);
        }
        found.ok_or_else(|| bad_avcc("no parameter set"))
    }
}
