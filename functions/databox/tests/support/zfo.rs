//! ZFOs built byte by byte for tests of the SOAP adapter: a CMS SignedData
//! around a message's XML, with placeholders for the certificate and the
//! signature (the adapter reads the content; `tests/zfo_signature.rs` checks
//! real signatures). Shared by the tests through `support` and by
//! `benches/vodz_memory.rs` by path, so each uses part of it.
#![allow(dead_code)]

pub const OID_SIGNED_DATA: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
const OID_DATA: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
const OID_SHA256: [u8; 9] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

/// A DER TLV: definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The same TLV with an indefinite length (BER).
pub fn tlv_indefinite(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag, 0x80];
    out.extend_from_slice(content);
    out.extend([0x00, 0x00]);
    out
}

fn signed_data_fields(encap: Vec<u8>) -> Vec<u8> {
    let digest_algorithm = tlv(0x30, &[tlv(0x06, &OID_SHA256), vec![0x05, 0x00]].concat());
    let certificates = tlv(0xA0, &tlv(0x30, b"placeholder, not a certificate"));
    let signer_info = tlv(0x30, &[tlv(0x02, &[1]), tlv(0x04, b"placeholder signature")].concat());
    [tlv(0x02, &[1]), tlv(0x31, &digest_algorithm), encap, certificates, tlv(0x31, &signer_info)].concat()
}

/// DER: definite lengths, one OCTET STRING.
pub fn zfo_der(inner: &[u8]) -> Vec<u8> {
    let encap = tlv(0x30, &[tlv(0x06, &OID_DATA), tlv(0xA0, &tlv(0x04, inner))].concat());
    let signed_data = tlv(0x30, &signed_data_fields(encap));
    tlv(0x30, &[tlv(0x06, &OID_SIGNED_DATA), tlv(0xA0, &signed_data)].concat())
}

/// BER: indefinite lengths and the content as a segmented OCTET STRING.
pub fn zfo_ber(inner: &[u8]) -> Vec<u8> {
    let (first, second) = inner.split_at(inner.len() / 3);
    let segments = tlv_indefinite(0x24, &[tlv(0x04, first), tlv(0x04, second)].concat());
    let encap = tlv_indefinite(0x30, &[tlv(0x06, &OID_DATA), tlv_indefinite(0xA0, &segments)].concat());
    let signed_data = tlv_indefinite(0x30, &signed_data_fields(encap));
    tlv_indefinite(0x30, &[tlv(0x06, &OID_SIGNED_DATA), tlv_indefinite(0xA0, &signed_data)].concat())
}
