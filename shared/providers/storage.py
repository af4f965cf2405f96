"""Where rendered files go: S3-compatible storage (AWS S3, Supabase Storage's S3
endpoint, MinIO) when S3_BUCKET is set, else a local folder (LOCAL_DIR/audio).

Keys are relative paths (`tracks/t1/<job>.mp3`); both stores treat them the same.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from shared.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef


class Storage(Protocol):
    kind: str

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, keys: list[str]) -> None: ...

    def location(self, key: str) -> str:
        """Where the object is, for people: `s3://bucket/key` or a file path."""
        ...


class LocalStorage:
    """Files under `root`, written atomically (temp file + rename)."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key {key!r} escapes the storage folder")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, keys: list[str]) -> None:
        """Remove the files, then the folders they leave empty (as S3 has no empty folders:
        a render's `.parts/` folder goes with its last part)."""
        folders = set()
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            folders.add(path.parent)
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
            self._prune(folder)

    def _prune(self, folder: Path) -> None:
        root = self.root.resolve()
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                return
            folder = folder.parent

    def location(self, key: str) -> str:
        return str(self._path(key))


class S3Storage:
    """One bucket through boto3; `endpoint_url` selects a non-AWS S3 (Supabase, MinIO)."""

    kind = "s3"

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch: list[ObjectIdentifierTypeDef] = [{"Key": key} for key in keys[start:start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def storage_for(settings: Settings) -> Storage:
    """S3 when S3_BUCKET is set, else LOCAL_DIR/audio."""
    if not settings.s3_bucket:
        return LocalStorage(settings.local_dir / "audio")
    import boto3

    secret = settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
                          aws_access_key_id=settings.s3_access_key_id, aws_secret_access_key=secret)
    return S3Storage(client, settings.s3_bucket)
