from django import forms
from django.core.exceptions import ValidationError

from console.validators import validate_confidence, validate_kms_key_id, validate_tags

TAG_ROWS = 3  # empty key/value rows shown below the filled ones


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
