"""The RIV-TA protocol layer: what any producer of these contracts does before and after its
business logic.

``envelope`` (SOAP 1.1 request and response), ``dispatch`` (the checks before a handler runs:
parsing, routing header, SOAPAction, authorization hook, schema; the audit line), ``faults`` (SOAP
Faults), ``result`` (the Outcome of a call and the result structures that carry it), ``call`` (the
call a handler gets and the Answer it gives), ``registry`` and ``contracts.toml`` (the one contract
table: served, called and kit-tested contracts), ``naming`` (the platform's naming conventions),
``wsdl`` (serving WSDLs and schemas) and ``xml`` (namespaces, the hardened parser, element helpers).

May import: nothing else in the package. Every other layer builds on it; it knows nothing of
certificates, registers or storage (what handlers work with reaches it as ``Call.services``).
"""
