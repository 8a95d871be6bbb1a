"""Build the demographic taste model that ships in ``data/demo`` (aggregates only, no user rows).

Run from the repository root::

    python data/build_taste_model.py --shared ../shared/data --out data/demo/demographic_taste.npz

Input: MovieLens 1M users with demographics (``ml-1m-meta/users.dat``, ``movies.dat``) and its
ratings (``ml-1m-ratings-sample``; the full ``ratings.dat`` is used when present), read with
:func:`retrieval.demographics.load_movielens`; ``ml-25m-links/links.csv`` (optional) adds IMDb ids.
A like is a rating >= 4. What is written (``retrieval.taste_model`` reads it):

- **items**: the movies liked by at least ``--min-users`` users, with their MovieLens id, IMDb
  id, title, year and genres (facts), so any catalog can link them by id or title + year.
- **cells**: a partition of the users into demographic cells of at least ``--min-users`` users:
  each (age group, gender, occupation) with enough users is a cell; the users of the smaller
  ones are pooled into (age group, gender), then (age group), then one cell for everyone left
  (the back-off to coarser groups). Per cell: its size and smoothed affinities — for each item
  the share of the cell's users who liked it, and for each genre and decade the share who liked
  at least one such movie, all shrunk toward the overall share with ``--shrinkage`` pseudo-users
  (``(count + m * overall) / (users + m)``). Item affinities are stored where the cell has a
  like; elsewhere the reader uses the shrunk prior ``m * overall / (users + m)``.
- **groups**: each single field (age group, gender, occupation) with at least ``--min-users``
  users: size, genre and decade affinities (for "what was assumed") and the share of the
  group's fans of a genre who liked an item, where at least ``--min-likes`` of them did and the
  group likes it at least ``--min-lift`` times as often as all fans of the genre do (the
  evidence a justification may cite).

No user id, no rating, no timestamp and no per-user row is written.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval.demographics import AGE_GROUPS, OCCUPATIONS, load_movielens  # noqa: E402

logger = logging.getLogger("build_taste_model")

VERSION = 1
GENDERS = ("F", "M")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def read_imdb_ids(links: Path) -> dict[str, int]:
    """MovieLens movieId -> IMDb number, from an ml-*-links ``links.csv`` (empty when absent)."""
    if not links.is_file():
        return {}
    with links.open(newline="", encoding="utf-8") as handle:
        return {row["movieId"]: int(row["imdbId"]) for row in csv.DictReader(handle) if row.get("imdbId", "").isdigit()}


def user_cells(users: dict, min_users: int) -> dict[str, tuple[int, int, int]]:
    """User id -> (age, gender, occupation) codes of its cell (-1: pooled over that field)."""
    def code(profile):
        return (AGE_GROUPS.index(profile.age_group) if profile.age_group else -1,
                GENDERS.index(profile.gender) if profile.gender else -1,
                OCCUPATIONS.index(profile.occupation) if profile.occupation else -1)

    cell = {u: code(p) for u, p in users.items()}
    for coarser in ((lambda c: (c[0], c[1], -1)), (lambda c: (c[0], -1, -1)), (lambda c: (-1, -1, -1))):
        sizes: dict[tuple, int] = {}
        for c in cell.values():
            sizes[c] = sizes.get(c, 0) + 1
        cell = {u: (c if sizes[c] >= min_users else coarser(c)) for u, c in cell.items()}
    return cell


def shrunk(counts: np.ndarray, users: np.ndarray, overall: np.ndarray, m: float) -> np.ndarray:
    return (counts + m * overall[None, :]) / (users[:, None] + m)


def build(shared: Path, *, min_users: int, shrinkage: float, min_likes: int, min_lift: float) -> tuple[dict, dict]:
    meta_dir = shared / "ml-1m-meta"
    data = load_movielens(meta_dir)
    liked = data.ratings >= 4.0
    user_ids, item_ids = data.user_ids[liked].astype(str), data.item_ids[liked].astype(str)
    users = sorted({u for u in user_ids if u in data.users})
    user_index = {u: k for k, u in enumerate(users)}
    keep_rows = np.fromiter((u in user_index for u in user_ids), bool, len(user_ids))
    user_ids, item_ids = user_ids[keep_rows], item_ids[keep_rows]
    pairs = {(user_index[u], i) for u, i in zip(user_ids, item_ids)}
    likers: dict[str, int] = {}
    for _, item in pairs:
        likers[item] = likers.get(item, 0) + 1
    items = sorted((i for i, n in likers.items() if n >= min_users), key=int)
    item_index = {i: k for k, i in enumerate(items)}
    genres = sorted({g for i in items for g in data.items[i].genres})
    decades = sorted({data.items[i].year // 10 * 10 for i in items if data.items[i].year})
    n_users = len(users)

    # user x item likes, user x genre / decade "liked at least one"
    likes = np.zeros((n_users, len(items)), dtype=np.float32)
    for user, item in pairs:
        if item in item_index:
            likes[user, item_index[item]] = 1.0
    item_genre = np.array([[g in data.items[i].genres for g in genres] for i in items], dtype=np.float32)
    item_decade = np.array([[(data.items[i].year or 0) // 10 * 10 == d for d in decades] for i in items],
                           dtype=np.float32)
    fans = (likes @ item_genre) > 0
    decade_fans = (likes @ item_decade) > 0
    overall_items = likes.mean(axis=0)
    overall_genres = fans.mean(axis=0)
    overall_decades = decade_fans.mean(axis=0)

    cells_of = user_cells({u: data.users[u] for u in users}, min_users)
    cell_keys = sorted(set(cells_of.values()))
    membership = np.zeros((len(cell_keys), n_users), dtype=np.float32)
    for user, cell in cells_of.items():
        membership[cell_keys.index(cell), user_index[user]] = 1.0
    cell_users = membership.sum(axis=1)
    cell_counts = membership @ likes
    cell_items = shrunk(cell_counts, cell_users, overall_items, shrinkage)
    rows, cols = np.nonzero(cell_counts)
    indptr = np.searchsorted(rows, np.arange(len(cell_keys) + 1))

    groups, group_users, group_genres, group_decades = [], [], [], []
    evidence = {"group": [], "item": [], "genre": [], "group_share": [], "overall_share": [], "fans": [],
                "genre_fans": []}
    fields = [("age", AGE_GROUPS, lambda p: p.age_group), ("gender", GENDERS, lambda p: p.gender),
              ("occupation", OCCUPATIONS, lambda p: p.occupation)]
    genre_fans_all = fans.sum(axis=0)
    for attribute, values, read in fields:
        for value in values:
            mask = np.array([read(data.users[u]) == value for u in users])
            if mask.sum() < min_users:
                continue
            number = len(groups)
            groups.append(f"{attribute}={value}")
            group_users.append(int(mask.sum()))
            group_fans = fans[mask].sum(axis=0)
            group_genres.append((group_fans + shrinkage * overall_genres) / (mask.sum() + shrinkage))
            group_decades.append((decade_fans[mask].sum(axis=0) + shrinkage * overall_decades) / (mask.sum() + shrinkage))
            hits = likes[mask].sum(axis=0)
            for item in np.nonzero(hits >= min_likes)[0]:
                for g in np.nonzero(item_genre[item])[0]:
                    if group_fans[g] < min_users:
                        continue
                    share = hits[item] / group_fans[g]
                    overall = likes[:, item].sum() / genre_fans_all[g]
                    if share >= min_lift * overall:
                        for key, v in (("group", number), ("item", item), ("genre", g), ("group_share", share),
                                       ("overall_share", overall), ("fans", group_fans[g]),
                                       ("genre_fans", genre_fans_all[g])):
                            evidence[key].append(v)

    links = shared / "ml-25m-links" / "links.csv"
    imdb = read_imdb_ids(links)
    inputs = {p.relative_to(shared).as_posix(): sha256(p) for p in
              (meta_dir / "users.dat", meta_dir / "movies.dat", *(shared / "ml-1m-ratings-sample").glob("*.dat"), links)
              if p.is_file()}
    meta = {
        "version": VERSION, "source": data.name, "inputs": inputs, "min_users": min_users,
        "shrinkage": shrinkage, "min_likes": min_likes, "min_lift": min_lift, "positive_rating": 4.0,
        "users": n_users, "genres": genres, "decades": decades, "groups": groups,
        "ages": list(AGE_GROUPS), "genders": list(GENDERS), "occupations": list(OCCUPATIONS),
    }
    arrays = {
        "item_movielens_id": np.array([int(i) for i in items], dtype=np.int32),
        "item_imdb_id": np.array([imdb.get(i, 0) for i in items], dtype=np.int32),
        "item_title": np.array([data.items[i].title for i in items]),
        "item_year": np.array([data.items[i].year or 0 for i in items], dtype=np.int16),
        "item_genres": item_genre.astype(bool),
        "overall_items": overall_items.astype(np.float32),
        "overall_genres": overall_genres.astype(np.float32),
        "overall_decades": overall_decades.astype(np.float32),
        "cell_fields": np.array(cell_keys, dtype=np.int8),
        "cell_users": cell_users.astype(np.int32),
        "cell_genres": shrunk((membership @ fans).astype(np.float32), cell_users, overall_genres, shrinkage).astype(np.float32),
        "cell_decades": shrunk((membership @ decade_fans).astype(np.float32), cell_users, overall_decades,
                               shrinkage).astype(np.float32),
        "cell_item_indptr": indptr.astype(np.int32),
        "cell_item_index": cols.astype(np.int16),
        "cell_item_affinity": cell_items[rows, cols].astype(np.float32),
        "group_users": np.array(group_users, dtype=np.int32),
        "group_genres": np.array(group_genres, dtype=np.float32),
        "group_decades": np.array(group_decades, dtype=np.float32),
        "evidence_group": np.array(evidence["group"], dtype=np.int16),
        "evidence_item": np.array(evidence["item"], dtype=np.int16),
        "evidence_genre": np.array(evidence["genre"], dtype=np.int8),
        "evidence_group_share": np.array(evidence["group_share"], dtype=np.float32),
        "evidence_overall_share": np.array(evidence["overall_share"], dtype=np.float32),
        "evidence_fans": np.array(evidence["fans"], dtype=np.int32),
        "evidence_genre_fans": np.array(evidence["genre_fans"], dtype=np.int32),
    }
    stats = {"users": n_users, "items": len(items), "items_rated": len(data.items), "likes": len(pairs),
             "cells": len(cell_keys), "full_cells": sum(-1 not in c for c in cell_keys),
             "smallest_cell": int(cell_users.min()), "item_affinities": len(cols), "groups": len(groups),
             "evidence": len(evidence["group"]), "with_imdb": int((arrays["item_imdb_id"] > 0).sum())}
    return {"meta": np.array(json.dumps(meta)), **arrays}, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("data/demo/demographic_taste.npz"))
    parser.add_argument("--min-users", type=int, default=20, help="Smallest cell, group, genre fan base or item likers.")
    parser.add_argument("--shrinkage", type=float, default=10.0, help="Pseudo-users pulling a cell toward overall.")
    parser.add_argument("--min-likes", type=int, default=5, help="Likes in a group before its evidence is kept.")
    parser.add_argument("--min-lift", type=float, default=1.2, help="Group share over overall share for evidence.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    arrays, stats = build(args.shared, min_users=args.min_users, shrinkage=args.shrinkage,
                          min_likes=args.min_likes, min_lift=args.min_lift)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    stats["bytes"] = args.out.stat().st_size
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
