//! A camera's sample rate (8 kHz G.711, 16–48 kHz AAC) → the sound card's
//! (44.1 or 48 kHz), by linear interpolation, continuous across chunks.
//!
//! The player schedules each decoded chunk as its own buffer at the sound
//! card's rate. Handing the browser 8 kHz buffers instead resamples each one
//! on its own, and the seams between 20 ms packets then buzz at 50 Hz. The
//! position runs in exact integer steps of 1/`to` of an input sample, so no
//! drift builds up over a kiosk's months. Linear interpolation is enough for
//! speech-band camera audio (G.711 holds nothing above 4 kHz).

/// One stream's resampler.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    /// The next output sample's position, in 1/`to` input samples, from the
    /// next chunk's first sample; −`to`..0 is between the previous chunk's
    /// last sample and it.
    position: i64,
    /// The previous chunk's last sample.
    last: f32,
}

impl Resampler {
    /// `from` Hz in, `to` Hz out (both above zero).
    pub fn new(from: u32, to: u32) -> Resampler {
        Resampler {
            from: from.max(1),
            to: to.max(1),
            position: 0,
            last: 0.0,
        }
    }

    /// The rates this was made for.
    pub fn rates(&self) -> (u32, u32) {
        (self.from, self.to)
    }

    /// Appends `input`, resampled, to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let Some(&last) = input.last() else {
            return;
        };
        let (from, to) = (i64::from(self.from), i64::from(self.to));
        let len = input.len() as i64;
        let mut p = self.position;
        while p <= (len - 1) * to {
            let (i, fraction) = (p.div_euclid(to), p.rem_euclid(to));
            let s0 = if i < 0 { self.last } else { input[i as usize] };
            let sample = if fraction == 0 {
                s0
            } else {
                // p < (len − 1)·to here, so i + 1 ≤ len − 1.
                let s1 = input[(i + 1) as usize];
                s0 + (s1 - s0) * (fraction as f32 / to as f32)
            };
            out.push(sample);
            p += from;
        }
        self.position = p - len * to;
        self.last = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_chunks(r: &mut Resampler, input: &[f32], chunk: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            r.push(c, &mut out);
        }
        out
    }

    #[test]
    fn the_same_rate_is_the_same_samples() {
        let input: Vec<f32> = (0..1000).map(|n| (n as f32 * 0.01).sin()).collect();
        assert_eq!(
            in_chunks(&mut Resampler::new(48_000, 48_000), &input, 160),
            input
        );
    }

    /// Cut into 20 ms packets or resampled whole: the same samples (no
    /// seam where one packet ends), and exactly the expected count.
    #[test]
    fn packets_join_without_a_seam() {
        let input: Vec<f32> = (0..8000).map(|n| (n as f32 * 0.3).sin()).collect();
        let whole = in_chunks(&mut Resampler::new(8000, 48_000), &input, 8000);
        let packets = in_chunks(&mut Resampler::new(8000, 48_000), &input, 160);
        assert_eq!(whole.len(), packets.len());
        for (a, b) in whole.iter().zip(&packets) {
            assert!((a - b).abs() < 1e-6, "{a} {b}");
        }
        // One second in, one second out (the last input sample's own, less
        // the five outputs that fall after it).
        assert_eq!(packets.len(), 48_000 - 5);
    }

    /// 44.1 kHz from 16 kHz over an hour of 1024-sample AAC frames: the
    /// count stays exact (no drift).
    #[test]
    fn no_drift_at_awkward_ratios() {
        let mut r = Resampler::new(16_000, 44_100);
        let frame = vec![0.25f32; 1024];
        let mut out = Vec::new();
        let frames = 16_000 * 3600 / 1024;
        let mut total = 0usize;
        for _ in 0..frames {
            out.clear();
            r.push(&frame, &mut out);
            total += out.len();
            assert!(out.iter().all(|&s| s == 0.25));
        }
        let exact = (frames * 1024) as f64 * 44_100.0 / 16_000.0;
        assert!((total as f64 - exact).abs() <= 3.0, "{total} vs {exact}");
    }

    #[test]
    fn interpolates_between_samples() {
        let mut out = Vec::new();
        Resampler::new(1, 4).push(&[0.0, 1.0], &mut out);
        assert_eq!(out, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert!(Resampler::new(8000, 48_000).rates() == (8000, 48_000));
        let mut r = Resampler::new(2, 1);
        out.clear();
        r.push(&[], &mut out);
        r.push(&[1.0, 2.0, 3.0], &mut out);
        assert_eq!(out, vec![1.0, 3.0]);
    }
}
