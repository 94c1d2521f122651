//! The licence photo, checked from its own bytes (never from the file name
//! or the declared type): a JPEG (SOI marker `FF D8`) whose frame header —
//! SOF0 (baseline), SOF1 (extended sequential) or SOF2 (progressive) — gives
//! the width and height.
//!
//! The rules ([`PhotoRules`]): Czech document photos are 35 × 45 mm (vyhláška
//! č. 31/2001 Sb. for driving licences, as for identity cards); at 300 dpi,
//! the resolution a document photo is scanned at, that is 413 × 531 pixels,
//! the minimum taken here. The file is between 20 kB and 5 MB: smaller files
//! of that size are too compressed to print, larger ones are not photos of a
//! face.

/// The limits a photo must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoRules {
    pub min_width: u32,
    pub min_height: u32,
    pub min_bytes: usize,
    pub max_bytes: usize,
}

impl Default for PhotoRules {
    fn default() -> Self {
        Self { min_width: 413, min_height: 531, min_bytes: 20 * 1024, max_bytes: 5 * 1024 * 1024 }
    }
}

/// A photo that passed the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoInfo {
    pub width: u32,
    pub height: u32,
}

/// Width and height from the frame header, or the rule the bytes break.
pub fn frame_size(bytes: &[u8]) -> Result<PhotoInfo, &'static str> {
    const NOT_JPEG: &str = "must be a JPEG image: the file does not start with the JPEG SOI marker (FF D8)";
    const NO_FRAME: &str =
        "must be a baseline or progressive JPEG: no frame header (SOF0, SOF1 or SOF2) before the image data";
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err(NOT_JPEG);
    }
    let mut at = 2;
    loop {
        // Markers may be preceded by fill bytes 0xFF.
        if bytes.get(at) != Some(&0xFF) {
            return Err(NO_FRAME);
        }
        while bytes.get(at) == Some(&0xFF) {
            at += 1;
        }
        let Some(&marker) = bytes.get(at) else { return Err(NO_FRAME) };
        at += 1;
        match marker {
            // Standalone markers: TEM, RSTn.
            0x01 | 0xD0..=0xD7 => continue,
            // EOI or SOS before a frame header.
            0xD8..=0xDA => return Err(NO_FRAME),
            _ => {}
        }
        let length = match bytes.get(at..at + 2) {
            Some(&[high, low]) => usize::from(u16::from_be_bytes([high, low])),
            _ => return Err(NO_FRAME),
        };
        if length < 2 || at + length > bytes.len() {
            return Err(NO_FRAME);
        }
        let segment = &bytes[at + 2..at + length];
        match marker {
            0xC0..=0xC2 => {
                // precision (1), height (2), width (2), components...
                let (Some(&[h1, h2]), Some(&[w1, w2])) = (segment.get(1..3), segment.get(3..5)) else {
                    return Err(NO_FRAME);
                };
                let (height, width) =
                    (u32::from(u16::from_be_bytes([h1, h2])), u32::from(u16::from_be_bytes([w1, w2])));
                if width == 0 || height == 0 {
                    return Err("must state its width and height in the frame header");
                }
                return Ok(PhotoInfo { width, height });
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(
                    "must be a baseline or progressive JPEG (SOF0, SOF1 or SOF2); lossless, hierarchical and arithmetic-coded JPEGs are not accepted",
                );
            }
            _ => at += length,
        }
    }
}

/// Checks every rule; the error is the rule broken, for the field `photo`.
pub fn check(bytes: &[u8], rules: &PhotoRules) -> Result<PhotoInfo, String> {
    if bytes.len() < rules.min_bytes {
        return Err(format!(
            "must be at least {} kB ({} bytes); this file has {} bytes",
            rules.min_bytes / 1024,
            rules.min_bytes,
            bytes.len()
        ));
    }
    if bytes.len() > rules.max_bytes {
        return Err(format!("must be at most {} MB ({} bytes)", rules.max_bytes / (1024 * 1024), rules.max_bytes));
    }
    let info = frame_size(bytes).map_err(str::to_owned)?;
    if info.width < rules.min_width || info.height < rules.min_height {
        return Err(format!(
            "must be at least {} × {} pixels (35 × 45 mm at 300 dpi); this photo is {} × {}",
            rules.min_width, rules.min_height, info.width, info.height
        ));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u16, height: u16, padding: usize) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&u16::try_from(padding + 2).unwrap_or(u16::MAX).to_be_bytes());
        out.extend(std::iter::repeat_n(b'x', padding));
        out.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    #[test]
    fn reads_the_frame_header_and_applies_the_rules() {
        let rules = PhotoRules::default();
        assert_eq!(check(&jpeg(600, 800, 30_000), &rules), Ok(PhotoInfo { width: 600, height: 800 }));
        assert!(check(&jpeg(400, 800, 30_000), &rules).is_err_and(|rule| rule.contains("413 × 531")));
        assert!(check(&jpeg(600, 800, 10), &rules).is_err_and(|rule| rule.contains("at least 20 kB")));
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.resize(30_000, 0);
        assert!(check(&png, &rules).is_err_and(|rule| rule.contains("SOI")));
        let mut truncated = jpeg(600, 800, 30_000);
        truncated.truncate(30_010);
        assert!(check(&truncated, &rules).is_err_and(|rule| rule.contains("SOF0")));
    }
}
