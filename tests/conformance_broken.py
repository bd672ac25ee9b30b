"""A deliberately broken copy of the service, for the conformance kit's own tests.

``uvicorn --factory intygstjanst.tests.conformance_broken:duplicates_answered_ok`` serves the real
app with one behaviour changed: a repeated RegisterCertificate is answered OK instead of INFO
"Certificate already exists". Everything else (storage, other contracts) is the real thing, so the
kit must fail exactly the case about duplicates.
"""

from __future__ import annotations

import dataclasses

from starlette.applications import Starlette

from intygstjanst.app import create_app
from intygstjanst.contracts.call import Answer, Call
from intygstjanst.contracts.registry import ContractRegistry, Handler
from intygstjanst.contracts.result import OK, info
from intygstjanst.handlers.certificate import ALREADY_EXISTS
from intygstjanst.services import Services
from intygstjanst.settings import Settings


def _duplicates_ok(handler: Handler) -> Handler:
    def broken(call: Call[Services]) -> Answer:
        answer = handler(call)
        if answer.outcome == info(ALREADY_EXISTS):
            return Answer.result(call.contract, OK)
        return answer

    return broken


def duplicates_answered_ok() -> Starlette:
    settings = Settings.load()
    contracts = ContractRegistry(
        dataclasses.replace(contract, handler=_duplicates_ok(contract.handler)) if contract.name == "RegisterCertificate" else contract
        for contract in ContractRegistry.load()
    )
    return create_app(settings, Services.build(settings, contracts=contracts))
