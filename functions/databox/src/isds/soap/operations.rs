//! The port's operations over SOAP, and the requests they send.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use time::{Date, OffsetDateTime};

use super::records::{
    decode_base64, envelope, message_id, message_status, number, optional_value, owner_info, required, required_value,
    signed_message,
};
use super::reply::OK;
use super::split::{Piece, Splitter};
use super::times::{datetime, day_start, format_time};
use super::vodz::{BIG_TRANSFER, BigRequest, upload_request, uploaded};
use super::xml::Request;
use super::{Service, SoapIsds, der};
use crate::isds::{
    AttachmentUpload, BigFile, BoxContext, BoxId, BoxInfo, BoxSearch, CreditEvent, CreditInfo, DeliveredMessage,
    Direction, FileMetaType, Isds, IsdsError, IsdsResult, ListQuery, MessageEnvelope, MessageId, MessageStatus,
    OutgoingMessage, PersonQuery, SessionContext, SignedMessage, StateChange, UploadedAttachment, VaultInfo,
};
use crate::isds::{Content, Stash};
use futures::StreamExt as _;
use std::collections::VecDeque;

#[async_trait]
impl Isds for SoapIsds {
    fn zfo_trust(&self) -> crate::isds::zfo_verify::TrustAnchors {
        self.zfo_trust.clone()
    }

    #[tracing::instrument(skip_all, fields(operation = "list_messages", box_id = %ctx.box_id()))]
    async fn list_messages(
        &self,
        ctx: &BoxContext,
        direction: Direction,
        query: &ListQuery,
    ) -> IsdsResult<Vec<MessageEnvelope>> {
        // tListOfFReceivedInput / tListOfSentInput: dmFromTime, dmToTime,
        // dm{Recipient,Sender}OrgUnitNum, dmStatusFilter, dmOffset, dmLimit;
        // all required, all but the filter nillable (nil: no bound, any unit).
        let (operation, org_unit) = match direction {
            Direction::Received => ("GetListOfReceivedMessages", "dmRecipientOrgUnitNum"),
            Direction::Sent => ("GetListOfSentMessages", "dmSenderOrgUnitNum"),
        };
        let mut request = Request::new(operation);
        request
            .leaf("dmFromTime", query.from.map(format_time).transpose()?.as_deref())?
            .leaf("dmToTime", query.to.map(format_time).transpose()?.as_deref())?
            .leaf(org_unit, None)?
            .leaf_plain("dmStatusFilter", &status_filter(&query.statuses))
            .leaf_plain("dmOffset", &query.offset.max(1).to_string());
        if query.limit == 0 {
            // Nil: the ISDS default (1000, `doc/user_web_services`).
            request.leaf("dmLimit", None)?;
        } else {
            request.leaf_plain("dmLimit", &query.limit.to_string());
        }
        let body = self.call(Service::Info, operation, ctx, request, self.timeouts.request).await?.ok()?;
        let Some(records) = body.child("dmRecords") else { return Ok(Vec::new()) };
        records.children_named("dmRecord").map(|record| envelope(record, record)).collect()
    }

    #[tracing::instrument(skip_all, fields(operation = "download_message", box_id = %ctx.box_id()))]
    async fn download_message(
        &self,
        ctx: &SessionContext,
        direction: Direction,
        id: &MessageId,
    ) -> IsdsResult<SignedMessage> {
        self.signed_download(ctx.as_box(), direction, id).await
    }

    #[tracing::instrument(skip_all, fields(operation = "download_delivered", box_id = %ctx.box_id()))]
    async fn download_delivered(
        &self,
        ctx: &BoxContext,
        message: &DeliveredMessage,
        stash: &Stash,
    ) -> IsdsResult<SignedMessage> {
        if message.is_big() {
            return self.signed_big_download(ctx, Direction::Received, message.id(), stash).await;
        }
        self.signed_download(ctx, Direction::Received, message.id()).await
    }

    #[tracing::instrument(skip_all, fields(operation = "upload_attachment", box_id = %ctx.box_id()))]
    async fn upload_attachment(&self, ctx: &BoxContext, upload: AttachmentUpload) -> IsdsResult<UploadedAttachment> {
        if upload.size == 0 {
            return Err(IsdsError::Invalid("an attachment cannot be empty".into()));
        }
        let request = upload_request(&upload)?;
        let answer =
            self.call_big("UploadAttachment", ctx, BigRequest::WithFile(request, upload), BIG_TRANSFER).await?;
        uploaded(&answer.reply.ok()?)
    }

