"""The ledger's tables: the append-only entries, the head, rejected events, the measures,
the Merkle log, and webhook subscriptions with their delivery outbox and log."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.auth import TokenMixin
from shared.sessions import SessionMixin


class Base(DeclarativeBase):
    pass


class Head(Base):
    """A single row: how many entries the ledger holds. Locking it serialises appends."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime)
    # The Merkle tree's right edge: hex hashes of its perfect subtrees, largest first.
    compact_range: Mapped[str] = mapped_column(sa.Text, default="")


class FollowerPosition(Base):
    """How far one follower of the log has applied it: the seq of the last entry whose
    effect it has committed, moved in the same transaction as that effect."""

    __tablename__ = "follower_positions"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    position: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime)


class FollowerSkip(Base):
    """An entry a follower of the log could not apply, tried alone again and again, and
    went past without its effect: why, and when. The entry itself stays in the log."""

    __tablename__ = "follower_skips"

    follower: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    skipped_at: Mapped[datetime] = mapped_column(sa.DateTime)


class Entry(Base):
    """One accepted event. ``seq`` is gapless and never reused. A row is changed only by
    its erasure, which clears its content (``event``, ``salt``, ``subject``, ``pseudonym``)
    and keeps its leaf hash (:class:`Erasure`)."""

    __tablename__ = "entries"
    __table_args__ = (
        sa.UniqueConstraint("source", "event_id", name="uq_entries_source_event_id"),
        sa.Index("ix_entries_area_seq", "area", "seq"),
        sa.Index("ix_entries_type_seq", "type", "seq"),
        sa.Index("ix_entries_time", "time"),
        sa.Index("ix_entries_org_unit_seq", "org_unit", "seq"),
        sa.Index("ix_entries_pseudonym_seq", "pseudonym", "seq"),
        sa.Index("ix_entries_leaf_hash", "leaf_hash"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(sa.String(512))
    event_id: Mapped[str] = mapped_column(sa.String(512))
    type: Mapped[str] = mapped_column(sa.String(512))
    subject: Mapped[str | None] = mapped_column(sa.String(512), nullable=True)
    area: Mapped[str] = mapped_column(sa.String(64))
    org_unit: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)
    pseudonym: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    time: Mapped[datetime] = mapped_column(sa.DateTime)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime)
    event: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    leaf_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), nullable=True)
    # Format 2's per-entry salt (services.ledger.leaves); None in format 1, and once erased.
    salt: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), nullable=True)


class Erasure(Base):
    """An entry whose content was erased: on what ground, when, by which token, and its
    leaf input when that was a format-2 commitment (which reveals nothing), so that its
    entry bundle can still be served. The leaf hash stays in ``entries``."""

    __tablename__ = "erasures"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    ground: Mapped[str] = mapped_column(sa.String(64))
    reference: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    erased_at: Mapped[datetime] = mapped_column(sa.DateTime)
    erased_by: Mapped[str] = mapped_column(sa.String(200))
    commitment: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), nullable=True)


class Rejected(Base):
    """An event the ledger could not accept, kept with the reason."""

    __tablename__ = "rejected"
    __table_args__ = (sa.Index("ix_rejected_key_digest", "key_digest"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime)
    reason: Mapped[str] = mapped_column(sa.Text)
    # JSON with every non-ASCII character escaped: always storable, loads back exactly.
    payload: Mapped[str] = mapped_column(sa.Text)
    # The event's source and id as far as it had them, escaped for display; the digest
    # of the exact pair (services.ledger.domain.key_digest) is what the relay looks up.
    source: Mapped[str | None] = mapped_column(sa.String(512), nullable=True)
    event_id: Mapped[str | None] = mapped_column(sa.String(512), nullable=True)
    key_digest: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class ApiToken(TokenMixin, Base):
    """Reader (``ledger:read``), inspector (``ledger:inspect``) and admin tokens."""

    __tablename__ = "api_tokens"

    # Why an inspect token reads entries: required for inspect, logged with each read.
    purpose: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)


