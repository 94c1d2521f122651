//! The JOSE subset an NIA login needs, on aws-lc-rs: decrypt a compact JWE
//! (`RSA-OAEP` / `RSA-OAEP-256` key management, `A256CBC-HS512` or `A256GCM`
//! content encryption) and verify a compact JWS against a JWK set with an
//! explicit allow-list of asymmetric algorithms. There is no `none`, no HMAC
//! and no key taken from the token itself (`jwk`, `jku`, `x5u` are refused):
//! keys come only from the provider's published JWKS.

use aws_lc_rs::cipher::{AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("the token is not a compact JWS or JWE")]
    Malformed,
    #[error("algorithm '{0}' is not allowed")]
    AlgorithmNotAllowed(String),
    #[error("the header names a key source ({0}) that is never trusted")]
    ForeignKey(&'static str),
    #[error("no key with id '{0}' in the provider's key set")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token cannot be decrypted with the portal's key")]
    Undecryptable,
    #[error("the decryption key is not a PKCS#8 RSA private key")]
    BadPrivateKey,
    /// RFC 7515 §4.1.11: a `crit` header names extensions the recipient must
    /// understand; we understand none, so any `crit` is refused.
    #[error("the header names critical extensions ({0}) that are not understood")]
    Critical(String),
    /// Not an ID token: another JWT type (an access token, a logout token, …).
    #[error("the token type '{0}' is not an ID token")]
    WrongType(String),
}

/// Signature algorithms we accept: asymmetric only.
pub const ALLOWED_SIGNING: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"];

#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub enc: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub zip: Option<String>,
    #[serde(default)]
    pub jwk: Option<Value>,
    #[serde(default)]
    pub jku: Option<String>,
    #[serde(default)]
    pub x5u: Option<String>,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub crit: Option<Value>,
}

impl Header {
    /// Refuses any `crit`.
    fn no_critical_extensions(&self) -> Result<(), JoseError> {
        match &self.crit {
            None => Ok(()),
            Some(crit) => Err(JoseError::Critical(crit.to_string())),
        }
    }
}

/// `typ` values of an ID token: none, or JWT (RFC 7519 §5.1; the `application/`
/// prefix may be left out and case does not matter, RFC 7515 §4.1.9).
fn is_id_token_type(typ: Option<&str>) -> bool {
    match typ {
        None => true,
        Some(typ) => typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("application/jwt"),
    }
}

fn b64(part: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| JoseError::Malformed)
}

fn header(part: &str) -> Result<Header, JoseError> {
    serde_json::from_slice(&b64(part)?).map_err(|_| JoseError::Malformed)
}

/// Whether a compact token is a JWE (five parts) rather than a JWS (three).
pub fn is_encrypted(token: &str) -> bool {
    token.split('.').count() == 5
}

/// The portal's private key for ID-token encryption (PKCS#8 PEM).
#[derive(Debug)]
pub struct DecryptionKey {
    key: OaepPrivateDecryptingKey,
}

impl DecryptionKey {
    pub fn from_pem(pem: &str) -> Result<Self, JoseError> {
        let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
        let der =
            base64::engine::general_purpose::STANDARD.decode(body.trim()).map_err(|_| JoseError::BadPrivateKey)?;
        let key = PrivateDecryptingKey::from_pkcs8(&der).map_err(|_| JoseError::BadPrivateKey)?;
        Ok(Self { key: OaepPrivateDecryptingKey::new(key).map_err(|_| JoseError::BadPrivateKey)? })
    }

