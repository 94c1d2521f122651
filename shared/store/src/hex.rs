//! Lowercase hex, the form of the digests the portal keeps as ids and keys
//! (session keys, blind indexes, content digests). One function, not a
//! `format!("{b:02x}")` a byte: that was an allocation per byte, 32 for a
//! session's key on every request (issue 18).

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lowercase hex, two digits a byte.
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_byte_is_two_lowercase_digits_as_format_writes_them() {
        let bytes: Vec<u8> = (0..=255).collect();
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(super::lower_hex(&bytes), expected);
        assert_eq!(super::lower_hex(&[]), "");
    }
}
