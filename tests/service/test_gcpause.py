"""The cycle collector paused for a bulk operation: pauses nest, overlap across threads, survive
errors, and leave the collector as they found it."""

import gc
import threading

import pytest

from service.gcpause import collector_paused


@pytest.fixture(autouse=True)
def collector_running():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_resumes_when_the_outermost_pause_ends():
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_an_error_inside_still_resumes_the_collector():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the operation failed")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads_resume_when_the_later_ends():
    """Thread A pauses, then B; A ends first: the collector stays paused until B ends too."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with collector_paused():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with collector_paused():
            b_in.set()
            a_out.wait(5)
            seen["after a ended"] = gc.isenabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"after a ended": False}
    assert gc.isenabled()
