from django import forms
from django.core.exceptions import ValidationError

from console.validators import validate_confidence, validate_kms_key_id, validate_tags
from moderation import taxonomy

TAG_ROWS = 3  # empty key/value rows shown below the filled ones
SOURCE_CHOICES = [
    ("upload", "Import images from your computer"),
    ("manifest", "Import manifest file"),
    ("s3", "Import images from Amazon S3 bucket"),
]
TEST_CHOICES = [("autosplit", "Autosplit (recommended)"), ("manifest", "Manually import manifest file")]


class ImageSourceForm(forms.Form):
    """Where training images come from (the files themselves are read from request.FILES)."""

    source = forms.ChoiceField(choices=SOURCE_CHOICES, initial="upload", widget=forms.RadioSelect)
    manifest = forms.FileField(required=False, label="Manifest file")
    s3_uri = forms.CharField(
        required=False,
        label="S3 location",
        widget=forms.TextInput(attrs={"placeholder": "s3://bucket/folder/"}),
    )
    test_data = forms.ChoiceField(choices=TEST_CHOICES, initial="autosplit", widget=forms.RadioSelect)
    test_manifest = forms.FileField(required=False, label="Test manifest file")

    def clean(self):
        data = super().clean()
        # The radio groups show no errors of their own: a tampered value is named at the form's top.
        for name, title in (("source", "Training images"), ("test_data", "Test dataset")):
            if name in self.errors:
                del self.errors[name]
                allowed = ", ".join(value for value, _ in self.fields[name].choices)
                got = self.data.get(name, "")
                self.add_error(None, f"{title}: {got!r} is not a source; choose one of {allowed}")
        if data.get("source") == "manifest" and not data.get("manifest"):
            self.add_error("manifest", "Manifest file: choose a manifest file to import")
        if data.get("source") == "s3" and not data.get("s3_uri", "").strip():
            self.add_error("s3_uri", "S3 location: enter an s3://bucket/folder/ location")
        if data.get("test_data") == "manifest" and not data.get("test_manifest"):
            self.add_error("test_manifest", "Test manifest file: choose a test manifest, or use Autosplit")
        return data

    def sources(self) -> dict:
        """Keyword arguments for adapters.datasets.add_images (files excepted)."""
        data = self.cleaned_data
        named = lambda f: (f.name, f.read()) if f else None  # noqa: E731
        return {
            "manifest": named(data.get("manifest")) if data["source"] == "manifest" else None,
            "s3_uri": data.get("s3_uri", "").strip() if data["source"] == "s3" else "",
            "test_manifest": named(data.get("test_manifest")) if data["test_data"] == "manifest" else None,
        }


class TrainForm(forms.Form):
    """The training page: tags (key/value rows tag_key/tag_value), encryption, confidence threshold."""

    ENCRYPTION = [("default", "Use the default encryption key"), ("custom", "Use a custom KMS key")]

    confidence_threshold = forms.FloatField(
        label="Confidence threshold",
        initial=50.0,
        help_text="The minimum confidence you plan to use with this adapter (0 to 100).",
    )
    encryption = forms.ChoiceField(choices=ENCRYPTION, initial="default", widget=forms.RadioSelect)
    kms_key_id = forms.CharField(
        label="KMS key ID",
        required=False,
        help_text="A key ID, key ARN, alias or alias ARN (passed as KmsKeyId).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tag_rows = []
        if self.is_bound:
            keys = self.data.getlist("tag_key")
            values = self.data.getlist("tag_value")
            self.tag_rows = [
                (k.strip(), v.strip()) for k, v in zip(keys, values, strict=False) if k.strip() or v.strip()
            ]

    def clean_confidence_threshold(self):
        value = self.cleaned_data["confidence_threshold"]
        validate_confidence(value, "Confidence threshold")
        return value

    def clean(self):
        data = super().clean()
        if data.get("encryption") == "custom":
            key = (data.get("kms_key_id") or "").strip()
            if not key:
                self.add_error("kms_key_id", "KMS key: enter the key to use, or choose the default key")
            else:
                try:
                    validate_kms_key_id(key)
                except ValidationError as exc:
                    self.add_error("kms_key_id", exc)
            data["kms_key_id"] = key
        else:
            data["kms_key_id"] = ""
        tags = {}
        for key, value in self.tag_rows:
            if not key:
                self.add_error(None, f"Tags: the tag with value {value!r} needs a key")
            elif key in tags:
                self.add_error(None, f"Tags key {key!r}: is given twice")
            tags[key] = value
        try:
            validate_tags(tags)
        except ValidationError as exc:
            self.add_error(None, exc)
        data["tags"] = tags
        return data

    def rows(self):
        """The tag rows to render: what was entered, then a few empty ones."""
        return [*self.tag_rows, *[("", "")] * TAG_ROWS]


class AddImagesForm(ImageSourceForm):
    """Add images: the same three sources, and optionally a test manifest."""

    test_data = forms.ChoiceField(
        choices=[("keep", "Keep the current test set"), ("manifest", "Import a test manifest file")],
        initial="keep",
        widget=forms.RadioSelect,
    )


class LabelForm(forms.Form):
    """One labeling action on selected images (or on all images matching the filter)."""

    image = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())
    all_matching = forms.BooleanField(required=False)
    action = forms.ChoiceField(
        choices=[("add", "add"), ("remove", "remove"), ("safe", "safe"), ("set", "set"), ("undo", "undo")]
    )
    undo = forms.CharField(required=False, max_length=64)  # the token of the action to undo
    confirmed = forms.BooleanField(required=False)  # an action on more than one page was confirmed
    label = forms.MultipleChoiceField(choices=[(n, n) for n in taxonomy.TOP_LEVEL], required=False)
    q = forms.CharField(required=False)  # the grid's query string, to come back to

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Image ids are checked against the adapter by the view's queryset, not a choice list.
        self.fields["image"].valid_value = lambda value: True

    def clean(self):
        data = super().clean()
        if data.get("action") == "undo":
            if not data.get("undo"):
                raise forms.ValidationError("Undo: no action to undo")
            return data
        if not data.get("image") and not data.get("all_matching"):
            raise forms.ValidationError("Images: select at least one image")
        if data.get("action") in ("add", "remove") and not data.get("label"):
            self.add_error("label", "Label: choose a label")
        return data
