//! The citizen's export end to end (issue 13, item 5): a demo citizen with
//! data in every capability asks for an export, the local host runs
//! `BuildExport`, and the ZIP they download is opened by Python's `zipfile`
//! (the independent oracle: `PORTAL_TEST_PYTHON`, else the system's
//! `python3`), which must find every capability's part, each JSON part
//! parsing. Then: a rebuild after a simulated crash makes the same archive,
//! another citizen cannot reach it, the link expires and the archive goes,
//! and erasure removes it.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use portal::app;
use portal_security::SubjectId;
use portal_store::NewDocument;
use serde_json::{Value, json};
use support::{Portal, Session, json_of, pdf, upload_request};
use time::macros::datetime;

async fn portal() -> Portal {
    Portal::start(datetime!(2026-11-23 08:00 UTC), |_| {}).await
}

impl Portal {
    async fn upload(&self, who: &Session, path: &str, name: &str, content: &[u8]) -> Value {
        let (status, _, body) = self.call(upload_request(who, path, name, "application/pdf", content)).await;
        assert_eq!(status, StatusCode::CREATED, "upload to {path}: {}", String::from_utf8_lossy(&body));
        json_of(&body)
    }

    /// Waits (by yielding to them, never by the clock) until the dashboard's
    /// background calls have cached the summaries of `sources` for Jana.
    /// (The summaries are sealed together in one document, so the tiles'
    /// own part of the export is what says which are cached.)
    async fn summaries_cached(&self, sources: &[&str]) {
        let exports = self.exports();
        let tiles = exports.sources.iter().find(|part| part.name() == "tiles").expect("the tiles' part");
        let jana = SubjectId::parse(JANA).expect("subject");
        for _ in 0..100_000 {
            let parts = tiles.export(&jana).await.expect("the tiles' part");
            let summaries = parts.iter().find(|part| part.path == "summaries.json").expect("summaries.json");
            let held: Value = serde_json::from_slice(&summaries.content).expect("json");
            let cached = |source: &&str| held.as_array().into_iter().flatten().any(|s| s["source"] == **source);
            if sources.iter().all(cached) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the dashboard did not cache the summaries of {sources:?}");
    }

    fn exports(&self) -> portal_identity::exports::Exports {
        app::exports(&self.services, &self.settings).expect("exports")
    }
}

/// What Python's `zipfile` finds in `archive`: `{"names": [...], "bad":
/// first bad member or null, "json": {name: parsed}, "sizes": {name: bytes}}`.
fn open_with_python(archive: &[u8]) -> Value {
    let python = std::env::var("PORTAL_TEST_PYTHON").ok().filter(|p| !p.trim().is_empty());
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("export.zip");
    std::fs::write(&path, archive).expect("write the ZIP");
    let script = "import sys, json, zipfile\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        out = {'names': z.namelist(), 'bad': z.testzip(), 'json': {}, 'sizes': {}}\n\
        for info in z.infolist():\n\
        \x20   data = z.read(info)\n\
        \x20   out['sizes'][info.filename] = len(data)\n\
        \x20   if info.filename.endswith('.json'):\n\
        \x20       out['json'][info.filename] = json.loads(data.decode('utf-8'))\n\
        print(json.dumps(out))";
    let output = std::process::Command::new(python.as_deref().unwrap_or("python3"))
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect("run python");
    assert!(output.status.success(), "zipfile opens the export: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("python's summary")
}

const JANA: &str = "DEMO%2Fjana-novakova";

#[tokio::test]
async fn an_export_holds_every_capabilitys_data_in_one_zip_for_its_citizen_only_until_it_expires() {
    let portal = portal().await;
    let jana = portal.login("jana").await;
    let jiri = portal.login("jiri").await;

    // Jana's data in every capability.
    let document = portal.upload(&jana, "/api/documents", "smlouva.pdf", &pdf()).await;
    let document = document["id"].as_str().expect("document id").to_owned();
    let (status, body) = portal
        .json_call("POST", "/api/calendar/events", &jana, Some(json!({"title": "Lékař", "date": "2026-12-01"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) =
        portal.json_call("PUT", "/api/me/contacts/email", &jana, Some(json!({"address": "jana@example.cz"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = portal.json_call("GET", "/api/me/registers", &jana, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        portal.json_call("POST", "/api/registers/extracts", &jana, Some(json!({"kind": "criminal-record"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, filing) = portal
        .json_call(
            "POST",
            "/api/filings/register-writes",
            &jana,
            Some(json!({"kind": "delivery-address", "poBox": "42", "municipality": "Brno", "postcode": "60200"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filing}");
    let (status, body) = portal.json_call("POST", "/api/databox/archive", &jana, None).await;
    assert!(status.is_success(), "the data box archive: {body}");
    let petition = |title: &str| {
        json!({"title": title, "summary": "Žádáme lavičky.", "text": "Žádáme o lavičky.",
               "addressee": {"name": "Městský úřad Horní Lhota (simulace)", "boxId": "simmuhl"},
               "endsOn": "2026-12-31"})
    };
    let (status, own) = portal.json_call("POST", "/api/petitions", &jana, Some(petition("Janina petice"))).await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    let own = own["id"].as_str().expect("petition id").to_owned();
    portal.upload(&jana, &format!("/api/petitions/{own}/attachments"), "mapa.pdf", &pdf()).await;
    let (status, other) = portal.json_call("POST", "/api/petitions", &jiri, Some(petition("Jiřího petice"))).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other = other["id"].as_str().expect("petition id").to_owned();
    let (status, body) = portal.json_call("POST", &format!("/api/petitions/{other}/publish"), &jiri, None).await;
    assert!(status.is_success(), "{body}");
    let (status, body) = portal.json_call("POST", &format!("/api/petitions/{other}/signatures"), &jana, None).await;
    assert!(status.is_success(), "Jana signs Jiří's petition: {body}");
    // A fee paid through the simulated gateway (its receipt goes to Documents).
    let (status, fees) = portal.json_call("GET", "/api/fees", &jana, None).await;
    assert_eq!(status, StatusCode::OK, "{fees}");
    let dog = fees["obligations"].as_array().expect("obligations").iter().find(|o| o["kind"] == "dog");
    let fee = dog.expect("her dog fee")["id"].as_str().expect("fee id").to_owned();
    let (status, payment) = portal.json_call("POST", &format!("/api/fees/{fee}/payments"), &jana, None).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    let payment = payment["id"].as_str().expect("payment id").to_owned();
    let checkout = format!("/api/fees/payments/{payment}/simulated-checkout");
    let (status, paid) = portal.json_call("POST", &checkout, &jana, Some(json!({"card": "4242424242424242"}))).await;
    assert_eq!((status, &paid["status"]), (StatusCode::OK, &json!("paid")), "{paid}");
    // A notice-board watch, and the harvest that finds the simulated closure.
    let watch = json!({"keywords": ["uzavírka"], "place": "Dolní"});
    let (status, watch) = portal.json_call("POST", "/api/me/notice-board-watches", &jana, Some(watch)).await;
    assert_eq!(status, StatusCode::CREATED, "{watch}");
    let watch = watch["id"].as_str().expect("watch id").to_owned();
    portal.run_timer("HarvestNoticeBoards").await;
    // An authorisation Jana gives Jiří, which he accepts.
    let (status, invitation) = portal
        .json_call(
            "POST",
            "/api/delegations",
            &jana,
            Some(json!({"scopes": ["documents-read"], "endsOn": "2027-01-06"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");
    let grant = invitation["delegation"]["id"].as_str().expect("grant id").to_owned();
    let code = json!({"code": invitation["code"]});
    let (status, body) = portal.json_call("POST", &format!("/api/delegations/{grant}/accept"), &jiri, Some(code)).await;
    assert!(status.is_success(), "Jiří accepts: {body}");
    // Her choice of dashboard tiles (not the catalogue's order), and the
    // summaries the dashboard caches for her, sealed.
    let (status, body) = portal
        .json_call("PUT", "/api/me/dashboard", &jana, Some(json!({"tiles": ["erecept", "financni-sprava"]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = portal.json_call("GET", "/api/dashboard", &jana, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    portal.summaries_cached(&["erecept", "financni-sprava"]).await;
    portal.settle().await;
    // An archived data message filed in Documents downloads there byte for
    // byte as the data box serves its ZFO (sealed in chunks by the archive,
    // streamed by Documents).
    let (status, documents) = portal.json_call("GET", "/api/documents", &jana, None).await;
    assert_eq!(status, StatusCode::OK, "{documents}");
    let filed = documents["items"].as_array().expect("items").iter().find(|d| d["kind"] == "data-message");
    let filed = filed.expect("the archived data message is filed in Documents");
    let (id, message) = (filed["id"].as_str().expect("id"), filed["sourceRef"].as_str().expect("message id"));
    let (status, from_documents) = portal.raw("GET", &format!("/api/documents/{id}/content"), &jana, None).await;
    assert_eq!(status, StatusCode::OK);
    let zfo = format!("/api/databox/messages/archived/{message}/zfo");
    let (status, from_databox) = portal.raw("GET", &zfo, &jana, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!from_documents.is_empty() && from_documents == from_databox, "the same ZFO from both");

    // The export: 202 and a status URL; BuildExport runs on the queue.
    let request = Request::post("/api/me/exports")
        .header(header::COOKIE, &jana.cookie)
        .header("x-csrf-token", &jana.csrf)
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = portal.call(request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
    let queued = json_of(&body);
    let export = queued["id"].as_str().expect("export id").to_owned();
    let status_url = headers[header::LOCATION].to_str().expect("location").to_owned();
    assert_eq!(status_url, format!("/api/me/exports/{export}"));
    assert_eq!(queued["state"], "queued");
    assert!(queued["progress"].as_array().is_some_and(|p| p.len() == 11), "a line per capability: {queued}");
    portal.settle().await;
    let (status, ready) = portal.json_call("GET", &status_url, &jana, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["state"], "ready", "{ready}");
    assert!(ready["progress"].as_array().expect("progress").iter().all(|line| line["state"] == "done"), "{ready}");
    let download = ready["downloadUrl"].as_str().expect("a download link").to_owned();
    let expires = time::OffsetDateTime::parse(
        ready["expiresAt"].as_str().expect("expiresAt"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    let left = expires - portal_store::Clock::now(portal.clock.as_ref());
    assert!(left > time::Duration::hours(23) && left <= time::Duration::hours(24), "a day to download: {ready}");

    // A crash after the archive was stored but before the job said so: the
    // rerun builds it again, and (the data unchanged) the same bytes.
    let exports = portal.exports();
    let subject = SubjectId::parse(JANA).expect("subject");
    let crash = || async {
        let stored = portal.services.stores.documents.get("profiles", JANA, &format!("export-{export}")).await;
        let stored = stored.expect("read").expect("the job");
        let mut crashed = stored.body.clone();
        crashed["state"] = json!("building");
        let doc = NewDocument::new(JANA, format!("export-{export}"), crashed);
        portal.services.stores.documents.replace("profiles", doc, &stored.etag).await.expect("crash");
        exports.build(&subject, &export).await.expect("rebuilt");
        exports.archive(&subject, &export).await.expect("the archive")
    };
    let first = crash().await;
    assert!(crash().await == first, "the same archive");

    let (status, archive) = portal.raw("GET", &download, &jana, None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&archive));
    assert_eq!(archive, first);
    let opened = open_with_python(&archive);
    assert_eq!(opened["bad"], Value::Null, "every member's CRC is right");
    let names: Vec<&str> = opened["names"].as_array().expect("names").iter().filter_map(Value::as_str).collect();
    for part in [
        "manifest.json",
        "identity/profile.json",
        "identity/access-log.json",
        "documents/documents.json",
        "documents/shares.json",
        "calendar/events.json",
        "calendar/feed.json",
        "notifications/contacts.json",
        "notifications/preferences.json",
        "notifications/notifications.json",
        "databox/archive.json",
        "databox/records.json",
        "registers/cache.json",
        "registers/extracts.json",
        "registers/filings.json",
        "petitions/created.json",
        "petitions/signed.json",
        "fees/payments.json",
        "noticeboards/watches.json",
        "delegation/delegations.json",
        "tiles/dashboard.json",
        "tiles/summaries.json",
    ] {
        assert!(names.contains(&part), "{part} is in the export: {names:?}");
    }
    let files = |prefix: &str| names.iter().filter(|name| name.starts_with(prefix)).count();
    assert!(files(&format!("documents/files/{document}-")) == 1, "the uploaded file: {names:?}");
    assert!(files("documents/files/") >= 2, "the upload and the extract's PDF: {names:?}");
    assert!(names.iter().any(|name| name.starts_with("databox/archive/") && name.ends_with("/message.zfo")));
    assert_eq!(files(&format!("petitions/attachments/{own}/")), 1, "the petition's attachment: {names:?}");
    let parsed = &opened["json"];
    let text = |name: &str| parsed[name].to_string();
    assert!(text("identity/profile.json").contains("Nováková"), "{}", text("identity/profile.json"));
    assert!(text("calendar/events.json").contains("Lékař"));
    assert!(text("notifications/contacts.json").contains("jana@example.cz"));
    assert!(parsed["notifications/notifications.json"].as_array().is_some_and(|n| !n.is_empty()));
    assert!(text("registers/filings.json").contains("60200"), "the filing's data, opened");
    assert!(parsed["registers/cache.json"].is_object(), "the register cache, opened");
    assert!(text("petitions/created.json").contains(&own));
    assert_eq!(parsed["petitions/signed.json"]["petitions"][0]["id"], json!(other), "the petition Jana signed");
    assert!(!text("petitions/signed.json").contains(&own), "only what she signed");
    assert!(text("databox/archive.json").contains("messageId"));
    let payments = &parsed["fees/payments.json"];
    assert_eq!(payments.as_array().map(Vec::len), Some(1), "the one payment: {payments}");
    assert_eq!((&payments[0]["id"], &payments[0]["state"]), (&json!(payment), &json!("paid")), "{payments}");
    assert_eq!(
        (&payments[0]["kind"], &payments[0]["amount"]),
        (&json!("dog"), &json!("1500.00")),
        "opened: {payments}"
    );
    assert_eq!(payments[0]["feeId"], json!(fee), "what it paid for, opened: {payments}");
    let receipt = format!("fee-receipt-{payment}");
    assert_eq!(payments[0]["receiptDocumentId"], json!(receipt), "{payments}");
    assert_eq!(files(&format!("documents/files/{receipt}-")), 1, "the receipt itself, in Documents: {names:?}");
    let watches = &parsed["noticeboards/watches.json"];
    assert_eq!(watches.as_array().map(Vec::len), Some(1), "the one watch: {watches}");
    assert_eq!(watches[0]["id"], json!(watch));
    assert_eq!(watches[0]["keywords"], json!(["uzavírka"]), "opened: {watches}");
    assert_eq!(watches[0]["place"], json!("Dolní"), "opened: {watches}");
    assert!(
        parsed["notifications/notifications.json"]
            .as_array()
            .expect("inbox")
            .iter()
            .any(|n| { n["title"].as_str().is_some_and(|t| t.starts_with("Nové na úřední desce")) }),
        "what the watch found is in the inbox's part: {}",
        text("notifications/notifications.json")
    );
    let delegations = &parsed["delegation/delegations.json"];
    let given = &delegations["given"];
    assert_eq!(given.as_array().map(Vec::len), Some(1), "the one authorisation Jana gave: {delegations}");
    assert_eq!((&given[0]["id"], &given[0]["state"]), (&json!(grant), &json!("active")), "{delegations}");
    assert_eq!(given[0]["scopes"], json!(["documents-read"]), "{delegations}");
    assert_eq!(given[0]["endsOn"], json!("2027-01-06"), "{delegations}");
    assert!(given[0]["counterpart"].as_str().is_some_and(|n| n.contains("Dvořák")), "Jiří's name: {delegations}");
    assert!(given[0]["acceptedAt"].is_string(), "{delegations}");
    assert_eq!(delegations["received"], json!([]), "{delegations}");
    assert_eq!(delegations["representationsKnown"], json!(true), "{delegations}");
    assert_eq!(delegations["representations"][0]["principalName"], json!("Tomáš Novák"), "her son: {delegations}");
    assert_eq!(delegations["representations"][0]["state"], json!("active"), "{delegations}");
    let dashboard = &parsed["tiles/dashboard.json"];
    assert_eq!(dashboard["chosen"], json!(true), "{dashboard}");
    assert_eq!(dashboard["tiles"], json!(["erecept", "financni-sprava"]), "her choice, in her order: {dashboard}");
    let summaries = &parsed["tiles/summaries.json"];
    let sources: Vec<&str> =
        summaries.as_array().expect("summaries").iter().filter_map(|s| s["source"].as_str()).collect();
    assert_eq!(sources, ["erecept", "financni-sprava"], "{summaries}");
    let tax = &summaries[1]["summary"];
    assert!(tax["headline"].as_str().is_some_and(|h| h.contains("Přeplatek")), "opened: {summaries}");
    assert_eq!(tax["simulated"], json!(true), "labelled simulated: {summaries}");
    let zfo = names.iter().find(|name| name.ends_with("message.zfo")).expect("a ZFO");
    assert!(opened["sizes"][*zfo].as_u64().is_some_and(|size| size > 0));

    // Another citizen cannot reach it.
    for path in [status_url.clone(), download.clone()] {
        let (status, _) = portal.raw("GET", &path, &jiri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} is Jana's alone");
    }

    // The link expires after 24 hours; the archive is then deleted.
    portal.clock.advance(Duration::from_secs(24 * 60 * 60));
    let jana = portal.login("jana").await;
    let (status, expired) = portal.json_call("GET", &status_url, &jana, None).await;
    assert_eq!((status, &expired["state"]), (StatusCode::OK, &json!("expired")), "{expired}");
    assert!(expired.get("downloadUrl").is_none(), "no link once expired: {expired}");
    let (status, _) = portal.raw("GET", &download, &jana, None).await;
    assert_eq!(status, StatusCode::GONE);
    portal.clock.advance(Duration::from_secs(120));
    portal.settle().await;
    assert!(portal.services.stores.blobs.list("exports/").await.expect("list").is_empty(), "the archive is deleted");
    let (status, _) = portal.json_call("GET", &status_url, &jana, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the job too");

    // Erasure removes an export at once.
    let (status, body) = portal.json_call("POST", "/api/me/exports", &jana, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let second = body["id"].as_str().expect("export id").to_owned();
    portal.settle().await;
    assert_eq!(portal.services.stores.blobs.list("exports/").await.expect("list").len(), 1, "built");
    let (status, body) = portal.json_call("DELETE", "/api/me", &jana, Some(json!({"confirm": "DELETE MY DATA"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(portal.services.stores.blobs.list("exports/").await.expect("list").is_empty(), "erased");
    let job = portal.services.stores.documents.get("profiles", JANA, &format!("export-{second}")).await;
    assert!(job.expect("read").is_none(), "the job is gone with it");
}
