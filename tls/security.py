"""The transport security ``intygstjanst serve`` runs with: mode, certificates, dev PKI, grants.

:func:`prepare` runs once, in the process the operator started: it settles ``tls_mode auto`` and, for
the embedded default, creates (or reuses) a development PKI and a development authorization file
under the data directory. The settings it returns are complete, so worker processes, which receive
them as ``INTYG_*`` variables, build the same :class:`TransportSecurity` without creating anything.

Defaults, and why:

- ``auto`` with certificate flags is ``native``, with trusted proxies ``proxy``; with neither it is
  ``native`` on the development PKI, whose client certificates the development authorization file
  grants everything, so a fresh checkout is secure and usable at once.
- ``native`` and ``proxy`` need an authorization file: without one, every holder of a certificate
  from the trusted CAs (for a national CA, every organisation in the country) could call everything.
- ``off`` is plain HTTP without caller identity, where every call is allowed; settings that need an
  identity are refused in that mode rather than silently ignored, and the start-up log says so.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from cryptography import x509
from starlette.applications import Starlette

from intygstjanst.contracts.dispatch import Authorizer, allow_all
from intygstjanst.contracts.registry import Contract
from intygstjanst.settings import Settings, SettingsError, flag_of
from intygstjanst.tls.authorization import SWEDEN, CallAuthorizer
from intygstjanst.tls.callers import CallerResolver, Network, TlsMode, TrustedProxyScheme, parse_networks
from intygstjanst.tls.errors import AuthorizationFileError
from intygstjanst.tls.http_limits import HttpLimits, http_protocol
from intygstjanst.tls.identity import HSA_ID, HSA_ID_RULE
from intygstjanst.tls.pki import CA_CERT, CLIENT_DIR, CRL_FILE, DEFAULT_HOSTS, SERVER_CERT, SERVER_KEY, IssuedCert, create_dev_pki
from intygstjanst.tls.server import ServerTlsFiles
from intygstjanst.tls.uvicorn_mtls import uvicorn_config

log = logging.getLogger("intygstjanst.tls")

DEV_DIR = "tls"  # under the data directory
DEV_CLIENTS = ("SE5565594230-DEV1", "SE5565594230-DEV2")
DEV_AUTHORIZATION = "authorization.toml"
_UNSPECIFIED_HOSTS = {"", "0.0.0.0", "::"}
_TLS_FILES = ("tls_cert", "tls_key", "tls_ca", "tls_crl")


def _flag(setting: str) -> str:
    return f"{setting} ({flag_of(setting)})"


@dataclass(frozen=True)
class DevPkiInfo:
    """What the embedded default uses, for the start-up message."""

    directory: Path
    created: bool
    ca: Path
    clients: dict[str, IssuedCert]
    authorization_file: Path

    def lines(self) -> list[str]:
        state = "created now" if self.created else "reused"
        lines = [
            f"development PKI in {self.directory} ({state}); delete the directory to start over",
            f"  CA certificate (trust it to verify the server): {self.ca}",
        ]
        for hsa_id, files in self.clients.items():
            lines.append(f"  client certificate {hsa_id}: {files.cert}  key: {files.key}")
        lines.append(f"  authorization file: {self.authorization_file}")
        lines.append("  signatures of its doctors ('intygstjanst sign') are trusted (signature_trust_bundle)")
        return lines


def prepare(settings: Settings) -> tuple[Settings, DevPkiInfo | None]:
    """Settle ``tls_mode`` (and create the development PKI when ``auto`` comes to that)."""
    mode = settings.tls_mode.strip().lower()
    if mode not in {"auto", *(member.value for member in TlsMode)}:
        raise SettingsError(f"{_flag('tls_mode')} must be auto, off, native or proxy, got {settings.tls_mode!r}")
    if mode == "auto":
        if any(getattr(settings, name) is not None for name in _TLS_FILES):
            mode = TlsMode.NATIVE
        elif settings.trusted_proxies:
            mode = TlsMode.PROXY
        else:
            return _development(settings)
    return settings.replace(tls_mode=str(mode)), None


def _development(settings: Settings) -> tuple[Settings, DevPkiInfo]:
    directory = (settings.data_dir / DEV_DIR).resolve()
    created = not (directory / CA_CERT).exists()
    if created:
        hosts = [*DEFAULT_HOSTS]
        if settings.host not in _UNSPECIFIED_HOSTS and settings.host not in hosts:
            hosts.append(settings.host)
        clients = create_dev_pki(directory, hosts, DEV_CLIENTS).clients
    else:
        clients = {
            cert.stem: IssuedCert(cert, cert.with_suffix(".key")) for cert in sorted((directory / CLIENT_DIR).glob("*.pem"))
        }
    authorization = settings.authorization_file
    if authorization is None:
        authorization = directory / DEV_AUTHORIZATION
        if not authorization.exists():
            _write_dev_authorization(authorization, clients)
    crl = directory / CRL_FILE  # written by 'intygstjanst tls revoke --out <data-dir>/tls'
    prepared = settings.replace(
        tls_mode=str(TlsMode.NATIVE),
        tls_cert=directory / SERVER_CERT,
        tls_key=directory / SERVER_KEY,
        tls_ca=directory / CA_CERT,
        tls_crl=crl if crl.exists() else None,
        authorization_file=authorization,
        # The doctors 'intygstjanst sign' makes are issued by the same CA: their signatures verify as
        # trusted in development, unless another bundle is configured.
        signature_trust_bundle=settings.signature_trust_bundle or directory / CA_CERT,
    )
    return prepared, DevPkiInfo(directory, created, directory / CA_CERT, clients, authorization)


def _write_dev_authorization(path: Path, clients: dict[str, IssuedCert]) -> None:
    today = dt.datetime.now(SWEDEN).date()
    lines = [
        "# Development grants written by 'intygstjanst serve' next to the development PKI: each development",
        "# client certificate may call every contract for every logical address while it is valid.",
        "# Edit, then reload with 'intygstjanst authorization reload' (or SIGHUP) without a restart.",
    ]
    for hsa_id, files in clients.items():
        expires = x509.load_pem_x509_certificate(files.cert.read_bytes()).not_valid_after_utc.astimezone(SWEDEN)
        lines += [
            "",
            "[[grant]]",
            f'consumer = "{hsa_id}"',
            'logical_address = "*"',
            'contract = "*"',
            f"valid_from = {today.isoformat()}",
            f"valid_to = {expires.date().isoformat()}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Reloader:
    """Something else SIGHUP reloads: ``reload`` returns what it did, or raises and changes nothing."""

    name: str
    reload: Callable[[], str]


@dataclass
class TransportSecurity:
    """Caller resolution, authorization and server TLS for one mode, checked when built."""

    mode: TlsMode
    resolver: CallerResolver
    authorizer: Authorizer
    server_tls: ServerTlsFiles | None = None
    authorization: CallAuthorizer | None = None
    proxies: tuple[Network, ...] = field(default=())
    _reloaders: tuple[Reloader, ...] = field(default=(), init=False, repr=False)

    @classmethod
    def build(cls, settings: Settings, contracts: Iterable[Contract]) -> TransportSecurity:
        """Check ``settings`` (as :func:`prepare` left them) and load every file they name.

        Raises :class:`SettingsError` for settings that do not fit together, ``TlsConfigError`` for an
        unusable certificate, key, CA or CRL file, and :class:`AuthorizationFileError`.
        """
        try:
            mode = TlsMode(settings.tls_mode)
        except ValueError:
            raise SettingsError(f"{_flag('tls_mode')} must be off, native or proxy here, got {settings.tls_mode!r}") from None
        platforms = frozenset(settings.platform_consumers)
        for platform in sorted(platforms):
            if not HSA_ID.fullmatch(platform):
                raise SettingsError(f"{_flag('platform_consumers')} {platform!r} is not an HSA-id ({HSA_ID_RULE})")
        if mode is TlsMode.OFF:
            needing_identity = [
                name
                for name in (*_TLS_FILES, "trusted_proxies", "authorization_file", "platform_consumers")
                if getattr(settings, name)
            ]
            if needing_identity:
                raise SettingsError(
                    "tls_mode off serves plain HTTP without caller identity, so "
                    f"{', '.join(map(_flag, needing_identity))} "
                    "cannot take effect; remove those settings or use tls mode native or proxy"
                )
            return cls(mode, CallerResolver(mode), allow_all)
        server_tls = None
        proxies: tuple[Network, ...] = ()
        if mode is TlsMode.NATIVE:
            if settings.trusted_proxies:
                raise SettingsError(f"{_flag('trusted_proxies')} only applies in tls mode proxy, not native")
            missing = [_flag(name) for name in _TLS_FILES[:3] if getattr(settings, name) is None]
            if missing:
                raise SettingsError(f"tls mode native needs {', '.join(missing)}")
            assert settings.tls_cert and settings.tls_key and settings.tls_ca
            server_tls = ServerTlsFiles(settings.tls_cert, settings.tls_key, settings.tls_ca, settings.tls_crl)
            server_tls.load()  # every file checked now, not at the first handshake
        else:
            present = [_flag(name) for name in _TLS_FILES if getattr(settings, name) is not None]
            if present:
                raise SettingsError(f"{', '.join(present)} cannot take effect in tls mode proxy: the proxy terminates TLS")
            if not settings.trusted_proxies:
                raise SettingsError(f"tls mode proxy needs at least one {_flag('trusted_proxies')} address")
            try:
                proxies = parse_networks(settings.trusted_proxies)
            except ValueError as exc:
                raise SettingsError(str(exc)) from None
        if settings.authorization_file is None:
            raise SettingsError(
                f"tls mode {mode} needs an {_flag('authorization_file')}: without one every holder of a "
                "certificate from the trusted CAs could call every contract"
            )
        header = settings.proxy_cert_header.strip().lower()
        if not header:
            raise SettingsError("proxy_cert_header must name a header")
        authorization = CallAuthorizer(settings.authorization_file, {c.namespace for c in contracts})
        resolver = CallerResolver(mode, platforms, proxies, header)
        return cls(mode, resolver, authorization, server_tls, authorization, proxies)

    @property
    def scheme(self) -> str:
        return "https" if self.mode is TlsMode.NATIVE else "http"

    def apply(self, app: Starlette) -> None:
        """Add what the mode needs around the app (before it starts)."""
        if self.mode is TlsMode.PROXY:
            app.add_middleware(TrustedProxyScheme, proxies=self.proxies)

    def uvicorn_config(self, app: Any, limits: HttpLimits, **options: Any) -> uvicorn.Config:
        # X-Forwarded-For must never replace the TCP peer: the trusted-proxy check relies on it.
        options["proxy_headers"] = False
        if self.server_tls is not None:
            return uvicorn_config(app, self.server_tls, limits=limits, **options)
        return uvicorn.Config(app, http=http_protocol(limits), **limits.uvicorn_options(), **options)

    def log_startup(self) -> None:
        """Say how callers are identified and authorized."""
        if self.mode is TlsMode.OFF:
            log.warning("plain HTTP without caller identity: every call is allowed (for development and tests only)")
            return
        if self.mode is TlsMode.NATIVE:
            log.info("callers are identified by their verified TLS client certificates (native mutual TLS)")
        else:
            proxies = ", ".join(str(network) for network in self.proxies)
            log.info("callers are identified by the client certificate that a trusted proxy (%s) forwards", proxies)
        assert self.authorization is not None
        table = self.authorization.table
        if len(table) == 0:
            log.warning("the authorization file %s grants nothing: every call will be refused", self.authorization.path)
        else:
            log.info("call authorization: %d grant(s) from %s", len(table), self.authorization.path)
        if self.resolver.platforms:
            log.info("platform consumers (may pass the original consumer): %s", ", ".join(sorted(self.resolver.platforms)))

    def reload_authorization(self) -> str:
        """Re-read the authorization file; raises :class:`AuthorizationFileError`, keeping the old table."""
        if self.authorization is None:
            return "tls mode off has no authorization table; nothing to reload"
        table = self.authorization.reload()
        return f"authorization table reloaded from {self.authorization.path}: {len(table)} grant(s)"

    def install_reload_signal(self, *others: Reloader) -> None:
        """On SIGHUP, reload the authorization table and then each of ``others`` (call from the main
        thread of each process). Each reload is all or nothing: one that raises is logged and the
        process keeps what it had; the others still run."""
        self._reloaders = others
        signal.signal(signal.SIGHUP, self._on_sighup)

    def _on_sighup(self, _signum: int, _frame: FrameType | None) -> None:
        try:
            log.info(self.reload_authorization())
        except AuthorizationFileError as exc:
            log.error("authorization reload failed; the previous table stays in force: %s", exc)
        for reloader in self._reloaders:
            # With several workers each process reloads (and says so) on its own.
            try:
                log.info("%s (process %d)", reloader.reload(), os.getpid())
            except Exception as exc:  # a signal handler must not raise into whatever was running
                log.error("%s reload failed in process %d; the previous ones stay in force:\n%s", reloader.name, os.getpid(), exc)
