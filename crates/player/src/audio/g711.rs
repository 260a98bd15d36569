//! G.711 (ITU-T, 1972): A-law and µ-law bytes → 16-bit linear PCM, for
//! browsers without WebCodecs' `AudioDecoder`. Written out rather than taken
//! from a crate: it is the standard's two expansion rules, a dozen lines, and
//! the player's download should not grow for them.

/// The two companding laws cameras send (RTP payload types 8 and 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// A-law (`PCMA`, WebCodecs `alaw`): Europe's.
    A,
    /// µ-law (`PCMU`, WebCodecs `ulaw`): North America's and Japan's.
    Mu,
}

impl Law {
    /// The law of a WebCodecs codec string (`alaw`, `ulaw`), if it is G.711.
    pub fn of_codec(codec: &str) -> Option<Law> {
        match codec {
            "alaw" => Some(Law::A),
            "ulaw" => Some(Law::Mu),
            _ => None,
        }
    }

    /// One sample.
    pub fn expand(self, byte: u8) -> i16 {
        match self {
            Law::A => alaw(byte),
            Law::Mu => ulaw(byte),
        }
    }

    /// Appends `bytes` as samples in −1.0..1.0.
    pub fn decode(self, bytes: &[u8], out: &mut Vec<f32>) {
        out.extend(bytes.iter().map(|&b| f32::from(self.expand(b)) / 32768.0));
    }
}

/// A-law: even bits inverted, then sign, a 3-bit segment and a 4-bit step.
pub fn alaw(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let step = i32::from(a & 0x0f) << 4;
    let segment = i32::from((a & 0x70) >> 4);
    let magnitude = match segment {
        0 => step + 8,
        1 => step + 0x108,
        _ => (step + 0x108) << (segment - 1),
    };
    // In range by construction: at most 0x1f8 << 6 = 32256.
    (if a & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

/// µ-law: all bits inverted, then sign, a 3-bit exponent and a 4-bit mantissa
/// over a bias of 0x84.
pub fn ulaw(byte: u8) -> i16 {
    let u = !byte;
    let biased = ((i32::from(u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
    // At most 0xfc << 7 = 32256, minus the bias.
    (if u & 0x80 != 0 {
        0x84 - biased
    } else {
        biased - 0x84
    }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from the standard's tables (G.711 Tables 1a and 2a, decoder
    /// output in 16-bit scale): the smallest and largest steps of each sign.
    #[test]
    fn the_standards_end_points() {
        assert_eq!(alaw(0xd5), 8);
        assert_eq!(alaw(0x55), -8);
        assert_eq!(alaw(0xaa), 32256);
        assert_eq!(alaw(0x2a), -32256);
        assert_eq!(ulaw(0xff), 0);
        assert_eq!(ulaw(0x7f), 0);
        assert_eq!(ulaw(0x80), 32124);
        assert_eq!(ulaw(0x00), -32124);
        assert_eq!(ulaw(0xfe), 8);
        assert_eq!(ulaw(0x7e), -8);
    }

    /// Each law maps its 128 codes of one sign onto 128 distinct levels,
    /// mirrored by the other sign: nothing folds onto anything else.
    #[test]
    fn every_code_is_its_own_level_and_signs_mirror() {
        for law in [Law::A, Law::Mu] {
            let mut levels: Vec<i16> = (0..=255u8).map(|b| law.expand(b)).collect();
            let positive: Vec<i16> = levels.iter().copied().filter(|&l| l > 0).collect();
            let negative: Vec<i16> = levels.iter().copied().filter(|&l| l < 0).collect();
            assert_eq!(positive.len(), negative.len(), "{law:?}");
            for p in &positive {
                assert!(negative.contains(&-p), "{law:?}: {p} has no mirror");
            }
            levels.sort_unstable();
            levels.dedup();
            // µ-law has a +0 and a −0 (both 0); A-law has no zero.
            let expected = if law == Law::Mu { 255 } else { 256 };
            assert_eq!(levels.len(), expected, "{law:?}");
        }
    }

    /// Steps double from one segment to the next: the logarithmic curve.
    #[test]
    fn steps_grow_by_segment() {
        // A-law positive codes (sign bit set after inversion), segment by segment.
        let step =
            |seg: u8| alaw((0x80 | (seg << 4) | 1) ^ 0x55) - alaw((0x80 | (seg << 4)) ^ 0x55);
        assert_eq!(step(1), 16);
        for seg in 2..8 {
            assert_eq!(step(seg), 16 << (seg - 1), "segment {seg}");
        }
    }

    #[test]
    fn decodes_to_unit_scale() {
        let mut out = Vec::new();
        Law::A.decode(&[0xaa, 0x2a], &mut out);
        assert_eq!(out, vec![32256.0 / 32768.0, -32256.0 / 32768.0]);
        assert_eq!(Law::of_codec("ulaw"), Some(Law::Mu));
        assert_eq!(Law::of_codec("mp4a.40.2"), None);
    }
}
