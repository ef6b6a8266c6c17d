//! RFC 9421 §5 `Accept-Signature`: a receiver says which signature it
//! wants, and a sender signs again in that form.
//!
//! Without it, a server that refuses a signature leaves the sender to guess:
//! archipel's delivery "double-knocks" (tries the other dialect once). With
//! it, the refusal names the components and algorithm wanted, so the second
//! knock is the right one. archipel uses it on both sides:
//!
//! - **receiving**: an inbox refusal that is about the signature's *form*
//!   (unsigned, a dialect or algorithm not accepted, a required component
//!   missing: [`calls_for_challenge`]) answers `401` with the challenge
//!   [`AcceptSignature::for_policy`] derives from the inbox's own
//!   [`VerifyPolicy`]: `sig1=("@method" "@target-uri" "content-digest");created`
//!   with the default policy. No `keyid` is fixed: any actor's key will
//!   do; no `alg` either unless the policy accepts only one.
//! - **sending**: the delivery worker reads a challenge on a `401`/`400`
//!   and retries once, at once, signing as asked with
//!   [`sign_as_requested`]. Whatever is asked, the signature also covers
//!   `@method`, `@target-uri` and the body's `content-digest`: a peer can
//!   ask for more, never for a signature that binds no request. A
//!   challenge it cannot meet (another key, an algorithm the key cannot
//!   make, a component the request does not have) is a typed failure.
//!
//! Parsing is bounded: at most [`MAX_HEADER_LEN`] bytes,
//! [`MAX_REQUESTS`] members, [`MAX_COMPONENTS`] components per member and
//! [`MAX_PARAM_LEN`] bytes per string parameter; anything larger is an
//! [`AcceptSignatureError`], never an allocation proportional to a peer's
//! whim.
//!
//! ```
//! use archipel::signatures::VerifyPolicy;
//! use archipel::signatures::accept_signature::{AcceptSignature, parse_accept_signature};
//! let challenge = AcceptSignature::for_policy(&VerifyPolicy::default(), true).unwrap();
//! let value = challenge.to_header_value();
//! assert_eq!(value, r#"sig1=("@method" "@target-uri" "content-digest");created"#);
//! let parsed = parse_accept_signature(&value)?;
//! assert_eq!(parsed, challenge);
//! assert_eq!(parsed.requests[0].components.len(), 3);
//! # Ok::<(), archipel::signatures::accept_signature::AcceptSignatureError>(())
//! ```

mod sign;
#[cfg(test)]
mod tests;

use http::HeaderValue;
use sfv::{BareItem, Dictionary, KeyRef, ListEntry, Parser, StringRef};

pub use sign::sign_as_requested;

use super::rfc9421::ComponentId;
use super::{Algorithm, MAX_HEADER_LEN, SignatureError, Spec, VerifyPolicy};

/// The header name (RFC 9421 §5.1).
pub const HEADER_NAME: &str = "accept-signature";

/// Most requested signatures read from one `Accept-Signature` field: a
/// challenge asks for one or two; each is a signature to make.
pub const MAX_REQUESTS: usize = 4;

/// Most component identifiers in one requested signature.
pub const MAX_COMPONENTS: usize = 32;

/// Longest `keyid`, `alg`, `nonce` or `tag` value accepted, in bytes.
pub const MAX_PARAM_LEN: usize = 512;

