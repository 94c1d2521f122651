//! XML for the SOAP adapter: a request writer that escapes everything it is
//! given, and a small strict tree reader over `quick-xml` for the answers.

use std::fmt::Write as _;
use std::ops::Range;

use quick_xml::XmlVersion;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::isds::IsdsError;

/// SOAP 1.1 envelope namespace (the WSDLs bind with `soap:binding`, SOAP 1.1).
pub(crate) const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace (`dm_VoDZ.wsdl` binds with `soap12:binding`).
pub(crate) const SOAP12_ENV_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// XOP (`xop:Include`, MTOM's reference to a binary part).
pub(crate) const XOP_NS: &str = "http://www.w3.org/2004/08/xop/include";
/// The ISDS namespace of schema v3.09 (`dmBaseTypes.xsd`, `dbTypes.xsd`).
pub(crate) const ISDS_NS: &str = "http://isds.czechpoint.cz/v20";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

const MAX_DEPTH: usize = 128;

/// One element of a parsed answer.
#[derive(Debug, Default)]
pub(crate) struct Element {
    /// Namespace name; empty when unbound.
    pub ns: String,
    pub name: String,
    /// (namespace, local name, value); namespace declarations are left out.
    attrs: Vec<(String, String, String)>,
    pub children: Vec<Element>,
    text: String,
    /// The text was left in the document (`inner`), not copied
    /// ([`parse_leaving_text`]).
    text_in_document: bool,
    /// Where the element's content lies in the source document (for
    /// `dmXMLContent`, which is kept byte for byte).
    pub inner: Range<usize>,
}

