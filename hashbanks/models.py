from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from hashbanks import pdq

# HMA's default PDQ match distance (out of 256 bits).
DEFAULT_DISTANCE = 31
# The largest distance a bank may match at: past ~70 bits unrelated photos start to match, and
# the index's lookups grow with the distance (hashbanks.index).
MAX_DISTANCE = 63


class Bank(models.Model):
    """A bank of PDQ hashes of images already judged: a label bank (known-bad images of one
    taxonomy label) or an allow bank (known-safe images; its label, if any, says which category
    it clears)."""

    class Kind(models.TextChoices):
        LABEL = "label", "Label: a match adds the label at confidence 100"
        ALLOW = "allow", "Allow: a match removes the labels it covers"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.LABEL)
    # A taxonomy label (any level). An allow bank without one covers every label.
    label = models.CharField(max_length=128, blank=True)
    description = models.CharField(max_length=500, blank=True)
    match_distance = models.PositiveSmallIntegerField(
        default=DEFAULT_DISTANCE, validators=[MinValueValidator(0), MaxValueValidator(MAX_DISTANCE)]
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    # Moved by every service that changes the bank or its hashes: each process's lookup index
    # is rebuilt when the banks' (count, latest change) is not what it was built from.
    changed_at = models.DateTimeField()
    # Its hashes, moved by the services in the transaction that adds or removes them: the pages
    # show it without counting a bank of a million hashes on each request.
    hash_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_allow(self) -> bool:
        return self.kind == self.Kind.ALLOW

    @property
    def verdict(self) -> str:
        """What a match means, in a few words: the label, "allow: Alcohol" or "allow: everything"."""
        if self.is_allow:
            return f"allow: {self.label or 'every label'}"
        return self.label


class BankHash(models.Model):
    """One PDQ hash in a bank, with where it came from."""

    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="hashes")
    hash = models.CharField(max_length=pdq.HEX_DIGITS)
    quality = models.PositiveSmallIntegerField(null=True, blank=True)  # None: an imported hash without one
    note = models.CharField(max_length=500, blank=True)
    # Where it came from: "upload a.jpg", "bulk job 3 line 5", "import list.txt line 12".
    source = models.CharField(max_length=500, blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)  # of the image, when it came from one
    # "" for the image itself, else the border crop it is the hash of ("crop 5%").
    variant = models.CharField(max_length=32, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["bank", "hash"], name="bank_hash_unique")]
        indexes = [
            # A bank's page and the admin's bank filter: one bank's hashes, newest first.
            models.Index(fields=["bank", "id"], name="bankhash_bank_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.bank.name}: {self.hash[:16]}…"


class ImageHash(models.Model):
    """An image's PDQ hash, computed once per image content (keyed by sha256 as ImageEmbedding is)
    and reused by every analysis, import and near-duplicate grouping of the same file."""

    sha256 = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=pdq.HEX_DIGITS)
    quality = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.sha256[:12]}: {self.hash[:16]}…"
