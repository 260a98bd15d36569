//! NAL unit framing: Annex B byte streams (`00 00 01` start codes, what encoders and
//! files produce) and 4-byte length-prefixed units (what avcC/WebCodecs consume).

use crate::H264Error;

/// NAL unit types this project cares about (ITU-T H.264 table 7-1).
pub mod types {
    pub const SLICE: u8 = 1;
    pub const IDR: u8 = 5;
    pub const SEI: u8 = 6;
    pub const SPS: u8 = 7;
    pub const PPS: u8 = 8;
    pub const AUD: u8 = 9;
}

/// The type of a NAL unit (its header's low 5 bits).
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1f)
}

/// Iterates over the NAL units of an Annex B byte stream, without start codes.
/// Trailing zero bytes before a start code (part of 4-byte start codes or
/// `trailing_zero_8bits`) are not included in the units.
pub fn annex_b_units(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 2 < stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::with_capacity(starts.len());
    for (n, &(_, body)) in starts.iter().enumerate() {
        let mut end = starts.get(n + 1).map_or(stream.len(), |&(sc, _)| sc);
        while end > body && stream[end - 1] == 0 {
            end -= 1;
        }
        if end > body {
            units.push(&stream[body..end]);
        }
    }
    units.into_iter()
}

/// Iterates over 4-byte length-prefixed NAL units; stops at the first error.
pub fn length_prefixed_units(data: &[u8]) -> impl Iterator<Item = Result<&[u8], H264Error>> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() < 4 {
            let err = H264Error::Truncated {
                needed: 4,
                available: rest.len(),
            };
            rest = &[];
            return Some(Err(err));
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let body = &rest[4..];
        if len > body.len() {
            let err = H264Error::Truncated {
                needed: len,
                available: body.len(),
            };
            rest = &[];
            return Some(Err(err));
        }
        if len == 0 {
            rest = &[];
            return Some(Err(H264Error::EmptyNal));
        }
        let (unit, tail) = body.split_at(len);
        rest = tail;
        Some(Ok(unit))
    })
}

/// Appends `nal` to `out` with a 4-byte big-endian length prefix.
pub fn push_length_prefixed(out: &mut Vec<u8>, nal: &[u8]) {
    out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
    out.extend_from_slice(nal);
}

/// Converts an Annex B stream to 4-byte length-prefixed units.
pub fn annex_b_to_length_prefixed(stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stream.len() + 16);
    for nal in annex_b_units(stream) {
        push_length_prefixed(&mut out, nal);
    }
    out
}

/// Converts 4-byte length-prefixed units to Annex B with 4-byte start codes.
pub fn length_prefixed_to_annex_b(data: &[u8]) -> Result<Vec<u8>, H264Error> {
    let mut out = Vec::with_capacity(data.len());
    for nal in length_prefixed_units(data) {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let s = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 0,
        ];
        let units: Vec<&[u8]> = annex_b_units(&s).collect();
        assert_eq!(units, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4, 5]]);
    }

    #[test]
    fn round_trips() {
        let s = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3];
        let lp = annex_b_to_length_prefixed(&s);
        assert_eq!(lp, [0, 0, 0, 3, 0x67, 1, 2, 0, 0, 0, 2, 0x68, 3]);
        assert_eq!(length_prefixed_to_annex_b(&lp).unwrap(), s);
    }

    #[test]
    fn truncated_length_prefix_is_an_error() {
        assert!(matches!(
            length_prefixed_to_annex_b(&[0, 0, 0, 9, 1, 2]),
            Err(H264Error::Truncated {
                needed: 9,
                available: 2
            })
        ));
        assert!(length_prefixed_to_annex_b(&[0, 0]).is_err());
        assert!(length_prefixed_to_annex_b(&[0, 0, 0, 0]).is_err());
    }
}