/// Errors of `Accept-Signature` parsing and of signing as requested.
///
/// The parse errors mean the peer's field is unusable; the others mean it
/// asks for something this sender cannot give ([`is_unmet`](Self::is_unmet)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptSignatureError {
    /// The field is longer than [`MAX_HEADER_LEN`].
    #[error("Accept-Signature header: {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The field is not a valid RFC 8941 dictionary (or not text).
    #[error("Accept-Signature header: not a valid structured-field dictionary at byte {position}")]
    Malformed {
        /// Byte offset where parsing stopped.
        position: usize,
    },
    /// The field holds no member.
    #[error("Accept-Signature header: empty")]
    Empty,
    /// More members than [`MAX_REQUESTS`].
    #[error("Accept-Signature header: {count} requested signatures, more than {max}")]
    TooManyRequests {
        /// Members present.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A member is not an inner list of component identifiers.
    #[error("Accept-Signature header: member {label:?} is not an inner list")]
    NotAnInnerList {
        /// The member's label.
        label: String,
    },
    /// A member lists more components than [`MAX_COMPONENTS`].
    #[error("Accept-Signature header: member {label:?} lists {count} components, more than {max}")]
    TooManyComponents {
        /// The member's label.
        label: String,
        /// Components listed.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A component identifier is not a string, or is listed twice.
    #[error("Accept-Signature header: member {label:?}: {reason}")]
    InvalidComponent {
        /// The member's label.
        label: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// A signature parameter has the wrong type (`created`/`expires` must
    /// be booleans, `keyid`/`alg`/`nonce`/`tag` strings) or is too long.
    #[error("Accept-Signature header: member {label:?}: parameter {parameter}: {reason}")]
    InvalidParameter {
        /// The member's label.
        label: String,
        /// The parameter.
        parameter: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// The requested `alg` is not an RFC 9421 algorithm this crate knows.
    #[error("Accept-Signature: requested algorithm {alg:?} is not supported")]
    UnknownAlgorithm {
        /// The requested name.
        alg: String,
    },
    /// The requested `alg` does not fit the signing key.
    #[error("Accept-Signature: requested algorithm {alg} cannot be made with a {key} key")]
    AlgorithmMismatch {
        /// The requested algorithm.
        alg: Algorithm,
        /// The key type (`RSA`, `Ed25519`).
        key: &'static str,
    },
    /// The requested `keyid` is not the signer's key.
    #[error("Accept-Signature: requested key {wanted:?}, but this request is signed by {ours:?}")]
    KeyIdMismatch {
        /// The requested key id.
        wanted: String,
        /// The signer's key id.
        ours: String,
    },
    /// A requested component cannot be computed for a request (a response
    /// component such as `@status`, an unknown derived component, or a
    /// component parameter).
    #[error("Accept-Signature: requested component {component:?} cannot be signed on a request")]
    UnsupportedComponent {
        /// The component, as requested.
        component: String,
    },
    /// A requested header component is not in the request.
    #[error("Accept-Signature: requested component {component:?} is not in the request")]
    AbsentComponent {
        /// The header name.
        component: String,
    },
    /// Signing itself failed.
    #[error("Accept-Signature: signing as requested failed: {0}")]
    Signature(#[source] SignatureError),
}

impl AcceptSignatureError {
    /// Whether the field was readable but asks for a signature this sender
    /// cannot make (as opposed to a malformed field).
    pub fn is_unmet(&self) -> bool {
        matches!(
            self,
            Self::UnknownAlgorithm { .. }
                | Self::AlgorithmMismatch { .. }
                | Self::KeyIdMismatch { .. }
                | Self::UnsupportedComponent { .. }
                | Self::AbsentComponent { .. }
        )
    }
}

/// One requested signature: a member of an `Accept-Signature` dictionary
/// (RFC 9421 §5.1).
///
/// `created` and `expires` are requests to include those parameters
/// (booleans in the field); `keyid`, `alg`, `nonce` and `tag` are values
/// the signature must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureRequest {
    /// The member's label, used again as the signature's label.
    pub label: String,
    /// The components to cover, in order.
    pub components: Vec<ComponentId>,
    /// A key the signature must be made with, if the receiver fixes one.
    pub keyid: Option<String>,
    /// The algorithm wanted (RFC 9421 §6.2 name), if any.
    pub alg: Option<String>,
    /// Whether a `created` parameter is wanted.
    pub created: bool,
    /// Whether an `expires` parameter is wanted.
    pub expires: bool,
    /// A nonce to include, as given.
    pub nonce: Option<String>,
    /// A `tag` (application profile) to include, as given.
    pub tag: Option<String>,
}

impl SignatureRequest {
    /// A request for a signature labelled `label` covering `components`
    /// (names of derived components or header fields), with no parameter.
    pub fn new<'a>(label: &str, components: impl IntoIterator<Item = &'a str>) -> Self {
        SignatureRequest {
            label: label.to_owned(),
            components: components.into_iter().map(ComponentId::new).collect(),
            keyid: None,
            alg: None,
            created: false,
            expires: false,
            nonce: None,
            tag: None,
        }
    }

    /// Asks for `alg`.
    #[must_use]
    pub fn with_alg(mut self, alg: Algorithm) -> Self {
        self.alg = Some(alg.as_str().to_owned());
        self
    }

    /// Asks for a `created` parameter.
    #[must_use]
    pub fn with_created(mut self) -> Self {
        self.created = true;
        self
    }

    /// Asks for the signature to be made with `key_id`.
    #[must_use]
    pub fn with_keyid(mut self, key_id: &str) -> Self {
        self.keyid = Some(key_id.to_owned());
        self
    }

    /// The same request without its nonce: what is worth remembering for a
    /// host, since a nonce is good for one message only.
    #[must_use]
    pub fn without_nonce(mut self) -> Self {
        self.nonce = None;
        self
    }

    /// The same request without a fixed key: what is worth remembering
    /// for a host, since the next request to it may be another actor's.
    #[must_use]
    pub fn without_keyid(mut self) -> Self {
        self.keyid = None;
        self
    }

    /// The same request without a fixed algorithm, for a key the
    /// remembered one does not fit (the key's own algorithm is used).
    #[must_use]
    pub fn without_alg(mut self) -> Self {
        self.alg = None;
        self
    }

    /// The requested algorithm, resolved: `Ok(None)` when none is named.
    pub fn algorithm(&self) -> Result<Option<Algorithm>, AcceptSignatureError> {
        match &self.alg {
            None => Ok(None),
            Some(a) => Algorithm::from_rfc9421_name(a)
                .map(Some)
                .ok_or_else(|| AcceptSignatureError::UnknownAlgorithm { alg: a.clone() }),
        }
    }

    /// Appends this request as a dictionary member (`label=(…);params`).
    /// Labels, names and values were checked when built or parsed; one that
    /// is not a valid key or string is left out rather than written
    /// malformed.
    fn serialize_into(&self, out: &mut String) {
        if KeyRef::from_str(&self.label).is_err() {
            return;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&self.label);
        out.push_str("=(");
        let mut first = true;
        for c in &self.components {
            let Ok(name) = StringRef::from_str(&c.name) else {
                continue;
            };
            if !first {
                out.push(' ');
            }
            first = false;
            let _ = sfv::ItemSerializer::with_buffer(out).bare_item(name);
            // Already serialized when parsed (`;name="q"`).
            out.push_str(&c.params);
        }
        out.push(')');
        for (k, on) in [("created", self.created), ("expires", self.expires)] {
            if on {
                out.push(';');
                out.push_str(k);
            }
        }
        for (k, v) in [
            ("keyid", &self.keyid),
            ("alg", &self.alg),
            ("nonce", &self.nonce),
            ("tag", &self.tag),
        ] {
            if let Some(s) = v.as_deref().and_then(|v| StringRef::from_str(v).ok()) {
                out.push(';');
                out.push_str(k);
                out.push('=');
                let _ = sfv::ItemSerializer::with_buffer(out).bare_item(s);
            }
        }
    }
}

/// A parsed `Accept-Signature` field: the signatures a receiver asks for,
/// in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptSignature {
    /// The requested signatures (at most [`MAX_REQUESTS`]).
    pub requests: Vec<SignatureRequest>,
}

impl AcceptSignature {
    /// A field asking for the one signature `request`.
    pub fn new(request: SignatureRequest) -> Self {
        AcceptSignature {
            requests: vec![request],
        }
    }

    /// The challenge a receiver with `policy` sends after refusing a
    /// signature's form: one RFC 9421 signature covering `@method` and
    /// `@target-uri` when the target is required (else `@authority` when
    /// the host is), `content-digest` when a digest is required and the
    /// request has a body, `created` when a time is required; labelled and
    /// tagged as the policy's [`signature_label`](VerifyPolicy::signature_label)
    /// and [`signature_tag`](VerifyPolicy::signature_tag) say (label `sig1`
    /// when it names none). No `keyid` is fixed: any actor's key will do.
    ///
    /// `alg` is named only when the policy accepts exactly one algorithm:
    /// otherwise the sender's key decides among those accepted, and an
    /// Ed25519 sender is not asked for an RSA signature it cannot make.
    ///
    /// `None` when the policy does not accept RFC 9421: there is nothing
    /// to ask for in this header then.
    pub fn for_policy(policy: &VerifyPolicy, has_body: bool) -> Option<Self> {
        if !policy.specs.contains(&Spec::Rfc9421) {
            return None;
        }
        let mut components = Vec::with_capacity(3);
        if policy.require_target {
            components.extend(["@method", "@target-uri"]);
        } else if policy.require_host {
            components.push("@authority");
        }
        if policy.require_digest && has_body {
            components.push("content-digest");
        }
        let label = policy.signature_label.as_deref().unwrap_or("sig1");
        let mut request = SignatureRequest::new(label, components);
        request.created = policy.require_time;
        if let [only] = policy.algorithms.as_slice() {
            request.alg = Some(only.as_str().to_owned());
        }
        request.tag.clone_from(&policy.signature_tag);
        Some(AcceptSignature::new(request))
    }

    /// The field value (RFC 8941 dictionary serialization).
    pub fn to_header_value(&self) -> String {
        let mut out = String::new();
        for r in &self.requests {
            r.serialize_into(&mut out);
        }
        out
    }

    /// The field as a header value; `None` if it serializes to nothing
    /// or to bytes a header cannot carry.
    pub fn to_header(&self) -> Option<HeaderValue> {
        let v = self.to_header_value();
        if v.is_empty() {
            return None;
        }
        HeaderValue::from_str(&v).ok()
    }

    /// Reads the `Accept-Signature` field of a response's headers, if any
    /// (several field lines are combined, as RFC 9110 §5.3 says).
    pub fn from_headers(
        headers: &http::HeaderMap,
    ) -> Option<Result<AcceptSignature, AcceptSignatureError>> {
        let mut combined = String::new();
        for (i, v) in headers.get_all(HEADER_NAME).iter().enumerate() {
            let Ok(s) = v.to_str() else {
                return Some(Err(AcceptSignatureError::Malformed { position: 0 }));
            };
            if i > 0 {
                combined.push_str(", ");
            }
            combined.push_str(s);
            if combined.len() > MAX_HEADER_LEN {
                return Some(Err(AcceptSignatureError::TooLarge {
                    len: combined.len(),
                    max: MAX_HEADER_LEN,
                }));
            }
        }
        if combined.is_empty() && !headers.contains_key(HEADER_NAME) {
            return None;
        }
        Some(parse_accept_signature(&combined))
    }
}

/// Whether a verification failure is about the signature's *form*, which
/// an `Accept-Signature` challenge can fix: no signature, a dialect or
/// algorithm the policy does not accept, a required component or
/// parameter left out. A bad signature, an unknown key or a stale date is
/// not: asking again in another form would not help.
pub fn calls_for_challenge(error: &SignatureError) -> bool {
    matches!(
        error,
        SignatureError::MissingSignature
            | SignatureError::UnsupportedSpec(_)
            | SignatureError::UnsupportedAlgorithm(_)
            | SignatureError::MissingComponent(_)
            | SignatureError::MissingParameter { .. }
    )
}

/// Parses an `Accept-Signature` field value (RFC 9421 §5.1): a dictionary
/// whose members are inner lists of component identifiers with the
/// parameters `keyid`, `alg`, `created`, `expires`, `nonce` and `tag`.
/// Unknown parameters are ignored, as RFC 9421 §5.1 allows.
///
/// ```
/// use archipel::signatures::accept_signature::parse_accept_signature;
/// let f = parse_accept_signature(r#"sig1=("@method" "@target-uri");created;nonce="abc""#)?;
/// assert!(f.requests[0].created);
/// assert_eq!(f.requests[0].nonce.as_deref(), Some("abc"));
/// # Ok::<(), archipel::signatures::accept_signature::AcceptSignatureError>(())
/// ```
pub fn parse_accept_signature(value: &str) -> Result<AcceptSignature, AcceptSignatureError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(AcceptSignatureError::TooLarge {
            len: value.len(),
            max: MAX_HEADER_LEN,
        });
    }
    let dict: Dictionary =
        Parser::new(value)
            .parse()
            .map_err(|e: sfv::Error| AcceptSignatureError::Malformed {
                position: e.index().unwrap_or(0),
            })?;
    if dict.is_empty() {
        return Err(AcceptSignatureError::Empty);
    }
    if dict.len() > MAX_REQUESTS {
        return Err(AcceptSignatureError::TooManyRequests {
            count: dict.len(),
            max: MAX_REQUESTS,
        });
    }
    let mut requests = Vec::with_capacity(dict.len());
    for (label, entry) in &dict {
        let label = label.as_str().to_owned();
        let ListEntry::InnerList(list) = entry else {
            return Err(AcceptSignatureError::NotAnInnerList { label });
        };
        if list.items.len() > MAX_COMPONENTS {
            return Err(AcceptSignatureError::TooManyComponents {
                label,
                count: list.items.len(),
                max: MAX_COMPONENTS,
            });
        }
        let mut components: Vec<ComponentId> = Vec::with_capacity(list.items.len());
        for item in &list.items {
            let invalid = |reason| AcceptSignatureError::InvalidComponent {
                label: label.clone(),
                reason,
            };
            let name = item
                .bare_item
                .as_string()
                .ok_or_else(|| invalid("component identifier is not a string"))?;
            if name.as_str().len() > MAX_PARAM_LEN {
                return Err(invalid("component identifier too long"));
            }
            let mut c = ComponentId::new(name.as_str());
            if !item.params.is_empty() {
                // Kept so that signing can say which one it cannot make.
                let mut bare = String::new();
                let _ = sfv::ItemSerializer::with_buffer(&mut bare).bare_item(name);
                let mut full = String::new();
                let _ = sfv::ItemSerializer::with_buffer(&mut full)
                    .bare_item(name)
                    .parameters(&item.params);
                c.params = full.get(bare.len()..).unwrap_or_default().to_owned();
            }
            if components.contains(&c) {
                return Err(invalid("component listed twice"));
            }
            components.push(c);
        }
        let param = |key: &'static str| list.params.get(key);
        let boolean = |key: &'static str| -> Result<bool, AcceptSignatureError> {
            match param(key) {
                None => Ok(false),
                Some(BareItem::Boolean(b)) => Ok(*b),
                Some(_) => Err(AcceptSignatureError::InvalidParameter {
                    label: label.clone(),
                    parameter: key,
                    reason: "not a boolean",
                }),
            }
        };
        let string = |key: &'static str| -> Result<Option<String>, AcceptSignatureError> {
            let bad = |reason| AcceptSignatureError::InvalidParameter {
                label: label.clone(),
                parameter: key,
                reason,
            };
            match param(key) {
                None => Ok(None),
                Some(v) => {
                    let s = v.as_string().ok_or_else(|| bad("not a string"))?;
                    if s.as_str().len() > MAX_PARAM_LEN {
                        return Err(bad("longer than 512 bytes"));
                    }
                    Ok(Some(s.as_str().to_owned()))
                }
            }
        };
        requests.push(SignatureRequest {
            components,
            keyid: string("keyid")?,
            alg: string("alg")?,
            created: boolean("created")?,
            expires: boolean("expires")?,
            nonce: string("nonce")?,
            tag: string("tag")?,
            label,
        });
    }
    Ok(AcceptSignature { requests })
}