class AccessLog(Base):
    """Every read of the ledger: who, what, when and from where."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime, index=True)
    token_name: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    scopes: Mapped[str | None] = mapped_column(sa.String(1000), nullable=True)
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.String(2000))
    status: Mapped[int] = mapped_column(sa.Integer)
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    # The purpose of the token that made the request, if it states one.
    purpose: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)


class Aggregate(Base):
    """Additive measures of one area, org unit ('*' for all) and period, kept on append."""

    __tablename__ = "aggregates"

    area: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    org_unit: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    activities: Mapped[int] = mapped_column(sa.Integer, default=0)
    activities_involved: Mapped[int] = mapped_column(sa.Integer, default=0)
    involvements: Mapped[int] = mapped_column(sa.Integer, default=0)
    step_1: Mapped[int] = mapped_column(sa.Integer, default=0)
    step_2: Mapped[int] = mapped_column(sa.Integer, default=0)
    step_3: Mapped[int] = mapped_column(sa.Integer, default=0)
    step_4: Mapped[int] = mapped_column(sa.Integer, default=0)
    step_5: Mapped[int] = mapped_column(sa.Integer, default=0)
    step_6: Mapped[int] = mapped_column(sa.Integer, default=0)
    step_7: Mapped[int] = mapped_column(sa.Integer, default=0)
    hours: Mapped[float] = mapped_column(sa.Float, default=0.0)
    recognised: Mapped[int] = mapped_column(sa.Integer, default=0)
    votes: Mapped[int] = mapped_column(sa.Integer, default=0)
    feedback: Mapped[int] = mapped_column(sa.Integer, default=0)
    citizens: Mapped[int] = mapped_column(sa.Integer, default=0)
    # "returning" is an SQL keyword
    returning_citizens: Mapped[int] = mapped_column(sa.Integer, default=0)
    # The sums of the keys of those citizens: the cell keys that decide how they are
    # rounded for readers below admin (services.ledger.disclosure.citizen_key).
    citizens_key: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    returning_key: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Involvements whose citizens were told what came of them, and those that led to a
    # recorded change (impact records); those recognised by a time credit.
    told: Mapped[int] = mapped_column(sa.Integer, default=0)
    changed: Mapped[int] = mapped_column(sa.Integer, default=0)
    non_financial: Mapped[int] = mapped_column(sa.Integer, default=0)


class CitizenYear(Base):
    """How many active involvements a pseudonym has in an area and unit, in each month
    of a year (``m1`` January to ``m12`` December): a quarter's or a year's count is
    the sum of its months."""

    __tablename__ = "citizen_years"

    area: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    org_unit: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    year: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    pseudonym: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    m1: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m2: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m3: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m4: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m5: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m6: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m7: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m8: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m9: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m10: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m11: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    m12: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")


class CitizenId(Base):
    """A dense number for each pseudonym the measures have seen, for the bitmaps below.
    Numbers are never reused."""

    __tablename__ = "citizen_ids"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    pseudonym: Mapped[str] = mapped_column(sa.String(64), unique=True)


class CitizenMonth(Base):
    """The citizens (by ``citizen_ids`` number) of an area and unit ('*' for all) in a
    month, as serialised Roaring bitmaps: those with one involvement or more there
    (``once``), and those with two or more (``twice``)."""

    __tablename__ = "citizen_months"

    area: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    org_unit: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    once: Mapped[bytes] = mapped_column(sa.LargeBinary)
    twice: Mapped[bytes] = mapped_column(sa.LargeBinary)


class CitizenKeyBit(Base):
    """Bit ``bit`` of each citizen's record key (offset to be positive), as a Roaring
    bitmap of the citizen numbers from ``chunk`` * 65,536 on that have it: a set's sum of
    keys is a sum of its intersections' sizes."""

    __tablename__ = "citizen_key_bits"

    chunk: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    bit: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    members: Mapped[bytes] = mapped_column(sa.LargeBinary)


class ActivityState(Base):
    """An activity as the ledger's events leave it: for coverage."""

    __tablename__ = "activity_states"

    area: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    activity_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    org_unit: Mapped[str] = mapped_column(sa.String(256))
    day: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16))
    involved: Mapped[int] = mapped_column(sa.Integer)
    # Its impact record, if one is of the whole activity: it stands for each involvement
    # in it that has none of its own.
    told_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    outcome: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)


