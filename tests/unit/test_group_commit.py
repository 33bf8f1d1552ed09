"""The group-commit queue on its own: batching, per-command outcomes, same-key separation, and a
failed batch retried command by command."""

import asyncio

import pytest

from eventkit.group_commit import GroupCommit


def run(coro):
    return asyncio.run(coro)


async def started(flush, **kw) -> GroupCommit:
    group = GroupCommit(flush, key=lambda c: c[0], **kw)
    group.start()
    return group


def test_concurrent_commands_share_batches_and_each_gets_its_own_answer():
    seen: list[list] = []

    async def flush(batch):
        seen.append(batch)
        await asyncio.sleep(0.01)
        return [ValueError(c) if c[1] < 0 else c[1] * 10 for c in batch]

    async def main():
        group = await started(flush, flushers=1)
        results = await asyncio.gather(
            *(group.submit((f"k{i}", i if i != 7 else -1)) for i in range(50)),
            return_exceptions=True,
        )
        await group.stop()
        return results

    results = run(main())
    assert isinstance(results[7], ValueError)
    assert [r for i, r in enumerate(results) if i != 7] == [i * 10 for i in range(50) if i != 7]
    assert len(seen) < 50 and sum(map(len, seen)) == 50
    assert all(len(b) <= 256 for b in seen)


def test_max_batch_is_respected():
    sizes: list[int] = []

    async def flush(batch):
        sizes.append(len(batch))
        return [0] * len(batch)

    async def main():
        group = await started(flush, max_batch=8, flushers=1)
        await asyncio.gather(*(group.submit((i, 0)) for i in range(40)))
        await group.stop()

    run(main())
    assert max(sizes) <= 8 and sum(sizes) == 40


def test_the_same_key_never_shares_a_batch():
    batches: list[list] = []

    async def flush(batch):
        batches.append([c[0] for c in batch])
        return [c[1] for c in batch]

    async def main():
        group = await started(flush, flushers=1)
        out = await asyncio.gather(
            *(group.submit(("same", i)) for i in range(3)), group.submit(("other", 9))
        )
        await group.stop()
        return out

    assert run(main()) == [0, 1, 2, 9]
    assert all(len(b) == len(set(b)) for b in batches)
    assert sum(b.count("same") for b in batches) == 3


def test_a_failed_batch_is_retried_alone_so_one_bad_command_fails_only_itself():
    async def flush(batch):
        if any(c[1] == "bad" for c in batch):
            raise RuntimeError("statement failed")
        return ["ok"] * len(batch)

    async def main():
        group = await started(flush, flushers=1)
        out = await asyncio.gather(
            *(group.submit((i, "bad" if i == 3 else "good")) for i in range(6)),
            return_exceptions=True,
        )
        await group.stop()
        return out

    out = run(main())
    assert isinstance(out[3], RuntimeError)
    assert [o for i, o in enumerate(out) if i != 3] == ["ok"] * 5


def test_submit_before_start_is_an_error():
    async def main():
        group = GroupCommit(lambda b: b, key=lambda c: c)
        with pytest.raises(RuntimeError):
            await group.submit(1)

    run(main())
