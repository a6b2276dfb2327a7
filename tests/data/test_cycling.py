"""Cycled, seeded shuffles and batch samplers that continue a checkpointed epoch."""

from __future__ import annotations

from reliableswap.data.cycling import CyclingSeededSampler, ResumableBatchSampler


def test_the_order_is_a_function_of_seed_epoch_and_cycle() -> None:
    a, b = CyclingSeededSampler(10, seed=1), CyclingSeededSampler(10, seed=1)
    first, second = list(a), list(a)  # cycles 0 and 1 of epoch 0
    assert sorted(first) == list(range(10)) and first != second
    assert list(b) == first
    b.set_epoch(0)
    assert list(b) == first  # set_epoch restarts at cycle 0
    b.set_epoch(1)
    assert list(b) not in (first, second)


def test_resume_continues_the_cycle_and_batch_of_the_checkpoint() -> None:
    def batches(resume_at=None, epoch=2, iterations=3):
        sampler = CyclingSeededSampler(6, seed=4)
        sampler.set_epoch(epoch)
        batch_sampler = ResumableBatchSampler(sampler, 2, drop_last=True, resume_at=resume_at)
        return [b for _ in range(iterations) for b in batch_sampler]

    straight = batches()  # 3 cycles of 3 batches
    assert batches(resume_at=(2, 4)) == straight[4:] + batches(iterations=4)[9:]  # mid cycle 1, then on
    assert batches(resume_at=(2, 3), iterations=1) == straight[3:6]  # a cycle boundary
    assert batches(resume_at=(1, 4), iterations=1) == straight[:3]  # another epoch's position is ignored
