from django import forms

from adapters.models import Adapter
from console.validators import validate_adapter_name, validate_description, validate_project_name
from moderation import taxonomy
from projects.models import Project

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
        if data.get("source") == "manifest" and not data.get("manifest"):
            self.add_error("manifest", "Manifest file: choose a manifest file to import")
        if data.get("source") == "s3" and not data.get("s3_uri", "").strip():
            self.add_error("s3_uri", "S3 location: enter an s3://bucket/folder/ location")
        if data.get("test_data") == "manifest" and not data.get("test_manifest"):
            self.add_error("test_manifest", "Test manifest file: choose a test manifest, or use Autosplit")
        return data

    def sources(self) -> dict:
        """Keyword arguments for services.add_images (files excepted)."""
        data = self.cleaned_data
        named = lambda f: (f.name, f.read()) if f else None  # noqa: E731
        return {
            "manifest": named(data.get("manifest")) if data["source"] == "manifest" else None,
            "s3_uri": data.get("s3_uri", "").strip() if data["source"] == "s3" else "",
            "test_manifest": named(data.get("test_manifest")) if data["test_data"] == "manifest" else None,
        }


class ProjectForm(ImageSourceForm):
    project_mode = forms.ChoiceField(
        choices=[("new", "Create a new project"), ("existing", "Add to an existing project")],
        initial="new",
        widget=forms.RadioSelect,
    )
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"), required=False)
    project_name = forms.CharField(max_length=255, required=False)
    adapter_name = forms.CharField(max_length=255, validators=[validate_adapter_name])
    adapter_description = forms.CharField(
        max_length=255,
        required=False,
        validators=[validate_description],
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    auto_update = forms.BooleanField(required=False, initial=True)
    copy_from = forms.ModelChoiceField(
        queryset=Adapter.objects.select_related("project").order_by("project__name", "name"),
        required=False,
        label="Start from a copy of",
        empty_label="No copy: new images only",
    )
    field_order = [
        "project_mode",
        "project",
        "project_name",
        "adapter_name",
        "adapter_description",
        "auto_update",
    ]

    def clean(self):
        data = super().clean()
        if data.get("project_mode") == "existing":
            if not data.get("project"):
                self.add_error("project", "Project: choose the project to add the adapter to")
        elif "project_name" not in self.errors:  # not again after its max_length error
            name = data.get("project_name", "")
            try:
                validate_project_name(name)
            except forms.ValidationError as exc:
                self.add_error("project_name", exc)
            if data.get("copy_from"):
                self.add_error("copy_from", "Start from a copy of: only an adapter of an existing project")
        copy_from, project = data.get("copy_from"), data.get("project")
        if copy_from and project and copy_from.project_id != project.pk:
            self.add_error("copy_from", f"Start from a copy of: choose an adapter of project {project.name}")
        return data


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
        choices=[("add", "add"), ("remove", "remove"), ("safe", "safe"), ("set", "set")]
    )
    label = forms.MultipleChoiceField(choices=[(n, n) for n in taxonomy.TOP_LEVEL], required=False)
    q = forms.CharField(required=False)  # the grid's query string, to come back to

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Image ids are checked against the adapter by the view's queryset, not a choice list.
        self.fields["image"].valid_value = lambda value: True

    def clean(self):
        data = super().clean()
        if not data.get("image") and not data.get("all_matching"):
            raise forms.ValidationError("Images: select at least one image")
        if data.get("action") in ("add", "remove") and not data.get("label"):
            self.add_error("label", "Label: choose a label")
        return data
