"""``intygstjanst conformance run | list``.

These commands ignore the service settings (they test a producer, which may be another one). The
kit's modules are imported when a command runs, so that other ``intygstjanst`` commands do not pay for zeep and httpx.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_FAILED = 1
EXIT_USAGE = 2


def add_commands(subparsers: Any) -> None:
    """Add the ``conformance`` command group to the main CLI's sub-parsers."""
    group = subparsers.add_parser("conformance", help="run contract conformance suites against a producer")
    commands = group.add_subparsers(dest="conformance_command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="run the suites against a producer",
        description="Run the conformance suites against the producer at --endpoint. Contracts are found by "
        "the national platform's path convention under it (/<domain>/<Contract>/<major>/<profile>); a "
        "contract whose ?wsdl answers 404 is not served there and its cases are skipped, unless it was "
        "named with --contract or --require-all is given. Exit status 0 when no case failed.",
    )
    run.add_argument("--endpoint", required=True, metavar="BASE_URL", help="base URL of the producer, e.g. https://host:8443")
    run.add_argument("--contract", dest="contracts", action="append", default=[], metavar="NAME", help="run only this contract's suite: Name or Name:major (repeatable)")
    run.add_argument("--case", dest="cases", action="append", default=[], metavar="PATTERN", help="run only cases matching this glob, e.g. 'duplicate' or 'GetCertificate:2/*' (repeatable)")
    run.add_argument("--url", dest="urls", action="append", default=[], metavar="CONTRACT=URL", help="the endpoint of one contract, instead of the path convention (repeatable)")
    run.add_argument("--cert", type=Path, metavar="FILE", help="client certificate (PEM) for mutual TLS")
    run.add_argument("--key", type=Path, metavar="FILE", help="its private key (PEM)")
    run.add_argument("--ca", type=Path, metavar="FILE", help="CA certificate(s) to verify the producer's server certificate")
    run.add_argument("--logical-address", metavar="ADDR", help="logical address for every call (the data value logicalAddress)")
    run.add_argument("--data", dest="data_file", type=Path, metavar="FILE", help="test data file in the style of data.xml (default: the shipped one)")
    run.add_argument("--set", dest="values", action="append", default=[], metavar="NAME=VALUE", help="set one test data value (repeatable); see 'conformance list --values'")
    run.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    run.add_argument("--failures-dir", type=Path, default=Path("conformance-failures"), metavar="DIR", help="where failed cases' requests and answers are saved (default ./conformance-failures/<run id>)")
    run.add_argument("--require-all", action="store_true", help="a contract not served at its URL is a failure, not a skip")
    run.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="per HTTP request (default 30)")
    run.set_defaults(command=_run)

    listing = commands.add_parser("list", help="show the suites and their cases")
    listing.add_argument("--contract", dest="contracts", action="append", default=[], metavar="NAME", help="only this contract (repeatable)")
    listing.add_argument("--values", action="store_true", help="describe the test data values instead")
    listing.set_defaults(command=_list)


def _run(args: argparse.Namespace, _settings: object = None) -> int:
    import logging

    from intygstjanst.contracts.registry import contract_specs
    from intygstjanst.conformance.data import DataError, load
    from intygstjanst.conformance.report import Progress, junit_xml, save_failures, summary
    from intygstjanst.conformance.runner import Runner, RunError, Selection, Status, parse_url_overrides
    from intygstjanst.conformance.suites import all_suites
    from intygstjanst.conformance.transport import TlsFiles, Transport

    try:
        data = load(args.data_file) if args.data_file else load()
        changes = dict(_pair(item) for item in args.values)
        if args.logical_address:
            changes["logicalAddress"] = args.logical_address
        data = data.with_values(changes)
        urls = parse_url_overrides(args.urls, contract_specs())
        transport = Transport(TlsFiles(args.cert, args.key, args.ca), args.timeout, data.values.get("originalServiceConsumerHsaId", ""))
    except (DataError, RunError, ValueError, OSError) as exc:
        print(f"intygstjanst conformance run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Every request is on the progress line already; the HTTP clients' own INFO lines are noise.
    for name in ("httpx", "httpcore", "zeep"):
        logging.getLogger(name).setLevel(logging.WARNING)
    runner = Runner(args.endpoint, transport, data, urls=urls, required=args.contracts if not args.require_all else [s.id for s in all_suites()])
    print(f"conformance run {runner.run_id} against {runner.endpoint} (test data: {data.source})")
    try:
        results = runner.run(Selection(args.contracts, args.cases), Progress(sys.stdout))
    except RunError as exc:
        print(f"intygstjanst conformance run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        transport.close()
    failures_dir = args.failures_dir / runner.run_id
    failed = any(result.status is Status.FAILED for result in results)
    if failed:
        save_failures(results, failures_dir)
    print()
    print(summary(results, failures_dir if failed else None))
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_bytes(junit_xml(results))
        print(f"\nJUnit XML: {args.junit}")
    return EXIT_FAILED if failed else 0


def _pair(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"--set {item!r}: expected NAME=VALUE")
    return name.strip(), value


def _list(args: argparse.Namespace, _settings: object = None) -> int:
    from intygstjanst.contracts.registry import contract_specs
    from intygstjanst.conformance.data import KNOWN_VALUES, load
    from intygstjanst.conformance.runner import RunError, Selection
    from intygstjanst.conformance.suites import all_suites

    if args.values:
        width = max(len(name) for name in KNOWN_VALUES)
        defaults = load().values
        for name, meaning in KNOWN_VALUES.items():
            print(f"{name:<{width}}  {meaning}\n{'':<{width}}  default: {defaults.get(name) or '(empty)'}")
        return 0
    try:
        suites = Selection(args.contracts).suites(all_suites())
    except RunError as exc:
        print(f"intygstjanst conformance list: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    specs = contract_specs()
    total = 0
    for suite in suites:
        cases = suite.all_cases()
        total += len(cases)
        spec = specs.get(suite.id)
        where = f"{spec.path}  ({spec.namespace})" if spec else "(no contract definition)"
        print(f"{suite.id}  {len(cases)} cases  {where}")
        width = max(len(case.id) for case in cases)
        for case in cases:
            print(f"  {case.id:<{width}}  {case.category:<14}  {case.title}")
    print(f"\n{len(suites)} suites, {total} cases")
    return 0
