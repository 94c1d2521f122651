//! Certificates made on the fly with OpenSSL (the test command requires it):
//! a CA, intermediates and personal certificates with the validity, key usage
//! and names a test asks for, `openssl ca` signing them (so the dates can be
//! set, also in the past).
#![allow(dead_code)] // each test binary uses part of it

use std::path::PathBuf;
use std::process::Command;

const CONFIG: &str = "\
[ca]
default_ca = test
[test]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
preserve = yes
unique_subject = no
email_in_dn = no
[any]
countryName = optional
organizationName = optional
commonName = optional
givenName = optional
surname = optional
[ca_cert]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[signing]
basicConstraints = CA:FALSE
keyUsage = critical,nonRepudiation,digitalSignature
[encryption]
basicConstraints = CA:FALSE
keyUsage = critical,keyEncipherment
";

/// A folder where OpenSSL keeps one CA's files.
#[derive(Debug)]
pub struct Openssl {
    dir: tempfile::TempDir,
}

/// One certificate and its key.
#[derive(Debug, Clone)]
pub struct Made {
    pub pem: String,
    pub key: PathBuf,
    pub cert: PathBuf,
}

impl Openssl {
    /// `None` when OpenSSL is not installed (and the test may skip).
    pub fn new() -> Option<Self> {
        if Command::new("openssl").arg("version").output().is_err() {
            assert!(
                std::env::var("PORTAL_REQUIRE_EMULATORS").as_deref() != Ok("1"),
                "PORTAL_REQUIRE_EMULATORS=1 but openssl is not installed"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("folder");
        std::fs::write(dir.path().join("ca.cnf"), CONFIG).expect("config");
        std::fs::write(dir.path().join("index.txt"), "").expect("index");
        std::fs::write(dir.path().join("serial"), "3A5F01\n").expect("serial");
        Some(Self { dir })
    }

    fn run(&self, args: &[&str]) {
        let output = Command::new("openssl").args(args).current_dir(self.dir.path()).output().expect("openssl");
        assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A key and a certificate for `subject` (`/CN=…/GN=…`), valid from `from` to
    /// `to` (`YYYYMMDDHHMMSSZ`), with `extensions` (`ca_cert`, `signing`,
    /// `encryption`), signed by `issuer` (self-signed when `None`).
    pub fn make(
        &self,
        name: &str,
        subject: &str,
        issuer: Option<&Made>,
        extensions: &str,
        from: &str,
        to: &str,
    ) -> Made {
        let key = self.path(&format!("{name}.key"));
        let csr = self.path(&format!("{name}.csr"));
        let cert = self.path(&format!("{name}.pem"));
        let (key_s, csr_s, cert_s) =
            (key.to_str().expect("utf-8"), csr.to_str().expect("utf-8"), cert.to_str().expect("utf-8"));
        self.run(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key_s]);
        self.run(&["req", "-new", "-utf8", "-key", key_s, "-subj", subject, "-out", csr_s]);
        let mut args = vec![
            "ca",
            "-batch",
            "-utf8",
            "-notext",
            "-config",
            "ca.cnf",
            "-in",
            csr_s,
            "-out",
            cert_s,
            "-startdate",
            from,
            "-enddate",
            to,
            "-extensions",
            extensions,
        ];
        let (issuer_cert, issuer_key);
        match issuer {
            Some(issuer) => {
                issuer_cert = issuer.cert.to_str().expect("utf-8").to_owned();
                issuer_key = issuer.key.to_str().expect("utf-8").to_owned();
                args.extend(["-cert", &issuer_cert, "-keyfile", &issuer_key]);
            }
            None => args.extend(["-selfsign", "-keyfile", key_s]),
        }
        self.run(&args);
        let pem = std::fs::read_to_string(&cert).expect("certificate");
        Made { pem, key, cert }
    }
}

/// The test CA committed for local mode (`testdata/`), to issue from.
pub fn committed_ca() -> Made {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let cert = dir.join("qualified-test-ca.pem");
    Made {
        pem: std::fs::read_to_string(&cert).expect("the committed CA"),
        key: dir.join("qualified-test-ca.key"),
        cert,
    }
}

/// Jana's qualified signing certificate from the committed test CA, valid
/// through 2028 from the start of 2026.
pub fn janas_certificate(openssl: &Openssl) -> Made {
    let ca = committed_ca();
    openssl.make(
        "jana",
        "/C=CZ/CN=Jana Nováková/GN=Jana/SN=Nováková",
        Some(&ca),
        "signing",
        "20260101000000Z",
        "20281231235959Z",
    )
}