impl Element {
    /// In the ISDS namespace, or one of the variants ISDS uses inside signed
    /// documents (`…/v20/message`, `…/v20/SentMessage`, `…/v20/delivery`;
    /// libdatovka `doc/user_web_services`, SignedMessageDownload).
    pub fn is_isds(&self) -> bool {
        self.ns == ISDS_NS || self.ns.strip_prefix(ISDS_NS).is_some_and(|rest| rest.starts_with('/'))
    }

    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// An attribute without namespace (all ISDS attributes are unqualified).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(ns, local, _)| ns.is_empty() && local == name).map(|(_, _, value)| value.as_str())
    }

    /// `xsi:nil="true"`.
    pub fn is_nil(&self) -> bool {
        self.attrs.iter().any(|(ns, local, value)| ns == XSI_NS && local == "nil" && (value == "true" || value == "1"))
    }

    /// The first ISDS child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children_named(name).next()
    }

    pub fn children_named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |child| child.is_isds() && child.name == name)
    }

    /// The text, trimmed; `None` when nil or empty.
    pub fn value(&self) -> Option<&str> {
        if self.is_nil() {
            return None;
        }
        let text = self.text.trim();
        (!text.is_empty()).then_some(text)
    }

    /// [`value`](Self::value) of an element parsed from `document`, also
    /// when its text was left there ([`parse_leaving_text`]): then a slice
    /// of the document, plain text without references, line ends as written.
    pub fn value_in<'a>(&'a self, document: &'a [u8]) -> Option<&'a str> {
        if !self.text_in_document {
            return self.value();
        }
        if self.is_nil() {
            return None;
        }
        let text = std::str::from_utf8(document.get(self.inner.clone())?).ok()?.trim();
        (!text.is_empty()).then_some(text)
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(document: &[u8]) -> Result<Element, String> {
    parse_leaving_text(document, &[])
}

/// [`parse`], but the text of ISDS elements called one of `names` is not
/// copied into the tree: it stays in `document`, read with
/// [`Element::value_in`] (a big message's `dmEncodedContent`, so its base64
/// is held once, in the document). Only plain text is left there: an element
/// whose content turns out to hold a reference, CDATA, a comment or an
/// element gets its text copied as [`parse`] does.
pub(crate) fn parse_leaving_text(document: &[u8], names: &[&str]) -> Result<Element, String> {
    let source = std::str::from_utf8(document).map_err(|_| "the document is not UTF-8".to_owned())?;
    let mut reader = NsReader::from_str(source);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let before = position(&reader);
        let (ns, event) = reader.read_resolved_event().map_err(|e| format!("not well-formed XML: {e}"))?;
        let ns = namespace(ns)?;
        if matches!(event, Event::Start(_) | Event::Empty(_)) && root.is_some() && stack.is_empty() {
            return Err("more than one root element".to_owned());
        }
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err("elements are nested too deeply".to_owned());
                }
                copy_left_text(&mut stack, source, before);
                let mut element = element(&reader, ns, &start)?;
                let after = position(&reader);
                element.inner = after..after;
                element.text_in_document = element.is_isds() && names.contains(&element.name.as_str());
                stack.push(element);
            }
            Event::Empty(start) => {
                copy_left_text(&mut stack, source, before);
                let mut element = element(&reader, ns, &start)?;
                let after = position(&reader);
                element.inner = after..after;
                attach(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                let mut element = stack.pop().ok_or("an end tag without a start tag")?;
                element.inner.end = before;
                attach(&mut stack, &mut root, element);
            }
            Event::Text(_) if stack.last().is_some_and(|top| top.text_in_document) => {}
            Event::Text(text) => {
                let text = text.xml10_content().map_err(|e| format!("bad text: {e}"))?;
                push_text(&mut stack, &text)?;
            }
            Event::CData(data) => {
                copy_left_text(&mut stack, source, before);
                let data = data.xml10_content().map_err(|e| format!("bad CDATA: {e}"))?;
                push_text(&mut stack, &data)?;
            }
            Event::GeneralRef(reference) => {
                copy_left_text(&mut stack, source, before);
                let resolved = match reference.resolve_char_ref().map_err(|e| format!("bad reference: {e}"))? {
                    Some(ch) => ch.to_string(),
                    None => {
                        let name = reference.decode().map_err(|e| format!("bad reference: {e}"))?;
                        resolve_predefined_entity(&name).ok_or(format!("unknown entity &{name};"))?.to_owned()
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err("a DOCTYPE is not allowed".to_owned()),
            Event::Comment(_) | Event::PI(_) => copy_left_text(&mut stack, source, before),
            Event::Decl(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".to_owned());
    }
    root.ok_or_else(|| "the document has no root element".to_owned())
}

fn position(reader: &NsReader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

fn namespace(ns: ResolveResult<'_>) -> Result<String, String> {
    match ns {
        ResolveResult::Bound(ns) => {
            std::str::from_utf8(ns.as_ref()).map(str::to_owned).map_err(|_| "a namespace is not UTF-8".to_owned())
        }
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(format!("unknown namespace prefix {}", String::from_utf8_lossy(&prefix))),
    }
}

fn element(reader: &NsReader<&[u8]>, ns: String, start: &BytesStart<'_>) -> Result<Element, String> {
    let name = std::str::from_utf8(start.local_name().as_ref()).map_err(|_| "a name is not UTF-8")?.to_owned();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("bad attribute: {e}"))?;
        let key = attr.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            continue;
        }
        let (attr_ns, local) = reader.resolver().resolve_attribute(attr.key);
        let attr_ns = namespace(attr_ns)?;
        let local = std::str::from_utf8(local.as_ref()).map_err(|_| "a name is not UTF-8")?.to_owned();
        let value = attr.normalized_value(XmlVersion::Implicit1_0).map_err(|e| format!("bad attribute: {e}"))?;
        attrs.push((attr_ns, local, value.into_owned()));
    }
    Ok(Element { ns, name, attrs, ..Element::default() })
}

/// When the innermost element left its text in the document and something
/// other than plain text comes (at `at`): its text so far is copied, as
/// [`parse`] would have (line ends normalised), and from here on it is kept
/// in the tree.
fn copy_left_text(stack: &mut [Element], source: &str, at: usize) {
    let Some(top) = stack.last_mut().filter(|top| top.text_in_document) else { return };
    top.text_in_document = false;
    let so_far = source.get(top.inner.start..at).unwrap_or_default();
    top.text = so_far.replace("\r\n", "\n").replace('\r', "\n");
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => {
            parent.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err("text outside the root element".to_owned()),
    }
}

/// A SOAP 1.1 request: `<soap:Envelope><soap:Body><Operation xmlns="…v20">`,
/// children in the default (ISDS) namespace, as libdatovka sends them, and
/// `xsi` declared for `xsi:nil`.
///
/// Every request must be valid against the operator's schema
/// (`tests/isds_schema.rs` checks each kind against the official XSD): an
/// unset value is `xsi:nil="true"` where the element is required and nillable,
/// and not written at all where the schema lets it out (`minOccurs="0"`),
/// never an empty element, which is no valid integer, date, boolean or code.
#[derive(Debug)]
pub(crate) struct Request {
    out: String,
    operation: &'static str,
}

impl Request {
    pub fn new(operation: &'static str) -> Self {
        Self::in_envelope(operation, SOAP_ENV_NS)
    }

    /// The same in a SOAP 1.2 envelope (the VoDZ services).
    pub fn new_soap12(operation: &'static str) -> Self {
        Self::in_envelope(operation, SOAP12_ENV_NS)
    }

    fn in_envelope(operation: &'static str, envelope_ns: &str) -> Self {
        let mut out = String::with_capacity(1024);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        let _ = write!(
            out,
            "<soap:Envelope xmlns:soap=\"{envelope_ns}\"><soap:Body><{operation} xmlns=\"{ISDS_NS}\" xmlns:xsi=\"{XSI_NS}\">"
        );
        Self { out, operation }
    }

    /// `<xop:Include href="cid:…"/>`: the content is the MIME part with
    /// Content-ID `content_id` (plain ASCII, no `<>`).
    pub fn xop_include(&mut self, content_id: &str) -> &mut Self {
        debug_assert!(content_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"@.-_".contains(&b)));
        let _ = write!(self.out, "<xop:Include xmlns:xop=\"{XOP_NS}\" href=\"cid:{content_id}\"/>");
        self
    }

    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) -> Result<&mut Self, IsdsError> {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            check_text(key, value)?;
            let _ = write!(self.out, " {key}=\"{}\"", escape(*value));
        }
        self.out.push('>');
        Ok(self)
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "</{name}>");
        self
    }

    /// `<name>value</name>`, or `<name xsi:nil="true"/>` for no value: only
    /// for elements the schema declares `nillable`. (libdatovka sends `<name/>`
    /// instead, which the schema refuses for every type but a string.)
    pub fn leaf(&mut self, name: &str, value: Option<&str>) -> Result<&mut Self, IsdsError> {
        match value {
            Some(value) => {
                check_text(name, value)?;
                let _ = write!(self.out, "<{name}>{}</{name}>", escape(value));
            }
            None => {
                let _ = write!(self.out, "<{name} xsi:nil=\"true\"/>");
            }
        }
        Ok(self)
    }

    /// A leaf whose value needs no escaping (base64, digits, or empty).
    pub fn leaf_plain(&mut self, name: &str, value: &str) -> &mut Self {
        debug_assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=-.:TZ".contains(&b)));
        let _ = write!(self.out, "<{name}>{value}</{name}>");
        self
    }

    pub fn finish(mut self) -> String {
        let _ = write!(self.out, "</{}></soap:Body></soap:Envelope>", self.operation);
        self.out
    }
}

/// XML 1.0 cannot carry most control characters, escaped or not.
fn check_text(name: &str, value: &str) -> Result<(), IsdsError> {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}');
    if value.chars().all(allowed) {
        Ok(())
    } else {
        Err(IsdsError::Invalid(format!("{name} contains a control character that XML cannot carry")))
    }
}
