//! RFC 9421 HTTP Message Signatures: `Signature-Input` / `Signature`
//! structured fields, the signature base, signing and verification.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Request};
use sfv::{BareItem, Dictionary, InnerList, Item, ListEntry, ListSerializer, Parser};
use url::Url;

use super::cavage::push_header_values;
use super::digest;
use super::verifier::{KeyResolver, Verified, Verifier, base_authority, date_header, header_str};
use super::{Algorithm, BodyDigest, MAX_HEADER_LEN, PrivateKey, SignatureError, Spec};
use crate::vocab::Iri;

/// Most signatures we look at in one message.
const MAX_SIGNATURES: usize = 8;
/// Most covered components in one signature.
const MAX_COMPONENTS: usize = 64;

/// One covered component identifier (RFC 9421 §2): a field name or a
/// derived component (`@method`, …) and its serialized parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComponentId {
    /// The name, lower-case (`content-type`, `@target-uri`).
    pub name: String,
    /// Serialized parameters (`;sf`, `;name="q"`), empty for none.
    pub params: String,
}

impl ComponentId {
    /// A component without parameters.
    pub fn new(name: &str) -> Self {
        ComponentId {
            name: name.to_ascii_lowercase(),
            params: String::new(),
        }
    }
}

/// One entry of a `Signature-Input` dictionary (RFC 9421 §4.1): the label,
/// the covered components and the signature parameters (§2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureInput {
    /// The dictionary key (`sig1`).
    pub label: String,
    /// Covered components, in order.
    pub components: Vec<ComponentId>,
    /// `created` (Unix seconds).
    pub created: Option<i64>,
    /// `expires` (Unix seconds).
    pub expires: Option<i64>,
    /// `keyid`.
    pub keyid: Option<String>,
    /// `alg`.
    pub alg: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `tag`.
    pub tag: Option<String>,
    /// The exact `@signature-params` value (the serialized inner list).
    params_line: String,
}

impl SignatureInput {
    /// A new signature description; parameters are serialized in the
    /// order `created`, `expires`, `keyid`, `alg`, `nonce`, `tag`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        label: &str,
        components: Vec<ComponentId>,
        created: Option<i64>,
        expires: Option<i64>,
        keyid: Option<&str>,
        alg: Option<&str>,
        nonce: Option<&str>,
        tag: Option<&str>,
    ) -> Result<Self, SignatureError> {
        let mut s = SignatureInput {
            label: label.to_owned(),
            components,
            created,
            expires,
            keyid: keyid.map(str::to_owned),
            alg: alg.map(str::to_owned),
            nonce: nonce.map(str::to_owned),
            tag: tag.map(str::to_owned),
            params_line: String::new(),
        };
        s.params_line = s.serialize_params()?;
        Ok(s)
    }

    fn serialize_params(&self) -> Result<String, SignatureError> {
        let bad = || SignatureError::InvalidRequest("signature parameter is not a valid sf-string");
        let mut out = String::from("(");
        for (i, c) in self.components.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let name = sfv::StringRef::from_str(&c.name).map_err(|_| bad())?;
            let mut item = String::new();
            let _ = sfv::ItemSerializer::with_buffer(&mut item).bare_item(name);
            out.push_str(&item);
            out.push_str(&c.params);
        }
        out.push(')');
        let push_int = |out: &mut String, k: &str, v: Option<i64>| {
            if let Some(v) = v {
                out.push(';');
                out.push_str(k);
                out.push('=');
                out.push_str(&v.to_string());
            }
        };
        push_int(&mut out, "created", self.created);
        push_int(&mut out, "expires", self.expires);
        for (k, v) in [
            ("keyid", &self.keyid),
            ("alg", &self.alg),
            ("nonce", &self.nonce),
            ("tag", &self.tag),
        ] {
            if let Some(v) = v {
                let s = sfv::StringRef::from_str(v).map_err(|_| bad())?;
                let mut item = String::new();
                let _ = sfv::ItemSerializer::with_buffer(&mut item).bare_item(s);
                out.push(';');
                out.push_str(k);
                out.push('=');
                out.push_str(&item);
            }
        }
        Ok(out)
    }

    /// The `Signature-Input` dictionary member: `label=(…);params`.
    pub fn to_header_member(&self) -> String {
        format!("{}={}", self.label, self.params_line)
    }

    fn covers(&self, name: &str) -> bool {
        self.components.iter().any(|c| c.name == name)
    }
}