    /// Decrypts a compact JWE and returns its payload (the nested JWS).
    pub fn decrypt(&self, token: &str) -> Result<Vec<u8>, JoseError> {
        let parts: Vec<&str> = token.split('.').collect();
        let [protected, encrypted_key, iv, ciphertext, tag] = parts[..] else { return Err(JoseError::Malformed) };
        let header = header(protected)?;
        header.no_critical_extensions()?;
        if header.zip.is_some() {
            return Err(JoseError::AlgorithmNotAllowed("zip".into()));
        }
        let oaep = match header.alg.as_str() {
            "RSA-OAEP" => &OAEP_SHA1_MGF1SHA1,
            "RSA-OAEP-256" => &OAEP_SHA256_MGF1SHA256,
            other => return Err(JoseError::AlgorithmNotAllowed(other.to_owned())),
        };
        let mut cek_buffer = vec![0_u8; self.key.min_output_size()];
        let cek = self
            .key
            .decrypt(oaep, &b64(encrypted_key)?, &mut cek_buffer, None)
            .map_err(|_| JoseError::Undecryptable)?
            .to_vec();
        let (iv, ciphertext, tag) = (b64(iv)?, b64(ciphertext)?, b64(tag)?);
        let aad = protected.as_bytes();
        match header.enc.as_deref() {
            Some("A256CBC-HS512") => decrypt_cbc_hs512(&cek, &iv, ciphertext, &tag, aad),
            Some("A256GCM") => decrypt_gcm(&cek, &iv, ciphertext, &tag, aad),
            other => Err(JoseError::AlgorithmNotAllowed(other.unwrap_or("no enc").to_owned())),
        }
    }
}

/// RFC 7518 §5.2: AES-256-CBC with HMAC-SHA-512, the tag checked first, in
/// constant time.
fn decrypt_cbc_hs512(
    cek: &[u8],
    iv: &[u8],
    mut ciphertext: Vec<u8>,
    tag: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, JoseError> {
    if cek.len() != 64 || iv.len() != 16 || tag.len() != 32 {
        return Err(JoseError::Undecryptable);
    }
    let (mac_key, enc_key) = cek.split_at(32);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA512, mac_key);
    let mut context = aws_lc_rs::hmac::Context::with_key(&key);
    context.update(aad);
    context.update(iv);
    context.update(&ciphertext);
    context.update(&(aad.len() as u64 * 8).to_be_bytes());
    let mac = context.sign();
    aws_lc_rs::constant_time::verify_slices_are_equal(&mac.as_ref()[..32], tag)
        .map_err(|_| JoseError::Undecryptable)?;
    let key = UnboundCipherKey::new(&AES_256, enc_key).map_err(|_| JoseError::Undecryptable)?;
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(key).map_err(|_| JoseError::Undecryptable)?;
    let iv: [u8; 16] = iv.try_into().map_err(|_| JoseError::Undecryptable)?;
    let plain =
        key.decrypt(&mut ciphertext, DecryptionContext::Iv128(iv.into())).map_err(|_| JoseError::Undecryptable)?;
    Ok(plain.to_vec())
}

fn decrypt_gcm(cek: &[u8], iv: &[u8], ciphertext: Vec<u8>, tag: &[u8], aad: &[u8]) -> Result<Vec<u8>, JoseError> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, cek).map_err(|_| JoseError::Undecryptable)?);
    let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| JoseError::Undecryptable)?;
    let mut in_out = ciphertext;
    in_out.extend_from_slice(tag);
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut in_out).map_err(|_| JoseError::Undecryptable)?;
    Ok(plain.to_vec())
}

/// One public key of the provider's JWKS.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    pub fn find(&self, kid: Option<&str>) -> Option<&Jwk> {
        let signing = self.keys.iter().filter(|k| k.usage.as_deref().is_none_or(|u| u == "sig"));
        match kid {
            Some(kid) => signing.into_iter().find(|k| k.kid.as_deref() == Some(kid)),
            // Without a kid, only an unambiguous set will do.
            None => {
                let all: Vec<&Jwk> = signing.collect();
                if all.len() == 1 { Some(all[0]) } else { None }
            }
        }
    }
}

/// The header of a compact JWS, checked against the allow-list, and the key
/// id it names.
pub fn signing_header(token: &str) -> Result<Header, JoseError> {
    let protected = token.split('.').next().ok_or(JoseError::Malformed)?;
    let header = header(protected)?;
    if !ALLOWED_SIGNING.contains(&header.alg.as_str()) {
        return Err(JoseError::AlgorithmNotAllowed(header.alg));
    }
    if header.jwk.is_some() {
        return Err(JoseError::ForeignKey("jwk"));
    }
    if header.jku.is_some() {
        return Err(JoseError::ForeignKey("jku"));
    }
    if header.x5u.is_some() {
        return Err(JoseError::ForeignKey("x5u"));
    }
    header.no_critical_extensions()?;
    if !is_id_token_type(header.typ.as_deref()) {
        return Err(JoseError::WrongType(header.typ.unwrap_or_default()));
    }
    Ok(header)
}

