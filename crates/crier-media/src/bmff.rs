//! The incremental walk over the top-level boxes of an MP4 or MOV file.
//!
//! Hand-written because no crate does this part: `mp4parse` (and the other ISO BMFF readers) want
//! a `Read` over the whole file, and following `mdat` to find a `moov` stored after it would mean
//! keeping or re-reading up to a gigabyte. Chunks of an upload arrive once, in order, so this walk
//! reads each box header, keeps the `ftyp` and `moov` boxes whole (bounded), and for every other
//! box (`mdat`, `free`, `wide`, `uuid`, …) only counts its payload down as it streams past.

use crate::ProbeError;

/// A box's 32-bit size field, its type, and the 64-bit `largesize` that follows when size is 1.
const MAX_HEADER: usize = 16;

#[derive(Debug)]
enum Current {
    /// Between boxes: the next header is (partly) in `BoxWalk::header`.
    Header,
    /// Copying a kept box's remaining payload into `kept`.
    Keep {
        remaining: u64,
    },
    /// Counting down the payload of a box that is not kept.
    Skip {
        remaining: u64,
    },
    /// A size-0 box: it runs to the end of the file.
    KeepToEnd,
    SkipToEnd,
}

#[derive(Debug)]
pub(crate) struct BoxWalk {
    limit: u64,
    header: Vec<u8>,
    current: Current,
    /// The `ftyp` and `moov` boxes, headers included, in file order (ftyp is always first).
    kept: Vec<u8>,
    boxes: u64,
    saw_moov: bool,
    saw_mdat: bool,
    /// Where in `kept` a size-0 (to the end) box starts, to write its real size at the end.
    open_box: Option<usize>,
}

impl BoxWalk {
    /// `limit` bounds the kept boxes ([`crate::ProbeLimits::max_video_header_bytes`]).
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            limit,
            header: Vec::with_capacity(MAX_HEADER),
            current: Current::Header,
            kept: Vec::new(),
            boxes: 0,
            saw_moov: false,
            saw_mdat: false,
            open_box: None,
        }
    }

    /// Bytes held: the partial box header and the kept boxes. Payloads skipped are never held.
    pub(crate) fn buffered(&self) -> usize {
        self.header.len() + self.kept.len()
    }

    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<(), ProbeError> {
        while !data.is_empty() {
            match &mut self.current {
                Current::Header => {
                    let want = if self.header.len() >= 8 && self.size32() == 1 { 16 } else { 8 };
                    let take = (want - self.header.len()).min(data.len());
                    self.header.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.header.len() == want && !(want == 8 && self.size32() == 1) {
                        self.start_box()?;
                    }
                }
                Current::Keep { remaining } => {
                    let take = usize::try_from(*remaining).unwrap_or(usize::MAX).min(data.len());
                    *remaining -= take as u64;
                    let done = *remaining == 0;
                    self.kept.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if done {
                        self.current = Current::Header;
                    }
                }
                Current::Skip { remaining } => {
                    let take = usize::try_from(*remaining).unwrap_or(usize::MAX).min(data.len());
                    *remaining -= take as u64;
                    if *remaining == 0 {
                        self.current = Current::Header;
                    }
                    data = &data[take..];
                }
                Current::KeepToEnd => {
                    self.check_kept(data.len() as u64)?;
                    self.kept.extend_from_slice(data);
                    data = &[];
                }
                Current::SkipToEnd => data = &[],
            }
        }
        Ok(())
    }

    /// Checks the walk ended on a box boundary and hands back the kept `ftyp` + `moov` bytes.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, ProbeError> {
        match self.current {
            Current::Header if self.header.is_empty() => {}
            Current::KeepToEnd | Current::SkipToEnd => {}
            // Part of a header, or a box whose declared size runs past the data: the upload
            // stopped early (or the sizes lie, which looks the same from here).
            _ => return Err(ProbeError::Truncated),
        }
        if !self.saw_moov {
            // A moov-at-end file cut exactly after its media data is the usual way to get here.
            return Err(if self.saw_mdat {
                ProbeError::Truncated
            } else {
                ProbeError::malformed("the video has no movie header (moov box)")
            });
        }
        if let Some(start) = self.open_box {
            // mp4parse refuses size-0 boxes, so the kept copy gets its real size.
            let size = u32::try_from(self.kept.len() - start)
                .map_err(|_| ProbeError::HeaderTooLarge { limit: self.limit })?;
            self.kept[start..start + 4].copy_from_slice(&size.to_be_bytes());
        }
        Ok(self.kept)
    }

    fn size32(&self) -> u32 {
        u32::from_be_bytes([self.header[0], self.header[1], self.header[2], self.header[3]])
    }

    /// A whole header is in `self.header`: decide what to do with the box's payload.
    fn start_box(&mut self) -> Result<(), ProbeError> {
        let kind: [u8; 4] = [self.header[4], self.header[5], self.header[6], self.header[7]];
        let header_len = self.header.len() as u64;
        let size = match self.size32() {
            0 => None,
            1 => {
                let mut large = [0; 8];
                large.copy_from_slice(&self.header[8..16]);
                Some(u64::from_be_bytes(large))
            }
            n => Some(u64::from(n)),
        };
        if size.is_some_and(|s| s < header_len) {
            return Err(ProbeError::malformed("a box in the file has an impossible size"));
        }
        let first = self.boxes == 0;
        self.boxes += 1;
        if first && &kind != b"ftyp" {
            return Err(ProbeError::malformed("the video does not start with a file type (ftyp) box"));
        }
        let keep = match &kind {
            b"ftyp" => first,
            b"moov" if self.saw_moov => {
                return Err(ProbeError::malformed("the video has more than one movie header (moov box)"));
            }
            b"moov" => {
                self.saw_moov = true;
                true
            }
            b"mdat" => {
                self.saw_mdat = true;
                false
            }
            _ => false,
        };
        if keep {
            self.check_kept(size.unwrap_or(header_len))?;
            if size.is_none() {
                self.open_box = Some(self.kept.len());
            }
            self.kept.extend_from_slice(&self.header);
        }
        self.header.clear();
        self.current = match (keep, size.map(|s| s - header_len)) {
            (_, Some(0)) => Current::Header,
            (true, Some(remaining)) => Current::Keep { remaining },
            (false, Some(remaining)) => Current::Skip { remaining },
            (true, None) => Current::KeepToEnd,
            (false, None) => Current::SkipToEnd,
        };
        Ok(())
    }

    /// Refuses before copying when `more` bytes would take the kept boxes past the limit.
    fn check_kept(&self, more: u64) -> Result<(), ProbeError> {
        if (self.kept.len() as u64).saturating_add(more) > self.limit {
            return Err(ProbeError::HeaderTooLarge { limit: self.limit });
        }
        Ok(())
    }
}
