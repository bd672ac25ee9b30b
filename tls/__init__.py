"""Certificates and caller identity.

- ``server``: ``load_server_tls`` / ``ServerTlsFiles``, the checked server context for native mTLS.
- ``uvicorn_mtls``: uvicorn protocols adding the ASGI TLS extension; ``uvicorn_config`` and ``serve``.
- ``identity``: the caller's HSA-id from the TLS extension or from a proxy-forwarded certificate.
- ``client``: ``ClientTls`` for outbound calls (httpx, requests, zeep).
- ``pki`` and ``cli``: the development CA and the ``intygstjanst tls`` commands.
- ``testing``: serving an app over real mTLS inside a test process.
- ``errors``: the exceptions, importable without pulling in uvicorn or zeep.
"""