/// Verifies a compact JWS with `key` and returns its payload.
pub fn verify(token: &str, key: &Jwk) -> Result<Vec<u8>, JoseError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [protected, payload, signature_part] = parts[..] else { return Err(JoseError::Malformed) };
    let header = signing_header(token)?;
    if key.alg.as_deref().is_some_and(|alg| alg != header.alg) {
        return Err(JoseError::AlgorithmNotAllowed(header.alg));
    }
    let message = format!("{protected}.{payload}");
    let sig = b64(signature_part)?;
    let result = match (header.alg.as_str(), key.kty.as_str()) {
        (alg @ ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"), "RSA") => {
            let params: &signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let n = b64(key.n.as_deref().ok_or(JoseError::BadSignature)?)?;
            let e = b64(key.e.as_deref().ok_or(JoseError::BadSignature)?)?;
            RsaPublicKeyComponents { n: &n, e: &e }.verify(params, message.as_bytes(), &sig)
        }
        (alg @ ("ES256" | "ES384"), "EC") => {
            let (algorithm, curve): (&signature::EcdsaVerificationAlgorithm, &str) = if alg == "ES256" {
                (&signature::ECDSA_P256_SHA256_FIXED, "P-256")
            } else {
                (&signature::ECDSA_P384_SHA384_FIXED, "P-384")
            };
            if key.crv.as_deref() != Some(curve) {
                return Err(JoseError::BadSignature);
            }
            let mut point = vec![4_u8];
            point.extend(b64(key.x.as_deref().ok_or(JoseError::BadSignature)?)?);
            point.extend(b64(key.y.as_deref().ok_or(JoseError::BadSignature)?)?);
            UnparsedPublicKey::new(algorithm, point).verify(message.as_bytes(), &sig)
        }
        _ => return Err(JoseError::AlgorithmNotAllowed(header.alg)),
    };
    result.map_err(|_| JoseError::BadSignature)?;
    b64(payload)
}

/// Building tokens, for tests: sign with an RSA key, encrypt to an RSA key,
/// and the forgeries a relying party must refuse.
#[cfg(any(test, feature = "test-support"))]
pub mod forge {
    use aws_lc_rs::cipher::{PaddedBlockEncryptingKey, UnboundCipherKey};
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::rand::SecureRandom as _;
    use aws_lc_rs::rsa::{KeyPair, KeySize, OaepPublicEncryptingKey};
    use aws_lc_rs::signature::KeyPair as _;

    use super::*;