    #[tracing::instrument(skip_all, fields(operation = "create_big_message", box_id = %ctx.box_id()))]
    async fn create_big_message(
        &self,
        ctx: &BoxContext,
        message: &OutgoingMessage,
        files: &[BigFile],
    ) -> IsdsResult<MessageId> {
        let request = create_big_message(message, files)?;
        let answer = self.call_big("CreateBigMessage", ctx, BigRequest::Plain(request), self.timeouts.transfer).await?;
        // tBigMessageOutput: dmID is present on success.
        message_id(required_value(&answer.reply.ok()?, "dmID")?)
    }

    #[tracing::instrument(skip_all, fields(operation = "download_big_message", box_id = %ctx.box_id()))]
    async fn download_big_message(
        &self,
        ctx: &SessionContext,
        direction: Direction,
        id: &MessageId,
        stash: &Stash,
    ) -> IsdsResult<SignedMessage> {
        self.signed_big_download(ctx.as_box(), direction, id, stash).await
    }

    #[tracing::instrument(skip_all, fields(operation = "send_message", box_id = %ctx.box_id()))]
    async fn send_message(&self, ctx: &BoxContext, message: &OutgoingMessage) -> IsdsResult<MessageId> {
        let request = create_message(message)?;
        let body = self.call(Service::Operations, "CreateMessage", ctx, request, self.timeouts.transfer).await?.ok()?;
        // tMessageCreateOutput: dmID is present on success.
        message_id(required_value(&body, "dmID")?)
    }