class InvolvementState(Base):
    """An involvement as its latest event leaves it: what it currently adds to the measures."""

    __tablename__ = "involvement_states"

    area: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    involvement_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    activity_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    org_unit: Mapped[str] = mapped_column(sa.String(256))
    day: Mapped[date] = mapped_column(sa.Date)
    pseudonym: Mapped[str] = mapped_column(sa.String(64))
    step: Mapped[int] = mapped_column(sa.Integer)
    hours: Mapped[float] = mapped_column(sa.Float)
    recognised: Mapped[bool] = mapped_column(sa.Boolean)
    vote: Mapped[bool] = mapped_column(sa.Boolean)
    feedback: Mapped[bool] = mapped_column(sa.Boolean)
    status: Mapped[str] = mapped_column(sa.String(16))
    recognition: Mapped[str] = mapped_column(sa.String(32))
    rubric: Mapped[str] = mapped_column(sa.String(32))
    # Its own impact record, if it has one.
    told_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    outcome: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)


class CellHistogram(Base):
    """How many active involvements of an area, unit ('*' for all) and month have each
    value of a measure: ``feedback_days`` (days from involvement to being told) and
    ``rubric`` (the rubric version that gave the step). Medians and the rubric versions
    a figure mixes are read from it."""

    __tablename__ = "cell_histograms"

    area: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    org_unit: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    n: Mapped[int] = mapped_column(sa.Integer)


class MerkleNode(Base):
    """A complete subtree above the leaves: ``id`` is level * 2**40 + index."""

    __tablename__ = "merkle_nodes"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class LeafTile(Base):
    """A full tile of level 0 (c2sp.org/tlog-tiles), its 256 leaf hashes in one row,
    written by the tiles follower once the log holds all of them: a tile is then one read
    of one row, not of 256 entries."""

    __tablename__ = "leaf_tiles"

    index: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(sa.LargeBinary(8192))


class TreeHeadRow(Base):
    """A signed tree head: one for every integrated batch."""

    __tablename__ = "tree_heads"

    size: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    root_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(sa.LargeBinary(64))


class WitnessCosignature(Base):
    """A witness's cosignature of the checkpoint of one tree size (c2sp.org/tlog-witness),
    as its signature line, verified before it was kept."""

    __tablename__ = "witness_cosignatures"

    witness: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    line: Mapped[str] = mapped_column(sa.Text)
    cosigned_at: Mapped[int] = mapped_column(sa.BigInteger)


class DashboardSession(SessionMixin, Base):
    """A signed-in dashboard reader (shared/sessions.py)."""

    __tablename__ = "dashboard_sessions"


class IntegrityCheck(Base):
    """One run of the dashboard's consistency check, and the signed tree head it reached."""

    __tablename__ = "integrity_checks"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    checked_at: Mapped[datetime] = mapped_column(sa.DateTime)
    passed: Mapped[bool] = mapped_column(sa.Boolean)
    detail: Mapped[str] = mapped_column(sa.Text)
    # The head checked against (the last one a passing check reached), if any.
    from_size: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    # The head checked: kept whole, so that the next check does not depend on tree_heads.
    size: Mapped[int] = mapped_column(sa.BigInteger)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    root_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(sa.LargeBinary(64))
    # The full tiles of level 0 checked so far, from the first: the next check starts at
    # this index (services/ledger/integrity.py). None before any was checked.
    tiles_to: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)


class Subscription(Base):
    """A subscriber's endpoint: where to send, what, and the secret to sign it with."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    # Space-separated; empty means every entry and alert type.
    event_types: Mapped[str] = mapped_column(sa.Text, default="")
    # Space-separated; empty means every area.
    areas: Mapped[str] = mapped_column(sa.Text, default="")
    # read: a notice per batch, no entries; inspect: the entries, for a stated purpose.
    grant: Mapped[str] = mapped_column(sa.String(16), default="read")
    purpose: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    enabled: Mapped[bool] = mapped_column(sa.Boolean)
    # manual, gone (the endpoint answered 410) or failing (a message exhausted its schedule)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
    secret: Mapped[str] = mapped_column(sa.String(200))
    previous_secret: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime,
                                                                        nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)


class SubscriptionAlert(Base):
    """Tell the subscriber when a measure of an area crosses a threshold in a period."""

    __tablename__ = "subscription_alerts"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    area: Mapped[str] = mapped_column(sa.String(64), index=True)
    org_unit: Mapped[str] = mapped_column(sa.String(256))  # '*' for all units
    measure: Mapped[str] = mapped_column(sa.String(32))
    period: Mapped[str] = mapped_column(sa.String(8))  # month, quarter or year
    operator: Mapped[str] = mapped_column(sa.String(8))  # below or above
    threshold: Mapped[float] = mapped_column(sa.Float)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)


class AlertState(Base):
    """Whether an alert's condition held for a period when the measure last moved."""

    __tablename__ = "alert_states"

    alert_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("subscription_alerts.id", ondelete="CASCADE"),
        primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    breached: Mapped[bool] = mapped_column(sa.Boolean)
    value: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(sa.DateTime)


