//! The real binary in local mode, as a new user runs it: starts, answers,
//! survives bad input, and stops cleanly on SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

struct Portal {
    child: Child,
    base: String,
    /// What it printed on start.
    banner: Vec<String>,
}

impl Portal {
    fn start(args: &[&str], data_dir: Option<&std::path::Path>) -> Self {
        Self::start_logging_to(args, data_dir, Stdio::null())
    }

    fn start_logging_to(args: &[&str], data_dir: Option<&std::path::Path>, stderr: Stdio) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portal"));
        command.args(args).stdout(Stdio::piped()).stderr(stderr).env_remove("PORTAL_STORE");
        if let Some(dir) = data_dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().expect("start portal");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().expect("a line").expect("read");
        let base = first.split_whitespace().last().expect("address").to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "prints where it listens: {first}");
        let mut banner = vec![first];
        for line in lines.by_ref() {
            let line = line.expect("read");
            let last = line.contains("stop:");
            banner.push(line);
            if last {
                break;
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base, banner }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        self.child.wait().expect("wait")
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().expect("client")
}

#[tokio::test]
async fn local_mode_answers_and_keeps_serving() {
    let portal = Portal::start(&["--port", "0", "--in-memory"], None);
    let http = client();
    let root = http.get(&portal.base).send().await.expect("GET /");
    assert_eq!(root.status(), 200, "the readiness probe");
    let health = http.get(format!("{}/api/health", portal.base)).send().await.expect("health");
    assert_eq!(health.status(), 200);
    let ready = http.get(format!("{}/api/ready", portal.base)).send().await.expect("ready");
    assert_eq!(ready.status(), 200);

    let timer = r#"{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"Housekeeping","UtcNow":"2026-11-23T08:00:00Z","RandGuid":"0b8f2f55-9d7e-4c1e-8a0b-6d1f5e2a7c33"}}}"#;
    // The invocation routes answer only the local host (it holds this
    // process's secret): from outside, a timer run or a forged erasure is 404.
    let erased = r#"{"Data":{"message":"{}"},"Metadata":{}}"#;
    for (function, body) in [("Housekeeping", timer), ("EraseDocumentsData", erased), ("RewrapDataKeys", timer)] {
        let response = http
            .post(format!("{}/{function}", portal.base))
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await
            .expect("invocation");
        assert_eq!(response.status(), 404, "anonymous POST /{function} from outside");
    }
    let still = http.get(format!("{}/api/health", portal.base)).send().await.expect("health again");
    assert_eq!(still.status(), 200, "the server keeps serving");

    let status = portal.terminate();
    assert!(status.success(), "SIGTERM stops it cleanly: {status:?}");
}

/// Every request leaves its line in the log on stderr (`portal-telemetry`),
/// all of them there once the process has stopped on SIGTERM.
#[tokio::test]
async fn every_request_is_in_the_log_after_sigterm() {
    let log = tempfile::NamedTempFile::new().expect("log file");
    let stderr = Stdio::from(log.reopen().expect("log file"));
    let portal = Portal::start_logging_to(&["--port", "0", "--in-memory"], None, stderr);
    let http = client();
    for _ in 0..50 {
        let health = http.get(format!("{}/api/health", portal.base)).send().await.expect("health");
        assert_eq!(health.status(), 200);
    }
    let status = portal.terminate();
    assert!(status.success(), "SIGTERM stops it cleanly: {status:?}");
    let text = std::fs::read_to_string(log.path()).expect("read the log");
    let logged = text.lines().filter(|line| line.contains("/api/health") && line.contains("request finished")).count();
    assert_eq!(logged, 50, "one line per request:\n{text}");
}

