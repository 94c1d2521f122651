//! Attachments of a petition (přílohy petice): PDF files the creator adds to
//! a draft and the public reads once the petition is published.
//!
//! **Rules.** PDF only (declared `application/pdf` and the bytes start with
//! `%PDF-`), at most [`MAX_ATTACHMENT_BYTES`] each, at most
//! [`MAX_ATTACHMENTS`] per petition, a file name without folders or control
//! characters, at most 255 characters, ending in `.pdf` (what ISDS needs at
//! the hand-over). A [`PdfFile`] keeps them; only a draft takes attachments.
//!
//! **Storage.** The list is in the petition document (`attachments`); the
//! content is the blob `petitions/<id>/attachment-<n>`.
//! - While the petition is a draft, the content is private to its creator:
//!   sealed with the creator's key (`owner` = creator, `document` =
//!   `petition-<id>`, `field` = `attachment-<n>`), blob metadata
//!   `sealed=creator`.
//! - Publishing makes the petition data public (zákon 85/1990 Sb., §6a), so
//!   right after the publishing write every attachment is rewritten as plain
//!   content ([`PetitionService::open_attachments_to_public`]). Public
//!   downloads then need no key: when the creator later erases their account
//!   (which shreds their key), their published petition stays public with its
//!   attachments, while the attachments of their drafts become unreadable
//!   with the rest of their personal data. Keeping the content sealed and
//!   opening it on every public download would have tied the public record to
//!   the creator's key (and cost a key unwrap per anonymous download).
//! - A crash between the publishing write and the rewrite leaves a published
//!   petition with sealed blobs: the first download (or a repeated publish)
//!   opens them with the creator's key and finishes the rewrite.
//!
//! **Concurrency.** An upload takes the index one above the highest listed
//! and creates the sealed blob create-only, so two racing uploads never write
//! the same blob (the loser moves to the next index). Then it adds the entry
//! to the petition under the petition's ETag ([`PetitionService::update`]
//! retries when another writer won), checking again that the petition is a
//! draft with room for one more: two uploads that raced both land. A refused
//! entry deletes its blob; a crash between the blob and the entry leaves a
//! sealed blob no list shows, whose index is skipped. A deletion removes the
//! entry under the ETag first, then the blob.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::TryStreamExt as _;
use portal_security::SubjectId;
use portal_store::{BlobPath, PutMode, StoreError};

use crate::model::{Attachment, Petition, PetitionId, State};
use crate::service::PetitionService;
use crate::{MAX_ATTEMPTS, ServiceError, corrupt};

/// Attachments one petition may have.
pub const MAX_ATTACHMENTS: usize = 5;
/// The largest attachment: 5 MiB.
pub const MAX_ATTACHMENT_BYTES: u64 = 5 * 1024 * 1024;
pub const MAX_FILE_NAME: usize = 255;
/// The only type accepted.
pub const PDF: &str = "application/pdf";
const SEALED_KEY: &str = "sealed";
const SEALED_BY_CREATOR: &str = "creator";
const DEFAULT_NAME: &str = "příloha";

/// `attachment-<n>`: the blob's last segment and the sealed field.
pub fn field(index: u32) -> String {
    format!("attachment-{index}")
}

/// `petitions/<id>/attachment-<n>`.
pub fn blob_path(id: &PetitionId, index: u32) -> Result<BlobPath, StoreError> {
    BlobPath::parse(format!("petitions/{id}/{}", field(index)))
}

/// The `{n}` of a route: a positive decimal number, or `None` (404).
pub fn parse_index(value: &str) -> Option<u32> {
    if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|n| *n > 0)
}

/// The essence of a `Content-Type` value: `type/subtype`, lower case.
pub fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// A file name as the browser sent it, made safe to keep, to send back and
/// to hand to ISDS: no folders (`C:\Users\jana\podpisy.pdf` → `podpisy.pdf`),
/// no control characters, ending in `.pdf`, at most 255 characters;
/// `příloha.pdf` when nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    let split = cleaned.len().checked_sub(4).filter(|at| cleaned.is_char_boundary(*at));
    let stem = match split {
        Some(at) if cleaned[at..].eq_ignore_ascii_case(".pdf") => &cleaned[..at],
        _ => cleaned,
    };
    let stem = if stem.chars().all(|c| c == '.' || c.is_whitespace()) { DEFAULT_NAME } else { stem };
    let stem: String = stem.chars().take(MAX_FILE_NAME - 4).collect();
    format!("{stem}.pdf")
}

/// Why an uploaded file is not an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRefusal {
    /// The declared type is not `application/pdf`.
    NotPdfType,
    Empty,
    TooLarge,
    /// Declared a PDF, but the bytes are not one.
    NotPdfContent,
}

