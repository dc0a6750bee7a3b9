"""Property tests of the plan-item state machine (`idmx.plans.policy`), pure, no database.

Random sequences of commit / publish / deny / reopen with random dates and inputs are run against an
independent model of what each move requires. The properties:

* a move succeeds exactly when the model allows it; a refused move raises `TransitionError` naming a
  field and leaves the answer as it was;
* every successful move yields an event whose `from_status` is the status before it and whose
  `to_status` is the status after it, so `policy.replay` over the events reproduces the final status,
  and dropping a step from the history is detected;
* no move skips a required step: a denied item is published only after a reopen; nothing leaves
  "published" but a corrected address; a committed item always has a due date; a due date beyond
  the policy's without a justification is refused;
* `public_status` is "overdue" exactly when the status is committed and today is after the due date
  (a published item is never overdue);
* a denied item always carries a legal basis and a non-empty explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idmx.enums import PlanStatus
from idmx.plans import policy
from idmx.plans.policy import Answer, PublicStatus, TransitionError

BASE = date(2026, 12, 1)
FIELDS = {"status", "due_date", "justification", "url", "catalogue_id", "legal_basis", "explanation"}
URLS = [  # (address, valid?)
    ("https://datos.gob.mx/busca/dataset/calidad-del-aire", True),
    ("http://datos.semarnat.gob.mx/aire.csv", True),
    ("  https://datos.gob.mx/x  ", True),  # trimmed
    ("javascript:alert(1)", False),
    ("ftp://datos.gob.mx/aire.csv", False),
    ("datos.gob.mx/aire", False),
    ("https://", False),
    ("HTTPS://datos.gob.mx/aire", False),  # the database's check is a case-sensitive LIKE on PostgreSQL
    ("https://datos.gob.mx/a b", False),
    ("", False),
    ("https://datos.gob.mx/" + "a" * 2000, False),
]
TEXTS = ["", "   ", "Requiere anonimizar microdatos", "\n\tx\n"]

# Allowed stored-status moves; anything else skips a required step.
ALLOWED = {
    PlanStatus.pending: {PlanStatus.committed, PlanStatus.published, PlanStatus.denied},
    PlanStatus.committed: {PlanStatus.committed, PlanStatus.published, PlanStatus.denied},
    PlanStatus.published: {PlanStatus.published},
    PlanStatus.denied: {PlanStatus.pending},
}


@dataclass(frozen=True)
class Step:
    kind: str
    advance: int  # days the clock moves before this step
    due_offset: int | None = None  # due date relative to today
    text: str = ""
    url_index: int = 0
    catalogue: str = ""
    basis: int | None = None
    answer_days: int = 20


steps = st.one_of(
    st.builds(Step, kind=st.just("commit"), advance=st.integers(0, 40), due_offset=st.one_of(st.none(), st.integers(-5, 200)),
              text=st.sampled_from(TEXTS)),
    st.builds(Step, kind=st.just("publish"), advance=st.integers(0, 40), url_index=st.integers(0, len(URLS) - 1),
              catalogue=st.sampled_from(["", "semarnat-aire", " x ", "c" * 201])),
    st.builds(Step, kind=st.just("deny"), advance=st.integers(0, 40), basis=st.one_of(st.none(), st.integers(1, 9)),
              text=st.sampled_from(TEXTS + ["e" * 4001])),
    st.builds(Step, kind=st.just("reopen"), advance=st.integers(0, 40), text=st.sampled_from(TEXTS),
              answer_days=st.integers(1, 40)),
)

starts = st.builds(
    lambda answer_days, policy_days: Answer(
        status=PlanStatus.pending, answer_by=policy.add_business_days(BASE, answer_days),
        policy_due=BASE + timedelta(days=policy_days) if policy_days is not None else None),
    answer_days=st.integers(1, 40),
    policy_days=st.one_of(st.none(), st.integers(0, 200)),
)


def model_allows(a: Answer, step: Step, today: date) -> bool:
    """What each move requires, written independently of policy.py."""
    if step.kind == "commit":
        if a.status not in (PlanStatus.pending, PlanStatus.committed) or step.due_offset is None:
            return False
        due = today + timedelta(days=step.due_offset)
        late = a.policy_due is not None and due > a.policy_due
        working = due.weekday() < 5 and due not in holidays.country_holidays("MX", years=due.year)
        return due >= today and working and (not late or bool(step.text.strip()))
    if step.kind == "publish":
        return a.status != PlanStatus.denied and URLS[step.url_index][1] and len(step.catalogue.strip()) <= 200
    if step.kind == "deny":
        return (a.status in (PlanStatus.pending, PlanStatus.committed) and step.basis is not None
                and bool(step.text.strip()) and len(step.text.strip()) <= 4000)
    return a.status == PlanStatus.denied


def run(a: Answer, step: Step, today: date) -> tuple[Answer, policy.Event]:
    if step.kind == "commit":
        due = today + timedelta(days=step.due_offset) if step.due_offset is not None else None
        return policy.commit(a, due, today, step.text)
    if step.kind == "publish":
        return policy.publish(a, URLS[step.url_index][0], today, step.catalogue)
    if step.kind == "deny":
        return policy.deny(a, step.basis, step.text)
    return policy.reopen(a, today, step.answer_days, step.text)


def check_invariants(a: Answer) -> None:
    if a.status == PlanStatus.committed:
        assert a.due_date is not None
    if a.status == PlanStatus.denied:
        assert a.legal_basis_id is not None and a.denial_explanation.strip()
    else:
        assert a.legal_basis_id is None and not a.denial_explanation
    if a.status == PlanStatus.published:
        assert a.published_on is not None and policy.valid_dataset_url(a.published_url)
        assert a.published_url.startswith(("http://", "https://"))
    if a.due_date is not None and a.policy_due is not None and a.due_date > a.policy_due:
        assert a.late_justification.strip()
    if a.status == PlanStatus.pending:
        assert a.answer_by is not None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=starts, plan=st.lists(steps, max_size=14))
def test_random_sequences_follow_the_model_and_the_history_replays(start, plan):
    a, today = start, BASE
    events = [policy.created(start)]
    assert events[0].from_status is None and events[0].to_status == start.status
    for step in plan:
        today += timedelta(days=step.advance)
        before = a
        allowed = model_allows(a, step, today)
        try:
            after, event = run(a, step, today)
        except TransitionError as err:
            assert not allowed, f"{step} refused ({err}) though the model allows it from {a.status}"
            assert err.field in FIELDS
            assert a == before  # nothing changed
            continue
        assert allowed, f"{step} accepted from {before.status} though the model refuses it"
        assert event.from_status == before.status and event.to_status == after.status
        assert after.status in ALLOWED[before.status], f"{before.status} -> {after.status} skips a step"
        assert event.kind in {"committed", "due_date_changed", "published", "url_changed", "denied", "reopened"}
        check_invariants(after)
        if step.kind == "commit" and after.late_justification:
            assert after.policy_due is not None and after.due_date > after.policy_due
        if before.status == PlanStatus.published:  # a published item only corrects its address
            assert after.published_on == before.published_on and event.kind == "url_changed"
        events.append(event)
        a = after
    assert policy.replay(Answer(status=PlanStatus.pending), events) == a.status
    assert policy.replay(start, events[1:]) == a.status
    # Every status change is in the history: dropping any step that changed the status is detected,
    # as a jump in the chain or, for the last step, as a replay that ends elsewhere.
    for i, event in enumerate(events[1:], start=1):
        if event.from_status != event.to_status:
            try:
                replayed = policy.replay(start, events[1:i] + events[i + 1:])
            except ValueError:
                continue
            assert replayed != a.status


@settings(max_examples=300, deadline=None)
@given(start=starts, plan=st.lists(steps, max_size=12), probe=st.integers(-30, 400))
def test_overdue_is_exactly_committed_and_past_the_due_date(start, plan, probe):
    a, today = start, BASE
    for step in plan:
        today += timedelta(days=step.advance)
        try:
            a, _event = run(a, step, today)
        except TransitionError:
            pass
    when = today + timedelta(days=probe)
    shown = policy.public_status(a, when)
    is_overdue = a.status == PlanStatus.committed and a.due_date is not None and when > a.due_date
    assert (shown == PublicStatus.overdue) == is_overdue
    if a.status == PlanStatus.published:
        assert shown in (PublicStatus.published_on_time, PublicStatus.published_late)
        deadline = a.due_date or a.policy_due
        assert (shown == PublicStatus.published_late) == (deadline is not None and a.published_on > deadline)
    if a.status == PlanStatus.denied:
        assert shown == PublicStatus.denied
    if a.status == PlanStatus.pending:
        assert shown == (PublicStatus.unanswered if when > a.answer_by else PublicStatus.pending)


@settings(max_examples=200, deadline=None)
@given(basis=st.one_of(st.none(), st.integers(1, 9)), explanation=st.text(max_size=30),
       status=st.sampled_from(list(PlanStatus)))
def test_a_denial_always_carries_a_legal_basis_and_an_explanation(basis, explanation, status):
    a = Answer(status=status, answer_by=BASE, due_date=BASE if status == PlanStatus.committed else None,
               legal_basis_id=3 if status == PlanStatus.denied else None,
               denial_explanation="x" if status == PlanStatus.denied else "",
               published_url="https://datos.gob.mx/" if status == PlanStatus.published else "",
               published_on=BASE if status == PlanStatus.published else None)
    try:
        after, event = policy.deny(a, basis, explanation)
    except TransitionError as err:
        assert err.field in {"status", "legal_basis", "explanation"}
        return
    assert status in (PlanStatus.pending, PlanStatus.committed)
    assert after.legal_basis_id == basis is not None
    assert after.denial_explanation and after.denial_explanation == explanation.strip()
    assert event.details["legal_basis_id"] == basis and event.details["explanation"] == after.denial_explanation
    assert after.due_date is None and not after.late_justification


def test_denied_reaches_published_only_through_reopen():
    a = Answer(status=PlanStatus.pending, answer_by=BASE, policy_due=BASE + timedelta(days=30))
    denied, _ = policy.deny(a, 1, "No existe")
    with pytest.raises(TransitionError) as refused:
        policy.publish(denied, "https://datos.gob.mx/x", BASE)
    assert refused.value.field == "status"
    with pytest.raises(TransitionError):
        policy.commit(denied, BASE + timedelta(days=3), BASE)
    reopened, event = policy.reopen(denied, BASE, 20, "Se localizó")
    assert event.from_status == PlanStatus.denied and event.to_status == PlanStatus.pending
    published, _ = policy.publish(reopened, "https://datos.gob.mx/x", BASE)
    assert published.status == PlanStatus.published


def test_a_late_date_without_justification_is_refused_and_with_one_is_kept():
    a = Answer(status=PlanStatus.pending, answer_by=BASE, policy_due=BASE + timedelta(days=30))
    with pytest.raises(TransitionError) as refused:
        policy.commit(a, BASE + timedelta(days=34), BASE, "   ")  # Monday 4 January 2027
    assert refused.value.field == "justification"
    late, event = policy.commit(a, BASE + timedelta(days=34), BASE, " Requiere anonimizar ")
    assert late.late_justification == "Requiere anonimizar" and event.details["late_justification"] == "Requiere anonimizar"
    # Moving back within the policy drops the justification: it no longer applies.
    on_time, _ = policy.commit(late, BASE + timedelta(days=10), BASE, "Requiere anonimizar")
    assert on_time.late_justification == ""


def test_replay_detects_a_gap_in_the_history():
    a = Answer(status=PlanStatus.pending, answer_by=BASE)
    committed, e1 = policy.commit(a, BASE + timedelta(days=6), BASE)  # Monday 7 December
    _published, e2 = policy.publish(committed, "https://datos.gob.mx/x", BASE)
    assert policy.replay(a, [e1, e2]) == PlanStatus.published
    denied_start = Answer(status=PlanStatus.denied, legal_basis_id=1, denial_explanation="x")
    with pytest.raises(ValueError):
        policy.replay(denied_start, [e2])
