"""Scoring in chunks of users: the chunk follows the catalog's size and changes no result."""

from __future__ import annotations

import numpy as np
import pytest
import test_policies
from contracts import N_USERS, PolicyContract

from recloop.policies import base
from recloop.policies.base import SCORE_CHUNK, score_chunk


def test_chunk_holds_about_a_block_of_scores() -> None:
    assert score_chunk(2_000) == SCORE_CHUNK  # capped
    assert score_chunk(10_000) == 256
    assert score_chunk(20_000) == 128
    assert score_chunk(10**9) == 1
    assert score_chunk(0) == SCORE_CHUNK


@pytest.mark.parametrize("contract_cls", [test_policies.TestALSContract,
                                          test_policies.TestItemKNNContract,
                                          test_policies.TestPopularContract])
def test_results_do_not_depend_on_the_chunk(contract_cls: type[PolicyContract],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    contract = contract_cls()
    policy = contract.fitted()
    ctx = contract.planted_context()
    users = np.resize(np.arange(N_USERS), 3 * N_USERS + 5)
    whole = policy.candidates(users, 12, ctx)
    monkeypatch.setattr(base, "SCORE_BLOCK", 7 * ctx.available.size)  # 7 users a chunk
    assert score_chunk(ctx.available.size) == 7
    chunked = policy.candidates(users, 12, ctx)
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_array_equal(whole[1], chunked[1])