/// A PDF that keeps every rule, with its clean name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfFile {
    file_name: String,
    content: Bytes,
}

impl PdfFile {
    pub fn parse(raw_name: &str, declared: &str, content: Bytes) -> Result<Self, FileRefusal> {
        if essence(declared) != PDF {
            return Err(FileRefusal::NotPdfType);
        }
        if content.is_empty() {
            return Err(FileRefusal::Empty);
        }
        if content.len() as u64 > MAX_ATTACHMENT_BYTES {
            return Err(FileRefusal::TooLarge);
        }
        if !content.starts_with(b"%PDF-") {
            return Err(FileRefusal::NotPdfContent);
        }
        Ok(Self { file_name: clean_file_name(raw_name), content })
    }

    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    pub fn size(&self) -> u64 {
        self.content.len() as u64
    }
}

/// Why an attachment cannot be added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentRefusal {
    /// No such petition, or not the caller's.
    NotFound,
    /// The petition is no longer a draft.
    NotDraft(State),
    /// It has [`MAX_ATTACHMENTS`] already.
    TooMany,
    /// The petition has no attachment with that index.
    NoSuchAttachment,
}

pub(crate) fn sealed_metadata() -> BTreeMap<String, String> {
    BTreeMap::from([(SEALED_KEY.to_owned(), SEALED_BY_CREATOR.to_owned())])
}

