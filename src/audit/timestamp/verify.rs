//! Checking a timestamp token: what it covers, who signed it, and that the signer chains to
//! the root the operator configured. RFC 3161 §2.4.2 and RFC 5652 §5.4: the token is CMS
//! SignedData over a TSTInfo; its signed attributes carry the TSTInfo's digest, and the
//! signature is over those attributes.

use chrono::{DateTime, Utc};
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::OctetString;
use der::oid::ObjectIdentifier;
use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use sha2::Digest;
use x509_tsp::TstInfo;

use super::{SHA256, TokenError, malformed, nonce_bytes};

const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// id-kp-timeStamping (1.3.6.1.5.5.7.3.8), as webpki wants it: the OID's DER value bytes.
const TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// The certificates a TSA must chain to (`[audit.timestamp] ca_file`).
#[derive(Debug, Clone, Default)]
pub struct Roots {
    certs: Vec<CertificateDer<'static>>,
}

impl Roots {
    /// The PEM certificates in `file`; at least one.
    pub fn from_pem_file(file: &std::path::Path) -> Result<Roots, String> {
        use rustls_pki_types::pem::PemObject;
        let certs = CertificateDer::pem_file_iter(file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        if certs.is_empty() {
            return Err(format!("{} holds no PEM certificate", file.display()));
        }
        Ok(Roots { certs })
    }
}

/// What a token that verified says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stamp {
    /// When the TSA says the hash existed.
    pub gen_time: DateTime<Utc>,
    /// The TSA's certificate subject.
    pub tsa: String,
    /// The token's serial number (hex), unique per TSA.
    pub serial: String,
}

/// Checks `token` (a DER-encoded TimeStampToken): it covers `expected` (a SHA-256 value),
/// carries `nonce` when one is given, its signature verifies with the certificate of its
/// signer, and that certificate is valid for timestamping at the token's time and chains to
/// one of `roots`.
pub fn verify(
    token: &[u8],
    roots: &Roots,
    expected: &[u8],
    nonce: Option<u64>,
) -> Result<Stamp, TokenError> {
    let info = ContentInfo::from_der(token).map_err(malformed)?;
    if info.content_type != SIGNED_DATA {
        return Err(malformed("not CMS SignedData"));
    }
    let signed: SignedData = info.content.decode_as().map_err(malformed)?;
    if signed.encap_content_info.econtent_type != TST_INFO {
        return Err(malformed("its content is not a TSTInfo"));
    }
    let content = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| malformed("no TSTInfo inside"))?
        .decode_as::<OctetString>()
        .map_err(malformed)?;
    let tst = TstInfo::from_der(content.as_bytes()).map_err(malformed)?;

    // What it covers, before anything costlier.
    let imprint = &tst.message_imprint;
    if imprint.hash_algorithm.oid != SHA256 || imprint.hashed_message.as_bytes() != expected {
        return Err(TokenError::OtherHash {
            covered: hex::encode(imprint.hashed_message.as_bytes()),
            expected: hex::encode(expected),
        });
    }
    if let Some(nonce) = nonce
        && tst.nonce.as_ref().map(|n| n.as_bytes()) != Some(&nonce_bytes(nonce)[..])
    {
        return Err(TokenError::OtherNonce);
    }

    let [signer] = signed.signer_infos.0.as_slice() else {
        return Err(malformed(
            "a token has exactly one signer (RFC 3161 §2.4.2)",
        ));
    };
    let certs: Vec<&x509_cert::Certificate> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let signer_cert = find_signer(signer, &certs)?;
    let signer_der = CertificateDer::from(signer_cert.to_der().map_err(malformed)?);
    let ee = webpki::EndEntityCert::try_from(&signer_der)
        .map_err(|e| TokenError::Untrusted(format!("its certificate: {e}")))?;

    check_signed_attributes(signer, content.as_bytes())?;
    check_signature(signer, &ee)?;

    let gen_time = tst.gen_time.to_unix_duration();
    let others: Vec<CertificateDer<'_>> = certs
        .iter()
        .filter(|c| !std::ptr::eq(**c, signer_cert))
        .filter_map(|c| c.to_der().ok().map(CertificateDer::from))
        .collect();
    let anchors: Vec<_> = roots
        .certs
        .iter()
        .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
        .collect();
    if anchors.is_empty() {
        return Err(TokenError::Untrusted(
            "no root certificate is configured ([audit.timestamp] ca_file)".into(),
        ));
    }
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &others,
        UnixTime::since_unix_epoch(gen_time),
        webpki::KeyUsage::required(TIME_STAMPING),
        None,
        None,
    )
    .map_err(|e| TokenError::Untrusted(e.to_string()))?;

    Ok(Stamp {
        gen_time: DateTime::<Utc>::from_timestamp(gen_time.as_secs() as i64, 0)
            .ok_or_else(|| malformed("its time is out of range"))?,
        tsa: signer_cert.tbs_certificate.subject.to_string(),
        serial: hex::encode(tst.serial_number.as_bytes()),
    })
}

