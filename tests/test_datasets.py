"""Rating-data readers on small files written in every MovieLens format, and the fetch cache."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recloop.agents.datasets import ML100K_GENRES, read_ratings
from recloop.experiments import data_cli

# (user, item, rating, timestamp) with original ids; items 10, 20, 30
RATINGS = [(7, 20, 4.0, 880000000), (3, 10, 5.0, 880000100), (7, 10, 2.0, 880000200),
           (3, 30, 3.5, 880000300)]
MOVIES = [(10, "Alpha (1995)", ("Comedy", "Drama")), (20, "Beta (1977)", ("Sci-Fi",)),
          (30, "Gamma (1999)", ())]


def write_ml100k(root: Path) -> None:
    root.joinpath("u.data").write_text(
        "".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in RATINGS))
    lines = []
    for item, title, genres in MOVIES:
        year = title[-5:-1]
        flags = "|".join("1" if g in genres or (g == "unknown" and not genres) else "0"
                         for g in ML100K_GENRES)
        lines.append(f"{item}|{title[:-7]}|01-Jan-{year}||http://x|{flags}\n")
    root.joinpath("u.item").write_bytes("".join(lines).encode("latin-1"))


def write_ml1m(root: Path) -> None:
    root.joinpath("ratings.dat").write_text(
        "".join(f"{u}::{i}::{int(r)}::{t}\n" for u, i, r, t in RATINGS))
    root.joinpath("movies.dat").write_text(
        "".join(f"{i}::{t}::{'|'.join(g) or '(no genres listed)'}\n" for i, t, g in MOVIES))


def write_csv(root: Path) -> None:
    root.joinpath("ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{i},{r},{t}\n" for u, i, r, t in RATINGS))
    root.joinpath("movies.csv").write_text("movieId,title,genres\n" + "".join(
        f'{i},"{t}",{"|".join(g) or "(no genres listed)"}\n' for i, t, g in MOVIES))


def write_recbole(root: Path) -> None:
    root.joinpath("toy.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        + "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in RATINGS))
    root.joinpath("toy.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        + "".join(f"{i}\t{t[:-7]}\t{t[-5:-1]}\t{' '.join(g)}\n" for i, t, g in MOVIES))


@pytest.mark.parametrize(("writer", "source"), [(write_ml100k, "ml-100k"), (write_ml1m, "ml-1m"),
                                                (write_csv, "ml-csv"), (write_recbole, "recbole")])
def test_every_format_reads_to_the_same_data(tmp_path: Path, writer, source: str) -> None:
    writer(tmp_path)
    data = read_ratings(tmp_path)
    assert data.source == source and data.n_users == 2 and data.n_items == 3
    assert list(data.users) == [3, 7] and list(data.items.original_id) == [10, 20, 30]
    expected = pd.DataFrame(RATINGS, columns=["user", "item", "rating", "timestamp"])
    got = data.ratings
    assert list(got.user) == [{3: 0, 7: 1}[u] for u in expected.user]
    assert list(got.item) == [{10: 0, 20: 1, 30: 2}[i] for i in expected.item]
    integer = source in ("ml-100k", "ml-1m")  # their files hold whole stars
    ratings = expected.rating.astype(int) if integer else expected.rating
    assert list(got.rating) == list(ratings.astype(float))
    assert list(got.timestamp) == list(expected.timestamp)
    genres = [set(g) for g in data.items.genres]
    assert genres[0] == {"Comedy", "Drama"} and genres[1] == {"Sci-Fi"}
    assert genres[2] in (set(), {"unknown"})  # ml-100k flags "unknown" where others say none
    assert list(data.items.year) == [1995, 1977, 1999]


def test_rated_items_missing_from_the_item_table_are_an_error(tmp_path: Path) -> None:
    write_csv(tmp_path)
    movies = tmp_path / "movies.csv"
    movies.write_text("\n".join(movies.read_text().splitlines()[:-1]) + "\n")  # drop item 30
    with pytest.raises(ValueError, match="1 ratings name items missing"):
        read_ratings(tmp_path)


def test_a_folder_without_rating_files_says_what_it_looked_for(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"u\.data.*ratings\.dat.*ratings\.csv"):
        read_ratings(tmp_path)


def test_a_failed_fetch_says_what_it_tried_in_one_line(tmp_path: Path, monkeypatch,
                                                       capsys) -> None:
    def offline(timeout: float):
        def fail():
            raise OSError("network unreachable")
        return [("https://example.invalid/ml.zip", fail), ("pip download x==1", fail)]

    monkeypatch.setenv("RECLOOP_DATA", str(tmp_path))
    monkeypatch.setattr(data_cli, "_attempts", offline)
    assert data_cli.main(["fetch", "movielens-100k"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "example.invalid" in err and "pip download x==1" in err and "catalog.path=" in err
    assert not list(tmp_path.iterdir())  # nothing half written


def test_fetched_files_are_cached_with_checksums_that_catch_changes(tmp_path: Path,
                                                                     monkeypatch) -> None:
    source = tmp_path / "src"
    source.mkdir()
    write_recbole(source)
    files = {p.name: p.read_bytes() for p in source.iterdir()}
    calls = []

    def fake(timeout: float):
        return [("fake", lambda: (calls.append(1) or files, "fake origin"))]

    monkeypatch.setenv("RECLOOP_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(data_cli, "_attempts", fake)
    target = data_cli.fetch("movielens-100k")
    assert read_ratings(target).n_users == 2
    assert data_cli.fetch("movielens-100k") == target and len(calls) == 1  # cached
    (target / "toy.inter").write_text("changed")
    assert data_cli.verify(target) == ["toy.inter"]
    assert data_cli.main(["check", "movielens-100k"]) == 1
    data_cli.fetch("movielens-100k")  # a changed copy is fetched again
    assert len(calls) == 2 and data_cli.verify(target) == []


@pytest.mark.skipif(not (data_cli.dataset_dir("movielens-100k") / "SOURCE.json").is_file(),
                    reason="MovieLens-100K is not cached here (recloop-data fetch movielens-100k)")
def test_the_real_movielens_100k() -> None:
    data = read_ratings(data_cli.dataset_dir("movielens-100k"))
    assert (data.n_users, data.n_items, len(data.ratings)) == (943, 1682, 100_000)
    assert data.ratings.rating.between(1, 5).all() and len(data.genre_names()) == 19