impl PetitionService {
    /// Adds `file` to the creator's draft (see the module docs for the order
    /// of writes); the entry as listed.
    pub async fn add_attachment(
        &self,
        id: &PetitionId,
        creator: &SubjectId,
        file: PdfFile,
    ) -> Result<Result<Attachment, AttachmentRefusal>, ServiceError> {
        let p = &self.petitions;
        let Some((petition, _)) = self.load(id).await? else { return Ok(Err(AttachmentRefusal::NotFound)) };
        if petition.creator != creator.as_str() {
            return Ok(Err(AttachmentRefusal::NotFound));
        }
        if petition.state != State::Draft {
            return Ok(Err(AttachmentRefusal::NotDraft(petition.state)));
        }
        if petition.attachments.len() >= MAX_ATTACHMENTS {
            return Ok(Err(AttachmentRefusal::TooMany));
        }
        let document = id.partition();
        let mut index = petition.attachments.iter().map(|a| a.index).max().unwrap_or(0);
        let mut placed = None;
        for _ in 0..MAX_ATTEMPTS {
            index = index.checked_add(1).ok_or(ServiceError::Contended)?;
            let sealed = p.sealer.encrypt(creator.as_str(), &document, &field(index), &file.content).await?;
            let path = blob_path(id, index)?;
            match p
                .blobs
                .put(&path, Bytes::from(sealed), "application/octet-stream", sealed_metadata(), PutMode::CreateOnly)
                .await
            {
                Ok(_) => {
                    placed = Some(path);
                    break;
                }
                // Another upload (or an orphan of a crashed one) holds it.
                Err(StoreError::Conflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        let path = placed.ok_or(ServiceError::Contended)?;
        let entry =
            Attachment { index, file_name: file.file_name, size: file.content.len() as u64, media_type: PDF.into() };
        let committed = self
            .update(id, |petition| {
                if petition.state != State::Draft {
                    return Err(AttachmentRefusal::NotDraft(petition.state));
                }
                if petition.attachments.iter().any(|a| a.index == index) {
                    return Ok(());
                }
                if petition.attachments.len() >= MAX_ATTACHMENTS {
                    return Err(AttachmentRefusal::TooMany);
                }
                petition.attachments.push(entry.clone());
                petition.attachments.sort_by_key(|a| a.index);
                Ok(())
            })
            .await?;
        let refusal = match committed {
            Ok(Some(_)) => return Ok(Ok(entry)),
            Ok(None) => AttachmentRefusal::NotFound,
            Err(refusal) => refusal,
        };
        // Refused: the blob is nobody's. (After a store error the entry may
        // have landed, so the blob stays then.)
        if let Err(error) = p.blobs.delete(&path).await {
            tracing::warn!(error = %error, petition = %id, index, "a refused attachment's blob stays behind");
        }
        Ok(Err(refusal))
    }

    /// Removes attachment `index` from the creator's draft.
    pub async fn remove_attachment(
        &self,
        id: &PetitionId,
        creator: &SubjectId,
        index: u32,
    ) -> Result<Result<(), AttachmentRefusal>, ServiceError> {
        let changed = self
            .update(id, |petition| {
                if petition.creator != creator.as_str() {
                    return Err(AttachmentRefusal::NotFound);
                }
                if petition.state != State::Draft {
                    return Err(AttachmentRefusal::NotDraft(petition.state));
                }
                let before = petition.attachments.len();
                petition.attachments.retain(|a| a.index != index);
                if petition.attachments.len() == before {
                    return Err(AttachmentRefusal::NoSuchAttachment);
                }
                Ok(())
            })
            .await?;
        match changed {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(Err(AttachmentRefusal::NotFound)),
            Err(refusal) => return Ok(Err(refusal)),
        }
        match self.petitions.blobs.delete(&blob_path(id, index)?).await {
            Ok(()) | Err(StoreError::NotFound) => Ok(Ok(())),
            Err(error) => Err(error.into()),
        }
    }

    /// The content of attachment `index` of `petition`, plain; `None` when it
    /// has no such attachment. Whoever calls this decided the caller may read
    /// it. A public petition's blob still sealed (a crash after publishing)
    /// is opened with the creator's key and rewritten plain.
    pub async fn attachment_content(
        &self,
        petition: &Petition,
        index: u32,
    ) -> Result<Option<(Attachment, Vec<u8>)>, ServiceError> {
        let Some(entry) = petition.attachments.iter().find(|a| a.index == index) else { return Ok(None) };
        let id = petition.petition_id().ok_or_else(|| corrupt("bad petition id"))?;
        let path = blob_path(&id, index)?;
        let (info, stream) = match self.petitions.blobs.get(&path).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(corrupt(format!("the blob of attachment {index} is missing"))),
            Err(error) => return Err(error.into()),
        };
        let chunks: Vec<Bytes> = stream.try_collect().await?;
        let content = chunks.concat();
        if info.metadata.get(SEALED_KEY).map(String::as_str) != Some(SEALED_BY_CREATOR) {
            return Ok(Some((entry.clone(), content)));
        }
        let plain = self.petitions.sealer.decrypt(&petition.creator, &id.partition(), &field(index), &content).await?;
        if petition.state != State::Draft {
            let put = self
                .petitions
                .blobs
                .put(&path, Bytes::from(plain.clone()), PDF, BTreeMap::new(), PutMode::Overwrite)
                .await;
            if let Err(error) = put {
                tracing::warn!(error = %error, petition = %id, index, "a public attachment could not be rewritten plain");
            }
        }
        Ok(Some((entry.clone(), plain)))
    }

    /// Rewrites every attachment of a published petition as plain public
    /// content (idempotent: plain blobs are left alone).
    pub async fn open_attachments_to_public(&self, petition: &Petition) -> Result<(), ServiceError> {
        if petition.state == State::Draft {
            return Ok(());
        }
        for attachment in &petition.attachments {
            self.attachment_content(petition, attachment.index).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_folders_and_control_characters_and_end_in_pdf() {
        assert_eq!(clean_file_name("C:\\Users\\jana\\Podpisy přechod.pdf"), "Podpisy přechod.pdf");
        assert_eq!(clean_file_name("/etc/../mapa\u{0}\u{7}.PDF"), "mapa.pdf");
        assert_eq!(clean_file_name("sken"), "sken.pdf");
        assert_eq!(clean_file_name(""), "příloha.pdf");
        assert_eq!(clean_file_name("..."), "příloha.pdf");
        assert_eq!(clean_file_name(".pdf"), "příloha.pdf");
        assert_eq!(clean_file_name("a/"), "příloha.pdf");
        let long = clean_file_name(&"ž".repeat(300));
        assert_eq!(long.chars().count(), 255);
        assert!(long.ends_with("ž.pdf"));
    }

    #[test]
    fn only_a_real_pdf_within_the_limit_is_an_attachment() {
        let pdf = Bytes::from_static(b"%PDF-1.7\n%%EOF\n");
        assert!(PdfFile::parse("a.pdf", "application/pdf; name=a.pdf", pdf.clone()).is_ok());
        assert_eq!(PdfFile::parse("a.pdf", "image/png", pdf.clone()), Err(FileRefusal::NotPdfType));
        assert_eq!(PdfFile::parse("a.pdf", PDF, Bytes::new()), Err(FileRefusal::Empty));
        assert_eq!(PdfFile::parse("a.pdf", PDF, Bytes::from_static(b"<html>")), Err(FileRefusal::NotPdfContent));
        let mut big = b"%PDF-".to_vec();
        big.resize(usize::try_from(MAX_ATTACHMENT_BYTES).expect("fits") + 1, b' ');
        assert_eq!(PdfFile::parse("a.pdf", PDF, Bytes::from(big)), Err(FileRefusal::TooLarge));
    }

    #[test]
    fn indexes_are_positive_decimals() {
        assert_eq!(parse_index("1"), Some(1));
        assert_eq!(parse_index("12"), Some(12));
        for bad in ["", "0", "-1", "+1", "1.0", "x", "1234567890", " 1"] {
            assert_eq!(parse_index(bad), None, "{bad}");
        }
    }
}
