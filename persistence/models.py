"""Tables. The certificate row keeps the complete original request and the metadata that lists
and checks are indexed by; everything that happens to a certificate afterwards is an appended
state row, so revoked / archived / sent are derived, never overwritten."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Certificate(Base):
    __tablename__ = "certificate"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type_code: Mapped[str] = mapped_column(String(32))
    type_version: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[str] = mapped_column(String(12))
    care_unit_id: Mapped[str] = mapped_column(String(64))
    care_unit_name: Mapped[str] = mapped_column(String(255), default="")
    care_giver_id: Mapped[str] = mapped_column(String(64))
    signing_doctor_id: Mapped[str] = mapped_column(String(64))
    signing_doctor_name: Mapped[str] = mapped_column(String(255), default="")
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    # Erased by the care giver (a data-protection deletion, not the citizen's archiving).
    deleted_by_care_giver: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # The contract the certificate arrived through, e.g. "RegisterCertificate:3".
    source: Mapped[str] = mapped_column(String(64))
    # The complete original request body, byte for byte.
    original: Mapped[bytes] = mapped_column(LargeBinary)
    # The certificate in RegisterCertificate v3 form when it arrived in a legacy format.
    canonical: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_certificate_patient_signed", "patient_id", "signed_at"),
        Index("ix_certificate_unit_patient", "care_unit_id", "patient_id"),
        Index("ix_certificate_care_giver", "care_giver_id"),
    )


class CertificateState(Base):
    __tablename__ = "certificate_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificate.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # RECEIVED SENT CANCELLED DELETED RESTORED
    target: Mapped[str] = mapped_column(String(32))  # the part: HSVARD, INVANA, FKASSA, ...
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class CertificateRelation(Base):
    __tablename__ = "certificate_relation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # from_id is the newer certificate; it replaces / completes / renews / copies to_id.
    from_id: Mapped[str] = mapped_column(String(64), index=True)
    to_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # ERSATT KOMPLT FRLANG KOPIA
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
