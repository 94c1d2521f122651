//! How much a 20 MB download raises the process's memory: a file sealed in
//! chunks (format 2, streamed as it is opened) against the same file sealed
//! whole (format 1, opened in one piece).
//!
//! ```sh
//! cargo bench -p portal-documents --bench download_memory
//! ```
//!
//! The program runs itself three times: once to upload the file (on an
//! embedded store in a temporary folder) and once per format to download it
//! through the real router in a **fresh process**, so that memory the upload
//! left with the allocator cannot hide what the download needs. Each download
//! process logs in, downloads a small file first (lazy set-up), resets its
//! peak resident set (`/proc/self/clear_refs` 5), downloads the 20 MB file
//! reading the body frame by frame, and reports `VmHWM - VmRSS` (the rise of
//! the peak over the resident set just before). Figures go to
//! docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::Router;
use axum::http::StatusCode;
use http_body_util::BodyExt as _;
use portal_documents::{Documents, DocumentsSettings, functions};
use portal_store::{BlobPath, BlobStore, PutMode};
use portal_testkit::{Harness, JANA, Login, Part, START, get, json_of, multipart};
use tower::ServiceExt as _;

const SIZE: usize = 20_000_000;

fn router(harness: &Harness) -> Router {
    let documents = Documents {
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings: DocumentsSettings { max_upload_bytes: 2 * SIZE as u64, ..DocumentsSettings::default() },
    };
    harness.router(functions(documents))
}

fn harness(dir: &Path) -> Harness {
    Harness::on_disk(&dir.join("data"), &dir.join("keys"), START)
}

fn kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

async fn upload(router: &Router, login: &Login, name: &str, content: &[u8]) -> String {
    let request = multipart("/api/documents", login, &[Part::file("file", name, "text/plain", content)]);
    let response = router.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = response.into_body().collect().await.expect("body").to_bytes();
    json_of(&body)["id"].as_str().expect("id").to_owned()
}

/// Downloads `id`, frame by frame, and returns its length.
async fn download(router: &Router, login: &Login, id: &str) -> usize {
    let response = router.clone().oneshot(get(&format!("/api/documents/{id}/content"), login)).await.expect("ok");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut length = 0;
    while let Some(frame) = body.frame().await {
        length += frame.expect("frame").into_data().map(|d| d.len()).unwrap_or(0);
    }
    length
}

async fn seed(dir: &Path) {
    let harness = harness(dir);
    let router = router(&harness);
    let login = harness.login(JANA).await;
    let content: Vec<u8> = (0..SIZE).map(|i| b'a' + (i % 26) as u8).collect();
    let streamed = upload(&router, &login, "velky.txt", &content).await;
    let whole = upload(&router, &login, "velky-stary.txt", &content).await;
    // The second one as an upload sealed before streaming existed: whole, format 1.
    let folder = portal_documents::owner_folder(JANA);
    let path = BlobPath::parse(format!("documents/{folder}/{whole}")).expect("path");
    let sealed = harness.sealer.encrypt(JANA, &whole, "content", &content).await.expect("seal whole");
    BlobStore::put(
        harness.store.as_ref(),
        &path,
        sealed.into(),
        "application/octet-stream",
        Default::default(),
        PutMode::Overwrite,
    )
    .await
    .expect("put");
    let small = upload(&router, &login, "maly.txt", b"ahoj").await;
    // Clear both scans now, so the measured downloads only read.
    for id in [&streamed, &whole, &small] {
        download(&router, &login, id).await;
    }
    let ids = format!("{streamed}\n{whole}\n{small}\n{}\n{}\n", login.cookie, login.csrf);
    std::fs::write(dir.join("ids"), ids).expect("ids");
}

async fn measure(dir: &Path, which: &str) {
    let ids = std::fs::read_to_string(dir.join("ids")).expect("ids");
    let lines: Vec<&str> = ids.lines().collect();
    let login = Login { cookie: lines[3].to_owned(), csrf: lines[4].to_owned() };
    let harness = harness(dir);
    let router = router(&harness);
    assert_eq!(download(&router, &login, lines[2]).await, 4, "warm-up");
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident set");
    let before = kib("VmRSS:");
    let id = if which == "streamed" { lines[0] } else { lines[1] };
    let length = download(&router, &login, id).await;
    let peak = kib("VmHWM:");
    assert_eq!(length, SIZE);
    println!("{which} {before} {peak}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match args.get(1).map(String::as_str) {
        Some("seed") => return runtime.block_on(seed(Path::new(&args[2]))),
        Some("measure") => return runtime.block_on(measure(Path::new(&args[2]), &args[3])),
        _ => {}
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    let me = PathBuf::from(&args[0]);
    let run = |extra: &[&str]| {
        let output = Command::new(&me).args(extra).output().expect("run");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let path = dir.path().to_str().expect("utf-8 path");
    run(&["seed", path]);
    println!("download of a {SIZE}-byte document through the router, in a fresh process each:");
    println!("{:<10} {:>12} {:>12} {:>10}", "sealed", "RSS before", "peak", "rise");
    for which in ["streamed", "whole"] {
        let line = run(&["measure", path, which]);
        let mut parts = line.split_whitespace().skip(1).map(|n| n.parse::<u64>().expect("kB"));
        let (before, peak) = (parts.next().expect("before"), parts.next().expect("peak"));
        let label = if which == "streamed" { "in chunks" } else { "whole" };
        println!(
            "{label:<10} {:>9.1} MB {:>9.1} MB {:>7.1} MB",
            before as f64 / 1024.0,
            peak as f64 / 1024.0,
            peak.saturating_sub(before) as f64 / 1024.0
        );
    }
}
