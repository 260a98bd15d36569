//! Which codec a stream uses, whether the Wasm fallback decodes it, and what
//! the tile says when no decoder here can (pure, tested on the host).

/// A stream's codec, from its RFC 6381 codec string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
    Other,
}

impl Codec {
    pub fn of(codec_string: &str) -> Codec {
        match codec_string.get(..5) {
            Some("avc1." | "avc3.") => Codec::H264,
            Some("hvc1." | "hev1.") => Codec::H265,
            _ => Codec::Other,
        }
    }

    /// Whether the Wasm fallback (OpenH264) decodes it.
    pub fn wasm_decodes(self) -> bool {
        self == Codec::H264
    }
}

/// What the tile says when no decoder here can play `codec_string`: which
/// codec, and what to do about it. `wasm_forced`: the page asked for the
/// Wasm decoder (`decoder="wasm"`), which plays H.264 only.
pub fn unplayable_message(codec_string: &str, wasm_forced: bool) -> String {
    let name = match Codec::of(codec_string) {
        Codec::H265 => format!("H.265 ({codec_string})"),
        _ => codec_string.to_owned(),
    };
    if wasm_forced {
        return format!(
            "The Wasm decoder (decoder=\"wasm\") plays H.264 only and this camera sends {name}: \
             use decoder=\"auto\", or set the camera to H.264."
        );
    }
    match Codec::of(codec_string) {
        Codec::H265 => format!(
            "This browser cannot decode {name}. Use Safari, or Chrome or Edge on a device \
             with H.265 hardware decoding — or set the camera (or its substream) to H.264."
        ),
        _ => format!("This browser cannot decode {name}: set the camera to H.264."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_are_told_apart_by_their_strings() {
        assert_eq!(Codec::of("avc1.64001F"), Codec::H264);
        assert_eq!(Codec::of("hvc1.1.6.L93.B0"), Codec::H265);
        assert_eq!(Codec::of("hev1.1.6.L93.B0"), Codec::H265);
        assert_eq!(Codec::of("vp09.00.10.08"), Codec::Other);
        assert_eq!(Codec::of("av"), Codec::Other);
        assert!(Codec::H264.wasm_decodes());
        assert!(!Codec::H265.wasm_decodes());
    }

    #[test]
    fn the_message_names_the_codec_and_what_to_do() {
        let m = unplayable_message("hvc1.1.6.L93.B0", false);
        assert!(m.contains("cannot decode H.265 (hvc1.1.6.L93.B0)"), "{m}");
        assert!(m.contains("H.264"), "{m}");
        let m = unplayable_message("hvc1.1.6.L93.B0", true);
        assert!(m.contains("H.264 only"), "{m}");
        assert!(m.contains("decoder=\"auto\""), "{m}");
    }
}
