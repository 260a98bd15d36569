//! A safe wrapper over OpenH264's decoder API: create and initialise it, feed it
//! the stream's parameter sets and then access units, collect I420 pictures.
//!
//! It decodes the way the `openh264` crate does natively with
//! `Flush::NoFlush` (`DecodeFrameNoDelay` per access unit, `FlushFrame` only at
//! the end of a stream), so the two give the same pictures for the same stream.
//! Flushing after every access unit, the crate's default, breaks B-frame
//! reordering (OpenH264 then fails with dsOutOfMemory on the High fixture).

use std::ffi::{c_int, c_long, c_void};
use std::ptr::null_mut;

use openh264_sys2::{
    dsErrorFree, ISVCDecoder, SBufferInfo, SDecodingParam, DECODER_OPTION,
    DECODER_OPTION_ERROR_CON_IDC, DECODER_OPTION_NUM_OF_FRAMES_REMAINING_IN_BUFFER,
    DECODER_OPTION_NUM_OF_THREADS, DECODER_OPTION_TRACE_LEVEL, ERROR_CON_DISABLE,
    VIDEO_BITSTREAM_AVC, WELS_LOG_QUIET,
};
use sightline_h264::{nal, StreamParams};

extern "C" {
    fn WelsCreateDecoder(decoder: *mut *mut ISVCDecoder) -> c_long;
    fn WelsDestroyDecoder(decoder: *mut ISVCDecoder);
}

/// One decoded picture: I420, planes packed without padding (Y, then U, then V).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot create the OpenH264 decoder")]
    Create,
    #[error("OpenH264 refused its configuration ({0})")]
    Configure(c_long),
    #[error("invalid stream parameters: {0}")]
    Params(String),
    #[error("malformed access unit: {0}")]
    Framing(String),
    #[error("OpenH264 could not decode the access unit (state {0:#x})")]
    Decode(c_int),
}

/// OpenH264's decoder for one stream.
pub struct Decoder {
    raw: *mut ISVCDecoder,
    /// Reused Annex B buffer (OpenH264 wants start codes).
    annex_b: Vec<u8>,
}

impl Decoder {
    /// A decoder for the stream described by `avcc` (its avcC record).
    pub fn new(avcc: &[u8]) -> Result<Decoder, DecodeError> {
        let params =
            StreamParams::from_avcc(avcc).map_err(|e| DecodeError::Params(e.to_string()))?;
        let mut raw = null_mut();
        // SAFETY: WelsCreateDecoder writes a decoder pointer or fails.
        if unsafe { WelsCreateDecoder(&mut raw) } != 0 || raw.is_null() {
            return Err(DecodeError::Create);
        }
        let mut decoder = Decoder {
            raw,
            annex_b: Vec::new(),
        };
        let mut param = SDecodingParam::default();
        param.sVideoProperty.eVideoBsType = VIDEO_BITSTREAM_AVC;
        // SAFETY: `raw` is a live decoder; its vtable has every entry.
        let rc = unsafe { decoder.vtbl().Initialize.ok_or(DecodeError::Create)?(raw, &param) };
        if rc != 0 {
            return Err(DecodeError::Configure(rc));
        }
        decoder.set_option(DECODER_OPTION_TRACE_LEVEL, WELS_LOG_QUIET as DECODER_OPTION)?;
        decoder.set_option(DECODER_OPTION_NUM_OF_THREADS, 0)?;
        decoder.set_option(
            DECODER_OPTION_ERROR_CON_IDC,
            ERROR_CON_DISABLE as DECODER_OPTION,
        )?;
        let mut headers = Vec::new();
        for set in [&params.sps, &params.pps] {
            headers.extend_from_slice(&[0, 0, 0, 1]);
            headers.extend_from_slice(set);
        }
        decoder.feed(&headers)?;
        Ok(decoder)
    }

    /// Decodes one access unit (4-byte length-prefixed NAL units). Returns the
    /// picture it completes, if any (with B-frames, pictures come out in
    /// display order, a little later than their access units).
    pub fn decode(&mut self, payload: &[u8]) -> Result<Option<Picture>, DecodeError> {
        let mut annex_b = std::mem::take(&mut self.annex_b);
        annex_b.clear();
        for unit in nal::length_prefixed_units(payload) {
            let unit = unit.map_err(|e| DecodeError::Framing(e.to_string()))?;
            annex_b.extend_from_slice(&[0, 0, 0, 1]);
            annex_b.extend_from_slice(unit);
        }
        let result = self.feed(&annex_b);
        self.annex_b = annex_b;
        result
    }

