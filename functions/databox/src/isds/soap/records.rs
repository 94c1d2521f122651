//! ISDS records read into the port's types: envelopes, attachments, boxes,
//! and the typed values inside them.

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;

use super::times::datetime;
use super::xml::{self, Element};
use crate::isds::{
    BoxId, BoxInfo, BoxState, Content, FileMetaType, IsdsError, IsdsResult, MessageEnvelope, MessageId, MessageStatus,
    ReceivedFile,
};

/// `dbType` names (`dbTypes.xsd` `tDbType`) and their numeric codes
/// (`czech-egov-domain.md` §1.4).
const BOX_TYPES: [(&str, u8); 22] = [
    ("OVM", 10),
    ("OVM_NOTAR", 11),
    ("OVM_EXEKUT", 12),
    ("OVM_REQ", 13),
    ("OVM_FO", 14),
    ("OVM_PFO", 15),
    ("OVM_PO", 16),
    ("PO", 20),
    ("PO_ZAK", 21),
    ("PO_REQ", 22),
    ("PFO", 30),
    ("PFO_ADVOK", 31),
    ("PFO_DANPOR", 32),
    ("PFO_INSSPR", 33),
    ("PFO_AUDITOR", 34),
    ("PFO_ZNALEC", 35),
    ("PFO_TLUMOCNIK", 36),
    ("PFO_ARCH", 37),
    ("PFO_AIAT", 38),
    ("PFO_AZI", 39),
    ("FO", 40),
    ("PFO_REQ", 50),
];

/// The document inside a signed download: `MessageDownloadResponse` (in
/// `…/v20/message` or `…/v20/SentMessage`) / `dmReturnedMessage`
/// (`tReturnedMessage`) / `dmDm` (envelope and `dmFiles`), per libdatovka
/// `doc/user_web_services` (SignedMessageDownload).
///
/// `encoded` gives a `dmEncodedContent`'s content from its text: the base64
/// decoded (the whole document in memory), or the file the text numbers (a
/// skeleton from [`super::split`]).
pub(super) fn signed_message(
    document: &[u8],
    id: &MessageId,
    encoded: &mut dyn FnMut(&str) -> IsdsResult<Content>,
) -> IsdsResult<(MessageEnvelope, Vec<ReceivedFile>)> {
    // The files' base64 is read where it is in the document, never copied
    // into the tree: a big message's text is held once.
    let root = xml::parse_leaving_text(document, &["dmEncodedContent"])
        .map_err(|e| IsdsError::Protocol(format!("the signed message: {e}")))?;
    if !(root.is_isds() && root.name == "MessageDownloadResponse") {
        return Err(IsdsError::Protocol(format!("the signed message has root {}", root.name)));
    }
    let returned = required(&root, "dmReturnedMessage")?;
    let dm = required(returned, "dmDm")?;
    let envelope = envelope(dm, returned)?;
    if envelope.id != *id {
        return Err(IsdsError::Protocol(format!("asked for message {id}, the ZFO holds {}", envelope.id)));
    }
    let attachments = attachments(dm, document, encoded)?;
    Ok((envelope, attachments))
}

/// An envelope from `dm` (a `dmRecord`, or the `dmDm` of a downloaded
/// message: `gMessageEnvelope`) and `delivery` (the same `dmRecord`, or the
/// `dmReturnedMessage`: status, times, size and the `dmType` attribute).
///
/// Required here: the identifiers, names, subject and status. The other
/// nillable fields are read when present, so an answer that leaves them out
/// instead of sending `xsi:nil` still parses.
pub(super) fn envelope(dm: &Element, delivery: &Element) -> IsdsResult<MessageEnvelope> {
    let text = |name: &str| -> IsdsResult<String> { Ok(required(dm, name)?.value().unwrap_or_default().to_owned()) };
    let optional = |name: &str| optional_value(dm, name).map(str::to_owned);
    Ok(MessageEnvelope {
        id: message_id(required_value(dm, "dmID")?)?,
        sender_box: box_id("dbIDSender", required_value(dm, "dbIDSender")?)?,
        sender_name: text("dmSender")?,
        sender_address: optional("dmSenderAddress"),
        recipient_box: box_id("dbIDRecipient", required_value(dm, "dbIDRecipient")?)?,
        recipient_name: text("dmRecipient")?,
        recipient_address: optional("dmRecipientAddress"),
        subject: text("dmAnnotation")?,
        sender_ref_number: optional("dmSenderRefNumber"),
        sender_ident: optional("dmSenderIdent"),
        recipient_ref_number: optional("dmRecipientRefNumber"),
        recipient_ident: optional("dmRecipientIdent"),
        to_hands: optional("dmToHands"),
        personal_delivery: optional_value(dm, "dmPersonalDelivery")
            .map(|v| boolean("dmPersonalDelivery", v))
            .transpose()?
            .unwrap_or(false),
        allow_subst_delivery: optional_value(dm, "dmAllowSubstDelivery")
            .map(|v| boolean("dmAllowSubstDelivery", v))
            .transpose()?
            .unwrap_or(true),
        status: message_status(required_value(delivery, "dmMessageStatus")?)?,
        message_type: delivery.attr("dmType").map(str::to_owned),
        delivery_time: optional_value(delivery, "dmDeliveryTime").map(|v| datetime("dmDeliveryTime", v)).transpose()?,
        acceptance_time: optional_value(delivery, "dmAcceptanceTime")
            .map(|v| datetime("dmAcceptanceTime", v))
            .transpose()?,
        attachment_size_kb: optional_value(delivery, "dmAttachmentSize")
            .map(|v| number("dmAttachmentSize", v))
            .transpose()?
            .unwrap_or(0),
        big: delivery.attr("dmVODZ").map(|v| boolean("dmVODZ", v)).transpose()?.unwrap_or(false),
    })
}