fn malformed(header: &'static str, e: &sfv::Error) -> SignatureError {
    SignatureError::MalformedHeader {
        header,
        position: e.index().unwrap_or(0),
        reason: "not a valid RFC 8941 dictionary",
    }
}

fn shape(header: &'static str, reason: &'static str) -> SignatureError {
    SignatureError::MalformedHeader {
        header,
        position: 0,
        reason,
    }
}

fn parse_dict(header: &'static str, value: &str) -> Result<Dictionary, SignatureError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(SignatureError::HeaderTooLarge {
            header,
            len: value.len(),
            max: MAX_HEADER_LEN,
        });
    }
    let dict: Dictionary = Parser::new(value)
        .parse()
        .map_err(|e| malformed(header, &e))?;
    if dict.len() > MAX_SIGNATURES {
        return Err(shape(header, "too many signatures"));
    }
    Ok(dict)
}

fn from_inner_list(label: &str, list: &InnerList) -> Result<SignatureInput, SignatureError> {
    const H: &str = "Signature-Input";
    if list.items.len() > MAX_COMPONENTS {
        return Err(shape(H, "too many covered components"));
    }
    let mut components = Vec::with_capacity(list.items.len());
    for item in &list.items {
        let name = item
            .bare_item
            .as_string()
            .ok_or_else(|| shape(H, "component identifier is not a string"))?;
        let mut params = String::new();
        if !item.params.is_empty() {
            let mut bare = String::new();
            let _ = sfv::ItemSerializer::with_buffer(&mut bare).bare_item(name);
            let mut full = String::new();
            let _ = sfv::ItemSerializer::with_buffer(&mut full)
                .bare_item(name)
                .parameters(&item.params);
            params = full.get(bare.len()..).unwrap_or_default().to_owned();
        }
        let c = ComponentId {
            name: name.as_str().to_owned(),
            params,
        };
        if components.contains(&c) {
            return Err(shape(H, "duplicate covered component"));
        }
        components.push(c);
    }
    let int = |k: &str| -> Result<Option<i64>, SignatureError> {
        match list.params.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_integer()
                .map(|i| Some(i64::from(i)))
                .ok_or_else(|| shape(H, "created/expires is not an integer")),
        }
    };
    let string = |k: &str| -> Result<Option<String>, SignatureError> {
        match list.params.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_string()
                .map(|s| Some(s.as_str().to_owned()))
                .ok_or_else(|| shape(H, "keyid/alg/nonce/tag is not a string")),
        }
    };
    let mut ser = ListSerializer::new();
    ser.members([&ListEntry::InnerList(list.clone())]);
    Ok(SignatureInput {
        label: label.to_owned(),
        components,
        created: int("created")?,
        expires: int("expires")?,
        keyid: string("keyid")?,
        alg: string("alg")?,
        nonce: string("nonce")?,
        tag: string("tag")?,
        params_line: ser.finish().unwrap_or_default(),
    })
}

/// Parses a `Signature-Input` header value (RFC 9421 §4.1) into its
/// signatures, in order. At most 8 signatures of at most 64 components.
///
/// ```
/// use archipel::signatures::parse_signature_input;
/// let v = parse_signature_input(r#"sig1=("@method" "@target-uri");created=1618884473;keyid="k""#).unwrap();
/// assert_eq!(v[0].keyid.as_deref(), Some("k"));
/// assert_eq!(v[0].components[1].name, "@target-uri");
/// ```
pub fn parse_signature_input(value: &str) -> Result<Vec<SignatureInput>, SignatureError> {
    let dict = parse_dict("Signature-Input", value)?;
    let mut out = Vec::with_capacity(dict.len());
    for (label, entry) in &dict {
        match entry {
            ListEntry::InnerList(list) => out.push(from_inner_list(label.as_str(), list)?),
            ListEntry::Item(_) => {
                return Err(shape("Signature-Input", "member is not an inner list"));
            }
        }
    }
    Ok(out)
}

