from django import forms

from adapters.models import Adapter
from console.lib.widgets import LongSelect
from console.validators import validate_confidence, validate_job_name


class StartJobForm(forms.Form):
    """Start bulk analysis: model, job name, minimum confidence, where the images come from."""

    SOURCES = [
        ("computer", "Upload images from your computer"),
        ("s3", "Import images from an S3 prefix"),
        ("manifest", "Use a bulk input manifest"),
    ]

    adapter = forms.ModelChoiceField(
        queryset=Adapter.objects.none(),
        required=False,
        empty_label="No adapter: use the base model",
        label="Choose an adapter",
        widget=LongSelect,
    )
    name = forms.CharField(label="Bulk analysis job name", max_length=64, validators=[validate_job_name])
    min_confidence = forms.FloatField(
        label="Minimum confidence threshold",
        initial=50.0,
        help_text="Labels below it are not returned, and the results cannot be reviewed below it later.",
    )
    source = forms.ChoiceField(choices=SOURCES, initial="computer", widget=forms.RadioSelect)
    s3_uri = forms.CharField(label="S3 prefix", required=False, help_text="s3://bucket/folder/")
    manifest = forms.FileField(label="Bulk input manifest", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["adapter"].queryset = Adapter.objects.usable().select_related("project")
        self.fields["adapter"].label_from_instance = lambda a: f"{a.project.name} / {a.name}"

    def clean_min_confidence(self):
        value = self.cleaned_data["min_confidence"]
        validate_confidence(value, "Minimum confidence threshold")
        return value

    def clean(self):
        data = super().clean()
        source = data.get("source")
        if source == "s3" and not (data.get("s3_uri") or "").strip():
            self.add_error("s3_uri", "S3 prefix: enter an s3://bucket/folder/ URI")
        if source == "manifest" and not data.get("manifest"):
            self.add_error("manifest", "Bulk input manifest: choose a manifest file")
        return data


class AddImagesForm(forms.Form):
    """More images for a job that has not started: an S3 prefix or a manifest."""

    s3_uri = forms.CharField(label="S3 prefix", required=False)
    manifest = forms.FileField(label="Bulk input manifest", required=False)

    def clean(self):
        data = super().clean()
        if not (data.get("s3_uri") or "").strip() and not data.get("manifest"):
            raise forms.ValidationError("Give an S3 prefix or a manifest file.")
        return data
