//! Who signed what is never stored in clear (issue 15, item 1): after a
//! citizen signs and withdraws, no row of any table of the embedded store's
//! SQLite file (documents of every collection and partition, the access log,
//! queue messages, blob metadata) holds the subject id together with the
//! petition id, read the way anyone with the data folder would read it. The
//! citizen's own log line still opens, with their key, to the petition.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use portal_petitions::model::PetitionId;
use portal_petitions::signing::{SIGNATURE_RESOURCE, open_own_record};
use portal_petitions::{Petitions, PetitionsSettings, Signer, SignerDetails, SignerDetailsError, functions};
use portal_security::SubjectId;
use portal_testkit::{Harness, JANA, JIRI, START, call, json_of, write};
use serde_json::json;

#[derive(Debug)]
struct Profiles(HashMap<String, Signer>);

#[async_trait::async_trait]
impl SignerDetails for Profiles {
    async fn details(&self, subject: &SubjectId) -> Result<Option<Signer>, SignerDetailsError> {
        Ok(self.0.get(subject.as_str()).cloned())
    }
}

/// Every row of every table of the SQLite file, each as the text of its columns.
fn every_row(database: &std::path::Path) -> Vec<(String, String)> {
    let connection = rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the store's SQLite file");
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .expect("tables")
        .query_map([], |row| row.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    assert!(tables.iter().any(|t| t == "documents"), "the store's tables: {tables:?}");
    let mut rows = Vec::new();
    for table in tables {
        let mut statement = connection.prepare(&format!("SELECT * FROM \"{table}\"")).expect("select");
        let columns = statement.column_count();
        let mut found = statement.query([]).expect("rows");
        while let Some(row) = found.next().expect("row") {
            let mut text = String::new();
            for i in 0..columns {
                match row.get_ref(i).expect("column") {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        text.push_str(&String::from_utf8_lossy(t));
                    }
                    rusqlite::types::ValueRef::Integer(n) => text.push_str(&n.to_string()),
                    _ => {}
                }
                text.push('\u{1f}');
            }
            rows.push((table.clone(), text));
        }
    }
    rows
}

#[tokio::test]
async fn no_row_of_any_table_links_a_signer_to_the_petition() {
    let data = tempfile::tempdir().expect("data folder");
    let keys = tempfile::tempdir().expect("key folder");
    let harness = Harness::on_disk(data.path(), keys.path(), START);
    let person = |given: &str, family: &str| Signer {
        given_name: given.into(),
        family_name: family.into(),
        residence: "Fiktivní 12, Horní Lhota".into(),
    };
    let petitions = Petitions {
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        signer_details: Arc::new(Profiles(HashMap::from([
            (JANA.to_owned(), person("Jana", "Nováková")),
            (JIRI.to_owned(), person("Jiří", "Dvořák")),
        ]))),
        directory: std::sync::Arc::new(portal_petitions::directory::SimulatedDirectory::default()),
        settings: PetitionsSettings::default(),
    };
    let router = harness.router(functions(petitions));
    let jana = harness.login(JANA).await;
    let jiri = harness.login(JIRI).await;
    let draft = json!({
        "title": "Za bezpečný přechod u školy",
        "summary": "Žádáme o přechod.",
        "text": "Text petice.",
        "addressee": {"name": "Městský úřad Horní Lhota (simulace)", "boxId": "simmuhl"},
        "endsOn": "2026-12-31",
    });
    let (status, _, body) = call(&router, write(Method::POST, "/api/petitions", &jana, Some(draft))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    let (status, _, _) = call(&router, write(Method::POST, &format!("/api/petitions/{id}/publish"), &jana, None)).await;
    assert_eq!(status, StatusCode::OK);

    // Jiří signs, withdraws and signs again: three log lines of his own.
    let signatures = format!("/api/petitions/{id}/signatures");
    let (status, _, body) = call(&router, write(Method::POST, &signatures, &jiri, None)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let mine = format!("{signatures}/mine");
    let (status, _, _) = call(&router, write(Method::DELETE, &mine, &jiri, None)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(&router, write(Method::POST, &signatures, &jiri, None)).await;
    assert_eq!(status, StatusCode::CREATED);

    let rows = every_row(&data.path().join("portal.db"));
    let with_jiri: Vec<_> = rows.iter().filter(|(_, text)| text.contains(JIRI)).collect();
    assert!(
        with_jiri.iter().any(|(table, text)| table == "documents" && text.contains(SIGNATURE_RESOURCE)),
        "the scan sees Jiří's own log lines about signing ({} rows with his id)",
        with_jiri.len()
    );
    let linked: Vec<_> = with_jiri.iter().filter(|(_, text)| text.contains(&id)).collect();
    assert!(linked.is_empty(), "rows holding Jiří's subject id and the petition id in clear: {linked:#?}");
    let with_petition = rows.iter().filter(|(_, text)| text.contains(&id)).count();
    assert!(with_petition > 0, "the scan sees the petition's own rows");

    // Jiří's own log names the petition, sealed under his key.
    let log = harness.access_entries(JIRI).await;
    let lines: Vec<_> = log.iter().filter(|e| e.resource_type == SIGNATURE_RESOURCE).collect();
    assert_eq!(lines.len(), 3, "{log:?}");
    let subject = SubjectId::parse(JIRI).expect("subject");
    for line in lines {
        assert_ne!(line.resource_id, id);
        let opened = open_own_record(&harness.sealer, &subject, &line.resource_id).await.expect("open");
        assert_eq!(opened, PetitionId::parse(&id), "his key opens it");
        let other = SubjectId::parse(JANA).expect("subject");
        assert_eq!(open_own_record(&harness.sealer, &other, &line.resource_id).await.expect("open"), None);
    }
}
