//! A private CA and a server certificate for `localhost` and `127.0.0.1`, written as PEM files,
//! for the tests that serve and call the keeper's API over HTTPS.

use std::path::{Path, PathBuf};

/// The PEM files of [`test_certificates`].
pub struct TestCertificates {
    /// The CA's certificate (what a client trusts with `--ca-cert`).
    pub ca: PathBuf,
    /// The server's certificate, signed by the CA.
    pub cert: PathBuf,
    /// The server's private key (PKCS#8).
    pub key: PathBuf,
}

/// A fresh CA and a server certificate it signs, written into `dir`.
pub fn test_certificates(dir: &Path) -> TestCertificates {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Flex test CA");
    let ca = ca.self_signed(&ca_key).expect("CA certificate");
    let key = rcgen::KeyPair::generate().expect("server key");
    let mut server = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server params");
    server
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let server = server.signed_by(&key, &ca, &ca_key).expect("server certificate");
    let out = TestCertificates {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    std::fs::write(&out.ca, ca.pem()).expect("write ca.pem");
    std::fs::write(&out.cert, server.pem()).expect("write server.pem");
    std::fs::write(&out.key, key.serialize_pem()).expect("write server.key");
    out
}