#[tokio::test]
async fn a_new_user_logs_in_as_a_demo_citizen_with_the_printed_url() {
    let portal = Portal::start(&["--port", "0", "--in-memory"], None);
    let login_line = portal.banner.iter().find(|l| l.contains("log in:")).expect("the banner says how to log in");
    let page_url = login_line.split_whitespace().find(|w| w.starts_with("http")).expect("a URL").to_owned();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let page = http.get(&page_url).send().await.expect("login page").text().await.expect("html");
    assert!(page.contains("Jana") && page.contains("SIMULATOR"), "the page lists demo citizens: {page}");
    let login = http
        .post(format!("{}/api/auth/dev/login", portal.base))
        .form(&[("citizen", "jana"), ("loa", "substantial")])
        .send()
        .await
        .expect("log in");
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let me: serde_json::Value = http
        .get(format!("{}/api/me", portal.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("JSON");
    assert_eq!(me["profile"]["familyName"], "Nováková");
    assert_eq!(me["loa"], "substantial");
    assert!(portal.terminate().success());
}

#[tokio::test]
async fn local_mode_keeps_data_in_the_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let portal = Portal::start(&["local", "--port", "0", "--data-dir", "state"], Some(dir.path()));
    let ready = client().get(format!("{}/api/ready", portal.base)).send().await.expect("ready");
    assert_eq!(ready.status(), 200);
    assert!(portal.terminate().success());
    assert!(dir.path().join("state/portal.db").is_file(), "the embedded store lives under --data-dir");
    assert!(dir.path().join("state/blobs").is_dir());
    assert!(dir.path().join("state/keys").is_dir(), "the local key-encryption key lives beside the data");
}

#[test]
fn package_writes_a_deployable_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("app");
    let status = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["package", "--out", out.to_str().expect("utf-8"), "--capabilities", "ops"])
        .stdout(Stdio::null())
        .status()
        .expect("run package");
    assert!(status.success());
    let host: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("host.json")).expect("host.json")).expect("JSON");
    assert_eq!(
        host["customHandler"]["description"]["arguments"],
        serde_json::json!(["serve", "--capabilities", "ops"])
    );
    for name in ["Health", "Ready", "Version", "Housekeeping"] {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(name).join("function.json")).expect("function.json"))
                .expect("JSON");
        assert!(manifest["bindings"].as_array().is_some_and(|b| !b.is_empty()), "{name}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(out.join("portal")).expect("executable").permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "the executable keeps its run bit");
    }
    let again = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["package", "--out", out.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run package");
    assert!(!again.success(), "a non-empty folder is not overwritten");
}

#[test]
fn serve_without_a_port_names_the_missing_setting() {
    let output = Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("serve")
        .env_remove("FUNCTIONS_CUSTOMHANDLER_PORT")
        .env("PORTAL_STORE", "embedded")
        .env("PORTAL_DATA_DIR", tempfile::tempdir().expect("tempdir").path())
        .output()
        .expect("run serve");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("FUNCTIONS_CUSTOMHANDLER_PORT"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn links_it_hands_out_point_at_the_port_it_listens_on() {
    // Any free port (not 7071), and no PORTAL_PUBLIC_URL: the feed and share
    // links must name the address this portal listens on.
    let portal = {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portal"));
        command
            .args(["--port", "0", "--in-memory"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("PORTAL_STORE")
            .env_remove("PORTAL_PUBLIC_URL");
        let mut child = command.spawn().expect("start portal");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("a line").expect("read");
        let base = first.split_whitespace().last().expect("address").to_owned();
        std::thread::spawn(move || for _ in lines {});
        Portal { child, base, banner: vec![first] }
    };
    assert!(!portal.base.ends_with(":7071"), "a random port: {}", portal.base);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let login = http
        .post(format!("{}/api/auth/dev/login", portal.base))
        .form(&[("citizen", "jana"), ("loa", "substantial")])
        .send()
        .await
        .expect("log in");
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let session: serde_json::Value = http
        .get(format!("{}/api/auth/session", portal.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("JSON");
    let csrf = session["csrfToken"].as_str().expect("csrf").to_owned();
    let feed = http
        .post(format!("{}/api/calendar/feed", portal.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", &portal.base)
        .send()
        .await
        .expect("feed");
    assert_eq!(feed.status(), 201);
    let feed: serde_json::Value = feed.json().await.expect("JSON");
    let url = feed["url"].as_str().expect("url");
    assert!(url.starts_with(&format!("{}/api/calendar/feed/", portal.base)), "{url} names {}", portal.base);
    let ics = http.get(url).send().await.expect("the feed answers at that address");
    assert_eq!(ics.status(), 200);
    assert!(portal.terminate().success());
}