    fn enc(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn pem_der(pem: &str) -> Vec<u8> {
        let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD.decode(body.trim()).expect("PEM")
    }

    /// A fresh RSA-2048 key as PKCS#8 PEM.
    pub fn new_rsa_pem() -> String {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("generate");
        let der = pair.as_der().expect("der");
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n")
    }

    /// The public JWK of a PKCS#8 RSA key.
    pub fn public_jwk(pem: &str, kid: &str) -> Value {
        let pair = KeyPair::from_pkcs8(&pem_der(pem)).expect("pkcs8");
        let der = pair.public_key().as_ref().to_vec();
        // The RSAPublicKey DER: SEQUENCE { INTEGER n, INTEGER e }.
        let (n, e) = parse_rsa_public_key(&der);
        serde_json::json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": enc(&n), "e": enc(&e)})
    }

    fn parse_rsa_public_key(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
        fn read(der: &[u8], at: usize) -> (usize, usize) {
            let first = der[at + 1] as usize;
            if first < 0x80 {
                (at + 2, first)
            } else {
                let count = first & 0x7f;
                let len = der[at + 2..at + 2 + count].iter().fold(0, |acc, b| (acc << 8) | *b as usize);
                (at + 2 + count, len)
            }
        }
        let (seq_body, _) = read(der, 0);
        let (n_at, n_len) = read(der, seq_body);
        let (e_at, e_len) = read(der, n_at + n_len);
        let strip = |bytes: &[u8]| bytes.iter().skip_while(|b| **b == 0).copied().collect::<Vec<u8>>();
        (strip(&der[n_at..n_at + n_len]), strip(&der[e_at..e_at + e_len]))
    }

    /// A compact JWS signed RS256 with `pem`.
    pub fn sign_rs256(pem: &str, kid: Option<&str>, claims: &Value) -> String {
        sign_rs256_with(pem, kid, &serde_json::json!({}), claims)
    }

    /// As [`sign_rs256`], with `extra` fields merged into the header (a `typ`,
    /// a `crit`, …; a null value removes the field).
    pub fn sign_rs256_with(pem: &str, kid: Option<&str>, extra: &Value, claims: &Value) -> String {
        let pair = KeyPair::from_pkcs8(&pem_der(pem)).expect("pkcs8");
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let (Some(fields), Some(extra)) = (header.as_object_mut(), extra.as_object()) {
            for (name, value) in extra {
                if value.is_null() {
                    fields.remove(name);
                } else {
                    fields.insert(name.clone(), value.clone());
                }
            }
        }
        if let Some(kid) = kid {
            header["kid"] = Value::from(kid);
        }
        let message = format!("{}.{}", enc(header.to_string().as_bytes()), enc(claims.to_string().as_bytes()));
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(&signature::RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), message.as_bytes(), &mut sig)
            .expect("sign");
        format!("{message}.{}", enc(&sig))
    }

