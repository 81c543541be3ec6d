"""What storage, S3 and the backend seam share: a file's address and the error they all raise.

They live here, under the seam, so that console.lib never imports up into console.backends;
console.backends.base re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass


class BackendError(Exception):
    """A moderation failure, with the Rekognition error code that names it.

    `retryable` says whether trying again later can help (throttling, a service
    fault) or not (a bad image, an unknown adapter): tasks retry only the former.
    """

    def __init__(self, code: str, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class ImageRef:
    """A stored file, addressed as on S3. With local disk storage `bucket` is the virtual bucket."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"
