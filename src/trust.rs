//! Whom sitrep trusts to be the mailbox and the relay: the system's
//! certificate authorities plus a configured `ca_file`, and a failure said
//! so that an admin knows what to fix.

use std::error::Error;
use std::path::Path;

use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{self, CertificateError, RootCertStore};

/// The certificates in the PEM file `path`; none is an error.
pub fn ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|error| format!("{}: {error:?}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certificates)
}

/// The system's roots, and those of `ca_file` for a private authority.
pub fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(certificate);
    }
    for certificate in ca_file.map(ca_certificates).transpose()?.unwrap_or_default() {
        roots.add(certificate).map_err(|error| format!("ca_file: {error}"))?;
    }
    Ok(roots)
}

/// What went wrong with `host`'s certificate, and what to do, when `error`
/// (or what caused it) is a certificate failure.
pub fn explain(host: &str, error: &(dyn Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(current) = cause {
        // An I/O error's `source` skips the error it wraps: look at both.
        let wrapped = current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).map(|inner| inner as _);
        for candidate in [Some(current), wrapped].into_iter().flatten() {
            if let Some(rustls::Error::InvalidCertificate(certificate)) = candidate.downcast_ref::<rustls::Error>() {
                return Some(certificate_problem(host, certificate));
            }
        }
        cause = current.source();
    }
    None
}

fn certificate_problem(host: &str, error: &CertificateError) -> String {
    match error {
        CertificateError::NotValidForNameContext { presented, .. } => format!(
            "the certificate of {host} is for {}, not {host}: set host to one of those names, \
             or have the certificate reissued for {host}",
            presented.join(", ")
        ),
        CertificateError::NotValidForName => format!(
            "the certificate of {host} is not for {host}: set host to the name on the certificate, \
             or have it reissued for {host}"
        ),
        CertificateError::UnknownIssuer => format!(
            "the certificate of {host} is signed by an authority this machine does not trust: add that \
             authority's certificate to the system's store, or point ca_file at it"
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("the certificate of {host} has expired: the server's certificate must be renewed")
        }
        other => format!("the certificate of {host} is refused ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_failure_names_the_host_what_was_presented_and_the_fix() {
        let wrong_name = rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("localhost").unwrap().to_owned(),
            presented: vec!["DNS name \"mail.company.test\"".into(), "IP address 127.0.0.1".into()],
        });
        let wrapped = std::io::Error::other(wrong_name);
        let said = explain("localhost", &wrapped).unwrap();
        assert!(said.contains("certificate of localhost is for DNS name \"mail.company.test\""), "{said}");
        let untrusted = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert!(explain("mail.example.com", &untrusted).unwrap().contains("ca_file"));
        assert_eq!(explain("mail.example.com", &std::io::Error::other("refused")), None);
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let empty = directory.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(ca_certificates(&empty).unwrap_err().contains("holds no PEM certificate"));
        assert!(ca_certificates(&directory.path().join("missing.pem")).unwrap_err().contains("cannot read"));
    }
}
