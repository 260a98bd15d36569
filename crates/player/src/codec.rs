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

    /// Whether a Wasm fallback decodes it (OpenH264; rust_h265).
    pub fn wasm_decodes(self) -> bool {
        matches!(self, Codec::H264 | Codec::H265)
    }
}

/// The `decoder` attribute: `None` for `auto`, `Some(true)` for `webcodecs`,
/// `Some(false)` for `wasm`.
pub type Forced = Option<bool>;

/// Which decoder plays a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    WebCodecs,
    Wasm,
    /// No decoder here: the tile says so ([`unplayable_message`]).
    Neither,
}

/// The decoder for a stream in `codec`. `webcodecs`: this browser has
/// WebCodecs and it has not failed on this stream before its first picture
/// (nor said, through `isConfigSupported`, that it cannot decode it).
pub fn choose(forced: Forced, webcodecs: bool, codec: Codec) -> Choice {
    match (forced, webcodecs) {
        (Some(true) | None, true) => Choice::WebCodecs,
        (Some(true), false) => Choice::Neither,
        _ if codec.wasm_decodes() => Choice::Wasm,
        _ => Choice::Neither,
    }
}

/// What the tile says when no decoder here plays `codec_string` (see
/// [`choose`]): which codec, and what to do about it.
pub fn unplayable_message(codec_string: &str, forced: Forced) -> String {
    let name = match Codec::of(codec_string) {
        Codec::H264 => format!("H.264 ({codec_string})"),
        Codec::H265 => format!("H.265 ({codec_string})"),
        Codec::Other => codec_string.to_owned(),
    };
    match forced {
        Some(true) => format!(
            "WebCodecs in this browser cannot decode {name} and the page asks for it alone \
             (decoder=\"webcodecs\"): use decoder=\"auto\"."
        ),
        Some(false) => format!(
            "The Wasm decoder (decoder=\"wasm\") plays H.264 and H.265 only and this camera \
             sends {name}: set the camera to H.264 or H.265."
        ),
        None => format!("This browser cannot decode {name}: set the camera to H.264 or H.265."),
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
        assert!(Codec::H265.wasm_decodes());
        assert!(!Codec::Other.wasm_decodes());
    }

    #[test]
    fn the_choice_follows_the_attribute_and_the_codec() {
        use Choice::*;
        let h265 = Codec::H265;
        assert_eq!(choose(None, true, h265), WebCodecs);
        assert_eq!(
            choose(None, false, h265),
            Wasm,
            "WebCodecs cannot: rust_h265"
        );
        assert_eq!(choose(None, false, Codec::Other), Neither);
        assert_eq!(choose(Some(true), true, h265), WebCodecs);
        assert_eq!(
            choose(Some(true), false, h265),
            Neither,
            "forced and failed"
        );
        assert_eq!(choose(Some(false), true, h265), Wasm);
        assert_eq!(choose(Some(false), true, Codec::Other), Neither);
    }

    #[test]
    fn the_message_names_the_codec_and_what_to_do() {
        let m = unplayable_message("hvc1.1.6.L93.B0", Some(true));
        assert!(m.contains("cannot decode H.265 (hvc1.1.6.L93.B0)"), "{m}");
        assert!(m.contains("decoder=\"auto\""), "{m}");
        let m = unplayable_message("vp09.00.10.08", Some(false));
        assert!(m.contains("H.264 and H.265 only"), "{m}");
        let m = unplayable_message("vp09.00.10.08", None);
        assert!(m.contains("cannot decode vp09.00.10.08"), "{m}");
    }
}