/// `dmFiles/dmFile` (`tFilesArray`): at least one; the content is
/// `dmEncodedContent` (base64) or `dmXMLContent` (kept byte for byte).
fn attachments(
    dm: &Element,
    document: &[u8],
    encoded_content: &mut dyn FnMut(&str) -> IsdsResult<Content>,
) -> IsdsResult<Vec<ReceivedFile>> {
    let files = required(dm, "dmFiles")?;
    let mut attachments = Vec::new();
    for file in files.children_named("dmFile") {
        let attr = |name: &str| {
            file.attr(name).ok_or_else(|| IsdsError::Protocol(format!("a dmFile has no {name} attribute")))
        };
        let meta_type = match attr("dmFileMetaType")? {
            "main" => FileMetaType::Main,
            "enclosure" => FileMetaType::Enclosure,
            "signature" => FileMetaType::Signature,
            "meta" => FileMetaType::Meta,
            other => return Err(IsdsError::Protocol(format!("unknown dmFileMetaType {other}"))),
        };
        let content = if let Some(encoded) = file.child("dmEncodedContent") {
            encoded_content(encoded.value_in(document).unwrap_or_default())?
        } else if let Some(xml) = file.child("dmXMLContent") {
            let raw = document
                .get(xml.inner.clone())
                .ok_or_else(|| IsdsError::Protocol("dmXMLContent lies outside the document".into()))?;
            Content::from(Bytes::copy_from_slice(raw))
        } else {
            return Err(IsdsError::Protocol("a dmFile has neither dmEncodedContent nor dmXMLContent".into()));
        };
        attachments.push(ReceivedFile {
            name: attr("dmFileDescr")?.to_owned(),
            mime_type: attr("dmMimeType")?.to_owned(),
            meta_type,
            content,
        });
    }
    if attachments.is_empty() {
        return Err(IsdsError::Protocol("dmFiles holds no dmFile".into()));
    }
    Ok(attachments)
}

/// `tDbOwnerInfo` / `tDbOwnerInfoExt` as a [`BoxInfo`].
pub(super) fn owner_info(info: &Element) -> IsdsResult<BoxInfo> {
    let id = box_id("dbID", required_value(info, "dbID")?)?;
    let type_name = required_value(info, "dbType")?;
    let box_type = BOX_TYPES
        .iter()
        .find(|(name, _)| *name == type_name)
        .map(|(_, code)| *code)
        .ok_or_else(|| IsdsError::Protocol(format!("unknown dbType {type_name}")))?;
    let state_code: u8 = number("dbState", required_value(info, "dbState")?)?;
    let state =
        BoxState::from_code(state_code).ok_or_else(|| IsdsError::Protocol(format!("unknown dbState {state_code}")))?;
    let owner_name = owner_name(info).ok_or_else(|| IsdsError::Protocol("dbOwnerInfo names no owner".into()))?;
    let open_addressing =
        optional_value(info, "dbOpenAddressing").map(|v| boolean("dbOpenAddressing", v)).transpose()?.unwrap_or(false);
    Ok(BoxInfo { id, box_type, state, owner_name, address: address(info), open_addressing })
}

