//! How much a 20 MB download raises the process's memory: a file sealed in
//! chunks (format 2, streamed as it is opened) against the same file sealed
//! whole (format 1, opened in one piece); and how much a 20 MB upload raises
//! it: plain text (checked, sealed and stored as it arrives) and a PDF (held
//! whole for its structure check).
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
//! the peak over the resident set just before). Each upload process does the
//! same around one upload, whose multipart body is built before the reset and
//! sent in 64 KiB frames, each after a yield, as a socket delivers them. Figures go to
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

/// A real PDF of about `size` bytes: one empty page and one large stream object.
fn big_pdf(size: usize) -> Vec<u8> {
    let data = vec![b'a'; size.saturating_sub(400)];
    let mut pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    let heads = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_owned(),
    ];
    for (i, object) in heads.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    offsets.push(pdf.len());
    pdf.extend(format!("4 0 obj\n<< /Length {} >>\nstream\n", data.len()).as_bytes());
    pdf.extend(&data);
    pdf.extend(b"\nendstream\nendobj\n");
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend(format!("trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes());
    pdf
}

/// One upload of `SIZE` bytes (`text` or `pdf`) in a fresh process.
async fn measure_upload(dir: &Path, which: &str) {
    let ids = std::fs::read_to_string(dir.join("ids")).expect("ids");
    let lines: Vec<&str> = ids.lines().collect();
    let login = Login { cookie: lines[3].to_owned(), csrf: lines[4].to_owned() };
    let harness = harness(dir);
    let router = router(&harness);
    upload(&router, &login, "zahrivani.txt", b"warm-up").await;
    let (name, mime, content) = if which == "pdf" {
        ("velky.pdf", "application/pdf", big_pdf(SIZE))
    } else {
        ("velky-2.txt", "text/plain", (0..SIZE).map(|i| b'a' + (i % 26) as u8).collect())
    };
    let request = multipart("/api/documents", &login, &[Part::file("file", name, mime, &content)]);
    drop(content);
    let (parts, body) = request.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    let frames: Vec<Result<bytes::Bytes, std::io::Error>> =
        (0..body.len()).step_by(64 * 1024).map(|at| Ok(body.slice(at..(at + 64 * 1024).min(body.len())))).collect();
    // Each frame after a yield, as a socket delivers them: hyper's body is
    // Pending until the next read. (A body whose frames are all ready at once
    // is read ahead whole by multer, axum's multipart parser.)
    let frames = futures::StreamExt::then(futures::stream::iter(frames), |frame| async move {
        tokio::task::yield_now().await;
        frame
    });
    let request = axum::http::Request::from_parts(parts, axum::body::Body::from_stream(frames));
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident set");
    let before = kib("VmRSS:");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let peak = kib("VmHWM:");
    assert_eq!(status, StatusCode::CREATED);
    println!("{which} {before} {peak}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match args.get(1).map(String::as_str) {
        Some("seed") => return runtime.block_on(seed(Path::new(&args[2]))),
        Some("measure") => return runtime.block_on(measure(Path::new(&args[2]), &args[3])),
        Some("measure-upload") => return runtime.block_on(measure_upload(Path::new(&args[2]), &args[3])),
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
    println!("upload of a {SIZE}-byte document through the router, in a fresh process each:");
    println!("{:<10} {:>12} {:>12} {:>10}", "type", "RSS before", "peak", "rise");
    for which in ["text", "pdf"] {
        let line = run(&["measure-upload", path, which]);
        let mut parts = line.split_whitespace().skip(1).map(|n| n.parse::<u64>().expect("kB"));
        let (before, peak) = (parts.next().expect("before"), parts.next().expect("peak"));
        println!(
            "{which:<10} {:>9.1} MB {:>9.1} MB {:>7.1} MB",
            before as f64 / 1024.0,
            peak as f64 / 1024.0,
            peak.saturating_sub(before) as f64 / 1024.0
        );
    }
}
