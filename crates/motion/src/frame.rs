//! A borrowed greyscale picture: the Y (luma) plane of a decoded frame.

/// Widest or tallest frame accepted, in pixels (8K is 7680).
pub const MAX_DIMENSION: u32 = 16_384;

/// One luma plane, borrowed: `height` rows of `width` bytes, each row starting
/// `stride` bytes after the previous one (decoders pad rows). For I420 from
/// openh264, pass the Y plane with its Y stride.
#[derive(Debug, Clone, Copy)]
pub struct LumaFrame<'a> {
    width: u32,
    height: u32,
    stride: usize,
    data: &'a [u8],
}

/// Why a frame was refused. These are mistakes of the code handing frames
/// over (a wrong plane or stride), not of the camera.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Width or height is 0, or above [`MAX_DIMENSION`].
    #[error(
        "a {width}x{height} frame cannot be analysed: width and height must be from 1 to \
         {MAX_DIMENSION} pixels"
    )]
    Size {
        /// The width given.
        width: u32,
        /// The height given.
        height: u32,
    },
    /// The stride is smaller than the width.
    #[error(
        "the frame's stride ({stride}) is smaller than its width ({width}): pass the plane's \
         row pitch in bytes, which is at least its width"
    )]
    Stride {
        /// The stride given.
        stride: usize,
        /// The width given.
        width: u32,
    },
    /// The buffer is too short for the size and stride.
    #[error(
        "the frame's buffer holds {len} bytes, but a {width}x{height} plane with stride \
         {stride} needs at least {needed}: pass the luma (Y) plane, not another one"
    )]
    Short {
        /// The buffer's length.
        len: usize,
        /// The bytes needed.
        needed: usize,
        /// The width given.
        width: u32,
        /// The height given.
        height: u32,
        /// The stride given.
        stride: usize,
    },
}

impl<'a> LumaFrame<'a> {
    /// Checks that `data` holds `height` rows of `width` bytes, `stride` apart
    /// (the last row may be unpadded).
    pub fn new(
        width: u32,
        height: u32,
        stride: usize,
        data: &'a [u8],
    ) -> Result<LumaFrame<'a>, FrameError> {
        if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
            return Err(FrameError::Size { width, height });
        }
        if stride < width as usize {
            return Err(FrameError::Stride { stride, width });
        }
        let needed = stride
            .checked_mul(height as usize - 1)
            .and_then(|n| n.checked_add(width as usize))
            .unwrap_or(usize::MAX);
        if data.len() < needed {
            return Err(FrameError::Short {
                len: data.len(),
                needed,
                width,
                height,
                stride,
            });
        }
        Ok(LumaFrame {
            width,
            height,
            stride,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Bytes from one row to the next.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Row `y`, `width` bytes long.
    pub(crate) fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width as usize]
    }
}
