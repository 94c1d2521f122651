"""Validates SOAP requests of the ISDS adapter against the official WSDL and XSD (lxml, libxml2's validator).

Usage: python isds_schema.py SCHEMA_DIR ENDPOINT REQUEST_FILE [ENDPOINT REQUEST_FILE ...]

SCHEMA_DIR holds the operator's WSDL and XSD files (tests/fixtures/isds/xsd/). ENDPOINT is the URL path
the request was posted to (`/DS/dx`). A REQUEST_FILE ending in `.xml` is the body of a `text/xml` request;
one ending in `.mime` is an HTTP body preceded by its `Content-Type:` header line and an empty line.

For each request this checks that it is a SOAP envelope whose body holds one element; that exactly one
operation of the WSDLs served at that endpoint (their `soap:address` or `soap12:address`) takes that
element as its input, bound document/literal, with `soapAction=""`; that the SOAP version is the binding's
(SOAP 1.1 as `text/xml`; SOAP 1.2 as `application/soap+xml`, or as an MTOM/XOP package); and that the
element is valid against the schema the WSDL includes. An XOP package (`multipart/related`,
`type="application/xop+xml"`) must be well formed: its root part the one `start` names, an
`application/xop+xml` part of type `application/soap+xml`, every `xop:Include` naming one of the other
parts by its Content-ID and every other part named once; each Include is replaced by its part's content
in base64 before validation (the XOP infoset). Prints one line per request (`ok OPERATION FILE` or the
validator's messages) and exits 1 if any request is invalid.
"""

import base64
import copy
import email.message
import pathlib
import sys
from urllib.parse import unquote, urlparse

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
XOP = "http://www.w3.org/2004/08/xop/include"
# The envelope namespace of each WSDL SOAP binding namespace.
ENVELOPES = {WSDL_SOAP: SOAP_ENV, WSDL_SOAP12: SOAP12_ENV}
XS = "http://www.w3.org/2001/XMLSchema"

# No DTDs, no entities, no network: the requests are data, and the schemas are local files.
PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)


def qname(element, prefixed):
    """The namespace-qualified name a WSDL attribute value like `tns:CreateMessage` means."""
    prefix, _, local = prefixed.rpartition(":")
    return etree.QName(element.nsmap.get(prefix or None), local).text


class Service:
    """One WSDL: where it is served, its operations' input elements, and its compiled schema."""

    def __init__(self, path):
        self.path = path
        tree = etree.parse(str(path), PARSER)
        root = tree.getroot()
        ns = {"w": WSDL, "xs": XS}
        addresses = [a for b in ENVELOPES for a in root.findall(f"w:service/w:port/{{{b}}}address", ns)]
        self.endpoints = {urlparse(a.get("location")).path for a in addresses}
        messages = {
            m.get("name"): [qname(p, p.get("element")) for p in m.findall("w:part", ns)]
            for m in root.findall("w:message", ns)
        }
        port_types = {p.get("name"): p for p in root.findall("w:portType", ns)}
        # operation name -> (input element, soapAction, binding style, input body use, envelope namespace)
        self.operations = {}
        for binding in root.findall("w:binding", ns):
            # soap:binding (SOAP 1.1) or soap12:binding (SOAP 1.2)
            soap = next(b for b in ENVELOPES if binding.find(f"{{{b}}}binding") is not None)
            style = binding.find(f"{{{soap}}}binding").get("style")
            port_type = port_types[binding.get("type").rpartition(":")[2]]
            for operation in binding.findall("w:operation", ns):
                name = operation.get("name")
                abstract = port_type.find(f"w:operation[@name='{name}']", ns)
                parts = messages[abstract.find("w:input", ns).get("message").rpartition(":")[2]]
                action = operation.find(f"{{{soap}}}operation").get("soapAction")
                use = operation.find(f"w:input/{{{soap}}}body", ns).get("use")
                self.operations[name] = (parts, action, style, use, ENVELOPES[soap])
        # The WSDL's own schema, which includes dmBaseTypes.xsd or dbTypes.xsd from the same folder.
        embedded = root.find("w:types/xs:schema", ns)
        schema_doc = etree.fromstring(etree.tostring(embedded), PARSER, base_url=str(path))
        self.schema = etree.XMLSchema(schema_doc)


def media(header):
    """A Content-Type header value as a message whose type and parameters can be read."""
    message = email.message.Message()
    message["Content-Type"] = header
    return message


