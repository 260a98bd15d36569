//! AAC-LC → mono PCM for browsers without WebCodecs' `AudioDecoder`: the
//! camera's raw AAC frames (RTP `mpeg4-generic`, one access unit each) and
//! its AudioSpecificConfig, as the relay forwards them, decoded by
//! symphonia's pure-Rust AAC decoder (ISO/IEC 14496-3 low complexity: what
//! cameras send). Built into its own Web Worker (`crates/aac-worker`), fetched
//! only by a page that plays an AAC camera without `AudioDecoder`.
//!
//! Symphonia rather than a decoder of our own: AAC is a large standard
//! (Huffman codebooks, TNS, M/S and intensity stereo, the IMDCT with window
//! switching), and symphonia's is maintained, tested and pure Rust.

use symphonia_codec_aac::AacDecoder;
use symphonia_core::audio::{Channels, SampleBuffer};
use symphonia_core::codecs::{CodecParameters, Decoder as _, DecoderOptions, CODEC_TYPE_AAC};
use symphonia_core::formats::Packet;

/// What went wrong, for the page's console and `getStats().audio.error`.
#[derive(Debug, thiserror::Error)]
pub enum AacError {
    #[error("the camera's AAC configuration is not one this decoder takes: {0}")]
    Config(String),
    #[error("a damaged AAC frame: {0}")]
    Frame(String),
}

/// One camera's AAC decoder.
pub struct AacToPcm {
    decoder: AacDecoder,
    buffer: Option<SampleBuffer<f32>>,
    packets: u64,
}

impl AacToPcm {
    /// For a stream with this AudioSpecificConfig (`description` in the
    /// wire's `audio_config`), sample rate and channel count.
    pub fn new(config: &[u8], sample_rate: u32, channels: u16) -> Result<AacToPcm, AacError> {
        let layout = match channels {
            1 => Channels::FRONT_LEFT,
            2 => Channels::FRONT_LEFT | Channels::FRONT_RIGHT,
            n => return Err(AacError::Config(format!("{n} channels"))),
        };
        if config.len() < 2 {
            return Err(AacError::Config("no AudioSpecificConfig".into()));
        }
        let mut params = CodecParameters::new();
        params
            .for_codec(CODEC_TYPE_AAC)
            .with_sample_rate(sample_rate)
            .with_channels(layout)
            .with_extra_data(config.to_vec().into_boxed_slice());
        let decoder = AacDecoder::try_new(&params, &DecoderOptions::default())
            .map_err(|e| AacError::Config(e.to_string()))?;
        Ok(AacToPcm {
            decoder,
            buffer: None,
            packets: 0,
        })
    }

    /// Decodes one frame, appending its samples (mono, −1.0..1.0) to `out`;
    /// returns their sample rate.
    pub fn decode(&mut self, frame: &[u8], out: &mut Vec<f32>) -> Result<u32, AacError> {
        let packet = Packet::new_from_slice(0, self.packets, 1024, frame);
        self.packets += 1;
        let decoded = self
            .decoder
            .decode(&packet)
            .map_err(|e| AacError::Frame(e.to_string()))?;
        let spec = *decoded.spec();
        let frames = decoded.frames();
        let buffer = match &mut self.buffer {
            Some(b) if b.capacity() >= frames * spec.channels.count() => b,
            slot => slot.insert(SampleBuffer::new(frames as u64, spec)),
        };
        buffer.copy_interleaved_ref(decoded);
        let channels = spec.channels.count().max(1);
        out.extend(
            buffer
                .samples()
                .chunks(channels)
                .map(|c| c.iter().sum::<f32>() / channels as f32),
        );
        Ok(spec.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits an ADTS stream (the fixture's container) into raw frames, and
    /// makes the AudioSpecificConfig its first header describes (what RTP's
    /// `config=` gives the relay).
    fn adts(stream: &[u8]) -> (Vec<u8>, u32, Vec<&[u8]>) {
        const RATES: [u32; 13] = [
            96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
        ];
        let mut frames = Vec::new();
        let mut at = 0;
        let mut asc = Vec::new();
        let mut rate = 0;
        while at + 7 <= stream.len() {
            let h = &stream[at..at + 7];
            assert_eq!((h[0], h[1] & 0xf0), (0xff, 0xf0), "ADTS sync at {at}");
            let protection_absent = h[1] & 1 == 1;
            let object = (h[2] >> 6) + 1;
            let index = (h[2] >> 2) & 0x0f;
            let channels = ((h[2] & 1) << 2) | (h[3] >> 6);
            let len =
                (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
            let header = if protection_absent { 7 } else { 9 };
            if asc.is_empty() {
                asc = vec![
                    (object << 3) | (index >> 1),
                    ((index & 1) << 7) | (channels << 3),
                ];
                rate = RATES[usize::from(index)];
            }
            frames.push(&stream[at + header..at + len]);
            at += len;
        }
        (asc, rate, frames)
    }

    /// A second of a 440 Hz tone, encoded by GStreamer's `voaacenc`
    /// (48 kHz mono, 64 kbit/s, ADTS): `tests/tone440.aac`. Decoded here,
    /// it is a 440 Hz tone: counted by its rising zero crossings.
    #[test]
    fn gstreamers_aac_tone_decodes_to_the_same_tone() {
        let (asc, rate, frames) = adts(include_bytes!("../tests/tone440.aac"));
        assert_eq!(rate, 48_000);
        assert!(frames.len() >= 40, "{} frames", frames.len());
        let mut aac = AacToPcm::new(&asc, rate, 1).expect("config");
        let mut pcm = Vec::new();
        for frame in &frames {
            assert_eq!(aac.decode(frame, &mut pcm).expect("frame"), 48_000);
        }
        assert_eq!(pcm.len(), frames.len() * 1024);
        // Past the decoder's priming (the first two frames), whole seconds' worth.
        let steady = &pcm[2048..2048 + 48_000 / 2];
        let rising = steady
            .windows(2)
            .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
            .count();
        assert!((218..=222).contains(&rising), "{rising} cycles in 0.5 s");
        let rms = (steady.iter().map(|s| s * s).sum::<f32>() / steady.len() as f32).sqrt();
        assert!(rms > 0.05, "rms {rms}");
    }

    #[test]
    fn refuses_what_it_cannot_decode_and_survives_damage() {
        assert!(matches!(
            AacToPcm::new(&[], 48_000, 1),
            Err(AacError::Config(_))
        ));
        assert!(matches!(
            AacToPcm::new(&[0x11, 0x88], 48_000, 6),
            Err(AacError::Config(_))
        ));
        let (asc, rate, frames) = adts(include_bytes!("../tests/tone440.aac"));
        let mut aac = AacToPcm::new(&asc, rate, 1).expect("config");
        let mut pcm = Vec::new();
        let garbage: Vec<u8> = (0..200u8).map(|b| b.wrapping_mul(37)).collect();
        // A damaged frame is an error, not a panic, and the next ones decode.
        let _ = aac.decode(&garbage, &mut pcm);
        let _ = aac.decode(&[], &mut pcm);
        pcm.clear();
        for frame in &frames[..10] {
            aac.decode(frame, &mut pcm).expect("frame after damage");
        }
        assert_eq!(pcm.len(), 10 * 1024);
    }
}