/// The request's pieces the signature base needs.
struct Target<'a> {
    scheme: &'a str,
    authority: String,
}

fn target<'a>(
    req: &'a Request<Bytes>,
    base: Option<&'a Url>,
) -> Result<Target<'a>, SignatureError> {
    if let Some(b) = base {
        let authority = base_authority(b)
            .ok_or_else(|| SignatureError::AbsentComponent("@authority".into()))?;
        return Ok(Target {
            scheme: b.scheme(),
            authority,
        });
    }
    let scheme = req.uri().scheme_str().unwrap_or("https");
    let authority = match req.uri().authority() {
        Some(a) => a.as_str().to_ascii_lowercase(),
        None => req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| SignatureError::AbsentComponent("@authority".into()))?,
    };
    Ok(Target { scheme, authority })
}

/// The decoded `name` parameter of an `@query-param` component.
fn query_param_name(c: &ComponentId) -> Result<String, SignatureError> {
    let unsupported =
        || SignatureError::UnsupportedComponent(format!("\"{}\"{}", c.name, c.params));
    let rest = c.params.strip_prefix(";name=").ok_or_else(unsupported)?;
    let s = sfv::Parser::new(rest)
        .parse_item::<Item>()
        .map_err(|_| unsupported())?;
    if !s.params.is_empty() {
        return Err(unsupported());
    }
    s.bare_item
        .as_string()
        .map(|s| s.as_str().to_owned())
        .ok_or_else(unsupported)
}

/// Percent-encodes all but RFC 3986 unreserved characters.
fn push_percent_encoded(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
            out.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
        }
    }
}

/// Appends the value of query parameter `name` (RFC 9421 §2.2.8): the
/// query is decoded as `application/x-www-form-urlencoded`, the value
/// re-encoded. A name that is absent or repeated is an error.
fn push_query_param(out: &mut Vec<u8>, query: &str, name: &str) -> Result<(), SignatureError> {
    let mut found = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == name {
            if found.is_some() {
                return Err(SignatureError::UnsupportedComponent(format!(
                    "\"@query-param\";name=\"{name}\" (repeated parameter)"
                )));
            }
            found = Some(v);
        }
    }
    let v = found.ok_or_else(|| {
        SignatureError::AbsentComponent(format!("\"@query-param\";name=\"{name}\""))
    })?;
    push_percent_encoded(out, &v);
    Ok(())
}

