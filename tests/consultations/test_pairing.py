"""The wiki-survey pairing (pure): new proposals catch up, answered pairs are not repeated."""

import random

from hypothesis import given
from hypothesis import strategies as st

from idmx.consultations.pairing import choose_pair


def test_a_new_proposal_is_favoured_until_it_catches_up():
    comparisons = {i: 100 for i in range(1, 21)} | {99: 0}
    rng = random.Random(7)
    with_new = sum(99 in choose_pair(comparisons, set(), rng) for _ in range(1000))
    # Weight 1 against 20 x 1/101: the new one is in ~90% of pairs (uniform pairing would give 10%).
    assert with_new > 800


def test_pairs_already_answered_are_avoided_while_others_remain():
    comparisons = {1: 0, 2: 0, 3: 0}
    seen = {frozenset((1, 2)), frozenset((1, 3))}
    rng = random.Random(1)
    for _ in range(50):
        assert frozenset(choose_pair(comparisons, seen, rng)) == frozenset((2, 3))


def test_fewer_than_two_proposals_give_no_pair():
    assert choose_pair({}, set(), random.Random(0)) is None
    assert choose_pair({5: 3}, set(), random.Random(0)) is None


@given(st.dictionaries(st.integers(1, 50), st.integers(0, 1000), min_size=2, max_size=30), st.integers(0, 2**32))
def test_pair_is_two_distinct_known_proposals(comparisons, seed):
    pair = choose_pair(comparisons, set(), random.Random(seed))
    assert pair is not None and pair[0] != pair[1] and set(pair) <= set(comparisons)
