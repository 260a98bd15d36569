//! Which of a camera's streams a `<cam-player>` plays: its main stream, or
//! its substream (a smaller picture of the same scene, `substream = …` in the
//! relay's config). A 16-camera grid on a phone decodes 16 × 640×360 instead
//! of 16 × 1920×1080: about a ninth of the pixels, the difference between a
//! grid that plays and one that stutters.
//!
//! The rule is pure (tested on the host); `element` feeds it what it knows
//! and switches without a blank picture when the answer changes.

use sightline_wire::Stream;

/// The `stream` attribute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Wanted {
    Main,
    Sub,
    /// By size on screen, the decoder and what is online.
    #[default]
    Auto,
}

impl Wanted {
    pub fn parse(attribute: Option<&str>) -> Wanted {
        match attribute.map(str::trim) {
            Some(s) if s.eq_ignore_ascii_case("main") => Wanted::Main,
            Some(s) if s.eq_ignore_ascii_case("sub") => Wanted::Sub,
            _ => Wanted::Auto,
        }
    }
}

/// What the choice depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    pub wanted: Wanted,
    /// The camera has a substream (the relay's `welcome` says).
    pub has_sub: bool,
    pub main_online: bool,
    pub sub_online: bool,
    /// A stream this element found it cannot play (its codec).
    pub unplayable: Option<Stream>,
    /// Decoding in Wasm (no WebCodecs for this stream, or `decoder="wasm"`):
    /// a fraction of the hardware decoder's speed.
    pub wasm: bool,
    /// The element's width in device pixels (at most 2 per CSS pixel: a
    /// phone's 3× screen does not need three times the stream).
    pub shown_width: f64,
    /// The substream's picture width, once known.
    pub sub_width: Option<u32>,
    /// What plays now.
    pub current: Option<Stream>,
}

/// The substream's width assumed until it is known (a typical D1/nHD substream).
pub const DEFAULT_SUB_WIDTH: u32 = 640;

/// Going to the main stream needs the element this much wider than the
/// substream; going back, no wider than it (so a size near the line does
/// not switch back and forth).
pub const UPSCALE_TO_MAIN: f64 = 1.25;

/// Device pixels per CSS pixel counted at most.
pub const MAX_PIXEL_RATIO: f64 = 2.0;

/// The stream to play.
pub fn choose(i: &Inputs) -> Stream {
    use Stream::{Main, Sub};
    if !i.has_sub {
        return Main;
    }
    match i.unplayable {
        Some(Main) => return Sub,
        Some(Sub) => return Main,
        None => {}
    }
    // One stream down and the other up: the one that plays, whatever was asked.
    match (i.main_online, i.sub_online) {
        (true, false) => return Main,
        (false, true) => return Sub,
        _ => {}
    }
    match i.wanted {
        Wanted::Main => return Main,
        Wanted::Sub => return Sub,
        Wanted::Auto => {}
    }
    if i.wasm {
        return Sub;
    }
    let sub_width = f64::from(i.sub_width.unwrap_or(DEFAULT_SUB_WIDTH));
    let to_main = match i.current {
        Some(Main) => sub_width,
        _ => sub_width * UPSCALE_TO_MAIN,
    };
    if i.shown_width > to_main {
        Main
    } else {
        Sub
    }
}

/// The element's width in device pixels as [`Inputs::shown_width`] counts it.
pub fn shown_width(css_width: f64, device_pixel_ratio: f64) -> f64 {
    let ratio = if device_pixel_ratio.is_finite() && device_pixel_ratio > 0.0 {
        device_pixel_ratio.min(MAX_PIXEL_RATIO)
    } else {
        1.0
    };
    css_width.max(0.0) * ratio
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(width: f64) -> Inputs {
        Inputs {
            wanted: Wanted::Auto,
            has_sub: true,
            main_online: true,
            sub_online: true,
            unplayable: None,
            wasm: false,
            shown_width: width,
            sub_width: Some(640),
            current: None,
        }
    }

    #[test]
    fn small_tiles_play_the_substream_and_large_ones_the_main_stream() {
        assert_eq!(choose(&tile(480.0)), Stream::Sub);
        assert_eq!(choose(&tile(1600.0)), Stream::Main);
        // Between 640 and 800 it depends on what plays: no flapping.
        let near = tile(700.0);
        assert_eq!(choose(&near), Stream::Sub);
        let playing_main = Inputs {
            current: Some(Stream::Main),
            ..near
        };
        assert_eq!(choose(&playing_main), Stream::Main);
        let shrunk = Inputs {
            shown_width: 600.0,
            ..playing_main
        };
        assert_eq!(choose(&shrunk), Stream::Sub);
        // An unknown substream size is taken for 640.
        let unknown = Inputs {
            sub_width: None,
            ..tile(900.0)
        };
        assert_eq!(choose(&unknown), Stream::Main);
    }

    #[test]
    fn the_attribute_wins_over_size_but_not_over_what_is_online() {
        let main = Inputs {
            wanted: Wanted::Main,
            ..tile(100.0)
        };
        assert_eq!(choose(&main), Stream::Main);
        let sub = Inputs {
            wanted: Wanted::Sub,
            ..tile(4000.0)
        };
        assert_eq!(choose(&sub), Stream::Sub);
        let sub_down = Inputs {
            sub_online: false,
            ..sub
        };
        assert_eq!(choose(&sub_down), Stream::Main, "the stream that plays");
        let main_down = Inputs {
            main_online: false,
            ..main
        };
        assert_eq!(choose(&main_down), Stream::Sub);
        let both_down = Inputs {
            main_online: false,
            sub_online: false,
            ..main
        };
        assert_eq!(
            choose(&both_down),
            Stream::Main,
            "as asked, until one is back"
        );
    }

    #[test]
    fn without_a_substream_there_is_only_the_main_stream() {
        let none = Inputs {
            has_sub: false,
            wanted: Wanted::Sub,
            ..tile(100.0)
        };
        assert_eq!(choose(&none), Stream::Main);
    }

    #[test]
    fn slow_decoders_prefer_the_substream_and_unplayable_streams_are_avoided() {
        let wasm = Inputs {
            wasm: true,
            ..tile(1920.0)
        };
        assert_eq!(choose(&wasm), Stream::Sub);
        let asked = Inputs {
            wanted: Wanted::Main,
            ..wasm
        };
        assert_eq!(choose(&asked), Stream::Main, "unless the page asks");
        let h265_main = Inputs {
            unplayable: Some(Stream::Main),
            wanted: Wanted::Main,
            ..tile(1920.0)
        };
        assert_eq!(choose(&h265_main), Stream::Sub);
    }

    #[test]
    fn pixels_count_up_to_twice_the_css_size() {
        assert_eq!(shown_width(360.0, 3.0), 720.0);
        assert_eq!(shown_width(360.0, 1.5), 540.0);
        assert_eq!(shown_width(360.0, f64::NAN), 360.0);
        assert_eq!(Wanted::parse(Some(" MAIN ")), Wanted::Main);
        assert_eq!(Wanted::parse(Some("sub")), Wanted::Sub);
        assert_eq!(Wanted::parse(Some("tiny")), Wanted::Auto);
        assert_eq!(Wanted::parse(None), Wanted::Auto);
    }
}
