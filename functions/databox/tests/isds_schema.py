"""Validates SOAP requests of the ISDS adapter against the official WSDL and XSD (lxml, libxml2's validator).

Usage: python isds_schema.py SCHEMA_DIR ENDPOINT REQUEST_FILE [ENDPOINT REQUEST_FILE ...]

SCHEMA_DIR holds the operator's WSDL and XSD files (tests/fixtures/isds/xsd/). ENDPOINT is the URL path
the request was posted to (`/DS/dx`). For each request this checks that it is a SOAP 1.1 envelope whose
body holds one element; that exactly one operation of the WSDLs served at that endpoint (their `soap:address`)
takes that element as its input, bound document/literal, with `soapAction=""`; and that the element is valid against the
schema the WSDL includes. Prints one line per request (`ok OPERATION FILE` or the validator's messages)
and exits 1 if any request is invalid.
"""

import copy
import pathlib
import sys
from urllib.parse import urlparse

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
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
        ns = {"w": WSDL, "s": WSDL_SOAP, "xs": XS}
        addresses = root.findall("w:service/w:port/s:address", ns)
        self.endpoints = {urlparse(a.get("location")).path for a in addresses}
        messages = {
            m.get("name"): [qname(p, p.get("element")) for p in m.findall("w:part", ns)]
            for m in root.findall("w:message", ns)
        }
        port_types = {p.get("name"): p for p in root.findall("w:portType", ns)}
        # operation name -> (input element, soapAction, binding style, input body use)
        self.operations = {}
        for binding in root.findall("w:binding", ns):
            style = binding.find("s:binding", ns).get("style")
            port_type = port_types[binding.get("type").rpartition(":")[2]]
            for operation in binding.findall("w:operation", ns):
                name = operation.get("name")
                abstract = port_type.find(f"w:operation[@name='{name}']", ns)
                parts = messages[abstract.find("w:input", ns).get("message").rpartition(":")[2]]
                action = operation.find("s:operation", ns).get("soapAction")
                use = operation.find("w:input/s:body", ns).get("use")
                self.operations[name] = (parts, action, style, use)
        # The WSDL's own schema, which includes dmBaseTypes.xsd or dbTypes.xsd from the same folder.
        embedded = root.find("w:types/xs:schema", ns)
        schema_doc = etree.fromstring(etree.tostring(embedded), PARSER, base_url=str(path))
        self.schema = etree.XMLSchema(schema_doc)


def check(services, endpoint, request_path):
    """The problems of one request, or the operation it is."""
    try:
        root = etree.parse(str(request_path), PARSER).getroot()
    except etree.XMLSyntaxError as error:
        return None, [f"not well-formed: {error}"]
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        return None, [f"the root is {root.tag}, not a SOAP 1.1 Envelope"]
    bodies = root.findall(f"{{{SOAP_ENV}}}Body")
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
    service, operation, (_, action, style, use) = matching[0]
    problems = []
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
