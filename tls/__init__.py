"""Certificates, caller identity and call authorization.

- ``server``: ``load_server_tls`` / ``ServerTlsFiles``, the checked server context for native mTLS.
- ``uvicorn_mtls``: uvicorn protocols adding the ASGI TLS extension; ``uvicorn_config`` and ``serve``.
- ``http_limits``: the HTTP limits (header size and count, read timeouts, connection cap) in the
  httptools protocol that every transport mode serves with.
- ``identity``: the caller's HSA-id from the TLS extension or from a proxy-forwarded certificate.
- ``callers``: ``CallerResolver`` per transport mode (native, proxy, off) and the platform's original
  consumer; ``TrustedProxyScheme``.
- ``authorization``: the grant table (TOML) and ``CallAuthorizer``, reloadable.
- ``security``: what ``serve`` runs with: ``prepare`` (mode, development PKI) and ``TransportSecurity``.
- ``runtime``: running uvicorn with SIGHUP reaching every worker; ``serve.json`` for the admin command.
- ``client``: ``ClientTls`` for outbound calls (httpx, requests, zeep).
- ``pki`` and ``cli``: the development CA and the ``intygstjanst tls`` / ``authorization`` commands.
- ``errors``: the exceptions, importable without pulling in uvicorn or zeep.

May import: ``contracts`` (Faults, the contract table that grants name, the log format) and ``settings``.
"""
