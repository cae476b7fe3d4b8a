"""Workers starting together on a fresh instance folder agree on the generated session key."""
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from app import _secret_key


def test_workers_starting_at_once_share_one_secret_key(tmp_path):
    barrier = Barrier(8)

    def start():
        barrier.wait()
        return _secret_key(tmp_path)

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: start(), range(8)))
    assert len(keys) == 1 and keys == {(tmp_path / "secret_key").read_text()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no draft left behind
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
