"""The content-addressed store: a staged file is kept atomically, and kept again by a use case run again."""
import hashlib
import os

from app.services.blobs import BlobStore


def test_a_kept_file_is_in_the_store_and_the_staging_name_is_gone_at_the_end(tmp_path):
    store = BlobStore(tmp_path)
    with store.staged(b"%PDF-1.4 a") as blob:
        blob.keep()
        assert store.path_of(blob.sha256).read_bytes() == b"%PDF-1.4 a"
    assert blob.sha256 == hashlib.sha256(b"%PDF-1.4 a").hexdigest()
    assert store.staging() == []
    assert oct(os.stat(store.path_of(blob.sha256)).st_mode & 0o777) == "0o600"


def test_a_use_case_run_again_after_its_file_was_swept_keeps_it_again(tmp_path):
    store = BlobStore(tmp_path)
    with store.staged(b"content") as blob:
        blob.keep()                        # the first attempt, then rolled back
        store.path_of(blob.sha256).unlink()  # the sweep found it unreferenced meanwhile
        blob.keep()                        # the retry
        assert store.exists(blob.sha256)


def test_a_file_not_kept_leaves_nothing(tmp_path):
    store = BlobStore(tmp_path)
    with store.staged(b"refused") as blob:
        pass
    assert not store.exists(blob.sha256) and list(store.root.rglob("*")) == []


def test_identical_content_is_stored_once(tmp_path):
    store = BlobStore(tmp_path)
    first, _ = store.put(b"same")
    second, _ = store.put(b"same")
    assert first == second and len([p for p in store.root.rglob("*") if p.is_file()]) == 1


def test_without_hard_links_the_file_is_copied_into_place(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError("hard links not supported")
    monkeypatch.setattr(os, "link", no_links)
    store = BlobStore(tmp_path)
    with store.staged(b"on a share") as blob:
        blob.keep()
    assert store.path_of(blob.sha256).read_bytes() == b"on a share"
    assert store.staging() == []