/// `firmName` for a legal person or authority, else the person's names.
fn owner_name(info: &Element) -> Option<String> {
    if let Some(firm) = optional_value(info, "firmName") {
        return Some(firm.to_owned());
    }
    let names: Vec<&str> = ["pnFirstName", "pnMiddleName", "pnLastName"]
        .into_iter()
        .filter_map(|name| optional_value(info, name))
        .collect();
    (!names.is_empty()).then(|| names.join(" "))
}

/// `gAddress` as one line: "Street 12/3, 110 00 City" (číslo popisné /
/// číslo orientační).
fn address(info: &Element) -> Option<String> {
    let part = |name: &str| optional_value(info, name);
    let number = match (part("adNumberInMunicipality"), part("adNumberInStreet")) {
        (Some(house), Some(street)) => Some(format!("{house}/{street}")),
        (house, street) => house.or(street).map(str::to_owned),
    };
    let street = match (part("adStreet"), number) {
        (Some(street), Some(number)) => Some(format!("{street} {number}")),
        (Some(street), None) => Some(street.to_owned()),
        (None, number) => number,
    };
    let city = match (part("adZipCode"), part("adCity")) {
        (Some(zip), Some(city)) => Some(format!("{zip} {city}")),
        (zip, city) => zip.or(city).map(str::to_owned),
    };
    let lines: Vec<String> = [street, city].into_iter().flatten().collect();
    (!lines.is_empty()).then(|| lines.join(", "))
}

pub(super) fn required<'a>(parent: &'a Element, name: &str) -> IsdsResult<&'a Element> {
    parent.child(name).ok_or_else(|| IsdsError::Protocol(format!("{} has no {name}", parent.name)))
}

pub(super) fn required_value<'a>(parent: &'a Element, name: &str) -> IsdsResult<&'a str> {
    required(parent, name)?.value().ok_or_else(|| IsdsError::Protocol(format!("{name} in {} is empty", parent.name)))
}

pub(super) fn optional_value<'a>(parent: &'a Element, name: &str) -> Option<&'a str> {
    parent.child(name).and_then(Element::value)
}

pub(super) fn number<T: FromStr>(name: &str, value: &str) -> IsdsResult<T> {
    value.parse().map_err(|_| IsdsError::Protocol(format!("{name} is not a number in range")))
}

pub(super) fn boolean(name: &str, value: &str) -> IsdsResult<bool> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(IsdsError::Protocol(format!("{name} is not a boolean"))),
    }
}

pub(super) fn box_id(name: &str, value: &str) -> IsdsResult<BoxId> {
    BoxId::parse(value).map_err(|_| IsdsError::Protocol(format!("{name} is not a data box id")))
}

pub(super) fn message_id(value: &str) -> IsdsResult<MessageId> {
    MessageId::parse(value).map_err(|_| IsdsError::Protocol("dmID is not a message id".into()))
}

pub(super) fn message_status(value: &str) -> IsdsResult<MessageStatus> {
    MessageStatus::try_from(number::<u8>("dmMessageStatus", value)?).map_err(IsdsError::Protocol)
}

/// Base64 folded or not (whitespace skipped), decoded 4 KiB of text at a
/// time: besides the text, only the decoded bytes are held, never a second
/// copy of the text without its whitespace.
pub(super) fn decode_base64(name: &str, text: &str) -> IsdsResult<Vec<u8>> {
    const CHUNK: usize = 4096; // a multiple of 4: padding can only be in the last chunk
    let invalid = |_| IsdsError::Protocol(format!("{name} is not base64"));
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut chunk = Vec::with_capacity(CHUNK);
    for byte in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        chunk.push(byte);
        if chunk.len() == CHUNK {
            BASE64.decode_vec(&chunk, &mut out).map_err(invalid)?;
            chunk.clear();
        }
    }
    BASE64.decode_vec(&chunk, &mut out).map_err(invalid)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_folded_and_across_chunks_and_refuses_padding_inside() {
        let content: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let encoded = BASE64.encode(&content);
        let folded: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).expect("ascii")).collect();
        assert_eq!(decode_base64("x", &folded.join("\r\n")).expect("folded"), content);
        assert_eq!(decode_base64("x", &encoded).expect("plain"), content);
        assert_eq!(decode_base64("x", "").expect("empty"), Vec::<u8>::new());
        let padded_inside = format!("{}{}", "QQ==", "A".repeat(4096));
        assert!(decode_base64("x", &padded_inside).is_err());
        assert!(decode_base64("x", "QQ=").is_err());
    }
}