    /// Pictures still held for reordering, at the end of a stream.
    pub fn flush(&mut self) -> Result<Vec<Picture>, DecodeError> {
        let mut pictures = Vec::new();
        for _ in 0..self.frames_held()? {
            if let Some(picture) = self.flush_one()? {
                pictures.push(picture);
            }
        }
        Ok(pictures)
    }

    fn feed(&mut self, annex_b: &[u8]) -> Result<Option<Picture>, DecodeError> {
        let mut dst = [null_mut::<u8>(); 3];
        let mut info = SBufferInfo::default();
        let len =
            c_int::try_from(annex_b.len()).map_err(|_| DecodeError::Framing("too large".into()))?;
        // SAFETY: live decoder; `annex_b` outlives the call; `dst`/`info` are ours.
        let state = unsafe {
            self.vtbl().DecodeFrameNoDelay.ok_or(DecodeError::Create)?(
                self.raw,
                annex_b.as_ptr(),
                len,
                dst.as_mut_ptr(),
                &mut info,
            )
        };
        if state != dsErrorFree {
            return Err(DecodeError::Decode(state));
        }
        Ok((info.iBufferStatus == 1).then(|| picture(&dst, &info)))
    }

    fn flush_one(&mut self) -> Result<Option<Picture>, DecodeError> {
        let mut dst = [null_mut::<u8>(); 3];
        let mut info = SBufferInfo::default();
        // SAFETY: as in `feed`.
        let state = unsafe {
            self.vtbl().FlushFrame.ok_or(DecodeError::Create)?(
                self.raw,
                dst.as_mut_ptr(),
                &mut info,
            )
        };
        if state != dsErrorFree {
            return Err(DecodeError::Decode(state));
        }
        Ok((info.iBufferStatus == 1).then(|| picture(&dst, &info)))
    }

    fn frames_held(&self) -> Result<DECODER_OPTION, DecodeError> {
        let mut n: DECODER_OPTION = 0;
        // SAFETY: GetOption writes one int.
        let rc = unsafe {
            self.vtbl().GetOption.ok_or(DecodeError::Create)?(
                self.raw,
                DECODER_OPTION_NUM_OF_FRAMES_REMAINING_IN_BUFFER,
                (&mut n as *mut DECODER_OPTION).cast::<c_void>(),
            )
        };
        if rc != 0 {
            return Err(DecodeError::Configure(rc));
        }
        Ok(n)
    }

    fn set_option(
        &mut self,
        option: DECODER_OPTION,
        mut value: DECODER_OPTION,
    ) -> Result<(), DecodeError> {
        // SAFETY: SetOption reads one int.
        let rc = unsafe {
            self.vtbl().SetOption.ok_or(DecodeError::Create)?(
                self.raw,
                option,
                (&mut value as *mut DECODER_OPTION).cast::<c_void>(),
            )
        };
        if rc != 0 {
            return Err(DecodeError::Configure(rc));
        }
        Ok(())
    }

    fn vtbl(&self) -> &openh264_sys2::ISVCDecoderVtbl {
        // SAFETY: `raw` points to a decoder, whose first field is its vtable.
        unsafe { &**self.raw }
    }
}

/// Copies the decoder's planes (strided, valid until the next call) into a packed I420 picture.
fn picture(dst: &[*mut u8; 3], info: &SBufferInfo) -> Picture {
    // SAFETY: with iBufferStatus == 1 the union holds the system buffer.
    let buf = unsafe { info.UsrData.sSystemBuffer };
    let (w, h) = (buf.iWidth.max(0) as usize, buf.iHeight.max(0) as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut data = Vec::with_capacity(w * h + 2 * cw * ch);
    let planes = [
        (dst[0], buf.iStride[0], w, h),
        (dst[1], buf.iStride[1], cw, ch),
        (dst[2], buf.iStride[1], cw, ch),
    ];
    for (ptr, stride, pw, ph) in planes {
        for row in 0..ph {
            // SAFETY: OpenH264's plane has `ph` rows of `stride` ≥ `pw` bytes.
            let line = unsafe { std::slice::from_raw_parts(ptr.add(row * stride as usize), pw) };
            data.extend_from_slice(line);
        }
    }
    Picture {
        width: w as u32,
        height: h as u32,
        data,
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: `raw` was created by WelsCreateDecoder and is not used after this.
        unsafe {
            if let Some(uninit) = self.vtbl().Uninitialize {
                uninit(self.raw);
            }
            WelsDestroyDecoder(self.raw);
        }
    }
}
