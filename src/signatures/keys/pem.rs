//! Tolerant PEM unwrapping and wrapping, and base58btc for Multikey.
//!
//! Actor documents carry `publicKeyPem` in many shapes (one line, CRLF,
//! trailing spaces, 76-column lines), which strict RFC 7468 decoders
//! reject; this reader accepts any whitespace inside the base64 body.

use base64::Engine as _;

use crate::signatures::SignatureError;
use crate::signatures::digest::B64;

/// Largest PEM document we read (an 8192-bit private key is ~6.4 KB).
const MAX_PEM_LEN: usize = 16 * 1024;

fn invalid(msg: &str) -> SignatureError {
    SignatureError::InvalidKey(msg.to_owned())
}

/// Splits a PEM document into its label and DER bytes.
pub(crate) fn decode(pem: &str) -> Result<(&str, Vec<u8>), SignatureError> {
    if pem.len() > MAX_PEM_LEN {
        return Err(invalid("PEM document larger than 16 KiB"));
    }
    let pem = pem.trim();
    let rest = pem
        .strip_prefix("-----BEGIN ")
        .ok_or_else(|| invalid("no `-----BEGIN` line"))?;
    let (label, rest) = rest
        .split_once("-----")
        .ok_or_else(|| invalid("unterminated BEGIN line"))?;
    let end = format!("-----END {label}-----");
    let body = rest
        .trim_end()
        .strip_suffix(end.as_str())
        .ok_or_else(|| invalid("missing or mismatched END line"))?;
    let mut b64 = String::with_capacity(body.len());
    for line in body.lines() {
        let line = line.trim();
        // RFC 1421 headers such as `Proc-Type:` belong to encrypted keys.
        if line.contains(':') {
            return Err(invalid("encrypted or annotated PEM is not supported"));
        }
        b64.push_str(line);
    }
    b64.retain(|c| !c.is_ascii_whitespace());
    let der = B64
        .decode(b64.as_bytes())
        .map_err(|_| invalid("PEM body is not base64"))?;
    Ok((label, der))
}

/// Wraps DER bytes as PEM with 64-column lines and LF endings.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

const B58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Decodes base58btc (Bitcoin alphabet); input bounded by the caller.
pub(crate) fn base58_decode(s: &str) -> Result<Vec<u8>, SignatureError> {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    for c in s.bytes() {
        let digit = B58
            .iter()
            .position(|&b| b == c)
            .ok_or_else(|| invalid("publicKeyMultibase is not base58btc"))?;
        let mut carry = digit;
        for byte in out.iter_mut().rev() {
            carry += usize::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&b| b == b'1').count();
    let mut full = vec![0u8; zeros];
    full.extend(out);
    Ok(full)
}

/// Encodes bytes as base58btc.
pub(crate) fn base58_encode(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for &b in bytes {
        let mut carry = usize::from(b);
        for d in digits.iter_mut().rev() {
            carry += usize::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.insert(0, (carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    let mut s = "1".repeat(zeros);
    s.extend(
        digits
            .iter()
            .map(|&d| char::from(B58.get(usize::from(d)).copied().unwrap_or(b'1'))),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_round_trip() {
        for v in [&b""[..], b"\0\0abc", b"hello world", &[0xed, 0x01, 0xff]] {
            assert_eq!(base58_decode(&base58_encode(v)).unwrap(), v);
        }
        assert_eq!(base58_encode(b"hello world"), "StV1DL6CwTryKyV");
    }

    #[test]
    fn pem_tolerates_crlf_and_long_lines() {
        let der = vec![1u8; 100];
        let pem = encode("PUBLIC KEY", &der).replace('\n', "\r\n");
        let (label, back) = decode(&pem).unwrap();
        assert_eq!(label, "PUBLIC KEY");
        assert_eq!(back, der);
    }
}
