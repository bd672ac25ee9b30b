"""``intygstjanst stub-recipient`` (a stand-in recipient agency), ``intygstjanst dev`` (the service,
a delivery worker and a stub recipient together) and ``intygstjanst sign`` (a certificate signed by a
doctor of the development PKI), for tests and demonstrations."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from intygstjanst.settings import EVERY, Settings, add_flags


def _stub_recipient(args: argparse.Namespace, _settings: Settings) -> int:
    import uvicorn

    from intygstjanst.testing.stub_recipient import StubProtocol, create_stub_app
    from intygstjanst.tls import runtime
    from intygstjanst.tls.http_limits import HttpLimits, http_protocol
    from intygstjanst.tls.server import ServerTlsFiles

    tls = [args.tls_cert, args.tls_key, args.tls_ca]
    if any(tls) and not all(tls):
        print("intygstjanst stub-recipient: error: --tls-cert, --tls-key and --tls-ca go together", file=sys.stderr)
        return 2
    options: dict[str, Any] = {}
    if all(tls):
        files = ServerTlsFiles(args.tls_cert, args.tls_key, args.tls_ca)
        files.load()  # refuse bad files before listening
        options["ssl_context_factory"] = files
    try:
        sock = runtime.listen(args.host, args.port)
    except runtime.ServerStartError as exc:
        print(f"intygstjanst stub-recipient: error: {exc}", file=sys.stderr)
        return 1
    app = create_stub_app(args.record)
    port = sock.getsockname()[1]
    scheme = "https" if all(tls) else "http"
    print(f"stub recipient on {scheme}://{args.host}:{port} recording to {args.record}", flush=True)
    # The stub speaks HTTP as the service does, with the same limits (the protocol needs them).
    protocol = http_protocol(HttpLimits.from_settings(), StubProtocol)
    config = uvicorn.Config(
        app, host=args.host, port=port, http=protocol, log_level="warning", access_log=False, ws="none", lifespan="off", **options
    )
    with sock:
        uvicorn.Server(config).run(sockets=[sock])
    return 0


def _dev(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.testing.dev import run

    return run(settings, args.stub_port, args.record)


def _sign(args: argparse.Namespace, settings: Settings) -> int:
    from lxml import etree

    from intygstjanst.testing.signing import SigningError, sign_document, signing_doctor
    from intygstjanst.tls.errors import PkiError, TlsConfigError
    from intygstjanst.tls.pki import CA_CERT, SIGNER_DIR, DevCa
    from intygstjanst.tls.security import DEV_DIR

    if (args.cert is None) != (args.key is None):
        print("intygstjanst sign: error: --cert and --key go together", file=sys.stderr)
        return 2
    try:
        document = args.file.read_bytes()
        cert, key = args.cert, args.key
        if cert is None:
            pki = settings.data_dir / DEV_DIR
            signer = args.signer or signing_doctor(document)
            cert, key = pki / SIGNER_DIR / f"{signer}.pem", pki / SIGNER_DIR / f"{signer}.key"
            if not cert.exists():
                DevCa.load(pki).issue_signing_cert(signer, pki / SIGNER_DIR)
                print(f"issued a signing certificate for {signer}: {cert}", file=sys.stderr)
            print(f"signed by {signer}; trust it with --signature-trust-bundle {pki / CA_CERT}", file=sys.stderr)
        signed = sign_document(document, cert, key, wrapped=not args.unwrapped, stamp=not args.keep_time)
    except (OSError, etree.XMLSyntaxError, SigningError, PkiError, TlsConfigError) as exc:
        print(f"intygstjanst sign: error: {exc}", file=sys.stderr)
        return 1
    if args.out is None:
        sys.stdout.buffer.write(signed)
    else:
        args.out.write_bytes(signed)
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = subparsers.add_parser(
        "dev",
        help="run the service, a delivery worker and a stub recipient together (sending works at once)",
        description="Start 'serve', 'worker' and 'stub-recipient' as three processes, with delivery_base_url "
        "pointing at the stub, which takes every outbound contract for every recipient and records what it "
        "gets. With --delivery-base-url no stub is started. Takes every setting of 'serve'; Ctrl-C stops all.",
    )
    dev.add_argument("--stub-port", type=int, default=0, metavar="PORT", help="port of the stub recipient (default: a free one)")
    dev.add_argument("--record", type=Path, metavar="FILE", help="the stub's record (default <data-dir>/stub-recipient.jsonl)")
    add_flags(dev, EVERY)
    dev.set_defaults(command=_dev)

    sign = subparsers.add_parser(
        "sign",
        help="sign a RegisterCertificate as a doctor of the development PKI (tests and demos)",
        description="Signs the intyg in FILE (a RegisterCertificate request, bare or in a SOAP envelope) with the "
        "profile's XML signature and writes the signed document to --out or standard output. Without --cert/--key "
        "the signer is a doctor of the development PKI in <data-dir>/tls (the one 'intygstjanst dev' creates): "
        "skapadAv/personal-id, or --signer, with a signing certificate issued on first use under tls/signers/.",
    )
    sign.add_argument("file", type=Path, metavar="FILE")
    sign.add_argument("--out", type=Path, metavar="FILE", help="where to write the signed document (default: standard output)")
    sign.add_argument("--signer", metavar="HSA_ID", help="sign as this doctor (default: skapadAv/personal-id)")
    sign.add_argument("--cert", type=Path, metavar="FILE", help="signing certificate (PEM), instead of the development PKI")
    sign.add_argument("--key", type=Path, metavar="FILE", help="its private key (PEM)")
    sign.add_argument("--unwrapped", action="store_true", help="put the Signature directly in intyg, not in underskrift")
    sign.add_argument("--keep-time", action="store_true", help="keep signeringstidpunkt (default: set it to now, as a signing journal system does)")
    add_flags(sign, "data_dir")
    sign.set_defaults(command=_sign)

    stub = subparsers.add_parser("stub-recipient", help="run a stand-in recipient that records what it gets")
    stub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    stub.add_argument("--port", type=int, required=True, help="port to listen on (0: any free port)")
    stub.add_argument("--record", type=Path, required=True, help="JSON-lines file of what was received")
    stub.add_argument("--tls-cert", type=Path, help="server certificate (with --tls-key and --tls-ca: mutual TLS)")
    stub.add_argument("--tls-key", type=Path, help="its private key")
    stub.add_argument("--tls-ca", type=Path, help="CAs whose client certificates are accepted")
    stub.set_defaults(command=_stub_recipient)
