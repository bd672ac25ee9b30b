"""``intygstjanst stub-recipient`` (a stand-in recipient agency) and ``intygstjanst dev`` (the service,
a delivery worker and a stub recipient together), for tests and demonstrations."""

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
    config = uvicorn.Config(
        app, host=args.host, port=port, http=StubProtocol, log_level="warning", access_log=False, ws="none", lifespan="off", **options
    )
    with sock:
        uvicorn.Server(config).run(sockets=[sock])
    return 0


def _dev(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.testing.dev import run

    return run(settings, args.stub_port, args.record)


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

    stub = subparsers.add_parser("stub-recipient", help="run a stand-in recipient that records what it gets")
    stub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    stub.add_argument("--port", type=int, required=True, help="port to listen on (0: any free port)")
    stub.add_argument("--record", type=Path, required=True, help="JSON-lines file of what was received")
    stub.add_argument("--tls-cert", type=Path, help="server certificate (with --tls-key and --tls-ca: mutual TLS)")
    stub.add_argument("--tls-key", type=Path, help="its private key")
    stub.add_argument("--tls-ca", type=Path, help="CAs whose client certificates are accepted")
    stub.set_defaults(command=_stub_recipient)
