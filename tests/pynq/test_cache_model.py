"""The simulated board's memory (unetaccel.rtl_sim.pynq_board.Memory): a write-back cache in front
of the DRAM the DMA sees. No simulator needed."""
import numpy as np
import pytest

from unetaccel.rtl_sim.pynq_board import PAGE, BoardError, Memory


def test_flush_and_invalidate_move_data_between_the_cpu_and_dram():
    mem = Memory()
    buf = mem.allocate((16,), np.uint8)
    assert buf.physical_address % PAGE == 0 and buf.nbytes == 16
    buf[:] = np.arange(16)
    # not flushed: the DMA reads DRAM's stale zeros, and the read is recorded
    assert mem.dma_read(buf.physical_address, 16) == bytes(16)
    assert mem.stale_reads == [{"addr": buf.physical_address, "bytes": 16, "differing": 15}]
    buf.flush()
    assert mem.dma_read(buf.physical_address, 16) == bytes(range(16))
    assert len(mem.stale_reads) == 1
    # the DMA writes DRAM; the CPU sees it only after invalidate
    assert mem.dma_write(buf.physical_address + 4, b"\xff" * 4)
    assert buf[4] == 4
    buf.invalidate()
    assert list(buf[3:9]) == [3, 255, 255, 255, 255, 8]


def test_a_slice_is_its_own_range_and_other_buffers_do_not_overlap():
    mem = Memory()
    a = mem.allocate((10,), np.uint32)
    b = mem.allocate((3,), np.uint8)
    assert b.physical_address >= a.physical_address + a.nbytes
    view = a[2:5]
    assert view.physical_address == a.physical_address + 8
    a[:] = 7
    view.flush()  # only the slice reaches DRAM
    got = np.frombuffer(mem.dma_read(a.physical_address, 40), np.uint32)
    assert list(got) == [0, 0, 7, 7, 7, 0, 0, 0, 0, 0]
    # an address past the end of a buffer is nobody's (the DMA answers a decode error)
    assert mem.dma_read(a.physical_address + 36, 8) is None
    assert not mem.dma_write(b.physical_address + 2, b"xx")


def test_freed_and_computed_arrays_are_not_dma_memory():
    mem = Memory()
    a = mem.allocate((8,), np.uint8)
    with pytest.raises(BoardError, match="not a buffer made by pynq.allocate"):
        (np.asarray(a) + 1).view(type(a)).flush()
    addr = a.physical_address
    a.freebuffer()
    with pytest.raises(BoardError, match="freed"):
        a.flush()
    assert mem.dma_read(addr, 8) is None