    #[tracing::instrument(skip_all, fields(operation = "mark_downloaded", box_id = %ctx.box_id()))]
    async fn mark_downloaded(&self, ctx: &SessionContext, id: &MessageId) -> IsdsResult<()> {
        let mut request = Request::new("MarkMessageAsDownloaded");
        request.leaf("dmID", Some(id.as_str()))?;
        self.call(Service::Info, "MarkMessageAsDownloaded", ctx.as_box(), request, self.timeouts.request)
            .await?
            .ok()?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(operation = "state_changes", box_id = %ctx.box_id()))]
    async fn state_changes(
        &self,
        ctx: &BoxContext,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> IsdsResult<Vec<StateChange>> {
        let mut request = Request::new("GetMessageStateChanges");
        request.leaf("dmFromTime", Some(&format_time(from)?))?.leaf("dmToTime", Some(&format_time(to)?))?;
        let body =
            self.call(Service::Info, "GetMessageStateChanges", ctx, request, self.timeouts.request).await?.ok()?;
        let Some(records) = body.child("dmRecords") else { return Ok(Vec::new()) };
        // tStateChangesRecord: dmID, dmEventTime, dmMessageStatus.
        records
            .children_named("dmRecord")
            .map(|record| {
                Ok(StateChange {
                    id: message_id(required_value(record, "dmID")?)?,
                    at: datetime("dmEventTime", required_value(record, "dmEventTime")?)?,
                    status: message_status(required_value(record, "dmMessageStatus")?)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(operation = "box_info", box_id = %ctx.box_id()))]
    async fn box_info(&self, ctx: &BoxContext) -> IsdsResult<BoxInfo> {
        // tDummyInput: dbDummy is a required string, not nillable: empty.
        let mut request = Request::new("GetOwnerInfoFromLogin");
        request.leaf_plain("dbDummy", "");
        let body =
            self.call(Service::Access, "GetOwnerInfoFromLogin", ctx, request, self.timeouts.request).await?.ok()?;
        let info = owner_info(required(&body, "dbOwnerInfo")?)?;
        if info.id != *ctx.box_id() {
            // The login belongs to another box than the one asked about.
            return Err(IsdsError::NotFound);
        }
        Ok(info)
    }

    #[tracing::instrument(skip_all, fields(operation = "credit_info", box_id = %ctx.box_id()))]
    async fn credit_info(&self, ctx: &BoxContext) -> IsdsResult<CreditInfo> {
        // tDBCreditInfoInput: dbID, ciFromDate, ciTodate (nil: no history).
        let mut request = Request::new("DataBoxCreditInfo");
        request.leaf("dbID", Some(ctx.box_id().as_str()))?.leaf("ciFromDate", None)?.leaf("ciTodate", None)?;
        let body = self.call(Service::Search, "DataBoxCreditInfo", ctx, request, self.timeouts.request).await?.ok()?;
        // currentCredit is in hundredths of CZK (libdatovka isds.h).
        Ok(CreditInfo { current_hellers: number("currentCredit", required_value(&body, "currentCredit")?)? })
    }

    #[tracing::instrument(skip_all, fields(operation = "credit_history", box_id = %ctx.box_id()))]
    async fn credit_history(&self, ctx: &BoxContext, from: Date, to: Date) -> IsdsResult<Vec<CreditEvent>> {
        // tDBCreditInfoInput: dbID, ciFromDate, ciTodate (xs:date).
        let day = |date: Date| format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day());
        let mut request = Request::new("DataBoxCreditInfo");
        request
            .leaf("dbID", Some(ctx.box_id().as_str()))?
            .leaf("ciFromDate", Some(&day(from)))?
            .leaf("ciTodate", Some(&day(to)))?;
        let body = self.call(Service::Search, "DataBoxCreditInfo", ctx, request, self.timeouts.request).await?.ok()?;
        let Some(records) = body.child("ciRecords") else { return Ok(Vec::new()) };
        // tCiRecord: ciEventTime, ciEventType, ciCreditChange, ciCreditAfter,
        // then ciTransID (types 1, 2) or the message's recipient and id (3).
        records
            .children_named("ciRecord")
            .map(|record| {
                Ok(CreditEvent {
                    at: datetime("ciEventTime", required_value(record, "ciEventTime")?)?,
                    kind: number("ciEventType", required_value(record, "ciEventType")?)?,
                    change_hellers: number("ciCreditChange", required_value(record, "ciCreditChange")?)?,
                    after_hellers: number("ciCreditAfter", required_value(record, "ciCreditAfter")?)?,
                    transaction_id: optional_value(record, "ciTransID").map(str::to_owned),
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(operation = "find_personal_boxes", box_id = %ctx.box_id()))]
    async fn find_personal_boxes(&self, ctx: &BoxContext, person: &PersonQuery) -> IsdsResult<Vec<BoxId>> {
        let date = person.birth_date;
        let birth = format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day());
        let mut request = Request::new("FindPersonalDataBox");
        request.open("dbOwnerInfo", &[])?;
        // tdbPersonalOwnerInfo, every element in schema order, unset ones nil.
        request
            .leaf("dbID", None)?
            .leaf("aifoIsds", None)?
            .leaf("pnFirstName", Some(person.first_name.trim()))?
            .leaf("pnMiddleName", None)?
            .leaf("pnLastName", Some(person.last_name.trim()))?
            .leaf("biDate", Some(&birth))?
            .leaf("biCity", None)?
            .leaf("biCounty", None)?
            .leaf("biState", None)?
            .leaf("adCode", None)?
            .leaf("adCity", None)?
            .leaf("adDistrict", None)?
            .leaf("adStreet", None)?
            .leaf("adNumberInStreet", None)?
            .leaf("adNumberInMunicipality", None)?
            .leaf("adZipCode", None)?
            .leaf("adState", None)?
            .leaf("nationality", None)?;
        request.close("dbOwnerInfo");
        let reply = self.call(Service::Search, "FindPersonalDataBox", ctx, request, self.timeouts.request).await?;
        match reply.status.code.as_str() {
            OK => {}
            // 0002: nothing matches the criteria.
            "0002" => return Ok(Vec::new()),
            _ => return Err(reply.status.into_error()),
        }
        let Some(results) = reply.body.child("dbResults") else { return Ok(Vec::new()) };
        results
            .children_named("dbOwnerInfo")
            .map(|info| super::records::box_id("dbID", required_value(info, "dbID")?))
            .collect()
    }

    #[tracing::instrument(skip_all, fields(operation = "vault_info", box_id = %ctx.box_id()))]
    async fn vault_info(&self, ctx: &BoxContext) -> IsdsResult<VaultInfo> {
        // tDTInfoInput: dbId (sic); tDTInfoOutput: ActDTType, ActDTCapacity,
        // ActDTFrom, ActDTTo, ActDTCapUsed, FutDT* (not used).
        let mut request = Request::new("DTInfo");
        request.leaf("dbId", Some(ctx.box_id().as_str()))?;
        let body = self.call(Service::Search, "DTInfo", ctx, request, self.timeouts.request).await?.ok()?;
        Ok(VaultInfo {
            vault_type: number("ActDTType", required_value(&body, "ActDTType")?)?,
            capacity: optional_value(&body, "ActDTCapacity").map(|v| number("ActDTCapacity", v)).transpose()?,
            used: optional_value(&body, "ActDTCapUsed").map(|v| number("ActDTCapUsed", v)).transpose()?,
            valid_from: optional_value(&body, "ActDTFrom").map(|v| day_start("ActDTFrom", v)).transpose()?,
            valid_to: optional_value(&body, "ActDTTo").map(|v| day_start("ActDTTo", v)).transpose()?,
        })
    }

    #[tracing::instrument(skip_all, fields(operation = "find_boxes", box_id = %ctx.box_id()))]
    async fn find_boxes(&self, ctx: &BoxContext, query: &BoxSearch) -> IsdsResult<Vec<BoxInfo>> {
        // By id, only dbID counts; by name, ISDS requires the box type
        // (code 1101) and matches firmName as a substring of at least 3
        // characters (`doc/user_web_services`, FindDataBox). Citizens look
        // for authorities, so the type is OVM. By IČO, the type is PO too:
        // the box of a company its statutory body acts for.
        let (id, db_type, ic, firm_name) = match query {
            BoxSearch::Id(id) => (Some(id.as_str()), None, None, None),
            BoxSearch::Ico(ico) => (None, Some("PO"), Some(ico.as_str()), None),
            BoxSearch::Name(name) => {
                let name = name.trim();
                if name.chars().count() < 3 {
                    return Err(IsdsError::Invalid(
                        "search for a data box by at least 3 characters of its name".into(),
                    ));
                }
                (None, Some("OVM"), None, Some(name))
            }
        };
        let mut request = Request::new("FindDataBox");
        request.open("dbOwnerInfo", &[])?;
        // tDbOwnerInfo, every element in schema order, unset ones nil (all are
        // nillable; email and telNumber may be left out, so they are).
        request
            .leaf("dbID", id)?
            .leaf("dbType", db_type)?
            .leaf("ic", ic)?
            .leaf("pnFirstName", None)?
            .leaf("pnMiddleName", None)?
            .leaf("pnLastName", None)?
            .leaf("pnLastNameAtBirth", None)?
            .leaf("firmName", firm_name)?
            .leaf("biDate", None)?
            .leaf("biCity", None)?
            .leaf("biCounty", None)?
            .leaf("biState", None)?
            .leaf("adCity", None)?
            .leaf("adStreet", None)?
            .leaf("adNumberInStreet", None)?
            .leaf("adNumberInMunicipality", None)?
            .leaf("adZipCode", None)?
            .leaf("adState", None)?
            .leaf("nationality", None)?
            .leaf("identifier", None)?
            .leaf("registryCode", None)?
            .leaf("dbState", None)?
            .leaf("dbEffectiveOVM", None)?
            .leaf("dbOpenAddressing", None)?;
        request.close("dbOwnerInfo");
        let reply = self.call(Service::Search, "FindDataBox", ctx, request, self.timeouts.request).await?;
        match reply.status.code.as_str() {
            // 0003: too many matches, the list is truncated but valid.
            OK | "0003" => {}
            // 0002: nothing matches the criteria; 5001: no box has this id.
            "0002" | "5001" => return Ok(Vec::new()),
            _ => return Err(reply.status.into_error()),
        }
        let Some(results) = reply.body.child("dbResults") else { return Ok(Vec::new()) };
        results.children_named("dbOwnerInfo").map(owner_info).collect()
    }
}

/// `CreateMessage` (`tMessageCreateInput`): `dmEnvelope` in the order of
/// `gMessageEnvelopeSub`, then `dmFiles`. Every element of the group is
/// required and nillable, so unset ones are `xsi:nil`; the optional `dmOVM`
/// and `dmPublishOwnID` of `tMessageEnvelopeSub` are left out.
fn create_message(message: &OutgoingMessage) -> IsdsResult<Request> {
    if message.attachments.is_empty() {
        return Err(IsdsError::Invalid("a message needs at least one attachment".into()));
    }
    let mut request = Request::new("CreateMessage");
    write_envelope(&mut request, message)?;
    request.open("dmFiles", &[])?;
    for attachment in &message.attachments {
        // tFilesArray/dmFile: dmMimeType, dmFileMetaType, dmFileDescr; content in dmEncodedContent.
        request.open(
            "dmFile",
            &[
                ("dmMimeType", attachment.mime_type.as_str()),
                ("dmFileMetaType", attachment.meta_type.as_str()),
                ("dmFileDescr", attachment.name.as_str()),
            ],
        )?;
        request.leaf_plain("dmEncodedContent", &BASE64.encode(&attachment.content)).close("dmFile");
    }
    request.close("dmFiles");
    Ok(request)
}

/// `CreateBigMessage` (`tBigMessageInput`): `dmEnvelope` (`tBigMessEnvelope`,
/// the elements of `CreateMessage`'s envelope in the same order, all nillable)
/// then `dmFiles` with one `dmExtFile` per uploaded file: its role, `dmAttID`
/// and the two hashes with their algorithms, as `UploadAttachment` answered.
fn create_big_message(message: &OutgoingMessage, files: &[BigFile]) -> IsdsResult<Request> {
    match files.first() {
        None => return Err(IsdsError::Invalid("a message needs at least one attachment".into())),
        Some(first) if first.meta_type != FileMetaType::Main => {
            return Err(IsdsError::Invalid("the first file of a message is its main one".into()));
        }
        Some(_) => {}
    }
    let mut request = Request::new_soap12("CreateBigMessage");
    write_envelope(&mut request, message)?;
    request.open("dmFiles", &[])?;
    for file in files {
        let uploaded = &file.uploaded;
        request
            .open(
                "dmExtFile",
                &[
                    ("dmFileMetaType", file.meta_type.as_str()),
                    ("dmAttID", uploaded.id.as_str()),
                    ("dmAttHash1", uploaded.hash1.value.as_str()),
                    ("dmAttHash1Alg", uploaded.hash1.algorithm.as_str()),
                    ("dmAttHash2", uploaded.hash2.value.as_str()),
                    ("dmAttHash2Alg", uploaded.hash2.algorithm.as_str()),
                ],
            )?
            .close("dmExtFile");
    }
    request.close("dmFiles");
    Ok(request)
}

/// `dmEnvelope` of `CreateMessage` and `CreateBigMessage`, checked for the
/// schema's lengths.
fn write_envelope(request: &mut Request, message: &OutgoingMessage) -> IsdsResult<()> {
    let limit = |name: &str, value: Option<&str>, max: usize| match value {
        Some(value) if value.chars().count() > max => {
            Err(IsdsError::Invalid(format!("{name} is longer than {max} characters")))
        }
        _ => Ok(()),
    };
    limit("dmAnnotation", Some(&message.subject), 255)?;
    limit("dmSenderRefNumber", message.sender_ref_number.as_deref(), 50)?;
    limit("dmSenderIdent", message.sender_ident.as_deref(), 50)?;
    limit("dmRecipientRefNumber", message.recipient_ref_number.as_deref(), 50)?;
    limit("dmRecipientIdent", message.recipient_ident.as_deref(), 50)?;

    // dmType="K": commercial (PDZ); absent: public (`tDmType`, `doc/message`).
    let envelope_attrs: &[(&str, &str)] = if message.commercial { &[("dmType", "K")] } else { &[] };
    request
        .open("dmEnvelope", envelope_attrs)?
        .leaf("dmSenderOrgUnit", None)?
        .leaf("dmSenderOrgUnitNum", None)?
        .leaf("dbIDRecipient", Some(message.recipient.as_str()))?
        .leaf("dmRecipientOrgUnit", None)?
        .leaf("dmRecipientOrgUnitNum", None)?
        .leaf("dmToHands", message.to_hands.as_deref())?
        .leaf("dmAnnotation", Some(&message.subject))?
        .leaf("dmRecipientRefNumber", message.recipient_ref_number.as_deref())?
        .leaf("dmSenderRefNumber", message.sender_ref_number.as_deref())?
        .leaf("dmRecipientIdent", message.recipient_ident.as_deref())?
        .leaf("dmSenderIdent", message.sender_ident.as_deref())?
        .leaf("dmLegalTitleLaw", None)?
        .leaf("dmLegalTitleYear", None)?
        .leaf("dmLegalTitleSect", None)?
        .leaf("dmLegalTitlePar", None)?
        .leaf("dmLegalTitlePoint", None)?
        .leaf("dmPersonalDelivery", Some(if message.personal_delivery { "true" } else { "false" }))?
        // Nil: ISDS's default (substitute delivery allowed).
        .leaf("dmAllowSubstDelivery", None)?
        .close("dmEnvelope");
    Ok(())
}

/// `dmStatusFilter`: the sum of 2^status over the wanted statuses; `-1` for
/// all (`doc/user_web_services`, GetListOfSentMessages).
fn status_filter(statuses: &[MessageStatus]) -> String {
    if statuses.is_empty() {
        return "-1".to_owned();
    }
    statuses.iter().fold(0u32, |mask, status| mask | (1 << u8::from(*status))).to_string()
}

impl SoapIsds {
    /// `SignedMessageDownload` or `SignedSentMessageDownload` in `ctx`.
    async fn signed_download(
        &self,
        ctx: &BoxContext,
        direction: Direction,
        id: &MessageId,
    ) -> IsdsResult<SignedMessage> {
        let operation = match direction {
            Direction::Received => "SignedMessageDownload",
            Direction::Sent => "SignedSentMessageDownload",
        };
        let mut request = Request::new(operation);
        request.leaf("dmID", Some(id.as_str()))?;
        let reply = self.call(Service::Operations, operation, ctx, request, self.timeouts.transfer).await?;
        reply.check_signed()?;
        // tSignedMessDownOutput: dmSignature = the ZFO (CMS), base64.
        let zfo = decode_base64("dmSignature", required_value(&reply.body, "dmSignature")?)?;
        opened(Bytes::from(zfo), id)
    }

    /// `SignedBigMessageDownload` or `SignedSentBigMessageDownload` in `ctx`
    /// (the VoDZ service; `dmSignature` usually an XOP part): the ZFO
    /// streamed from the answer's file into `stash`, then opened from there
    /// as it streams ([`opened_streamed`]).
    async fn signed_big_download(
        &self,
        ctx: &BoxContext,
        direction: Direction,
        id: &MessageId,
        stash: &Stash,
    ) -> IsdsResult<SignedMessage> {
        let operation = match direction {
            Direction::Received => "SignedBigMessageDownload",
            Direction::Sent => "SignedSentBigMessageDownload",
        };
        let mut request = Request::new_soap12(operation);
        request.leaf("dmID", Some(id.as_str()))?;
        let answer = self.call_big(operation, ctx, BigRequest::Plain(request), BIG_TRANSFER).await?;
        answer.reply.check_signed()?;
        let zfo = stash.put("zfo", answer.binary_stream(required(&answer.reply.body, "dmSignature")?).await?).await?;
        // The answer's file goes before the ZFO is opened.
        drop(answer);
        opened_streamed(zfo, id, stash).await
    }
}

/// A signed download's ZFO opened: the envelope and files out of its signed
/// content (the ZFO itself kept as it came), all in memory.
fn opened(zfo: Bytes, id: &MessageId) -> IsdsResult<SignedMessage> {
    let content = der::signed_content(&zfo).map_err(|e| IsdsError::Protocol(e.to_string()))?;
    let mut decode = |text: &str| decode_base64("dmEncodedContent", text).map(Content::from);
    let (envelope, attachments) = signed_message(&content, id, &mut decode)?;
    Ok(SignedMessage { envelope, attachments, zfo: Content::from(zfo) })
}

/// [`opened`] for a big message: the ZFO read as a stream, its signed
/// content walked as it passes ([`der::ContentWalker`]), the XML split
/// ([`Splitter`]) so each file is decoded from its base64 straight into its
/// own blob of `stash`, and the rest (the envelope and the file list, a few
/// kB) parsed as the whole document would be. At no point is more than a
/// piece of the ZFO, of its base64 or of a file in memory.
async fn opened_streamed(zfo: Content, id: &MessageId, stash: &Stash) -> IsdsResult<SignedMessage> {
    let mut reading = Reading {
        input: zfo.stream().await?,
        walker: Some(der::ContentWalker::new()),
        splitter: Splitter::new(),
        content: Vec::new(),
        pieces: VecDeque::new(),
    };
    let mut files = Vec::new();
    while let Some(piece) = reading.next().await? {
        let Piece::Start(n) = piece else {
            return Err(IsdsError::Protocol("the signed message: a file's bytes outside a file".into()));
        };
        let file = futures::stream::unfold(&mut reading, |reading| async move {
            match reading.next().await {
                Ok(Some(Piece::Bytes(bytes))) => Some((Ok(Bytes::from(bytes)), reading)),
                Ok(Some(Piece::End)) => None,
                Ok(Some(Piece::Start(_)) | None) => {
                    Some((Err(IsdsError::Protocol("the signed message: a file without its end".into())), reading))
                }
                Err(error) => Some((Err(error), reading)),
            }
        });
        files.push(stash.put(&format!("file-{n}"), Box::pin(file)).await?);
    }
    let skeleton = reading.splitter.finish()?;
    let mut numbered = |text: &str| {
        text.parse::<usize>()
            .ok()
            .and_then(|n| files.get(n).cloned())
            .ok_or_else(|| IsdsError::Protocol("the signed message: a dmEncodedContent out of place".into()))
    };
    let (envelope, attachments) = signed_message(&skeleton, id, &mut numbered)?;
    Ok(SignedMessage { envelope, attachments, zfo })
}

/// The ZFO as it is read for [`opened_streamed`].
struct Reading {
    input: crate::isds::ByteStream,
    /// Until the ZFO has ended (then its structure is checked).
    walker: Option<der::ContentWalker>,
    splitter: Splitter,
    /// The signed content of the last piece read.
    content: Vec<u8>,
    pieces: VecDeque<Piece>,
}

impl Reading {
    async fn next(&mut self) -> IsdsResult<Option<Piece>> {
        let zfo_error = |e: der::ZfoError| IsdsError::Protocol(e.to_string());
        loop {
            if let Some(piece) = self.pieces.pop_front() {
                return Ok(Some(piece));
            }
            let Some(walker) = self.walker.as_mut() else { return Ok(None) };
            match self.input.next().await {
                Some(piece) => {
                    let piece = piece.map_err(|e| IsdsError::Unavailable(Box::new(e)))?;
                    self.content.clear();
                    walker.push(&piece, Some(&mut self.content)).map_err(zfo_error)?;
                    self.splitter.push(&self.content, &mut self.pieces)?;
                }
                None => {
                    self.walker.take().map(der::ContentWalker::finish).transpose().map_err(zfo_error)?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isds::zfo_sign::simulated_signer;
    use crate::isds::zfo_verify::verify;

    /// A signed message's document with one file per way a sender may
    /// write base64: plain, folded with CRLF, with character references for
    /// the line ends, in CDATA, around a comment; and one `dmXMLContent`.
    fn document(files: &[Vec<u8>]) -> String {
        let b64: Vec<String> = files.iter().map(|f| BASE64.encode(f)).collect();
        let folded = |text: &str, sep: &str| {
            text.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).expect("ascii")).collect::<Vec<_>>().join(sep)
        };
        let (half, rest) = b64[4].split_at(b64[4].len() / 2);
        let contents = [
            b64[0].clone(),
            folded(&b64[1], "\r\n"),
            folded(&b64[2], "&#13;&#10;"),
            format!("<![CDATA[{}]]>", b64[3]),
            format!("{half}<!-- folded here -->{rest}"),
        ];
        let encoded: String = contents
            .iter()
            .enumerate()
            .map(|(n, content)| {
                format!(
                    "<p:dmFile dmMimeType=\"application/pdf\" dmFileMetaType=\"{}\" dmFileDescr=\"f{n}.pdf\">\
                     <p:dmEncodedContent>{content}</p:dmEncodedContent></p:dmFile>",
                    if n == 0 { "main" } else { "enclosure" }
                )
            })
            .collect();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><q:MessageDownloadResponse \
             xmlns:q=\"http://isds.czechpoint.cz/v20/message\" xmlns:p=\"http://isds.czechpoint.cz/v20\">\
             <q:dmReturnedMessage dmVODZ=\"true\"><p:dmDm><p:dmID>900000001</p:dmID>\
             <p:dbIDSender>ovm7x9k</p:dbIDSender><p:dmSender>Úřad</p:dmSender><p:dmRecipient>Jana</p:dmRecipient>\
             <p:dbIDRecipient>fo4ab2c</p:dbIDRecipient><p:dmAnnotation>Velká zpráva</p:dmAnnotation>\
             <p:dmFiles>{encoded}<p:dmFile dmMimeType=\"text/xml\" dmFileMetaType=\"enclosure\" \
             dmFileDescr=\"f5.xml\"><p:dmXMLContent><a b=\"1\">x</a></p:dmXMLContent></p:dmFile></p:dmFiles>\
             </p:dmDm><q:dmMessageStatus>6</q:dmMessageStatus></q:dmReturnedMessage></q:MessageDownloadResponse>"
        )
    }

    #[tokio::test]
    async fn a_big_zfo_opens_into_the_same_bytes_and_a_changed_byte_still_fails_its_signature() {
        let files: Vec<Vec<u8>> =
            (0..5_u32).map(|n| (0..(300_000 + n * 7)).map(|i| (i * 31 + n) as u8).collect()).collect();
        let document = document(&files);
        let at = time::macros::datetime!(2026-03-02 08:00 UTC);
        let zfo = simulated_signer().sign(document.as_bytes(), at);
        let id = MessageId::parse("900000001").expect("id");

        let message = opened(Bytes::from(zfo.clone()), &id).expect("opened");
        let streamed = opened_streamed(Content::from(zfo.clone()), &id, &Stash::in_memory()).await.expect("streamed");
        assert_eq!(message.attachments.len(), 6);
        assert_eq!(streamed.attachments.len(), 6);
        assert_eq!(streamed.envelope, message.envelope);
        for (n, file) in files.iter().enumerate() {
            let content = message.attachments[n].content.bytes().await.expect("in memory");
            assert!(content[..] == file[..], "file {n} byte for byte");
            let from_stream = streamed.attachments[n].content.bytes().await.expect("in memory");
            assert!(from_stream[..] == file[..], "file {n} byte for byte, streamed");
        }
        for opened in [&message, &streamed] {
            assert_eq!(&opened.attachments[5].content.bytes().await.expect("xml")[..], b"<a b=\"1\">x</a>");
            assert_eq!(
                (opened.attachments[5].name.as_str(), opened.attachments[5].meta_type),
                ("f5.xml", FileMetaType::Enclosure)
            );
        }
        // The same files as the tree that copies every text gives.
        let copied = crate::isds::soap::xml::parse(document.as_bytes()).expect("parse");
        let dm = copied.children[0].child("dmDm").expect("dmDm");
        for (n, file) in dm.child("dmFiles").expect("files").children_named("dmFile").take(5).enumerate() {
            let text = file.child("dmEncodedContent").and_then(crate::isds::soap::xml::Element::value).expect("text");
            assert_eq!(crate::isds::soap::records::decode_base64("x", text).expect("base64"), files[n], "file {n}");
        }
        let anchors = simulated_signer().anchors();
        assert!(verify(&zfo, &anchors, at).verified, "{:?}", verify(&zfo, &anchors, at));

        // One base64 character of the first file changed: it opens, but the
        // signature no longer covers it.
        let b64 = BASE64.encode(&files[0]);
        let position = zfo.windows(64).position(|w| w == &b64.as_bytes()[1000..1064]).expect("the file in the ZFO");
        let mut tampered = zfo.clone();
        tampered[position] = if tampered[position] == b'A' { b'B' } else { b'A' };
        let message = opened(Bytes::from(tampered.clone()), &id).expect("still readable");
        assert!(message.attachments[0].content.bytes().await.expect("in memory")[..] != files[0][..]);
        let streamed =
            opened_streamed(Content::from(tampered.clone()), &id, &Stash::in_memory()).await.expect("still readable");
        assert!(streamed.attachments[0].content.bytes().await.expect("in memory")[..] != files[0][..]);
        let check = verify(&tampered, &anchors, at);
        assert!(!check.verified);
        assert!(check.reason.as_deref().is_some_and(|r| r.contains("message digest differs")), "{check:?}");
    }
}
