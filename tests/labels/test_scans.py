"""Which scan counter a deployment uses: Redis counters where there is Redis, none embedded."""

from labels.scans import RedisScanCounter, scan_counter


class NoRedis:
    """Stands for a client; the counter does not talk to it until a scan is counted."""


def test_embedded_there_is_no_counter():
    assert scan_counter(None, "tanhui") is None


def test_with_redis_counts_go_under_the_prefix():
    counter = scan_counter(NoRedis(), "tanhui-test")
    assert isinstance(counter, RedisScanCounter)
    assert counter.dirty_key == "tanhui-test:scans:dirty"
