"""The resolver answers at once and fills its cache in the background."""

import threading
import time

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
    for _ in range(100):
        if r.name("192.0.2.1") == "host.test":
            break
        time.sleep(0.01)
    assert r.name("192.0.2.1") == "host.test"
    assert r.name("192.0.2.1") == "host.test"
    assert calls == ["192.0.2.1"]  # one lookup per address
    r.close()


def test_unresolvable_addresses_stay_numeric():
    r = Resolver(lambda addr: None)
    r.name("192.0.2.9")
    for _ in range(100):
        if "192.0.2.9" in r._names:
            break
        time.sleep(0.01)
    assert r.name("192.0.2.9") == "192.0.2.9"
    r.close()
