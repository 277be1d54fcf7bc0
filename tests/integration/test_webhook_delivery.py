"""Webhooks out against a real receiver: grants, filters, payload, signatures, retries on
an injected clock, Retry-After, 410, exhaustion, the log, resend, recover and rotation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import sqlalchemy as sa

from services.ledger import leaves
from services.ledger.models import Subscription, WebhookMessage
from services.ledger.signing import TreeHead, load_public_key
from services.ledger.webhooks import delivery
from shared import merkle
from shared.envelope import ACTIVITY_RECORDED, INVOLVEMENT_RECORDED
from shared.times import naive_utcnow
from tests.integration.conftest import INSPECT_GRANT, LOCAL, Hooks, MakeApp
from tests.support import events as ev
from tests.support.receiver import Answer, Receiver


def _messages(hooks: Hooks, sub_id: str) -> list[str]:
    return [m["id"] for m in hooks.messages(sub_id)]


def test_each_subscriber_gets_the_new_entries_its_filters_match(hooks: Hooks) -> None:
    everything = hooks.subscribe("/all", **INSPECT_GRANT)
    recruitment = hooks.subscribe("/recruitment", areas=["recruitment"], **INSPECT_GRANT)
    involvements = hooks.subscribe("/involvements", event_types=[INVOLVEMENT_RECORDED],
                                   **INSPECT_GRANT)
    both = hooks.subscribe("/both", areas=["training"], event_types=[ACTIVITY_RECORDED],
                           **INSPECT_GRANT)
    batch = [ev.activity("recruitment"), ev.involvement("recruitment"),
             ev.activity("training"), ev.involvement("training"), ev.activity("inspection")]
    result = hooks.append(batch)
    assert len(result.messages) == 4
    assert all(d.outcome == "succeeded" for d in hooks.deliver_due())
    seqs = {path: [e["seq"] for r in hooks.receiver.at(path)
                   for e in r.event["data"]["entries"]]
            for path in ("/all", "/recruitment", "/involvements", "/both")}
    assert seqs == {"/all": [1, 2, 3, 4, 5], "/recruitment": [1, 2], "/involvements": [2, 4],
                    "/both": [3]}
    assert all(r.verified for r in hooks.receiver.received)
    # A batch with nothing a subscriber wants sends it nothing.
    hooks.append([ev.activity("inspection")])
    assert [len(_messages(hooks, s["id"])) for s in (everything, recruitment, involvements,
                                                     both)] == [2, 1, 1, 1]


def test_the_payload_is_a_cloudevent_with_seqs_and_the_signed_tree_head_over_them(
    hooks: Hooks,
) -> None:
    sub = hooks.subscribe(**INSPECT_GRANT)
    hooks.append([ev.activity() for _ in range(3)])
    [message_id] = hooks.append([ev.involvement(), ev.involvement()]).messages
    hooks.deliver(message_id)
    [received] = hooks.receiver.wait_for("/hook", 1)
    assert received.verified
    assert received.headers["webhook-id"] == message_id
    assert received.headers["content-type"] == "application/json"
    event = received.event
    assert (event["specversion"], event["id"], event["type"], event["source"]) == (
        "1.0", message_id, "org.ladder.entries.appended", "/ladder/ledger")
    data = event["data"]
    assert (data["subscription"], data["first_seq"], data["last_seq"]) == (sub["id"], 4, 5)
    sth = TreeHead.from_json(data["tree_head"])
    assert sth.size == 5
    sth.verify(load_public_key(json.dumps(hooks.http.get("/v1/public-key").json)))
    for entry in data["entries"]:
        # The receiver can hash each entry into its leaf and prove it is in the signed tree.
        line = leaves.line(entry["seq"], entry["received_at"].rstrip("Z").replace(
            "T", " "), json.dumps(entry["event"], sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False), bytes.fromhex(entry["salt"]))
        leaf = leaves.leaf_input(line)
        assert base64.b64encode(merkle.leaf_hash(leaf)).decode() == entry["leaf_hash"]
        proof = hooks.call("GET", "/ct/v1/get-proof-by-hash", hooks.inspector, query_string={
            "hash": entry["leaf_hash"], "tree_size": sth.size}).json
        merkle.verify_inclusion(proof["leaf_index"], sth.size, merkle.leaf_hash(leaf),
                                [base64.b64decode(p) for p in proof["audit_path"]], sth.root)
    # The API shows the same message, body and all.
    shown = hooks.message(sub["id"], message_id)
    assert shown["payload"] == event
    assert (shown["status"], shown["attempts"], shown["first_seq"], shown["last_seq"]) == (
        "succeeded", 1, 4, 5)


def test_a_large_batch_goes_out_in_messages_of_at_most_max_entries(
    make_app: MakeApp, receiver: Receiver
) -> None:
    hooks = Hooks(make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=LOCAL, WEBHOOK_MAX_ENTRIES=4),
                  receiver)
    hooks.subscribe(**INSPECT_GRANT)
    hooks.subscribe("/read")
    assert len(hooks.append([ev.activity() for _ in range(10)]).messages) == 4
    hooks.deliver_due()
    sizes = [len(r.event["data"]["entries"]) for r in receiver.wait_for("/hook", 3)]
    assert sorted(sizes) == [2, 4, 4]
    assert {r.event["data"]["tree_head"]["tree_size"] for r in receiver.received} == {10}
    # A read grant hears of the batch once, whatever its size.
    [notice] = receiver.at("/read")
    assert (notice.event["data"]["first_seq"], notice.event["data"]["last_seq"]) == (1, 10)


def test_a_read_grant_hears_of_each_batch_once_without_its_entries(hooks: Hooks) -> None:
    public_key = load_public_key(json.dumps(hooks.http.get("/v1/public-key").json))
    training = hooks.subscribe("/training", areas=["training"])
    involvements = hooks.subscribe("/involvements", event_types=[INVOLVEMENT_RECORDED])
    hooks.subscribe("/alerts", event_types=["org.ladder.alert.triggered"])
    inspector = hooks.subscribe("/inspect", areas=["training"], **INSPECT_GRANT)
    assert (training["grant"], training["purpose"]) == ("read", None)
    hooks.append([ev.activity("recruitment", "secret-unit"),
                  ev.involvement("recruitment", pseudonym="p_secret", org_unit="secret-unit")])
    # Nothing of the batch is training's, yet a read grant hears of it: which areas and
    # types a batch holds is entry-level.
    hooks.append([ev.activity("inspection", "secret-unit")])
    hooks.append([ev.involvement("training", pseudonym="p_secret"), ev.activity("training")])
    assert all(d.outcome == "succeeded" for d in hooks.deliver_due())
    for path, sub in (("/training", training), ("/involvements", involvements)):
        received = sorted(hooks.receiver.at(path), key=lambda r: r.event["data"]["first_seq"])
        assert [(r.event["data"]["first_seq"], r.event["data"]["last_seq"])
                for r in received] == [(1, 2), (3, 3), (4, 5)]
        for r in received:
            assert r.verified and r.event["type"] == "org.ladder.entries.appended"
            assert set(r.event["data"]) == {"subscription", "first_seq", "last_seq",
                                            "tree_head"}
            assert r.event["data"]["subscription"] == sub["id"]
            head = TreeHead.from_json(r.event["data"]["tree_head"])
            head.verify(public_key)
            assert head.size == r.event["data"]["last_seq"]
            for secret in (b"p_secret", b"secret-unit", b"recruitment", b"involvement."):
                assert secret not in r.body
    assert hooks.receiver.at("/alerts") == []  # it asked for no entries at all
    [entries] = hooks.receiver.at("/inspect")
    assert [e["seq"] for e in entries.event["data"]["entries"]] == [4, 5]
    assert entries.event["data"]["entries"][0]["pseudonym"] == "p_secret"
    assert [len(_messages(hooks, s["id"])) for s in (training, inspector)] == [3, 1]


def test_entries_queued_for_an_inspect_grant_are_not_sent_once_it_is_read(
    hooks: Hooks,
) -> None:
    sub = hooks.subscribe(**INSPECT_GRANT)
    [queued] = hooks.append([ev.involvement(pseudonym="p_secret")]).messages
    path = f"/v1/subscriptions/{sub['id']}"
    assert hooks.call("PATCH", path, json={"grant": "read"}).json["grant"] == "read"
    assert hooks.deliver(queued).outcome == "cancelled"
    shown = hooks.message(sub["id"], queued)
    assert shown["status"] == "failed"
    assert shown["last_error"] == "the subscription's grant no longer covers entries"
    assert hooks.call("POST", f"{path}/messages/{queued}/resend").status_code == 202
    hooks.clock.catch_up()
    assert hooks.deliver(queued).outcome == "cancelled"
    assert hooks.receiver.at("/hook") == []
    [notice] = hooks.append([ev.activity()]).messages
    assert hooks.deliver(notice).outcome == "succeeded"
    [received] = hooks.receiver.at("/hook")
    assert "entries" not in received.event["data"] and b"p_secret" not in received.body


def test_a_receiver_that_fails_three_times_then_succeeds_gets_it_once_with_one_webhook_id(
    hooks: Hooks,
) -> None:
    sub = hooks.subscribe()
    hooks.receiver.script("/hook", Answer(500), Answer(502), Answer(404), Answer(200))
    [message_id] = hooks.append([ev.activity()]).messages
    start = hooks.clock()
    first = hooks.deliver(message_id)
    assert first.outcome == "retry"
    assert first.next_attempt_at == start + timedelta(seconds=5)
    # The schedule (no jitter here): immediately, then 5 s, 5 min and 30 min later.
    for wait, following, expected in ((5, 300, "retry"), (300, 1800, "retry"),
                                      (1800, None, "succeeded")):
        hooks.clock.advance(wait - 1)
        assert hooks.deliver(message_id).outcome == "skipped"  # not due a second early
        hooks.clock.advance(1)
        attempt_at = hooks.clock()
        result = hooks.deliver(message_id)
        assert result.outcome == expected
        if following:
            assert result.next_attempt_at == attempt_at + timedelta(seconds=following)
    assert hooks.clock() - start == timedelta(seconds=2105)
    received = hooks.receiver.at("/hook")
    assert [r.answered for r in received] == [500, 502, 404, 200]
    assert {r.id for r in received} == {message_id}
    assert all(r.verified for r in received)
    assert len({r.body for r in received}) == 1  # the same bytes every time
    assert [r.answered for r in received].count(200) == 1
    shown = hooks.message(sub["id"], message_id)
    assert (shown["status"], shown["attempts"], shown["next_attempt_at"]) == (
        "succeeded", 4, None)
    log = shown["delivery_attempts"]
    assert [a["status"] for a in log] == [500, 502, 404, 200]
    assert [a["outcome"] for a in log] == ["failed"] * 3 + ["succeeded"]
    # Nothing more happens, however long we wait.
    hooks.clock.advance(86400 * 7)
    assert hooks.deliver(message_id).outcome == "skipped"
    assert len(hooks.receiver.at("/hook")) == 4


def test_the_retry_delays_carry_jitter_within_bounds(make_app: MakeApp,
                                                     receiver: Receiver) -> None:
    hooks = Hooks(make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=LOCAL, WEBHOOK_JITTER=0.2),
                  receiver)
    hooks.subscribe()
    receiver.script("/hook", *[Answer(500)] * 4)
    delays = []
    for rand in (0.0, 1.0, 0.25):
        hooks.rand = lambda rand=rand: rand
        [message_id] = hooks.append([ev.activity()]).messages
        at = hooks.clock()
        delays.append((hooks.deliver(message_id).next_attempt_at - at).total_seconds())
    assert delays == [4.0, 6.0, 4.5]  # 5 s, +/- 20%


def test_429_and_503_honour_retry_after(hooks: Hooks) -> None:
    hooks.subscribe()
    later = hooks.clock() + timedelta(seconds=300)
    hooks.receiver.script(
        "/hook", Answer(429, {"Retry-After": "120"}),
        Answer(503, {"Retry-After": format_datetime(later.replace(tzinfo=UTC), usegmt=True)}),
        Answer(503, {"Retry-After": "soon"}), Answer(200))
    [message_id] = hooks.append([ev.activity()]).messages
    first = hooks.deliver(message_id)
    assert first.next_attempt_at == hooks.clock() + timedelta(seconds=120)
    hooks.clock.advance(119)
    assert hooks.deliver(message_id).outcome == "skipped"
    hooks.clock.advance(1)
    second = hooks.deliver(message_id)
    assert second.outcome == "retry"
    # An HTTP date is a moment: 300 s after the first attempt, so 180 s after this one.
    assert second.next_attempt_at is not None
    assert abs((second.next_attempt_at - later).total_seconds()) <= 1
    hooks.clock.now = second.next_attempt_at
    third = hooks.deliver(message_id)  # Retry-After it cannot read: the schedule's 30 min
    assert third.next_attempt_at == hooks.clock() + timedelta(seconds=1800)
    hooks.clock.advance(1800)
    assert hooks.deliver(message_id).outcome == "succeeded"


def test_a_410_disables_the_subscription_and_tells_those_who_asked(hooks: Hooks) -> None:
    gone = hooks.subscribe("/gone")
    hooks.subscribe("/ops", event_types=["org.ladder.subscription.disabled"])
    bystander = hooks.subscribe("/bystander")  # an empty filter has no operational types
    hooks.receiver.script("/gone", Answer(410, body=b"this endpoint was retired"))
    hooks.append([ev.activity()])
    second = hooks.append([ev.activity()]).messages
    outcomes = {d.message_id: d.outcome for d in hooks.deliver_due()}
    assert "gone" in outcomes.values()
    shown = hooks.subscription(gone["id"])
    assert (shown["enabled"], shown["disabled_reason"]) == (False, "gone")
    statuses = {m["status"] for m in hooks.messages(gone["id"])}
    assert statuses == {"failed"}  # the other message is not tried any more
    assert len(hooks.receiver.at("/gone")) == 1
    assert len(second) == 2
    hooks.deliver_due()
    [notice] = hooks.receiver.wait_for("/ops", 1)
    assert notice.verified
    event = notice.event
    assert event["type"] == "org.ladder.subscription.disabled"
    assert (event["data"]["id"], event["data"]["reason"]) == (gone["id"], "gone")
    assert event["data"]["cause"]["status"] == 410
    assert all(r.event["type"] == "org.ladder.entries.appended"
               for r in hooks.receiver.at("/bystander"))
    # A disabled subscription gets no new messages.
    hooks.append([ev.activity()])
    assert len(hooks.messages(gone["id"])) == 2
    assert len(hooks.messages(bystander["id"])) == 3


def test_a_message_that_spends_the_whole_schedule_disables_its_subscription(
    make_app: MakeApp, receiver: Receiver
) -> None:
    hooks = Hooks(make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=LOCAL,
                           WEBHOOK_SCHEDULE=(0, 10, 60)), receiver)
    down = hooks.subscribe("/down")
    hooks.subscribe("/ops", event_types=["org.ladder.subscription.disabled"])
    receiver.script("/down", *[Answer(500)] * 3)
    [message_id] = hooks.append([ev.activity()]).messages
    hooks.deliver_due()
    for delay in (10, 60):
        hooks.clock.advance(delay)
        hooks.deliver_due()
    assert [r.answered for r in receiver.at("/down")] == [500, 500, 500]
    shown = hooks.subscription(down["id"])
    assert (shown["enabled"], shown["disabled_reason"]) == (False, "failing")
    assert hooks.message(down["id"], message_id)["status"] == "failed"
    hooks.deliver_due()
    [notice] = [r.event for r in receiver.wait_for("/ops", 1)]
    assert (notice["type"], notice["data"]["reason"]) == ("org.ladder.subscription.disabled",
                                                          "failing")
    assert notice["data"]["cause"] == {"message": message_id, "attempts": 3, "status": 500,
                                       "error": "HTTP 500"}


def test_one_message_failing_does_not_disable_an_endpoint_that_takes_others(
    make_app: MakeApp, receiver: Receiver
) -> None:
    hooks = Hooks(make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=LOCAL, WEBHOOK_SCHEDULE=(0, 10)),
                  receiver)
    sub = hooks.subscribe()
    receiver.script("/hook", Answer(400), Answer(200), Answer(400))
    [bad] = hooks.append([ev.activity()]).messages
    hooks.deliver(bad)
    [good] = hooks.append([ev.activity()]).messages
    assert hooks.deliver(good).outcome == "succeeded"
    hooks.clock.advance(10)
    assert hooks.deliver(bad).outcome == "exhausted"
    assert hooks.subscription(sub["id"])["enabled"] is True


def test_redirects_are_not_followed_and_a_slow_answer_times_out(
    make_app: MakeApp, receiver: Receiver
) -> None:
    hooks = Hooks(make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=LOCAL, WEBHOOK_TIMEOUT=0.5),
                  receiver)
    sub = hooks.subscribe()
    receiver.script("/hook", Answer(307, {"Location": receiver.url("/elsewhere")}),
                    Answer(200, delay=1.5))
    [message_id] = hooks.append([ev.activity()]).messages
    assert hooks.deliver(message_id).outcome == "retry"
    hooks.clock.advance(5)
    assert hooks.deliver(message_id).outcome == "retry"
    assert receiver.at("/elsewhere") == []
    log = hooks.attempts(sub["id"])
    assert [a["status"] for a in log] == [307, None]
    assert log[0]["error"] == f"redirect to {receiver.url('/elsewhere')} not followed"
    assert log[1]["error"].startswith("timeout: ")
    assert 400 <= log[1]["latency_ms"] < 1500


def test_the_delivery_log_has_time_status_latency_and_the_first_bytes(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    hooks.receiver.script("/hook", Answer(500, body=b"x" * 5000), Answer(201, body=b"ok"))
    [message_id] = hooks.append([ev.activity()]).messages
    before = hooks.clock()
    hooks.deliver(message_id)
    hooks.clock.advance(5)
    hooks.deliver(message_id)
    log = hooks.attempts(sub["id"])
    assert [(a["status"], a["outcome"]) for a in log] == [(500, "failed"), (201, "succeeded")]
    assert log[0]["response"] == "x" * 1024
    assert log[1]["response"] == "ok"
    # As the ledger's leaves write times: UTC, six fractional digits, Z.
    assert log[0]["attempted_at"] == before.isoformat(timespec="microseconds") + "Z"
    assert log[0]["next_attempt_at"] == (before + timedelta(seconds=5)).isoformat(
        timespec="microseconds") + "Z"
    assert all(a["latency_ms"] >= 0 and a["message_id"] == message_id for a in log)
    assert log[0]["url"] == hooks.receiver.url()
    failed = hooks.attempts(sub["id"], outcome="failed")
    assert [a["id"] for a in failed] == [log[0]["id"]]
    assert hooks.attempts(sub["id"], after=log[0]["id"]) == log[1:]
    page = hooks.call("GET", f"/v1/subscriptions/{sub['id']}/attempts",
                      query_string={"limit": 1}).json
    assert (page["items"], page["next_after"]) == (log[:1], log[0]["id"])


def test_resend_delivers_one_message_again_with_the_same_webhook_id(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    [first] = hooks.append([ev.activity()]).messages
    [second] = hooks.append([ev.activity()]).messages
    hooks.deliver_due()
    response = hooks.call("POST", f"/v1/subscriptions/{sub['id']}/messages/{first}/resend")
    assert response.status_code == 202, response.json
    assert response.json["status"] == "pending"
    assert [d.message_id for d in hooks.deliver_due()] == [first]
    received = hooks.receiver.at("/hook")
    assert [r.id for r in received] == [first, second, first]
    assert received[0].body == received[2].body
    missing = hooks.call("POST", f"/v1/subscriptions/{sub['id']}/messages/msg_nope/resend")
    assert missing.status_code == 404


def test_recover_sends_again_what_failed_since_a_time(make_app: MakeApp,
                                                      receiver: Receiver) -> None:
    hooks = Hooks(make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=LOCAL, WEBHOOK_SCHEDULE=(0,)),
                  receiver)
    sub = hooks.subscribe()
    receiver.script("/hook", Answer(200), Answer(500), Answer(500), Answer(500))
    ok, old, new, newest = (hooks.append([ev.activity()]).messages[0] for _ in range(4))
    hooks.deliver(ok)
    hooks.deliver(old)  # fails, and the subscription still had a success since: stays enabled
    with hooks.db.writing() as session:  # the old failure was yesterday
        session.execute(sa.update(WebhookMessage).where(WebhookMessage.id == old)
                        .values(created_at=naive_utcnow() - timedelta(days=1)))
    hooks.deliver(new)
    hooks.deliver(newest)
    assert {m["id"]: m["status"] for m in hooks.messages(sub["id"])} == {
        ok: "succeeded", old: "failed", new: "failed", newest: "failed"}
    since = (naive_utcnow() - timedelta(hours=1)).isoformat() + "Z"
    path = f"/v1/subscriptions/{sub['id']}/recovery"
    response = hooks.call("POST", path, json={"since": since})
    assert (response.status_code, response.json) == (202, {"messages": 2})
    assert sorted(d.message_id for d in hooks.deliver_due()) == sorted([new, newest])
    assert [r.id for r in receiver.at("/hook")][-2:] == [new, newest]
    assert {m["id"]: m["status"] for m in hooks.messages(sub["id"], status="failed")} == {
        old: "failed"}
    bad = hooks.call("POST", path, json={"since": since, "until": since})
    assert bad.status_code == 422
    # A disabled subscription recovers nothing until it is enabled again.
    hooks.call("PATCH", f"/v1/subscriptions/{sub['id']}", json={"enabled": False})
    assert hooks.call("POST", path, json={"since": since}).status_code == 409


def test_a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    old_secret = hooks.receiver.secrets["/hook"][0]
    path = f"/v1/subscriptions/{sub['id']}/secret/rotation"
    rotated = hooks.call("POST", path, query_string={"overlap_seconds": 3600})
    assert rotated.status_code == 200, rotated.json
    new_secret = rotated.json["secret"]
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    assert "secret" not in hooks.subscription(sub["id"])
    hooks.append([ev.activity()])
    hooks.deliver_due()
    during = hooks.receiver.at("/hook")[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert during.verifies_with(old_secret) and during.verifies_with(new_secret)
    hooks.clock.advance(3601)  # the overlap is over by the schedule's clock
    hooks.append([ev.activity()])
    hooks.deliver_due()
    after = hooks.receiver.at("/hook")[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert after.verifies_with(new_secret) and not after.verifies_with(old_secret)
    # A rotation with no overlap retires the old secret at once.
    again = hooks.call("POST", path, query_string={"overlap_seconds": 0}).json
    assert again["previous_secret_expires_at"] is None


def test_a_rotation_with_a_zero_overlap_in_its_body_retires_the_old_secret_at_once(
        hooks: Hooks) -> None:
    sub = hooks.subscribe()
    old_secret = hooks.receiver.secrets["/hook"][0]
    rotated = hooks.call("POST", f"/v1/subscriptions/{sub['id']}/secret/rotation",
                         json={"overlap_seconds": 0})
    assert rotated.status_code == 200, rotated.json
    assert rotated.json["previous_secret_expires_at"] is None
    new_secret = rotated.json["secret"]
    hooks.receiver.trust("/hook", new_secret)
    hooks.append([ev.activity()])  # no time passes: the very next delivery
    hooks.deliver_due()
    sent = hooks.receiver.at("/hook")[-1]
    assert len(sent.headers["webhook-signature"].split(" ")) == 1
    assert sent.verifies_with(new_secret) and not sent.verifies_with(old_secret)


def test_a_rotation_overlap_in_the_body_keeps_the_old_secret_that_long(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    old_secret = hooks.receiver.secrets["/hook"][0]
    before = naive_utcnow()
    rotated = hooks.call("POST", f"/v1/subscriptions/{sub['id']}/secret/rotation",
                         json={"overlap_seconds": 600}).json
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"]).replace(tzinfo=None)
    assert before + timedelta(seconds=600) <= expires <= naive_utcnow() + timedelta(seconds=600)
    hooks.append([ev.activity()])
    hooks.deliver_due()
    sent = hooks.receiver.at("/hook")[-1]
    assert sent.verifies_with(old_secret) and sent.verifies_with(rotated["secret"])


def test_a_url_that_turns_private_is_refused_at_delivery(make_app: MakeApp,
                                                        receiver: Receiver) -> None:
    app = make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=LOCAL)
    hooks = Hooks(app, receiver)
    sub = hooks.subscribe()
    [message_id] = hooks.append([ev.activity()]).messages
    app.config["WEBHOOK_ALLOWED_NETWORKS"] = ()  # as if DNS now pointed somewhere private
    assert hooks.deliver(message_id).outcome == "retry"
    assert receiver.received == []
    [attempt] = hooks.attempts(sub["id"])
    assert attempt["status"] is None
    assert attempt["error"].startswith("refused: 127.0.0.1 is a loopback address")


def test_the_sweep_hands_over_what_no_worker_took_and_nothing_held(hooks: Hooks) -> None:
    hooks.subscribe()
    [message_id] = hooks.append([ev.activity()]).messages
    now = hooks.clock()
    # Handed to the broker at the commit: the sweep leaves it alone for a while...
    assert delivery.due(hooks.db, now, requeue_after=60) == []
    # ...and hands it over again if no worker has taken it by then.
    assert delivery.due(hooks.db, now + timedelta(seconds=61), 60) == [message_id]
    assert delivery.due(hooks.db, now + timedelta(seconds=62), 60) == []
    # A message in a worker's hands is neither swept nor taken by another worker.
    with hooks.db.writing() as session:
        session.execute(sa.update(WebhookMessage).values(
            locked_until=now + timedelta(seconds=31), enqueued_at=None))
    assert delivery.due(hooks.db, now + timedelta(seconds=30), 60) == []
    assert hooks.deliver(message_id).outcome == "skipped"
    assert delivery.due(hooks.db, now + timedelta(seconds=32), 60) == [message_id]
    hooks.clock.advance(32)
    assert hooks.deliver(message_id).outcome == "succeeded"


def test_deleting_a_subscription_takes_its_messages_and_log(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    keep = hooks.subscribe("/keep")
    hooks.append([ev.activity()])
    hooks.deliver_due()
    assert hooks.call("DELETE", f"/v1/subscriptions/{sub['id']}").status_code == 204
    with hooks.db.reading() as session:
        left = set(session.scalars(sa.select(WebhookMessage.subscription_id)))
        subs = set(session.scalars(sa.select(Subscription.id)))
    assert left == subs == {keep["id"]}



def test_finished_messages_past_the_retention_are_purged_with_their_log(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    hooks.receiver.script("/hook", Answer(200), Answer(500))
    [old] = hooks.append([ev.activity()]).messages
    [pending] = hooks.append([ev.activity()]).messages
    hooks.deliver_due()
    with hooks.db.writing() as session:
        session.execute(sa.update(WebhookMessage).values(
            created_at=naive_utcnow() - timedelta(days=100)))
    [recent] = hooks.append([ev.activity()]).messages
    hooks.deliver(recent)
    assert delivery.purge(hooks.db, naive_utcnow() - timedelta(days=90)) == 1
    assert [m["id"] for m in hooks.messages(sub["id"])] == [pending, recent]
    log = hooks.attempts(sub["id"])
    assert {a["message_id"] for a in log} == {pending, recent}
    assert old not in {a["message_id"] for a in log}
