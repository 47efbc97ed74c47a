"""The bit-packed watched matrix answers every indexing the run uses exactly as the dense
bool matrix it replaced."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from recloop.policies.watched import Watched

N_USERS, N_ITEMS = 37, 203  # items not a multiple of 8: the last byte is partly padding


def pair() -> tuple[np.ndarray, Watched]:
    """A random dense matrix and its packed twin, built by assignment (duplicates too)."""
    rng = np.random.default_rng(20261201)
    dense, packed = np.zeros((N_USERS, N_ITEMS), dtype=bool), Watched(N_USERS, N_ITEMS)
    for _ in range(5):
        users = rng.integers(0, N_USERS, 400)
        items = rng.integers(0, N_ITEMS, 400)
        dense[users, items] = True
        packed[users, items] = True
    return dense, packed


def test_rows_and_pairs_read_like_the_dense_matrix():
    dense, packed = pair()
    users = np.array([5, 0, 36, 5])
    np.testing.assert_array_equal(packed[users], dense[users])
    np.testing.assert_array_equal(packed[7], dense[7])
    items = np.random.default_rng(1).integers(0, N_ITEMS, (4, 9))
    np.testing.assert_array_equal(packed[users[:, None], items], dense[users[:, None], items])
    np.testing.assert_array_equal(packed[np.ix_(users, [0, 202])], dense[np.ix_(users, [0, 202])])
    assert packed.shape == dense.shape and packed[users].dtype == bool
    np.testing.assert_array_equal(packed.to_dense(), dense)


def test_unsetting_clears_only_the_named_pairs():
    dense, packed = pair()
    users, items = np.nonzero(dense)
    pick = slice(None, None, 3)
    dense[users[pick], items[pick]] = False
    packed[users[pick], items[pick]] = False
    np.testing.assert_array_equal(packed.to_dense(), dense)
    assert dense.any() and (~dense).any()


def test_copy_and_pickle_are_independent_equal_matrices():
    _, packed = pair()
    twin, restored = packed.copy(), pickle.loads(pickle.dumps(packed))
    assert twin == packed and restored == packed
    twin[0, 0] = not bool(packed[0, 0])
    assert twin != packed
    assert packed.nbytes == N_USERS * 26  # eight flags per byte


@pytest.mark.parametrize("shape", [(1000, 2000), (3, 5), (37, 203)])  # 203: a partial word
def test_pickles_hold_only_the_watched_words(shape: tuple[int, int]) -> None:
    packed = Watched(*shape)
    packed[np.array([0, shape[0] - 1, shape[0] - 1]), np.array([0, 0, shape[1] - 1])] = True
    restored = pickle.loads(pickle.dumps(packed))
    assert restored == packed and restored.shape == shape
    np.testing.assert_array_equal(restored.to_dense(), packed.to_dense())
    assert len(pickle.dumps(packed)) < 1_000  # three flags, not 250 kB of zero bits


def test_a_round_trip_through_dense_is_exact():
    dense, _ = pair()
    np.testing.assert_array_equal(Watched.from_dense(dense).to_dense(), dense)


def test_only_flags_can_be_assigned():
    _, packed = pair()
    with pytest.raises(TypeError, match="True or False"):
        packed[0, 0] = 2
    with pytest.raises(TypeError):
        packed[0] = True