/// Builds the signature base (RFC 9421 §2.5) for a request.
fn signature_base(
    out: &mut Vec<u8>,
    req: &Request<Bytes>,
    input: &SignatureInput,
    base: Option<&Url>,
) -> Result<(), SignatureError> {
    out.clear();
    let mut tgt: Option<Target<'_>> = None;
    let path = match req.uri().path() {
        "" => "/",
        p => p,
    };
    let query = req.uri().query();
    for c in &input.components {
        let query_param = if c.name == "@query-param" {
            Some(query_param_name(c)?)
        } else if !c.params.is_empty() {
            return Err(SignatureError::UnsupportedComponent(format!(
                "\"{}\"{}",
                c.name, c.params
            )));
        } else {
            None
        };
        out.push(b'"');
        out.extend_from_slice(c.name.as_bytes());
        out.push(b'"');
        out.extend_from_slice(c.params.as_bytes());
        out.extend_from_slice(b": ");
        if let Some(name) = query_param {
            push_query_param(out, query.unwrap_or(""), &name)?;
            out.push(b'\n');
            continue;
        }
        let needs_target = matches!(c.name.as_str(), "@target-uri" | "@authority" | "@scheme");
        if needs_target && tgt.is_none() {
            tgt = Some(target(req, base)?);
        }
        match (c.name.as_str(), &tgt) {
            ("@method", _) => out.extend_from_slice(req.method().as_str().as_bytes()),
            ("@target-uri", Some(t)) => {
                out.extend_from_slice(t.scheme.as_bytes());
                out.extend_from_slice(b"://");
                out.extend_from_slice(t.authority.as_bytes());
                out.extend_from_slice(path.as_bytes());
                if let Some(q) = query {
                    out.push(b'?');
                    out.extend_from_slice(q.as_bytes());
                }
            }
            ("@authority", Some(t)) => out.extend_from_slice(t.authority.as_bytes()),
            ("@scheme", Some(t)) => out.extend_from_slice(t.scheme.as_bytes()),
            ("@request-target", _) => {
                out.extend_from_slice(path.as_bytes());
                if let Some(q) = query {
                    out.push(b'?');
                    out.extend_from_slice(q.as_bytes());
                }
            }
            ("@path", _) => out.extend_from_slice(path.as_bytes()),
            ("@query", _) => {
                out.push(b'?');
                out.extend_from_slice(query.unwrap_or("").as_bytes());
            }
            ("@status", _) => return Err(SignatureError::AbsentComponent("@status".into())),
            // With a public base the `Host` header is not trusted either:
            // a signature covering `host: evil.example` must not verify.
            ("host", _) if base.is_some() => {
                let t = target(req, base)?;
                out.extend_from_slice(t.authority.as_bytes());
            }
            (n, _) if n.starts_with('@') => {
                return Err(SignatureError::UnsupportedComponent(n.to_owned()));
            }
            (n, _) => push_header_values(out, req.headers(), n)?,
        }
        out.push(b'\n');
    }
    out.extend_from_slice(b"\"@signature-params\": ");
    out.extend_from_slice(input.params_line.as_bytes());
    Ok(())
}

/// Signs `req` with an explicit [`SignatureInput`], setting
/// `Signature-Input` and `Signature` (replacing any present). For custom
/// component sets; [`Signer`](super::Signer) covers the usual case.
pub fn sign_with_input(
    req: &mut Request<Bytes>,
    input: &SignatureInput,
    key: &PrivateKey,
    algorithm: Algorithm,
) -> Result<(), SignatureError> {
    let mut buf = Vec::with_capacity(512);
    signature_base(&mut buf, req, input, None)?;
    let sig = key.sign(algorithm, &buf)?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
    let bad = |_| SignatureError::InvalidRequest("signature input is not a header value");
    let si = HeaderValue::try_from(input.to_header_member()).map_err(bad)?;
    let s = HeaderValue::try_from(format!("{}=:{b64}:", input.label)).map_err(bad)?;
    req.headers_mut().insert("signature-input", si);
    req.headers_mut().insert("signature", s);
    Ok(())
}

/// The [`Signer`](super::Signer)'s RFC 9421 path: Mastodon's and Fedify's
/// component set.
pub(crate) fn sign_request(
    req: &mut Request<Bytes>,
    digest: Option<&BodyDigest>,
    key: &PrivateKey,
    key_id: &str,
    alg: Algorithm,
    created: i64,
) -> Result<(), SignatureError> {
    let mut components = vec![
        ComponentId::new("@method"),
        ComponentId::new("@target-uri"),
        ComponentId::new("@authority"),
        ComponentId::new("date"),
    ];
    if let Some(d) = digest {
        req.headers_mut()
            .insert("content-digest", d.content_digest_value().clone());
        if req.headers().contains_key(http::header::CONTENT_TYPE) {
            components.push(ComponentId::new("content-type"));
        }
        components.push(ComponentId::new("content-digest"));
    }
    let input = SignatureInput::new(
        "sig1",
        components,
        Some(created),
        None,
        Some(key_id),
        Some(alg.as_str()),
        None,
        None,
    )?;
    sign_with_input(req, &input, key, alg)
}