/// The signer's certificate among those the token carries (pitcrew asks for it: `certReq`).
fn find_signer<'c>(
    signer: &SignerInfo,
    certs: &[&'c x509_cert::Certificate],
) -> Result<&'c x509_cert::Certificate, TokenError> {
    let SignerIdentifier::IssuerAndSerialNumber(id) = &signer.sid else {
        return Err(TokenError::Unsupported(
            "a signer named by its key identifier".into(),
        ));
    };
    certs
        .iter()
        .find(|c| {
            c.tbs_certificate.issuer == id.issuer
                && c.tbs_certificate.serial_number == id.serial_number
        })
        .copied()
        .ok_or_else(|| {
            TokenError::Untrusted("the token does not carry its signer's certificate".into())
        })
}

/// The signed attributes name the content type TSTInfo and carry the digest of `content`.
fn check_signed_attributes(signer: &SignerInfo, content: &[u8]) -> Result<(), TokenError> {
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| malformed("no signed attributes"))?;
    let value = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
            .ok_or_else(|| malformed(format!("no {oid} attribute")))
    };
    let content_type: ObjectIdentifier = value(CONTENT_TYPE)?.decode_as().map_err(malformed)?;
    if content_type != TST_INFO {
        return Err(malformed("its content-type attribute is not TSTInfo"));
    }
    let digest: OctetString = value(MESSAGE_DIGEST)?.decode_as().map_err(malformed)?;
    let actual = match signer.digest_alg.oid {
        SHA256 => sha2::Sha256::digest(content).to_vec(),
        SHA384 => sha2::Sha384::digest(content).to_vec(),
        SHA512 => sha2::Sha512::digest(content).to_vec(),
        other => return Err(TokenError::Unsupported(format!("digest {other}"))),
    };
    if digest.as_bytes() != actual {
        return Err(TokenError::BadSignature(
            "the TSTInfo does not match the digest the TSA signed: it was changed".into(),
        ));
    }
    Ok(())
}

/// The signature over the DER of the signed attributes (as a SET, RFC 5652 §5.4), by the
/// signer's key. CMS often names the key's algorithm (rsaEncryption) rather than the signature
/// algorithm, so the candidates follow from the digest, and the key picks among them.
fn check_signature(signer: &SignerInfo, ee: &webpki::EndEntityCert<'_>) -> Result<(), TokenError> {
    use webpki::ring as alg;
    let candidates: &[&dyn SignatureVerificationAlgorithm] = match signer.digest_alg.oid {
        SHA256 => &[
            alg::RSA_PKCS1_2048_8192_SHA256,
            alg::ECDSA_P256_SHA256,
            alg::ECDSA_P384_SHA256,
        ],
        SHA384 => &[
            alg::RSA_PKCS1_2048_8192_SHA384,
            alg::ECDSA_P256_SHA384,
            alg::ECDSA_P384_SHA384,
        ],
        SHA512 => &[alg::RSA_PKCS1_2048_8192_SHA512],
        other => return Err(TokenError::Unsupported(format!("digest {other}"))),
    };
    let signed = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| malformed("no signed attributes"))?
        .to_der()
        .map_err(malformed)?;
    let signature = signer.signature.as_bytes();
    let mut last = None;
    for alg in candidates {
        match ee.verify_signature(*alg, &signed, signature) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(TokenError::BadSignature(
        last.map_or_else(|| "no algorithm".into(), |e| e.to_string()),
    ))
}
