"""Both watched matrices (a bit per pair; per-user lists that overflow into bit rows) answer
every indexing the run uses exactly as the dense bool matrix they replaced, and a run keeps
the same numbers whichever one it holds."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recloop.policies import watched
from recloop.policies.allowed import mask_blocked
from recloop.policies.bits import BitMatrix
from recloop.policies.types import ServeContext
from recloop.policies.watched import WatchLists, watched_matrix
from recloop.sim.config import RunConfig
from recloop.sim.story import simulate

N_USERS, N_ITEMS = 37, 203  # items not a multiple of 8: the last byte is partly padding
SLOTS = 12  # small lists: a skewed draw leaves some users listed and moves others to bits


def short_lists(n_users: int, n_items: int) -> WatchLists:
    return WatchLists(n_users, n_items, slots=SLOTS)


KINDS = pytest.mark.parametrize("make", [BitMatrix, short_lists], ids=["bits", "lists"])
Make = Callable[[int, int], BitMatrix | WatchLists]


def pair(make: Make, seed: int = 20261201) -> tuple[np.ndarray, BitMatrix | WatchLists]:
    """A random dense matrix and its twin, built by assignment (duplicates too). Users are
    drawn skewed, so some watch a few titles and some many."""
    rng = np.random.default_rng(seed)
    dense, packed = np.zeros((N_USERS, N_ITEMS), dtype=bool), make(N_USERS, N_ITEMS)
    for _ in range(5):
        users = (rng.random(150) ** 3 * N_USERS).astype(int)
        items = rng.integers(0, N_ITEMS, 150)
        dense[users, items] = True
        packed[users, items] = True
    return dense, packed


@KINDS
def test_rows_and_pairs_read_like_the_dense_matrix(make: Make) -> None:
    dense, packed = pair(make)
    users = np.array([5, 0, 36, 5])
    np.testing.assert_array_equal(packed[users], dense[users])
    np.testing.assert_array_equal(packed[7], dense[7])
    items = np.random.default_rng(1).integers(0, N_ITEMS, (4, 9))
    np.testing.assert_array_equal(packed[users[:, None], items], dense[users[:, None], items])
    np.testing.assert_array_equal(packed[np.ix_(users, [0, 202])], dense[np.ix_(users, [0, 202])])
    assert packed.shape == dense.shape and packed[users].dtype == bool
    np.testing.assert_array_equal(packed.to_dense(), dense)


def test_list_pairs_are_the_dense_rows_nonzero_listed_users_and_wide_alike() -> None:
    dense, lists = pair(short_lists)
    users = np.array([5, 0, 36, 5, 2])
    at, items = lists.pairs(users)
    got = np.zeros((users.size, N_ITEMS), dtype=bool)
    got[at, items] = True
    np.testing.assert_array_equal(got, dense[users])
    assert at.size == dense[users].sum()  # each watched title once
    assert (lists.row[users] >= 0).any() and (lists.row[users] < 0).any()


def test_masking_from_list_pairs_blocks_what_the_dense_mask_blocks() -> None:
    dense, lists = pair(short_lists)
    available = np.random.default_rng(2).random(N_ITEMS) < 0.9
    users = np.array([3, 36, 0, 3])
    scores = np.random.default_rng(4).random((users.size, N_ITEMS)).astype(np.float32)
    want, got = scores.copy(), scores.copy()
    want[dense[users] | ~available] = -np.inf
    mask_blocked(got, users, ServeContext(day=0, hour=0.0, available=available, seen=lists))
    np.testing.assert_array_equal(got, want)


def test_the_skewed_draw_leaves_users_of_both_kinds() -> None:
    dense, lists = pair(short_lists)
    assert isinstance(lists, WatchLists)
    counts = dense.sum(axis=1)
    assert ((lists.row >= 0) == (counts > SLOTS)).all()  # moved exactly when a list overflowed
    assert (counts > SLOTS).sum() >= 3 and ((counts > 0) & (counts <= SLOTS)).sum() >= 3


@KINDS
def test_unsetting_clears_only_the_named_pairs(make: Make) -> None:
    dense, packed = pair(make)
    users, items = np.nonzero(dense)
    pick = slice(None, None, 3)
    dense[users[pick], items[pick]] = False
    packed[users[pick], items[pick]] = False
    np.testing.assert_array_equal(packed.to_dense(), dense)
    assert dense.any() and (~dense).any()
    dense[users, items] = True  # and set again, into the gaps the removal closed
    packed[users, items] = True
    np.testing.assert_array_equal(packed.to_dense(), dense)


@KINDS
def test_a_long_mix_of_sets_and_unsets_stays_the_dense_matrix(make: Make) -> None:
    rng = np.random.default_rng(7)
    dense, packed = np.zeros((N_USERS, N_ITEMS), dtype=bool), make(N_USERS, N_ITEMS)
    for step in range(60):
        users = (rng.random(rng.integers(1, 40)) ** 2 * N_USERS).astype(int)
        items = rng.integers(0, N_ITEMS, users.size)
        value = step % 4 != 3
        dense[users, items] = value
        packed[users, items] = value
        asked = rng.integers(0, N_USERS, 20)
        np.testing.assert_array_equal(packed[asked], dense[asked])
        np.testing.assert_array_equal(packed[asked, items[:1]], dense[asked, items[:1]])
    np.testing.assert_array_equal(packed.to_dense(), dense)


@KINDS
def test_copy_and_pickle_are_independent_equal_matrices(make: Make) -> None:
    _, packed = pair(make)
    twin, restored = packed.copy(), pickle.loads(pickle.dumps(packed))
    assert twin == packed and restored == packed
    np.testing.assert_array_equal(restored.to_dense(), packed.to_dense())
    twin[0, 0] = not bool(packed[0, 0])
    assert twin != packed
    restored[1, 1] = True  # the restored matrix keeps working, with room to grow
    restored[np.full(N_ITEMS, 2), np.arange(N_ITEMS)] = True
    assert restored[2].all()


def test_the_bits_are_eight_flags_a_byte() -> None:
    _, packed = pair(BitMatrix)
    assert packed.nbytes == N_USERS * 26


def test_lists_are_equal_when_their_flags_are_whatever_the_layout() -> None:
    dense, lists = pair(short_lists)
    rebuilt = WatchLists(N_USERS, N_ITEMS, slots=SLOTS)
    users, items = np.nonzero(dense)
    backwards = np.argsort(-items, kind="stable")  # other slots, other order of the bit rows
    rebuilt[users[backwards], items[backwards]] = True
    assert rebuilt == lists


@pytest.mark.parametrize("shape", [(1000, 2000), (3, 5), (37, 203)])  # 203: a partial word
def test_bit_pickles_hold_only_the_watched_words(shape: tuple[int, int]) -> None:
    packed = BitMatrix(*shape)
    packed[np.array([0, shape[0] - 1, shape[0] - 1]), np.array([0, 0, shape[1] - 1])] = True
    restored = pickle.loads(pickle.dumps(packed))
    assert restored == packed and restored.shape == shape
    np.testing.assert_array_equal(restored.to_dense(), packed.to_dense())
    assert len(pickle.dumps(packed)) < 1_000  # three flags, not 250 kB of zero bits


def test_list_pickles_hold_only_the_filled_slots() -> None:
    lists = WatchLists(1000, 20_000)
    lists[np.array([0, 999, 999]), np.array([0, 0, 19_999])] = True
    restored = pickle.loads(pickle.dumps(lists))
    assert restored == lists
    assert len(pickle.dumps(lists)) < 10_000  # counts and rows, not 128 kB of empty slots


@KINDS
def test_a_round_trip_through_dense_is_exact(make: Make) -> None:
    dense, _ = pair(make)
    kind = BitMatrix if make is BitMatrix else WatchLists
    np.testing.assert_array_equal(kind.from_dense(dense).to_dense(), dense)


@KINDS
def test_only_flags_can_be_assigned(make: Make) -> None:
    _, packed = pair(make)
    with pytest.raises(TypeError, match="True or False"):
        packed[0, 0] = 2
    with pytest.raises(TypeError):
        packed[0] = True


def test_large_catalogs_get_lists_and_small_ones_bits() -> None:
    assert isinstance(watched_matrix(10, watched.LISTS_FROM), WatchLists)
    assert isinstance(watched_matrix(10, watched.LISTS_FROM - 1), BitMatrix)
    with pytest.raises(ValueError, match="n_items=70000"):
        WatchLists(10, 70_000)


def test_a_run_keeps_its_numbers_with_either_matrix(
    small_config: Callable[..., RunConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = small_config("days=4", "policy=als")
    bits = simulate(cfg, tmp_path / "bits")
    monkeypatch.setattr(watched, "LISTS_FROM", 0)
    monkeypatch.setattr(watched, "SLOTS", 3)  # most users move to bit rows within the run
    lists = simulate(cfg, tmp_path / "lists")
    assert isinstance(lists.state.seen, WatchLists) and isinstance(bits.state.seen, BitMatrix)
    assert (lists.state.seen.row >= 0).any() and (lists.state.seen.count > 0).any()
    np.testing.assert_array_equal(lists.state.seen.to_dense(), bits.state.seen.to_dense())
    pd.testing.assert_frame_equal(lists.metrics, bits.metrics)
    for day in range(4):
        name = f"log/day={day:04d}.parquet"
        assert (tmp_path / "lists" / name).read_bytes() == (tmp_path / "bits" / name).read_bytes()
