"""The resolver answers at once and fills its cache in the background."""

import threading

from runner import wait_for

from bptraf.names import Resolver


def test_answers_at_once_then_from_cache():
    calls = []
    done = threading.Event()

    def lookup(addr):
        calls.append(addr)
        done.set()
        return "host.test" if addr == "192.0.2.1" else None

    r = Resolver(lookup)
    assert r.name("192.0.2.1") == "192.0.2.1"
    assert done.wait(5)
    assert wait_for(lambda: r.name("192.0.2.1") == "host.test", timeout=5)
    assert r.name("192.0.2.1") == "host.test"
    assert calls == ["192.0.2.1"]  # one lookup per address
    r.close()


def test_unresolvable_addresses_stay_numeric():
    calls = []
    answered = threading.Event()

    def lookup(addr):
        calls.append(addr)
        answered.set()
        return None

    r = Resolver(lookup)
    assert r.name("192.0.2.9") == "192.0.2.9"
    assert answered.wait(5), "the lookup never ran"
    # Once the failed answer is cached, asking again starts no second lookup.
    assert wait_for(lambda: r.name("192.0.2.9") == "192.0.2.9" and "192.0.2.9" not in r._pending, timeout=5)
    for _ in range(3):
        assert r.name("192.0.2.9") == "192.0.2.9"
    assert calls == ["192.0.2.9"]
    r.close()