fn combined(
    req: &Request<Bytes>,
    name: &'static str,
    header: &'static str,
) -> Result<Option<String>, SignatureError> {
    let mut out = String::new();
    for (i, v) in req.headers().get_all(name).iter().enumerate() {
        let s = v.to_str().map_err(|_| shape(header, "non-ASCII byte"))?;
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(s);
        if out.len() > MAX_HEADER_LEN {
            return Err(SignatureError::HeaderTooLarge {
                header,
                len: out.len(),
                max: MAX_HEADER_LEN,
            });
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

/// Why a signature entry fails the policy, before any crypto.
fn check_policy<R: KeyResolver>(
    v: &Verifier<R>,
    input: &SignatureInput,
    has_body: bool,
) -> Result<Option<Algorithm>, SignatureError> {
    let p = v.policy();
    if p.signature_label
        .as_ref()
        .is_some_and(|l| *l != input.label)
        || p.signature_tag
            .as_ref()
            .is_some_and(|t| Some(t) != input.tag.as_ref())
    {
        return Err(SignatureError::MissingSignature);
    }
    let alg = match &input.alg {
        Some(a) => {
            let alg = Algorithm::from_rfc9421_name(a)
                .ok_or_else(|| SignatureError::UnsupportedAlgorithm(a.clone()))?;
            p.check_algorithm(alg)?;
            Some(alg)
        }
        None => None,
    };
    if input.keyid.is_none() {
        return Err(SignatureError::MissingParameter {
            header: "Signature-Input",
            parameter: "keyid",
        });
    }
    if p.require_target {
        if !input.covers("@method") {
            return Err(SignatureError::MissingComponent("@method".into()));
        }
        if !["@target-uri", "@request-target", "@path"]
            .iter()
            .any(|c| input.covers(c))
        {
            return Err(SignatureError::MissingComponent("@target-uri".into()));
        }
    }
    if p.require_host
        && !["@target-uri", "@authority", "host"]
            .iter()
            .any(|c| input.covers(c))
    {
        return Err(SignatureError::MissingComponent("@authority".into()));
    }
    if p.require_time && input.created.is_none() && !input.covers("date") {
        return Err(SignatureError::MissingParameter {
            header: "Signature-Input",
            parameter: "created",
        });
    }
    if p.require_digest && has_body && !input.covers("content-digest") && !input.covers("digest") {
        return Err(SignatureError::MissingComponent("content-digest".into()));
    }
    Ok(alg)
}

/// The [`Verifier`]'s RFC 9421 path: select the first signature the
/// policy accepts, check time and digest, then the signature.
pub(crate) async fn verify<R: KeyResolver>(
    v: &Verifier<R>,
    req: &Request<Bytes>,
    base: Option<&Url>,
    now: i64,
) -> Result<Verified, SignatureError> {
    let inputs = combined(req, "signature-input", "Signature-Input")?
        .ok_or(SignatureError::MissingSignature)?;
    let sigs = combined(req, "signature", "Signature")?.ok_or(SignatureError::MissingSignature)?;
    let inputs = parse_signature_input(&inputs)?;
    let sigs = parse_dict("Signature", &sigs)?;
    let has_body = !req.body().is_empty();
    let mut first_err = None;
    let mut chosen = None;
    for input in &inputs {
        match check_policy(v, input, has_body) {
            Ok(alg) => {
                chosen = Some((input, alg));
                break;
            }
            Err(e) => {
                // Prefer a policy failure over "filtered out by label/tag".
                if matches!(first_err, None | Some(SignatureError::MissingSignature)) {
                    first_err = Some(e);
                }
            }
        }
    }
    let (input, label_alg) = match chosen {
        Some(c) => c,
        None => return Err(first_err.unwrap_or(SignatureError::MissingSignature)),
    };
    let p = v.policy();
    if let Some(c) = input.created {
        p.check_time(c, now)?;
    }
    if input.covers("date") {
        p.check_time(date_header(req)?, now)?;
    }
    if let Some(e) = input.expires {
        p.check_expires(e, now)?;
    }
    if input.covers("content-digest") {
        let h = header_str(req, "content-digest")?;
        digest::verify_body(
            "Content-Digest",
            &digest::parse_content_digest(h)?,
            req.body(),
        )?;
    }
    if input.covers("digest") {
        let h = header_str(req, "digest")?;
        digest::verify_body("Digest", &digest::parse_digest_header(h)?, req.body())?;
    }
    let raw = match sigs.get(input.label.as_str()) {
        Some(ListEntry::Item(Item {
            bare_item: BareItem::ByteSequence(b),
            ..
        })) => b.as_slice(),
        Some(_) => return Err(shape("Signature", "member is not a byte sequence")),
        None => {
            return Err(SignatureError::MissingParameter {
                header: "Signature",
                parameter: "signature for the selected label",
            });
        }
    };
    let mut buf = Vec::with_capacity(512);
    signature_base(&mut buf, req, input, base)?;
    let key_id = input.keyid.as_deref().unwrap_or_default();
    let mut refresh = false;
    loop {
        let resolved = v.resolver().resolve(key_id, refresh).await?;
        let alg = match label_alg {
            Some(a) => a,
            None => {
                let a = resolved.key.default_algorithm();
                p.check_algorithm(a)?;
                a
            }
        };
        if resolved.key.verify(alg, &buf, raw)? {
            return Ok(Verified {
                key_id: Iri::new_unchecked(key_id),
                owner: Iri::new_unchecked(resolved.owner),
                spec: Spec::Rfc9421,
                algorithm: alg,
            });
        }
        if refresh || !resolved.from_cache {
            return Err(SignatureError::BadSignature {
                key_id: key_id.to_owned(),
            });
        }
        refresh = true;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::clock::FixedClock;
    use crate::signatures::{MemoryKeyResolver, VerifyPolicy};

    const KEY_ID: &str = "https://b.example/users/bob#main-key";
    const CREATED: i64 = 1_700_000_000;

    fn key() -> PrivateKey {
        PrivateKey::from_pem(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/keys/rsa-2048-pkcs8.pem"
        )))
        .unwrap()
    }

    fn verifier(policy: VerifyPolicy) -> Verifier<MemoryKeyResolver> {
        let mut keys = MemoryKeyResolver::new();
        keys.insert(KEY_ID, key().public_key(), "https://b.example/users/bob");
        let now = UNIX_EPOCH + Duration::from_secs(u64::try_from(CREATED).unwrap());
        Verifier::new(keys, policy).clock(Arc::new(FixedClock(now)))
    }

    /// A request signed for `evil.example` covering the `host` header (not
    /// `@authority`), received path-only with that `Host`.
    fn signed_for_evil() -> Request<Bytes> {
        let mut req = Request::post("/inbox")
            .header("host", "evil.example")
            .body(Bytes::new())
            .unwrap();
        let input = SignatureInput::new(
            "sig1",
            vec![
                ComponentId::new("@method"),
                ComponentId::new("@path"),
                ComponentId::new("host"),
            ],
            Some(CREATED),
            None,
            Some(KEY_ID),
            None,
            None,
            None,
        )
        .unwrap();
        sign_with_input(&mut req, &input, &key(), Algorithm::RsaV1_5Sha256).unwrap();
        req
    }

    #[tokio::test]
    async fn host_component_comes_from_the_public_base() {
        let req = signed_for_evil();
        // Without a public base the Host header is trusted: it verifies.
        let v = verifier(VerifyPolicy::default())
            .verify(&req)
            .await
            .unwrap();
        assert_eq!(v.key_id, KEY_ID);
        // With one, `host` is this server's authority, whatever Host says.
        let base = Url::parse("https://social.example").unwrap();
        let err = verifier(VerifyPolicy::default().with_public_base(base))
            .verify(&req)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            SignatureError::BadSignature {
                key_id: KEY_ID.into()
            }
        );
    }
}
