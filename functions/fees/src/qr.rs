//! The QR Platba image: the SPAYD text as a QR code (ISO/IEC 18004), made by
//! the `qrcode` crate at error correction level M (the level QR Platba
//! recommends), with the 4-module quiet zone the standard asks for. SVG comes
//! from the crate's renderer; PNG is the same module matrix written by the
//! `png` crate (8-bit greyscale), so both images carry the same code.

use qrcode::{EcLevel, QrCode};

/// Pixels per module of the PNG.
pub const PNG_SCALE: u32 = 8;
/// Modules of light border around the code.
pub const QUIET_ZONE: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the text does not fit a QR code: {0}")]
    TooLong(String),
    #[error("the PNG cannot be written: {0}")]
    Png(String),
}

fn code(text: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| QrError::TooLong(e.to_string()))
}

/// The QR code of `text` as an SVG document.
pub fn svg(text: &str) -> Result<String, QrError> {
    Ok(code(text)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .quiet_zone(true)
        .build())
}

/// The QR code of `text` as a PNG.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = code(text)?;
    let modules = u32::try_from(code.width()).map_err(|e| QrError::Png(e.to_string()))?;
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * PNG_SCALE;
    let mut pixels = vec![255u8; (side * side) as usize];
    for (index, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let index = u32::try_from(index).map_err(|e| QrError::Png(e.to_string()))?;
        let (x, y) = (index % modules + QUIET_ZONE, index / modules + QUIET_ZONE);
        for dy in 0..PNG_SCALE {
            let row = ((y * PNG_SCALE + dy) * side) as usize;
            let start = row + (x * PNG_SCALE) as usize;
            pixels[start..start + PNG_SCALE as usize].fill(0);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| QrError::Png(e.to_string()))?;
        writer.write_image_data(&pixels).map_err(|e| QrError::Png(e.to_string()))?;
        writer.finish().map_err(|e| QrError::Png(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_images_are_made_and_a_text_too_long_is_refused() {
        let png = png("SPD*1.0*ACC:CZ5608000000000111122223*AM:1500.00*CC:CZK").expect("png");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let svg = svg("SPD*1.0*ACC:CZ5608000000000111122223").expect("svg");
        assert!(svg.contains("<svg") && svg.contains("#000000"), "{svg}");
        assert!(matches!(self::png(&"x".repeat(5000)), Err(QrError::TooLong(_))));
    }
}