class WebhookMessage(Base):
    """One message to one subscriber, and where its delivery stands: the delivery outbox.

    ``id`` is the ``webhook-id``, the same on every attempt. An entries message keeps
    only the sequence numbers and tree size; its body is built and stored at its first
    attempt, so that every attempt sends the same bytes.
    """

    __tablename__ = "webhook_messages"
    __table_args__ = (
        sa.Index("ix_webhook_messages_subscription", "subscription_id", "id"),
        sa.Index("ix_webhook_messages_due", "next_attempt_at",
                 sqlite_where=sa.text("status = 'pending'"),
                 postgresql_where=sa.text("status = 'pending'")),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("subscriptions.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    seqs: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    first_seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    last_seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    tree_size: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    payload: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(16))  # pending, succeeded, failed
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Which delay of the schedule the next attempt is; past its end the schedule is spent.
    schedule_step: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
    # When it was last handed to the broker; the sweep hands it again if it lies unclaimed.
    enqueued_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
    # An attempt is in flight until then; a killed worker's claim runs out.
    locked_until: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
    last_status: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class WebhookAttempt(Base):
    """The delivery log: one row per attempt, whatever came of it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        sa.Index("ix_webhook_attempts_subscription", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[str] = mapped_column(sa.String(40))
    attempted_at: Mapped[datetime] = mapped_column(sa.DateTime)
    url: Mapped[str] = mapped_column(sa.String(2000))
    status: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(sa.String(16))  # succeeded or failed
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    latency_ms: Mapped[int] = mapped_column(sa.Integer)
    response: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)


class Release(Base):
    """A published release of a period's disclosure-controlled figures: open data.

    Append-only: never updated or deleted. A correction is a new release naming the
    one it replaces; each release is replaced at most once, so they form a chain.
    """

    __tablename__ = "releases"
    __table_args__ = (
        # One first release per period; corrections follow it.
        sa.Index("uq_releases_first", "kind", "period", unique=True,
                 sqlite_where=sa.text("replaces IS NULL"),
                 postgresql_where=sa.text("replaces IS NULL")),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(8))  # month, quarter or year
    period: Mapped[str] = mapped_column(sa.String(8))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    replaces: Mapped[int | None] = mapped_column(
        sa.Integer, sa.ForeignKey("releases.id"), nullable=True, unique=True)
    reason: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    # The signed tree head the figures were computed from: the log as it stood.
    tree_size: Mapped[int] = mapped_column(sa.BigInteger)
    tree_timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    root_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(sa.LargeBinary(64))
    # JSON: the method and parameters the figures were made with.
    disclosure: Mapped[str] = mapped_column(sa.Text)
    figures: Mapped[str] = mapped_column(sa.Text)  # CSV
    figures_sha256: Mapped[str] = mapped_column(sa.String(64))


class Target(Base):
    """A figure an organisation aims for in an area (and unit): the dashboard shows the
    figure against it. One per area, unit and measure; setting it again replaces it."""

    __tablename__ = "targets"
    __table_args__ = (sa.UniqueConstraint("area", "org_unit", "measure",
                                          name="uq_targets_area_unit_measure"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    area: Mapped[str] = mapped_column(sa.String(64))
    # "*" for every unit of the area, as in the measures.
    org_unit: Mapped[str] = mapped_column(sa.String(256))
    measure: Mapped[str] = mapped_column(sa.String(64))
    value: Mapped[float] = mapped_column(sa.Float)
    set_at: Mapped[datetime] = mapped_column(sa.DateTime)
    set_by: Mapped[str] = mapped_column(sa.String(200))
