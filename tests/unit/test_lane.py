"""The lane lets messages that do not escalate through one per event-loop turn, in arrival order."""

from __future__ import annotations

import asyncio

from bot.channels.lane import Lane


async def test_waiters_go_through_in_arrival_order() -> None:
    lane, order = Lane(), []

    async def waiter(n: int) -> None:
        await lane.turn()
        order.append(n)

    await asyncio.gather(*(waiter(n) for n in range(20)))
    assert order == list(range(20)) and len(lane) == 0


async def test_work_that_arrives_later_runs_between_two_turns() -> None:
    # 50 queued messages, then one more task (an emergency's check) created while they wait: it must
    # not wait for all 50, only for the one being let through
    lane = Lane()
    order: list[int | str] = []

    async def waiter(n: int) -> None:
        await lane.turn()
        order.append(n)

    async def urgent() -> None:
        order.append("urgent")

    tasks = [asyncio.create_task(waiter(n)) for n in range(50)]
    await asyncio.sleep(0)  # all queued
    await asyncio.sleep(0)  # the first let through
    tasks.append(asyncio.create_task(urgent()))
    await asyncio.gather(*tasks)
    assert order.index("urgent") <= 2


async def test_a_cancelled_waiter_is_skipped_and_the_rest_still_go_through() -> None:
    lane, order = Lane(), []

    async def waiter(n: int) -> None:
        await lane.turn()
        order.append(n)

    tasks = [asyncio.create_task(waiter(n)) for n in range(5)]
    await asyncio.sleep(0)
    tasks[2].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 1, 3, 4]