    /// `alg: none`.
    pub fn unsigned(claims: &Value) -> String {
        format!("{}.{}.", enc(br#"{"alg":"none","typ":"JWT"}"#), enc(claims.to_string().as_bytes()))
    }

    /// HS256 keyed with `secret` (the key-confusion attack uses the provider's public key).
    pub fn sign_hs256(secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
        let mut header = serde_json::json!({"alg": "HS256", "typ": "JWT"});
        if let Some(kid) = kid {
            header["kid"] = Value::from(kid);
        }
        let message = format!("{}.{}", enc(header.to_string().as_bytes()), enc(claims.to_string().as_bytes()));
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        format!("{message}.{}", enc(aws_lc_rs::hmac::sign(&key, message.as_bytes()).as_ref()))
    }

    /// A compact JWE (RSA-OAEP, A256CBC-HS512) of `payload` to the public half of `pem`.
    pub fn encrypt(pem: &str, payload: &[u8]) -> String {
        let public = PrivateDecryptingKey::from_pkcs8(&pem_der(pem)).expect("pkcs8").public_key();
        let oaep = OaepPublicEncryptingKey::new(public).expect("oaep");
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut cek = [0_u8; 64];
        rng.fill(&mut cek).expect("random");
        let mut wrapped = vec![0; oaep.ciphertext_size()];
        let wrapped = oaep.encrypt(&OAEP_SHA1_MGF1SHA1, &cek, &mut wrapped, None).expect("wrap").to_vec();
        let protected = enc(br#"{"alg":"RSA-OAEP","enc":"A256CBC-HS512","cty":"JWT"}"#);
        let key = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, &cek[32..]).expect("key"))
            .expect("cbc");
        let mut ciphertext = payload.to_vec();
        let context = key.encrypt(&mut ciphertext).expect("encrypt");
        let iv: &[u8] = (&context).try_into().expect("iv");
        let mac_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA512, &cek[..32]);
        let mut mac = aws_lc_rs::hmac::Context::with_key(&mac_key);
        mac.update(protected.as_bytes());
        mac.update(iv);
        mac.update(&ciphertext);
        mac.update(&(protected.len() as u64 * 8).to_be_bytes());
        let tag = mac.sign();
        format!("{protected}.{}.{}.{}.{}", enc(&wrapped), enc(iv), enc(&ciphertext), enc(&tag.as_ref()[..32]))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::forge::*;
    use super::*;

    fn set(jwk: Value) -> JwkSet {
        serde_json::from_value(json!({"keys": [jwk]})).expect("jwks")
    }

    #[test]
    fn a_signed_then_encrypted_token_round_trips() {
        let (signer, portal) = (new_rsa_pem(), new_rsa_pem());
        let claims = json!({"iss": "https://idp", "acr": "http://eidas.europa.eu/LoA/high"});
        let jwe = encrypt(&portal, sign_rs256(&signer, Some("k1"), &claims).as_bytes());
        assert!(is_encrypted(&jwe));
        let jws = String::from_utf8(DecryptionKey::from_pem(&portal).expect("key").decrypt(&jwe).expect("decrypt"))
            .expect("utf-8");
        let keys = set(public_jwk(&signer, "k1"));
        let header = signing_header(&jws).expect("header");
        let key = keys.find(header.kid.as_deref()).expect("key");
        let payload: Value = serde_json::from_slice(&verify(&jws, key).expect("verify")).expect("json");
        assert_eq!(payload, claims);
    }

    #[test]
    fn tampering_and_foreign_keys_are_refused() {
        let (signer, portal, other) = (new_rsa_pem(), new_rsa_pem(), new_rsa_pem());
        let claims = json!({"sub": "x"});
        let keys = set(public_jwk(&signer, "k1"));
        let key = keys.find(Some("k1")).expect("key");

        let jws = sign_rs256(&signer, Some("k1"), &claims);
        let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"sub":"y"}"#);
        assert_eq!(verify(&parts.join("."), key), Err(JoseError::BadSignature), "a changed payload");
        assert_eq!(verify(&sign_rs256(&other, Some("k1"), &claims), key), Err(JoseError::BadSignature), "another key");
        assert_eq!(signing_header(&unsigned(&claims)).err(), Some(JoseError::AlgorithmNotAllowed("none".into())));
        let public = public_jwk(&signer, "k1").to_string();
        let hs = sign_hs256(public.as_bytes(), Some("k1"), &claims);
        assert_eq!(verify(&hs, key).err(), Some(JoseError::AlgorithmNotAllowed("HS256".into())), "key confusion");
        assert!(keys.find(Some("unknown")).is_none());

        let jwe = encrypt(&portal, jws.as_bytes());
        let mut parts: Vec<String> = jwe.split('.').map(str::to_owned).collect();
        let mut ciphertext = URL_SAFE_NO_PAD.decode(&parts[3]).expect("b64");
        ciphertext[0] ^= 1;
        parts[3] = URL_SAFE_NO_PAD.encode(&ciphertext);
        let portal_key = DecryptionKey::from_pem(&portal).expect("key");
        assert_eq!(portal_key.decrypt(&parts.join(".")), Err(JoseError::Undecryptable), "a flipped ciphertext bit");
        let for_other = encrypt(&other, jws.as_bytes());
        assert_eq!(portal_key.decrypt(&for_other), Err(JoseError::Undecryptable), "encrypted to someone else");
        assert_eq!(portal_key.decrypt("a.b.c"), Err(JoseError::Malformed));
    }

    #[test]
    fn a_token_with_critical_extensions_or_another_type_is_refused() {
        let signer = new_rsa_pem();
        let keys = set(public_jwk(&signer, "k1"));
        let key = keys.find(Some("k1")).expect("key");
        let claims = json!({"sub": "x"});
        let crit = sign_rs256_with(&signer, Some("k1"), &json!({"crit": ["exp"], "exp": 1}), &claims);
        assert!(matches!(verify(&crit, key), Err(JoseError::Critical(_))), "crit");
        for typ in ["at+jwt", "logout+jwt", "dpop+jwt", "JOSE"] {
            let token = sign_rs256_with(&signer, Some("k1"), &json!({"typ": typ}), &claims);
            assert_eq!(verify(&token, key), Err(JoseError::WrongType(typ.into())), "{typ}");
        }
        for typ in [json!("JWT"), json!("application/jwt"), json!("jwt"), Value::Null] {
            let token = sign_rs256_with(&signer, Some("k1"), &json!({"typ": typ}), &claims);
            assert!(verify(&token, key).is_ok(), "{typ}");
        }
    }
}
