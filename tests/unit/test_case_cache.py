"""persistence.case_cache: answers of stored cases by digest, bounded by their bytes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from intygstjanst.persistence.case_cache import CaseCache


def test_answers_are_found_by_digest_and_the_least_recently_used_leave_first() -> None:
    cache = CaseCache(10)
    cache.put_many([(b"a", b"1234"), (b"b", b"5678")])
    assert cache.get_many([b"a", b"x", b"b"]) == [b"1234", None, b"5678"]
    cache.get_many([b"a"])  # now b is the least recently used
    cache.put_many([(b"c", b"90")])
    assert (len(cache), cache.size) == (3, 10)
    cache.put_many([(b"d", b"!")])
    assert cache.get_many([b"a", b"b", b"c", b"d"]) == [b"1234", None, b"90", b"!"]
    assert cache.size == 7


def test_an_answer_larger_than_the_capacity_or_held_already_is_not_kept_again() -> None:
    cache = CaseCache(4)
    cache.put_many([(b"a", b"12345"), (b"b", b"12"), (b"b", b"12")])
    assert (len(cache), cache.size) == (1, 2)
    assert cache.get_many([b"a", b"b"]) == [None, b"12"]


def test_capacity_zero_keeps_nothing() -> None:
    cache = CaseCache(0)
    cache.put_many([(b"a", b"1")])
    assert (len(cache), cache.get_many([b"a"])) == (0, [None])


def test_threads_putting_and_getting_at_once_keep_the_bound() -> None:
    cache = CaseCache(1_000)

    def work(n: int) -> None:
        for i in range(200):
            cache.put_many([(f"{n}-{i}".encode(), b"x" * 10)])
            cache.get_many([f"{n}-{i // 2}".encode()])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    assert cache.size == 1_000 and len(cache) == 100