def split_parts(content_type, body):
    """The parts of a multipart body (RFC 2046): [(headers message, content bytes)]."""
    boundary = content_type.get_param("boundary")
    if not boundary:
        raise ValueError("multipart without a boundary")
    delimiter = b"--" + boundary.encode("ascii")
    if body.startswith(delimiter):
        body = b"\r\n" + body
    chunks = body.split(b"\r\n" + delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("no parts, or no closing delimiter")
    parts = []
    for chunk in chunks[1:-1]:
        line_end = chunk.find(b"\r\n")
        if line_end < 0 or chunk[:line_end].strip(b" \t"):
            raise ValueError("a delimiter line with more on it")
        head, separator, content = chunk[line_end + 2 :].partition(b"\r\n\r\n")
        if chunk[line_end + 2 :].startswith(b"\r\n"):
            head, content = b"", chunk[line_end + 4 :]
        elif not separator:
            raise ValueError("a part without the end of its headers")
        headers = email.message_from_bytes(head + b"\r\n\r\n")
        parts.append((headers, content))
    return parts


def unpack_xop(content_type, body):
    """The SOAP envelope of an XOP package with each xop:Include replaced by its part in base64."""
    if content_type.get_param("type") != "application/xop+xml":
        raise ValueError(f"type={content_type.get_param('type')!r}, not application/xop+xml")
    if content_type.get_param("start-info") != "application/soap+xml":
        raise ValueError(f"start-info={content_type.get_param('start-info')!r}, not application/soap+xml")
    if content_type.get_param("action") not in (None, ""):
        raise ValueError(f"action={content_type.get_param('action')!r}, the WSDL's soapAction is empty")
    parts = split_parts(content_type, body)
    ids = [(h.get("Content-ID") or "").strip().strip("<>") for h, _ in parts]
    start = (content_type.get_param("start") or "").strip("<>")
    root_index = ids.index(start) if start else 0
    root_headers, root_content = parts[root_index]
    if root_headers.get_content_type() != "application/xop+xml" or root_headers.get_param("type") != "application/soap+xml":
        raise ValueError(f"the root part is {root_headers.get('Content-Type')!r}")
    others = {ids[i]: parts[i] for i in range(len(parts)) if i != root_index}
    root = etree.fromstring(root_content, PARSER)
    used = []
    for include in root.iter(f"{{{XOP}}}Include"):
        href = include.get("href", "")
        if not href.startswith("cid:") or unquote(href[4:]) not in others:
            raise ValueError(f"xop:Include {href!r} names no part")
        headers, content = others[unquote(href[4:])]
        if (headers.get("Content-Transfer-Encoding") or "binary").lower() not in ("binary", "8bit"):
            raise ValueError("a binary part is not sent as binary")
        parent = include.getparent()
        if len(parent) != 1 or (parent.text or "").strip():
            raise ValueError("an xop:Include is not the only content of its element")
        parent.remove(include)
        parent.text = base64.b64encode(content).decode("ascii")
        used.append(unquote(href[4:]))
    if sorted(used) != sorted(others):
        raise ValueError(f"parts {sorted(others)} but Includes of {sorted(used)}")
    return root


def load(request_path):
    """(envelope root, transport: `text/xml`, `application/soap+xml` or `xop`)."""
    data = pathlib.Path(request_path).read_bytes()
    if request_path.suffix != ".mime":
        return etree.fromstring(data, PARSER), "text/xml"
    head, _, body = data.partition(b"\r\n\r\n")
    name, _, value = head.decode("ascii").partition(":")
    if name.strip().lower() != "content-type":
        raise ValueError("a .mime request starts with its Content-Type header")
    content_type = media(value.strip())
    kind = content_type.get_content_type()
    if kind == "multipart/related":
        return unpack_xop(content_type, body), "xop"
    if kind == "application/soap+xml":
        if content_type.get_param("action") not in (None, ""):
            raise ValueError(f"action={content_type.get_param('action')!r}, the WSDL's soapAction is empty")
        return etree.fromstring(body, PARSER), kind
    return etree.fromstring(body, PARSER), kind


def check(services, endpoint, request_path):
    """The problems of one request, or the operation it is."""
    try:
        root, transport = load(request_path)
    except etree.XMLSyntaxError as error:
        return None, [f"not well-formed: {error}"]
    except ValueError as error:
        return None, [f"not a well-formed package: {error}"]
    soap = etree.QName(root).namespace
    if etree.QName(root).localname != "Envelope" or soap not in ENVELOPES.values():
        return None, [f"the root is {root.tag}, not a SOAP Envelope"]
    bodies = root.findall(f"{{{soap}}}Body")
    if len(bodies) != 1:
        return None, [f"{len(bodies)} SOAP Body elements"]
    payloads = [child for child in bodies[0] if isinstance(child.tag, str)]
    if len(payloads) != 1:
        return None, [f"the SOAP Body holds {len(payloads)} elements, not one"]
    payload = payloads[0]

    # Several WSDLs may be served at one path (db_access and db_manipulations both at /DS/DsManage):
    # exactly one operation among them must take this element.
    serving = [s for s in services if endpoint in s.endpoints]
    if not serving:
        return None, [f"no WSDL is served at {endpoint}"]
    matching = [
        (service, name, op) for service in serving for name, op in service.operations.items() if op[0] == [payload.tag]
    ]
    if len(matching) != 1:
        names = ", ".join(s.path.name for s in serving)
        return None, [f"{len(matching)} operations at {endpoint} ({names}) take {payload.tag}, not one"]
    service, operation, (_, action, style, use, envelope) = matching[0]
    problems = []
    if soap != envelope:
        problems.append(f"{operation} is bound to the SOAP envelope {envelope}, the request is {soap}")
    expected = ("text/xml",) if envelope == SOAP_ENV else ("application/soap+xml", "xop")
    if transport not in expected:
        problems.append(f"{operation} sent as {transport}, not {' or '.join(expected)}")
    if (style, use) != ("document", "literal"):
        problems.append(f"{operation} is bound {style}/{use}, not document/literal")
    if action != "":
        problems.append(f"{operation} has soapAction {action!r}")

    # Validate the payload on its own: deepcopy keeps the namespace declarations it uses.
    document = etree.ElementTree(copy.deepcopy(payload))
    if not service.schema.validate(document):
        for error in service.schema.error_log:
            problems.append(f"line {error.line}: {error.message}")
    return operation, problems


def main(argv):
    if len(argv) < 4 or len(argv) % 2 != 0:
        print(__doc__, file=sys.stderr)
        return 2
    schema_dir = pathlib.Path(argv[1])
    services = [Service(path) for path in sorted(schema_dir.glob("*.wsdl"))]
    failed = False
    for endpoint, request in zip(argv[2::2], argv[3::2]):
        request_path = pathlib.Path(request)
        operation, problems = check(services, endpoint, request_path)
        if problems:
            failed = True
            for problem in problems:
                print(f"INVALID {operation or '?'} {request_path.name}: {problem}")
        else:
            print(f"ok {operation} {request_path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
